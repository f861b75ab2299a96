"""The figures of docs/cost-model.md "Method-specific passes", recomputed.

Prints, as the Markdown tables of that section: the diffusion LM's block pass per cache
scheme, bidirectional vs causal passes, whole diffusion generations; SSM tree
verification by tree scan and per-branch state copies; CALM-style early exit with K/V
propagation.  Usage: ``python benchmarks/bench_method_passes.py``.
"""

from __future__ import annotations

import numpy as np

from specaccel.models.cost import get_hardware, get_model, pass_cost
from specaccel.models.cost.diffusion_block_pass import (
    CACHE_SCHEMES,
    block_pass_costs,
    diffusion_decode_costs,
)
from specaccel.models.cost.early_exit_pass import early_exit_token_costs
from specaccel.models.cost.ssm_tree_state import TreeBranches, ssm_tree_verify_costs
from specaccel.workloads.method_self_speculation import LAYERSKIP_LLAMA_1_5B
from specaccel.workloads.tree_shapes import chain, eagle_default_tree, k_by_depth


def _row(cells: list[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def diffusion() -> None:
    llada = get_model("llada-8b")
    print("block 32 at prefix 192, suffix 160 (ms):")
    print(_row(["device", *CACHE_SCHEMES]))
    for name in ("a100-80gb", "specaccel-default"):
        hw = get_hardware(name)
        ms = [block_pass_costs(llada, hw, block_size=32, prefix=192, suffix=160,
                               cache=c)["latency_s"][0] * 1e3 for c in CACHE_SCHEMES]
        print(_row([name, *(f"{x:.2f}" for x in ms)]))
    a100 = get_hardware("a100-80gb")
    print("\nbidirectional vs causal at context 352, a100-80gb:")
    print(_row(["block", "FLOPs ratio", "latency ratio"]))
    for block in (8, 32, 128, 512):
        bi = pass_cost(llada, a100, tokens=block, context=352.0, phase="verify", tree=False)
        ca = pass_cost(llada, a100, tokens=block, context=352.0, phase="prefill")
        print(_row([block, f"{bi.flops / ca.flops:.3f}", f"{bi.latency_s / ca.latency_s:.3f}"]))
    print("\nprompt 128, 256 tokens in blocks of 32, ms per token on a100-80gb:")
    print(_row(["steps per block", *CACHE_SCHEMES]))
    for k in (1, 4, 8, 32):
        ms = [diffusion_decode_costs(llada, a100, prompt_len=128, gen_len=256, block_size=32,
                                     cache=c, steps_per_block=np.full(8, k))["latency_s"][0]
              / 256 * 1e3 for c in CACHE_SCHEMES]
        print(_row([k, *(f"{x:.2f}" for x in ms)]))


def ssm_trees() -> None:
    a100 = get_hardware("a100-80gb")
    print("\nSSM tree verify on a100-80gb, context 512 (ms):")
    print(_row(["model", "tree", "nodes / leaves / depth", "tree scan", "per-branch",
                "ratio"]))
    for model_name, shape in (("mamba2-2.7b", chain(5)), ("mamba2-2.7b", k_by_depth(2, 5)),
                              ("mamba2-2.7b", eagle_default_tree()),
                              ("mamba2-hybrid-8b", eagle_default_tree())):
        model = get_model(model_name)
        tree = TreeBranches.from_parent(shape.parent)
        scan, branch = (ssm_tree_verify_costs(model, a100, tree, 512.0, s)["latency_s"][0]
                        for s in ("tree-scan", "per-branch"))
        print(_row([model_name, shape.name, f"{tree.nodes} / {tree.leaves} / {tree.depth}",
                    f"{scan * 1e3:.4g}", f"{branch * 1e3:.4g}", f"{branch / scan:.2f}"]))


def early_exit() -> None:
    print("\nearly exit at context 256, batch 1: ms per token (propagation):")
    print(_row(["model, device", "E = L/4", "L/2", "3L/4", "L"]))
    for model, hw_name in ((LAYERSKIP_LLAMA_1_5B, "a100-80gb"),
                           (get_model("llama-2-7b"), "a100-80gb"),
                           (get_model("llama-2-7b"), "specaccel-default")):
        n = model.n_layers
        c = early_exit_token_costs(model, get_hardware(hw_name),
                                   np.array([n // 4, n // 2, 3 * n // 4, n]), context=256.0)
        cells = [f"{t * 1e3:.3f} ({p * 1e3:.3f})" if p else f"{t * 1e3:.3f}"
                 for t, p in zip(c["latency_s"], c["kv_propagation_s"], strict=True)]
        print(_row([f"{model.name}, {hw_name}", *cells]))


if __name__ == "__main__":
    diffusion()
    ssm_trees()
    early_exit()
