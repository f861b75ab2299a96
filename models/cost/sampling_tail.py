"""The token-selection tail: picking a token from the logits of every verified node.

After a pass computes logits for ``n_nodes`` positions, a token must be selected at each
one (greedy argmax, or a sample) before the tree can be verified.  Over a vocabulary of
``V`` tokens this is a pass over ``n_nodes x V`` logits -- small next to the model on a
32k vocabulary, not on a 128k one with a large tree.  One function prices it on any
target:

* GPU: the software stack's kernels (:class:`~.software_stack.SoftwareStack`): an fp32
  stack first upcasts the bf16/fp16 logits (read 2, write 4 bytes per logit) and the
  selection kernel reads them (``logits_bytes`` per logit); each kernel costs the
  device's fixed GPU time per kernel and, in eager mode, the stack's host time;
* accelerator: the streaming sampling unit (``specaccel.hdl.sampling_unit``) reads
  ``HardwareSpec.sampling_lanes`` bf16 logits per cycle, one node after another:
  ``n * ceil(V / W)`` cycles plus its measured latency, from the unit's characterisation
  (:mod:`.sampling_unit_table`); the logits are already on chip, so no DRAM traffic.  An
  accelerator without a sampling unit (``sampling_lanes`` None) streams them through the
  vector unit (``vec_flops / 2 / clock`` lanes a cycle) with the same law.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .hardware_spec import HardwareSpec
from .sampling_unit_table import characterised_lanes, sampling_cycles, sampling_timing
from .software_stack import IDEAL, SoftwareStack
from .stack_cost import gpu_kernel_s


def sampling_tail(hw: HardwareSpec, n_nodes: np.ndarray | float, vocab: int,
                  stack: SoftwareStack = IDEAL) -> dict[str, np.ndarray]:
    """Time to select a token at each of `n_nodes` positions over `vocab` logits.

    Returns arrays (broadcast over `n_nodes`) ``host_s`` (host time to issue the
    kernels), ``gpu_s`` (device time), ``dram_bytes`` and ``kernels``.  The wall time of
    the tail on its own is ``max(host_s, gpu_s)``.
    """
    n = np.asarray(n_nodes, dtype=np.float64)
    if hw.kind != "gpu":
        lanes = getattr(hw, "sampling_lanes", None)
        if lanes is not None:
            timing = sampling_timing(int(lanes))
        else:  # no sampling unit: the vector unit's lanes, the smallest unit's latency
            base = sampling_timing(min(characterised_lanes()))
            timing = replace(base, lanes=max(1, math.floor(hw.vec_flops
                                                             / (2.0 * hw.clock_hz))))
        per_node = sampling_cycles(timing, n_nodes=1, vocab=vocab) - timing.latency_cycles
        cycles = n * per_node + np.where(n > 0, float(timing.latency_cycles), 0.0)
        zero = np.zeros_like(n)
        return {"host_s": zero, "gpu_s": cycles / hw.clock_hz, "dram_bytes": zero,
                "kernels": zero}
    logits = n * float(vocab)
    upcast = stack.logits_bytes == 4.0
    dram = logits * ((2.0 + 4.0 if upcast else 0.0) + stack.logits_bytes)
    kernels = np.where(n > 0, float(stack.tail_ops + (1 if upcast else 0)), 0.0)
    gpu = dram / (hw.mem_bw_bytes_s * hw.bw_efficiency) + kernels * gpu_kernel_s(hw)
    host = kernels * stack.host_op_s
    return {"host_s": host, "gpu_s": gpu, "dram_bytes": dram, "kernels": kernels}


def selected_tokens(*, speculative: bool, target_tokens: np.ndarray,
                    draft: object | None = None, draft_tokens: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """How many tokens each step's target pass and each draft pass select.

    The one rule every pricing path uses: plain decoding selects one token a step; a
    speculative step's target selects at every query position of its pass (every
    verified node, and the positions that ride along, such as lookahead's Jacobi window,
    whose logits the method reads too); a draft pass selects at each of its query
    tokens, a Medusa pass once per head.  Returns ``(per step, per draft pass)``.
    """
    t = np.asarray(target_tokens, dtype=np.float64)
    target = t.copy() if speculative else np.ones_like(t)
    if draft is None or draft_tokens is None:
        return target, np.zeros(0)
    heads = float(getattr(draft, "medusa_heads", 1) or 1) \
        if getattr(draft, "kind", "") == "medusa" else 1.0
    return target, np.asarray(draft_tokens, dtype=np.float64) * heads
