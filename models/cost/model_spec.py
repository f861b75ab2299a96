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

from specaccel.errors import InputError

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
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for fname in ("n_layers", "medusa_heads"):
            if getattr(self, fname) < 0:
                raise InputError(f"must be >= 0, not {getattr(self, fname)}", field=fname)
        for fname in ("d_model", "n_heads", "n_kv_heads", "head_dim", "d_ff", "vocab_size",
                      "n_experts", "experts_per_token"):
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
        if self.kind == "medusa" and self.medusa_heads < 1:
            raise InputError("a medusa model needs medusa_heads >= 1", field="medusa_heads")
        dtype_bytes(self.weight_dtype, field_name="weight_dtype")
        dtype_bytes(self.kv_dtype, field_name="kv_dtype")

    # -- precision -------------------------------------------------------------------------
    @property
    def weight_bytes_per_param(self) -> float:
        return DTYPE_BYTES[self.weight_dtype]

    @property
    def kv_bytes_per_elem(self) -> float:
        return DTYPE_BYTES[self.kv_dtype]

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
    def layer_params(self) -> int:
        """Parameters of one decoder layer (norms, attention, router, experts)."""
        d, hd = self.d_model, self.head_dim
        attn = d * (self.n_heads + 2 * self.n_kv_heads) * hd + self.n_heads * hd * d
        router = d * self.n_experts if self.n_experts > 1 else 0
        experts = self.n_experts * self.mlp_matrices * d * self.d_ff
        return 2 * d + attn + router + experts

    @property
    def param_count(self) -> int:
        """All parameters a pass of this model uses (shared target weights included)."""
        d, v = self.d_model, self.vocab_size
        total = self.n_layers * self.layer_params
        if self.kind == "medusa":
            return total + self.medusa_heads * (d * d + d * v)
        total += v * d + d + d * v  # embedding, final norm, LM head
        if self.kind == "eagle":
            total += 2 * d * d  # fusion of [feature, token embedding] -> d
        return total

    @property
    def weight_bytes(self) -> float:
        """Total bytes of all weights (``param_count`` x bytes per weight)."""
        return self.param_count * self.weight_bytes_per_param

    @property
    def kv_bytes_per_token(self) -> float:
        """KV-cache bytes per token: ``2 * layers * kv_heads * head_dim * bytes``."""
        return 2.0 * self.n_layers * self.n_kv_heads * self.head_dim * self.kv_bytes_per_elem

    def to_dict(self) -> dict[str, object]:
        """The spec plus derived sizes, for JSON output."""
        from dataclasses import asdict

        out: dict[str, object] = asdict(self)
        out.update(
            param_count=self.param_count,
            weight_bytes=self.weight_bytes,
            kv_bytes_per_token=self.kv_bytes_per_token,
        )
        return out
