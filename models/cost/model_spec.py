"""The shape of a language model as the cost model sees it (`ModelSpec`).

A model is a stack of identical decoder layers (attention + MLP, optionally a mixture of
experts) between a token embedding and an LM head, or one of three draft-head kinds that
run on the target's hidden states:

* ``"decoder"`` -- a dense or MoE decoder-only transformer (Llama, Vicuna, OPT, GPT-3,
  Mixtral, 68M-class standalone drafts).
* ``"eagle"`` -- an EAGLE-1 draft head: one decoder layer at the target's width fed by the
  target's features (a ``2d -> d`` fusion GEMM first), reusing the target's embedding and
  LM head; those shared weights are read on every draft pass and counted here.
* ``"medusa"`` -- Medusa-1 heads: ``medusa_heads`` residual blocks (``d x d`` + SiLU), each
  with its own ``d x vocab`` LM head, on the target's last hidden state; no decoder layers.

An early-exit / layer-skip self-draft is the target itself evaluated with ``layers=E``
(see `pass_cost`): its KV cache is the target's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from specaccel.schema.errors import InputError

#: Bytes per element of each supported storage precision.
DTYPE_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
}

#: Activations are always bf16 in this model (2 bytes per element).
ACTIVATION_BYTES: float = 2.0

MODEL_KINDS: tuple[str, ...] = ("decoder", "eagle", "medusa")

#: FLOPs per element of a normalisation (RMSNorm: square, sum, rsqrt-scale, weight;
#: LayerNorm adds the mean and its subtraction).
NORM_FLOPS: dict[str, float] = {"rms": 4.0, "layer": 7.0}
#: FLOPs per element of the MLP activation (SiLU-gated: sigmoid ~4 + gate multiply;
#: GeLU (tanh form) ~8; ReLU 1).
ACTIVATION_FLOPS: dict[str, float] = {"silu": 5.0, "gelu": 8.0, "relu": 1.0}


def dtype_bytes(name: str, *, field_name: str = "dtype") -> float:
    """Bytes per element of precision `name` (InputError if unknown)."""
    try:
        return DTYPE_BYTES[name]
    except KeyError:
        raise InputError(
            f"unknown precision {name!r}; choose one of {', '.join(DTYPE_BYTES)}",
            field=field_name,
        ) from None


@dataclass(frozen=True)
class ModelSpec:
    """Shape and precision of a model.

    Parameters
    ----------
    name:
        Preset or file name.
    n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab_size:
        Transformer shape (``n_kv_heads < n_heads`` is grouped-query attention).
    mlp_gated:
        Gated MLP (SwiGLU: gate and up projections) rather than a plain two-matrix MLP.
    activation:
        ``"silu"``, ``"gelu"`` or ``"relu"``.
    norm:
        ``"rms"`` or ``"layer"``.
    n_experts, experts_per_token:
        Mixture of experts: total experts per layer and experts active per token (1, 1
        for a dense MLP).
    weight_dtype, kv_dtype:
        Storage precision of the weights and of the KV cache.
    kind:
        ``"decoder"``, ``"eagle"`` or ``"medusa"`` (module docstring).
    medusa_heads:
        Number of Medusa heads (``kind="medusa"`` only).
    n_ssm_layers:
        How many of the ``n_layers`` layers are state-space (Mamba) mixers instead of
        attention (0: a transformer; ``n_layers``: a pure SSM, whose attention fields are
        unused; in between: a hybrid, layers taken as evenly interleaved).
    ssm_state, ssm_conv, ssm_expand:
        SSM state size N per channel, depthwise-convolution width, inner expansion
        (``d_inner = ssm_expand * d_model``).
    ssm_head_dim, ssm_groups:
        Mamba-2 head dimension (0 selects Mamba-1, with ``dt_rank = ceil(d/16)``) and
        number of B/C groups.
    ssm_has_mlp:
        Whether each SSM layer also has an MLP (hybrids), as attention layers do.
    ssm_state_dtype:
        Precision of the recurrent and convolution states.
    tied_embeddings:
        LM head shares the embedding matrix (counted once in `param_count`).
    source:
        Where the shape comes from.
    """

    name: str
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    d_ff: int
    vocab_size: int
    mlp_gated: bool = True
    activation: str = "silu"
    norm: str = "rms"
    n_experts: int = 1
    experts_per_token: int = 1
    weight_dtype: str = "bf16"
    kv_dtype: str = "bf16"
    kind: str = "decoder"
    medusa_heads: int = 0
    n_ssm_layers: int = 0
    ssm_state: int = 16
    ssm_conv: int = 4
    ssm_expand: int = 2
    ssm_head_dim: int = 0
    ssm_groups: int = 1
    ssm_has_mlp: bool = False
    ssm_state_dtype: str = "fp32"
    tied_embeddings: bool = False
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for fname in ("n_layers", "medusa_heads", "n_ssm_layers", "ssm_head_dim"):
            if getattr(self, fname) < 0:
                raise InputError(f"must be >= 0, not {getattr(self, fname)}", field=fname)
        for fname in ("d_model", "n_heads", "n_kv_heads", "head_dim", "d_ff", "vocab_size",
                      "n_experts", "experts_per_token", "ssm_state", "ssm_conv",
                      "ssm_expand", "ssm_groups"):
            if getattr(self, fname) < 1:
                raise InputError(f"must be >= 1, not {getattr(self, fname)}", field=fname)
        if self.n_heads % self.n_kv_heads:
            raise InputError(
                f"n_heads {self.n_heads} is not a multiple of n_kv_heads {self.n_kv_heads}",
                field="n_kv_heads",
            )
        if self.experts_per_token > self.n_experts:
            raise InputError(
                f"experts_per_token {self.experts_per_token} > n_experts {self.n_experts}",
                field="experts_per_token",
            )
        if self.kind not in MODEL_KINDS:
            raise InputError(f"unknown kind {self.kind!r}; choose one of {MODEL_KINDS}",
                             field="kind")
        if self.activation not in ACTIVATION_FLOPS:
            raise InputError(f"unknown activation {self.activation!r}", field="activation")
        if self.norm not in NORM_FLOPS:
            raise InputError(f"unknown norm {self.norm!r}", field="norm")
        if self.n_ssm_layers > self.n_layers:
            raise InputError(f"n_ssm_layers {self.n_ssm_layers} > n_layers {self.n_layers}",
                             field="n_ssm_layers")
        if self.ssm_head_dim and self.ssm_d_inner % self.ssm_head_dim:
            raise InputError(f"d_inner {self.ssm_d_inner} is not a multiple of ssm_head_dim "
                             f"{self.ssm_head_dim}", field="ssm_head_dim")
        if self.kind == "medusa" and self.medusa_heads < 1:
            raise InputError("a medusa model needs medusa_heads >= 1", field="medusa_heads")
        dtype_bytes(self.weight_dtype, field_name="weight_dtype")
        dtype_bytes(self.kv_dtype, field_name="kv_dtype")
        dtype_bytes(self.ssm_state_dtype, field_name="ssm_state_dtype")

    # -- precision -------------------------------------------------------------------------
    @property
    def weight_bytes_per_param(self) -> float:
        return DTYPE_BYTES[self.weight_dtype]

    @property
    def kv_bytes_per_elem(self) -> float:
        return DTYPE_BYTES[self.kv_dtype]

    @property
    def ssm_state_bytes_per_elem(self) -> float:
        return DTYPE_BYTES[self.ssm_state_dtype]

    # -- layer mix -------------------------------------------------------------------------
    @property
    def n_attn_layers(self) -> int:
        """Attention layers (``n_layers - n_ssm_layers``)."""
        return self.n_layers - self.n_ssm_layers

    @property
    def ssm_d_inner(self) -> int:
        return self.ssm_expand * self.d_model

    @property
    def ssm_heads(self) -> int:
        """Mamba-2 heads (0 for Mamba-1)."""
        return self.ssm_d_inner // self.ssm_head_dim if self.ssm_head_dim else 0

    @property
    def ssm_dt_rank(self) -> int:
        """Mamba-1 rank of the dt projection, ``ceil(d_model / 16)``."""
        return -(-self.d_model // 16)

    @property
    def ssm_conv_channels(self) -> int:
        """Channels through the depthwise convolution (Mamba-2 also convolves B and C)."""
        extra = 2 * self.ssm_groups * self.ssm_state if self.ssm_head_dim else 0
        return self.ssm_d_inner + extra

    @property
    def ssm_state_elems(self) -> int:
        """Recurrent + convolution state elements of one SSM layer for one sequence."""
        return self.ssm_d_inner * self.ssm_state + self.ssm_conv_channels * (self.ssm_conv - 1)

    # -- parameter counts ------------------------------------------------------------------
    @property
    def has_embedding(self) -> bool:
        """Whether a pass looks tokens up in an embedding table (not Medusa heads)."""
        return self.kind != "medusa"

    @property
    def mlp_matrices(self) -> int:
        """Matrices of shape ``d x d_ff`` per expert: 3 gated (gate, up, down), else 2."""
        return 3 if self.mlp_gated else 2

    @property
    def attn_mixer_params(self) -> int:
        """Parameters of one attention mixer (its norm, QKV and output projections)."""
        d, hd = self.d_model, self.head_dim
        return d + d * (self.n_heads + 2 * self.n_kv_heads) * hd + self.n_heads * hd * d

    @property
    def ssm_mixer_params(self) -> int:
        """Parameters of one Mamba mixer (norm, in/out projections, conv, dt, A, D)."""
        d, di, n = self.d_model, self.ssm_d_inner, self.ssm_state
        conv = self.ssm_conv_channels * (self.ssm_conv + 1)
        if self.ssm_head_dim:  # Mamba-2: in_proj -> x, z, B, C, dt; A, D, dt_bias per head
            h = self.ssm_heads
            in_proj = d * (2 * di + 2 * self.ssm_groups * n + h)
            return d + in_proj + conv + 3 * h + di + di * d  # + gated-norm weight (di)
        r = self.ssm_dt_rank
        return d + d * 2 * di + conv + di * (r + 2 * n) + r * di + di + di * n + di + di * d

    @property
    def mlp_params(self) -> int:
        """Parameters of one MLP block (its norm, router, experts)."""
        d = self.d_model
        router = d * self.n_experts if self.n_experts > 1 else 0
        return d + router + self.n_experts * self.mlp_matrices * d * self.d_ff

    @property
    def n_mlp_blocks(self) -> int:
        return self.n_attn_layers + (self.n_ssm_layers if self.ssm_has_mlp else 0)

    @property
    def layer_params(self) -> int:
        """Parameters of one attention decoder layer (norms, attention, router, experts)."""
        return self.attn_mixer_params + self.mlp_params

    @property
    def param_count(self) -> int:
        """All parameters a pass of this model uses (shared target weights included)."""
        d, v = self.d_model, self.vocab_size
        total = (self.n_attn_layers * self.attn_mixer_params
                 + self.n_ssm_layers * self.ssm_mixer_params
                 + self.n_mlp_blocks * self.mlp_params)
        if self.kind == "medusa":
            return total + self.medusa_heads * (d * d + d * v)
        total += v * d + d + (0 if self.tied_embeddings else d * v)  # embed, norm, LM head
        if self.kind == "eagle":
            total += 2 * d * d  # fusion of [feature, token embedding] -> d
        return total

    @property
    def weight_bytes(self) -> float:
        """Total bytes of all weights (``param_count`` x bytes per weight)."""
        return self.param_count * self.weight_bytes_per_param

    @property
    def kv_bytes_per_token(self) -> float:
        """KV-cache bytes per token: ``2 * layers * kv_heads * head_dim * bytes`` (attention
        layers only; an SSM layer keeps a fixed-size state instead)."""
        return 2.0 * self.n_attn_layers * self.n_kv_heads * self.head_dim * self.kv_bytes_per_elem

    def check_tensor_parallel(self, tp: int) -> None:
        """:class:`InputError` unless `tp` devices can split the attention heads.

        Tensor parallelism gives each device ``n_heads / tp`` query heads, so `tp` must
        divide ``n_heads``; KV heads are split the same way (``n_kv_heads % tp == 0``) or,
        when there are fewer KV heads than devices, replicated (``tp % n_kv_heads == 0``).
        A model without attention layers has no heads to split.
        """
        tp = int(tp)
        if tp <= 1 or self.n_attn_layers == 0:
            return
        if self.n_heads % tp:
            raise InputError(f"a tensor-parallel degree of {tp} does not divide the "
                             f"{self.n_heads} attention heads of {self.name}", field="tp")
        kv = self.n_kv_heads
        if (kv % tp) if kv >= tp else (tp % kv):
            raise InputError(f"a tensor-parallel degree of {tp} neither divides nor is a "
                             f"multiple of the {kv} KV heads of {self.name}", field="tp")

    def to_dict(self) -> dict[str, object]:
        """The spec plus derived sizes, for JSON output."""
        from dataclasses import asdict

        out: dict[str, object] = asdict(self)
        out.update(
            param_count=self.param_count,
            weight_bytes=self.weight_bytes,
            kv_bytes_per_token=self.kv_bytes_per_token,
            ssm_state_bytes_per_seq=self.n_ssm_layers * self.ssm_state_elems
            * self.ssm_state_bytes_per_elem,
        )
        return out


def check_draft_matches(target: ModelSpec, draft: ModelSpec) -> None:
    """InputError (field ``draft``) when `draft` cannot draft for `target`.

    Every draft proposes tokens of the target's vocabulary, so the vocabularies must be
    equal.  An EAGLE or Medusa head runs on the target's hidden states (and an EAGLE head
    through the target's LM head), so its width must be the target's: a head trained for
    another model does not fit.
    """
    if draft.vocab_size != target.vocab_size:
        raise InputError(f"draft {draft.name} has a vocabulary of {draft.vocab_size} tokens "
                         f"but target {target.name} has {target.vocab_size}", field="draft")
    if draft.kind in ("eagle", "medusa") and draft.d_model != target.d_model:
        kind = {"eagle": "an EAGLE", "medusa": "a Medusa"}[draft.kind]
        raise InputError(f"draft {draft.name} is {kind} head of hidden size "
                         f"{draft.d_model} but target {target.name} has hidden size "
                         f"{target.d_model}", field="draft")
    if target.kind != "decoder":
        raise InputError(f"target {target.name} is a draft head ({target.kind}), not a model",
                         field="target")
