"""The software stack of a GPU target (`SoftwareStack`): what runs around the kernels.

A forward pass on a GPU is not only its kernels.  The framework issues every kernel from
the host, one framework operation at a time, and the GPU runs each with a fixed cost of
its own; the decode loop between passes selects tokens, checks for the end of the
sequence and, for speculative decoding, builds the tree, compares it with the target and
moves the accepted KV -- and whenever the host needs a value the GPU computed, it waits
for the GPU (a synchronisation).  A stack is defined by these physical terms:

* ``host_op_s`` -- host time to issue one framework operation (Python, the dispatcher,
  the launch call) in eager mode;
* ``cuda_graphs`` -- model passes are replayed from captured CUDA graphs: the host cost
  of a pass is one ``graph_launch_s`` instead of an operation per kernel;
* kernel counts -- ``layer_kernels`` per decoder layer, ``pass_kernels`` per pass outside
  the layers (embedding, masks and positions, final norm, LM head), ``head_kernels`` per
  Medusa head, all counted from the stack's code (see `STACKS`).  Every kernel costs the
  device's own fixed GPU time (the kernel model's ``fixed_s``: first DRAM round trip,
  drain, the gap before the next kernel), the stack's further kernels too;
* ``attention`` -- ``"eager"`` materialises the score matrix and runs the softmax in fp32
  in separate kernels (`EAGER_SCORE_BYTES` of traffic per score), ``"fused"`` does not
  (FlashAttention-style kernels, whose traffic the kernel model already has);
* ``elementwise`` -- ``"unfused"``: the layer's element-wise work runs as the framework
  writes it, one kernel per operation, each reading and writing its tensors (the RMSNorm
  in fp32 in six kernels, the rotary embedding in five per tensor, separate residual adds,
  a SiLU apart from its multiply, a layout copy of the attention output): the bytes
  beyond the kernel model's fused kernels are `unfused_token_bytes` per query token;
  ``"fused"``: the kernel model's own kernels (compiled or hand-fused stacks);
* ``kv_cache`` -- ``"concat"``: every pass concatenates the new KV onto the whole cache
  (Hugging Face's dynamic cache: the cache is read and written again, per layer);
  ``"static"``: the new KV is written in place into a preallocated cache;
* ``logits_bytes`` -- bytes per logit the token selection reads (4: the Hugging Face LM
  head upcasts the logits to fp32; 2: selection on the bf16 logits);
* the decode loop -- ``ar_step_ops`` operations and ``ar_step_syncs`` synchronisations
  per plain decoding step; per speculative step ``tree_ops`` (the candidate tree, its
  mask and positions), ``verify_ops`` (the acceptance test, the KV commit, the input
  update) and ``spec_step_syncs``; ``tail_ops`` for the token selection over the
  verified logits (:mod:`.sampling_tail`); ``draft_pass_ops`` and
  ``draft_pass_syncs`` per draft pass (the draft loop's token selection; a loop that
  checks every drafted token on the host, as Hugging Face assisted generation does,
  synchronises each time); ``draft_call_ops`` once per step to enter the draft loop;
  ``commit_layer_ops`` per decoder layer per step and ``commit_token_ops`` per decoder
  layer per accepted token, for a loop that commits the accepted tokens' KV layer by
  layer from Python (LADE's lookahead loop does; the others commit in a few operations
  counted in ``verify_ops``);
* ``request_host_s`` -- host time a serving engine spends on a request outside its
  passes, one after the other with them: accepting it (tokenising the prompt, creating
  its sequence, scheduling its first step) and returning it (sampling and detokenising
  its tokens, building its output), charged with the request's first prefill pass (a
  prefill at context 0, `Deployment.pass_costs`);
* host work on CPU tensors -- ``tree_cpu_ops`` per step and ``tree_node_cpu_ops`` per
  drafted node of the step's tree, each ``cpu_op_s`` of host time and no kernel: a loop
  that builds the tree's mask and paths on the host (EAGLE-2's and EAGLE-3's re-ranked
  tree is rebuilt this way every step).

How these terms become time is in :mod:`.stack_cost`.  ``ideal`` is the stack with all
terms zero: the kernels alone (the accelerator's only stack).

Every number carries its source in `STACKS` and in ``specaccel/data/stack-measurements.csv``;
the three fitted numbers (the host time per op of the repositories' Hugging Face model
code and of Hugging Face transformers' own ``generate()``, and vLLM's host time per
request) are refitted by
:mod:`.stack_calibration`, whose rows are marked calibration there.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

from specaccel.schema.errors import InputError

ATTENTION_KINDS = ("eager", "fused")
#: The stack's terms that are host time: per framework operation, per operation on a CPU
#: tensor, per synchronisation, per CUDA-graph replay, per request.
HOST_TERMS = ("host_op_s", "cpu_op_s", "sync_s", "graph_launch_s", "request_host_s")
ELEMENTWISE_KINDS = ("fused", "unfused")
KV_CACHE_KINDS = ("concat", "static")

#: Bytes moved per attention score element by an eager (unfused) attention of an fp16
#: model, as Hugging Face's ``LlamaAttention`` runs it: the score matmul writes it (2),
#: the 1/sqrt(d) scaling reads and writes it (4), the mask add reads and writes it (4),
#: the fp32 softmax reads the fp16 scores and writes fp32 (6), reads and writes fp32
#: (8), the cast back to fp16 reads fp32 and writes fp16 (6), the value matmul reads it
#: (2): 32 bytes.
EAGER_SCORE_BYTES = 32.0
#: Bytes per element of the hidden state that Hugging Face's ``LlamaRMSNorm`` moves beyond
#: one fused norm (read 2, write 2): cast to fp32 (2 + 4), square (4 + 4), mean (4), scale
#: (4 + 4), cast back (4 + 2), the weight (2 + 2) = 36, less the fused 4.
UNFUSED_RMSNORM_BYTES = 32.0
#: Bytes per query or key element of the rotary embedding as ``apply_rotary_pos_emb``
#: runs it (the kernel model has none: a fused stack applies it inside a kernel that
#: reads its input anyway): x * cos (2 + 2), the negated half (1 + 1 per element), the
#: concatenation (2 + 2), * sin (2 + 2), the sum (4 + 2) = 20.
UNFUSED_ROTARY_BYTES = 20.0
#: Bytes per element of a residual add run on its own (read 4, write 2); two per layer.
UNFUSED_RESIDUAL_BYTES = 6.0
#: Bytes per element of the attention output's layout copy (transpose then reshape:
#: read 2, write 2).
UNFUSED_LAYOUT_BYTES = 4.0
#: Bytes per intermediate element of a gated MLP whose SiLU runs apart from the multiply
#: (SiLU read 2 and write 2, beyond the fused activation's read 4 and write 2).
UNFUSED_GATE_BYTES = 4.0


@dataclass(frozen=True)
class SoftwareStack:
    """A named software stack; every field is a physical term (module docstring)."""

    name: str
    description: str
    host_op_s: float = 0.0
    cuda_graphs: bool = False
    graph_launch_s: float = 0.0
    sync_s: float = 0.0
    request_host_s: float = 0.0
    layer_kernels: int = 0
    pass_kernels: int = 0
    head_kernels: int = 0
    allreduce_kernels: int = 0
    attention: str = "fused"
    elementwise: str = "fused"
    kv_cache: str = "static"
    logits_bytes: float = 2.0
    tail_ops: int = 0
    ar_step_ops: int = 0
    ar_step_syncs: int = 0
    tree_ops: int = 0
    verify_ops: int = 0
    spec_step_syncs: int = 0
    draft_pass_ops: int = 0
    draft_pass_syncs: int = 0
    draft_call_ops: int = 0
    commit_layer_ops: int = 0
    commit_token_ops: int = 0
    cpu_op_s: float = 0.0
    tree_cpu_ops: int = 0
    tree_node_cpu_ops: int = 0
    fitted: tuple[str, ...] = ()
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise InputError("a stack needs a name", field="name")
        for f in ("host_op_s", "graph_launch_s", "sync_s", "logits_bytes", "cpu_op_s",
                  "request_host_s"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or v < 0:
                raise InputError(f"must be a finite number >= 0, not {v!r}", field=f)
        for f in ("layer_kernels", "pass_kernels", "head_kernels", "allreduce_kernels",
                  "tail_ops", "ar_step_ops", "ar_step_syncs", "tree_ops", "verify_ops",
                  "spec_step_syncs", "draft_pass_ops", "draft_pass_syncs", "draft_call_ops",
                  "commit_layer_ops", "commit_token_ops", "tree_cpu_ops",
                  "tree_node_cpu_ops"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise InputError(f"must be an integer >= 0, not {v!r}", field=f)
        if self.attention not in ATTENTION_KINDS:
            raise InputError(f"unknown attention {self.attention!r}; choose one of "
                             f"{', '.join(ATTENTION_KINDS)}", field="attention")
        if self.elementwise not in ELEMENTWISE_KINDS:
            raise InputError(f"unknown elementwise {self.elementwise!r}; choose one of "
                             f"{', '.join(ELEMENTWISE_KINDS)}", field="elementwise")
        if self.kv_cache not in KV_CACHE_KINDS:
            raise InputError(f"unknown kv_cache {self.kv_cache!r}; choose one of "
                             f"{', '.join(KV_CACHE_KINDS)}", field="kv_cache")
        if self.logits_bytes not in (2.0, 4.0):
            raise InputError(f"must be 2 (bf16/fp16) or 4 (fp32), not {self.logits_bytes!r}",
                             field="logits_bytes")
        unknown = set(self.fitted) - {f for f in self.__dataclass_fields__}
        if unknown:
            raise InputError(f"unknown fitted fields {sorted(unknown)}", field="fitted")

    @property
    def is_ideal(self) -> bool:
        """Whether the stack adds nothing to the kernels (every term zero)."""
        return self == replace(IDEAL, name=self.name, description=self.description,
                               fitted=self.fitted)

    @property
    def host_per_kernel_s(self) -> float:
        """Host time per kernel of a model pass (0 with CUDA graphs: one launch a pass)."""
        return 0.0 if self.cuda_graphs else self.host_op_s

    def with_values(self, **changes: object) -> SoftwareStack:
        """A copy with some terms changed (calibration and sweeps)."""
        return replace(self, **changes)

    def without_host(self) -> SoftwareStack:
        """The same stack issued by an infinitely fast host: every `HOST_TERMS` time 0,
        the GPU's work (its kernels, their traffic) unchanged.  What remains of a step on
        it is the part the GPU sets (`Deployment.without_host`)."""
        return replace(self, **{t: 0.0 for t in HOST_TERMS})

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


IDEAL = SoftwareStack(
    name="ideal",
    description="the kernels alone: no host, launch, synchronisation or loop overhead "
                "(the accelerator's stack; a GPU upper bound)",
    source="definition",
)

# -- measured and counted figures, with their sources ---------------------------------------
#: Host time per eager framework operation, fitted to the Medusa-1 Vicuna-7B MT-bench
#: log (one A100, Hugging Face eager; `stack_calibration`; the mean of its three timing
#: runs, which spread 94.7-102.7 tokens/s): the step is host-bound there.
#: Bare PyTorch ops cost 5-8 us each from Python (pytorch/pytorch#41383: 5-7 us;
#: flagos-ai/Torch-FL#27, A100: 8 us per add submitted); a model's ops also pay the
#: nn.Module call path and the Python between them, which this figure includes.
HF_HOST_OP_S = 15.04e-6
#: Host time per eager framework operation of Hugging Face transformers 4.37's own Llama
#: code and ``generate()`` (SDPA attention, the dynamic cache), on the same host: fitted
#: to Spec-Bench's Medusa-1 Vicuna-7B speedup over ``generate()`` (1.71x on one A100),
#: whose Medusa side runs the repository code `HF_HOST_OP_S` was fitted on.  The kernels
#: counted per layer (46 here, 49 there) do not carry the difference; the host time per
#: kernel does.  Why it differs is not measured here; the likely cause is the Python
#: around each kernel: the repositories' model code (copied from transformers 4.28)
#: passes every layer's K and V through a cache object whose length is a CPU tensor
#: (``narrow``, ``add_`` and ``item()`` calls beside each copy kernel), where 4.37
#: concatenates onto its cache and calls one SDPA kernel.
HF_GENERATE_HOST_OP_S = 13.28e-6
#: Host time of one eager operation on a small CPU tensor or a view (the dispatcher and
#: the Python call, no kernel): 2.37 us for an indexed assignment into a 100-element CPU
#: tensor with torch 2.0.1 (pytorch/pytorch#104028); about 2 us for ``x * x``
#: (pytorch/pytorch#41383, a maintainer's figure).
CPU_OP_S = 2.4e-6
#: Host time of a CUDA-graph replay: about 15 us of fixed cost (ahrefs/ocannl#488, a
#: launch probe on an RTX 5070 Ti, CUDA 13.3: 15 us plus 0.58 us per captured node).
GRAPH_LAUNCH_S = 15e-6
#: One host<->device synchronisation with a small device-to-host copy: the sync-per-op
#: time of a small add minus its submit time, 17 - 8 = 9 us on an A100
#: (flagos-ai/Torch-FL#27); rounded to 10 us.
SYNC_S = 10e-6

#: Hugging Face ``LlamaDecoderLayer`` with eager attention (transformers 4.28-4.35, the
#: modelling code the Medusa, EAGLE, Hydra, REST and Sequoia repositories copy), kernels
#: per layer for an fp16 model:
#: RMSNorm 8 (cast to fp32, pow, mean, add eps, rsqrt, multiply, cast back, weight) x 2;
#: q, k, v projections 3; rotary embedding 12 (gather cos and sin by position, then for q
#: and k: x*cos, negate half, concatenate, *sin, add); KV write 2; attention 8 (q.k^T,
#: scale, mask add, cast to fp32, softmax, cast back, scores.v, transpose copy); o_proj 1;
#: residual adds 2; MLP 5 (gate, up, SiLU, multiply, down).  Total 49.
HF_LAYER_KERNELS = 49
#: transformers 4.36+ runs Llama attention through ``scaled_dot_product_attention`` by
#: default (``LlamaSdpaAttention``): the 8 attention kernels become q, k, v made
#: contiguous 3, SDPA 1, transpose copy 1.  Total 46 (Spec-Bench pins 4.37.1).
HF_SDPA_LAYER_KERNELS = 46
#: Per pass outside the layers: embedding 1, causal/tree mask and positions 8, final
#: RMSNorm 8, LM head 1 (the fp32 upcast of the logits belongs to the selection tail,
#: :mod:`.sampling_tail`).
HF_PASS_KERNELS = 18
#: One Medusa head: residual block (linear, SiLU, add) and its LM head; plus the stack of
#: the heads' logits, counted once per head.
HF_MEDUSA_HEAD_KERNELS = 5
#: Hugging Face ``generate`` per plain decoding step (greedy): position ids (cumsum,
#: subtract, masked fill) 3, argmax 1, unfinished-sequence update 3, concatenate the
#: token and the attention mask 2, end-of-sequence test 3, the max() the loop tests on
#: the host 1, with one synchronisation.
HF_AR_STEP_OPS = 13
#: The speculative loops of the Medusa/EAGLE-style repositories per step (Medusa's
#: utils.py).  Tree: candidates from the heads' top-k (argmax, top-k, concatenate, two
#: gathers, pad) 7 and tree positions 1 = 8 ops.  Verify: logits and head outputs gathered
#: along the candidate paths 2, acceptance test (compare, cast, cumprod, sum, max) 5,
#: best candidate 2, accepted-path KV gather and copy 3, input ids and length update 3,
#: logits of the accepted node 2 = 17 ops.  Three synchronisations: the tree mask written
#: through a boolean index in the forward pass, the accepted length tested on the host,
#: and the generated tokens copied to the host for the end-of-sequence test.
REPO_TREE_OPS = 8
#: Their plain decoding baselines (Medusa's gen_model_answer_baseline.py, EAGLE's
#: naivegenerate): the argmax (the tail), concatenate the token 1, and the generated
#: tokens copied to the host for the end-of-sequence test (one synchronisation).
REPO_AR_STEP_OPS = 1
REPO_VERIFY_OPS = 17
REPO_SPEC_SYNCS = 3
#: Hugging Face assisted generation per step: the candidate input (concatenate) 1; the
#: candidate comparison and selection (argmax over the verified positions, compare,
#: cumsum, sum) 6, concatenate the accepted tokens 2, crop both models' caches (views),
#: update the draft length schedule on the host; one synchronisation (the number of
#: matches is read on the host).
HF_ASSISTED_TREE_OPS = 1
HF_ASSISTED_VERIFY_OPS = 8
#: Entering ``generate()`` once per assisted step for the draft model: preparing the
#: attention mask, token-type ids and cache position, the unfinished-sequence flags, and
#: building the logits processors and stopping criteria -- about 6 tensor ops and, in
#: Python, generation-config copying and validation.  An estimate of 20 op-equivalents
#: of host time (not fitted, not measured).
HF_GENERATE_CALL_OPS = 20
#: The draft loop of the EAGLE-style repositories per draft pass (EAGLE's topK_genrate):
#: top-k over the draft's logits, the tree's index select, repeating the hidden states,
#: position ids, the head, the concatenation of embedding and features: about 8 ops.  The
#: pass writes its tree mask through a boolean index, one synchronisation per pass.
REPO_DRAFT_PASS_OPS = 8
#: Token selection over the verified nodes' logits: argmax (greedy) 1.
HF_TAIL_OPS = 1
#: LADE's lookahead loop (hao-ai-lab/LookaheadDecoding, the copy Spec-Bench runs in
#: model/lade: decoding.py jacobi_greedy_search_multilevel, models/llama.py), which
#: replaces generate()'s greedy loop and the model's mask, per step with a guess pool
#: (levels N = 5, window 7, guess size N - 1 = 4).  The attention mask of the lookahead
#: and verification branches, rebuilt every step (j_make_causal_mask_multilevel and the
#: padding mask): full, arange, compare 4; the first column 1; the guess block's diagonal
#: 2 and three diagonal_scatter of a mask made on the host (tensor, repeat, scatter,
#: copy back: 5 each) 15; per level a masked fill (4 levels: 8) and per level below it a
#: diagonal fill (6 x 2 = 12); the past-context zeros and concatenation 2; the padding
#: mask expanded, inverted, filled and added 5 = 49.  The inputs: the window's and
#: guesses' tokens and positions copied from Python lists 2, concatenations 4, the
#: padding mask 2 = 8.  Tree: 57 operations.
LADE_TREE_OPS = 57
#: Verify: generate()'s input preparation 5, the argmax on the lookahead and guess
#: logits 2, the unfinished-sequence arithmetic 3, the attention mask and input ids
#: extended 3, the stopping test 2 = 15; four synchronisations: the last position id,
#: the next token and the two argmax results read into Python (``item()``,
#: ``tolist()``).  The n-gram pool is updated in pure Python (a few dictionary and list
#: operations per window position), not counted.
LADE_VERIFY_OPS = 15
LADE_SPEC_SYNCS = 4
#: LADE commits the accepted tokens' KV layer by layer: per layer two slices of K and V
#: (2), and per accepted token and layer K and V each copied by an indexed assignment
#: (two index views and the copy kernel: 3 x 2 = 6).
LADE_COMMIT_LAYER_OPS = 2
LADE_COMMIT_TOKEN_OPS = 6

#: gpt-fast (torch.compile, mode "reduce-overhead": Inductor-fused kernels replayed as
#: CUDA graphs) launches the kernels the kernel model prices (fused QKV, attention, o_proj,
#: MLP GEMMs, fused norms and activation): the model's per-kernel latency is fitted on
#: gpt-fast's own Llama-2-7B decode, so the stack adds no kernels of its own (0 here means
#: "the kernel model's kernels").
GPT_FAST_LAYER_KERNELS = 0
GPT_FAST_PASS_KERNELS = 0
#: vLLM decode (CUDA graphs, fused RMSNorm+residual, rotary, paged FlashAttention,
#: SiLU-and-mul kernels): per layer RMSNorm+residual 2, QKV 1, rotary 1, KV-cache write 1,
#: attention 1, o_proj 1, gate_up 1, SiLU-and-mul 1, down 1.  Total 10; per pass
#: embedding 1, final norm 1, LM head 1, logits gather 1.  The sampler runs eagerly after
#: the graph on fp32 logits: upcast, argmax/sample 2 (the tail).
VLLM_LAYER_KERNELS = 10
VLLM_PASS_KERNELS = 4
VLLM_TAIL_OPS = 2
#: vLLM per decode step on the host, outside the graph replay: the scheduler, input
#: preparation (block tables, slot mapping, positions: about 12 tensor ops) and the
#: sampler output copied back (one synchronisation).  Counted from the engine's step.
VLLM_STEP_OPS = 12
#: vLLM's host time per request beyond its passes (``request_host_s``): fitted on one
#: ``LLM.generate()`` call of a 16-token prompt and one output token on an A100 with a
#: Llama-2-13B-shaped model (robertgshaw2-neuralmagic/vllm-benchmarking, the calibration
#: row of `stack_calibration`), the call's time less its prefill pass.  It holds the
#: engine's Python around one request: tokenising, adding and scheduling it, sampling,
#: detokenising and returning the token.
VLLM_REQUEST_HOST_S = 2.10e-3

HF_EAGER = SoftwareStack(
    name="hf-eager",
    description="Hugging Face transformers (4.36+) in eager mode with generate(): "
                "dynamic KV cache (concatenated every pass), SDPA attention, fp32 "
                "logits; assisted generation drafts with a generate() loop per step",
    host_op_s=HF_GENERATE_HOST_OP_S, sync_s=SYNC_S,
    layer_kernels=HF_SDPA_LAYER_KERNELS, pass_kernels=HF_PASS_KERNELS,
    head_kernels=HF_MEDUSA_HEAD_KERNELS, allreduce_kernels=2,
    attention="fused", elementwise="unfused",
    kv_cache="concat", logits_bytes=4.0, tail_ops=HF_TAIL_OPS,
    ar_step_ops=HF_AR_STEP_OPS, ar_step_syncs=1,
    tree_ops=HF_ASSISTED_TREE_OPS, verify_ops=HF_ASSISTED_VERIFY_OPS,
    spec_step_syncs=1,
    draft_pass_ops=HF_AR_STEP_OPS, draft_pass_syncs=1,
    draft_call_ops=HF_GENERATE_CALL_OPS,
    fitted=("host_op_s",),
    source="kernel and op counts from transformers 4.37 LlamaForCausalLM and "
           "GenerationMixin (greedy_search, assisted_decoding); host_op_s fitted "
           "to Spec-Bench's Medusa-1 Vicuna-7B speedup (stack_calibration); graph "
           "and sync figures: see module constants",
)
#: LADE's loop on the same transformers model code as `HF_EAGER` (and the same host).
LADE = replace(
    HF_EAGER,
    name="lade",
    description="LADE's lookahead decoding on Hugging Face transformers (4.36+): "
                "generate()'s model code with the lookahead attention mask rebuilt "
                "every step, the n-gram pool in Python, the KV committed layer by layer",
    tree_ops=LADE_TREE_OPS, verify_ops=LADE_VERIFY_OPS, spec_step_syncs=LADE_SPEC_SYNCS,
    commit_layer_ops=LADE_COMMIT_LAYER_OPS, commit_token_ops=LADE_COMMIT_TOKEN_OPS,
    source="op counts from Spec-Bench model/lade (decoding.py "
           "jacobi_greedy_search_multilevel, models/llama.py j_make_causal_mask_multilevel, "
           "jforward_multilevel); the model code, its kernels and host_op_s are "
           "generate()'s (hf-eager)",
)

HF_STATIC_KV = SoftwareStack(
    name="hf-static-kv",
    description="the Hugging Face eager model code of the Medusa, EAGLE, Hydra and "
                "Sequoia repositories: a preallocated KV cache written in place, "
                "eager attention, fp32 logits, the repository's own decode loop",
    host_op_s=HF_HOST_OP_S, sync_s=SYNC_S,
    layer_kernels=HF_LAYER_KERNELS, pass_kernels=HF_PASS_KERNELS,
    head_kernels=HF_MEDUSA_HEAD_KERNELS, allreduce_kernels=2,
    attention="eager", elementwise="unfused",
    kv_cache="static", logits_bytes=4.0, tail_ops=HF_TAIL_OPS,
    ar_step_ops=REPO_AR_STEP_OPS, ar_step_syncs=1,
    tree_ops=REPO_TREE_OPS, verify_ops=REPO_VERIFY_OPS, spec_step_syncs=REPO_SPEC_SYNCS,
    draft_pass_ops=REPO_DRAFT_PASS_OPS, draft_pass_syncs=1,
    fitted=("host_op_s",),
    source="kernel counts from FasterDecoding/Medusa medusa/model/modeling_llama_kv.py "
           "and kv_cache.py; loop ops from medusa/model/utils.py (generate_candidates, "
           "tree_decoding, evaluate_posterior, update_inference_inputs); host_op_s "
           "fitted (stack_calibration)",
)
#: The same model code captured as CUDA graphs (Sequoia's draft engine).
HF_STATIC_KV_GRAPHS = replace(
    HF_STATIC_KV,
    name="hf-static-kv-graphs",
    description="the same eager model code captured once per input shape as CUDA "
                "graphs (Sequoia's draft engine): unfused kernels, no host launches",
    cuda_graphs=True, graph_launch_s=GRAPH_LAUNCH_S, draft_pass_syncs=0,
    source="Infini-AI-Lab/Sequoia Engine/Engine.py (capture_graph, "
           "GraphInferenceEngine); counts as hf-static-kv",
)
#: EAGLE-2's and EAGLE-3's step on the same repository code (Spec-Bench model/eagle2 and
#: model/eagle3, cnets.py ``topK_genrate``, the copies of SafeAILab/EAGLE).  After the draft
#: levels the tree is re-ranked and rebuilt every step:
#: GPU operations (a kernel each): the levels' scores and tokens concatenated 2, the top
#: ``total_tokens`` 1 and their sort 1, the tokens gathered and the root prepended 2, the
#: parents concatenated, divided and gathered 3, ``searchsorted`` and its offset 2, the
#: roots masked through a boolean index 2, plus one 1, the parent list, the unique parents
#: and their list copied to the host 3, the positions copied back 1 = 18;
#: synchronisations 4 (the boolean index, two ``tolist()`` and ``unique``).  On CPU
#: tensors: the mask ``eye(T + 1)`` and its first column, per drafted node a row
#: ``add_`` of its parent's row (two views and the add: 3), then the positions (sum,
#: offset, cast, two views), the depth (max, add, ``item()``), the paths' table (zeros,
#: offset, two ``tolist()``, ``tensor``) and four views = 20 per step and 3 per node.  The
#: paths are walked in pure Python (a list membership test per node), not counted.  The
#: draft loop per level: positions and parents offsets 2, log-softmax 1, two top-k 2,
#: the cumulative scores 1, the parents' index 1, hidden states and tokens gathered 2, the
#: tree mask gathered and extended 1 = 10 operations beside the head's pass.
EAGLE2_TREE_OPS = 18
EAGLE2_TREE_CPU_OPS = 20
EAGLE2_TREE_NODE_CPU_OPS = 3
EAGLE2_TREE_SYNCS = 4
EAGLE2_DRAFT_PASS_OPS = 10
EAGLE2 = replace(
    HF_STATIC_KV,
    name="eagle2",
    description="EAGLE-2/EAGLE-3's loop on the repositories' Hugging Face model code "
                "(hf-static-kv): the draft tree re-ranked and rebuilt every step, its "
                "mask built on the host node by node",
    tree_ops=EAGLE2_TREE_OPS, cpu_op_s=CPU_OP_S, tree_cpu_ops=EAGLE2_TREE_CPU_OPS,
    tree_node_cpu_ops=EAGLE2_TREE_NODE_CPU_OPS,
    spec_step_syncs=REPO_SPEC_SYNCS + EAGLE2_TREE_SYNCS,
    draft_pass_ops=EAGLE2_DRAFT_PASS_OPS,
    source="op counts from Spec-Bench model/eagle2/cnets.py and model/eagle3/cnets.py "
           "(topK_genrate); the model code, its kernels, the verify loop and host_op_s "
           "are hf-static-kv's; cpu_op_s from pytorch/pytorch#104028",
)

STACKS: dict[str, SoftwareStack] = {s.name: s for s in (
    IDEAL,
    HF_EAGER,
    LADE,
    HF_STATIC_KV,
    EAGLE2,
    HF_STATIC_KV_GRAPHS,
    SoftwareStack(
        name="gpt-fast",
        description="pytorch-labs/gpt-fast: torch.compile (reduce-overhead) fuses the "
                    "element-wise work and replays each decode step as a CUDA graph; "
                    "static KV cache, SDPA attention, no host synchronisation per token",
        host_op_s=HF_HOST_OP_S, sync_s=SYNC_S,
        cuda_graphs=True, graph_launch_s=GRAPH_LAUNCH_S,
        layer_kernels=GPT_FAST_LAYER_KERNELS, pass_kernels=GPT_FAST_PASS_KERNELS,
        head_kernels=2, allreduce_kernels=2,
        attention="fused", kv_cache="static", logits_bytes=2.0, tail_ops=0,
        ar_step_ops=1, ar_step_syncs=0, tree_ops=2, verify_ops=6, spec_step_syncs=1,
        source="pytorch-labs/gpt-fast model.py and generate.py (decode_one_token, "
               "speculative_decode); fusion groups counted from the model code",
    ),
    SoftwareStack(
        name="vllm",
        description="a serving engine (vLLM): CUDA-graph decode with fused RMSNorm, "
                    "rotary, paged FlashAttention and SiLU-and-mul kernels; a host "
                    "scheduler and input preparation every step",
        host_op_s=HF_HOST_OP_S, sync_s=SYNC_S, request_host_s=VLLM_REQUEST_HOST_S,
        cuda_graphs=True, graph_launch_s=GRAPH_LAUNCH_S,
        layer_kernels=VLLM_LAYER_KERNELS, pass_kernels=VLLM_PASS_KERNELS,
        head_kernels=2, allreduce_kernels=1,
        attention="fused", kv_cache="static", logits_bytes=4.0, tail_ops=VLLM_TAIL_OPS,
        ar_step_ops=VLLM_STEP_OPS, ar_step_syncs=1,
        tree_ops=VLLM_STEP_OPS, verify_ops=8, spec_step_syncs=1,
        fitted=("request_host_s",),
        source="kernel counts from vLLM's LlamaForCausalLM (fused layers) and its model "
               "runner; host ops counted from the engine step; request_host_s fitted on "
               "one LLM.generate() call on an A100 (robertgshaw2-neuralmagic/"
               "vllm-benchmarking), the other calls of that benchmark predicted",
    ),
)}


def list_stacks() -> list[str]:
    """Names of the software stacks."""
    return list(STACKS)


def get_stack(name: str | SoftwareStack) -> SoftwareStack:
    """A stack by name (InputError naming the option and the choices when unknown)."""
    if isinstance(name, SoftwareStack):
        return name
    try:
        return STACKS[str(name)]
    except KeyError:
        raise InputError(f"unknown stack {name!r}; choose one of {', '.join(STACKS)}",
                         field="stack") from None
