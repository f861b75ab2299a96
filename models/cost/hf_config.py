"""Load a `ModelSpec` from a Hugging Face ``config.json`` (``model_type`` llama, mistral,
mixtral, qwen2, gemma, phi3, opt, gpt_neox, gpt2, gptj; mamba and mamba2).  Unknown
top-level keys are ignored: Hugging Face configs carry many that do not shape the model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from specaccel.schema.errors import InputError

from .model_spec import ModelSpec

# Alternative key names, first match wins.
_KEYS: dict[str, tuple[str, ...]] = {
    "n_layers": ("num_hidden_layers", "n_layer", "num_layers"),
    "d_model": ("hidden_size", "n_embd", "d_model"),
    "n_heads": ("num_attention_heads", "n_head"),
    "vocab_size": ("vocab_size",),
}
#: The ``model_type``\ s read, each with whether its MLP is gated (SwiGLU/GeGLU) and the
#: key Hugging Face names its feed-forward width by.  ``model_type`` selects behaviour
#: (gating, the Mamba reader), so any other type is an error, not a guess.
_MODEL_TYPES: dict[str, tuple[bool, str]] = {
    "llama": (True, "intermediate_size"), "mistral": (True, "intermediate_size"),
    "mixtral": (True, "intermediate_size"), "qwen2": (True, "intermediate_size"),
    "gemma": (True, "intermediate_size"), "phi3": (True, "intermediate_size"),
    "opt": (False, "ffn_dim"), "gpt_neox": (False, "intermediate_size"),
    "gpt2": (False, "n_inner"), "gptj": (False, "n_inner"),
}
_SSM_TYPES = ("mamba", "mamba2")
#: Width keys whose absence (or null) Hugging Face itself reads as 4 x the hidden size
#: (GPT-2's and GPT-J's MLP: ``n_inner if n_inner is not None else 4 * n_embd``).  The
#: other config classes fill a missing width with a fixed class default (LlamaConfig's
#: 11008, OPT's 3072, ...) that says nothing about this model: that is an error.
_FOUR_X_KEYS = ("n_inner",)
_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}


def _first(cfg: dict[str, Any], keys: tuple[str, ...], path: str, what: str) -> Any:
    for k in keys:
        if k in cfg and cfg[k] is not None:
            return cfg[k]
    raise InputError(f"missing {what} (one of {', '.join(keys)})", file=path, field=keys[0])


def _given(cfg: dict[str, Any], key: str, default: Any) -> Any:
    """``cfg[key]``, or `default` when the key is absent or null (0 is a value, not absent)."""
    value = cfg.get(key)
    return default if value is None else value


def _int(value: Any, path: str, key: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"must be an integer, not {value!r}", file=path, field=key)
    if minimum is not None and value < minimum:
        raise InputError(f"must be >= {minimum}, not {value}", file=path, field=key)
    return value


def _weight_dtype(cfg: dict[str, Any], path: str) -> str:
    """The precision named by ``torch_dtype`` (bf16 when absent or "auto")."""
    name = cfg.get("torch_dtype")
    if name is None or name == "auto":
        return "bf16"
    if not isinstance(name, str) or name not in _DTYPES:
        raise InputError(f"unknown dtype {name!r}; expected one of {', '.join(_DTYPES)}",
                         file=path, field="torch_dtype")
    return _DTYPES[name]


def _model_type(cfg: dict[str, Any], path: str) -> str:
    """``model_type``, one of the types read (it selects gating and the Mamba reader)."""
    known = [*_MODEL_TYPES, *_SSM_TYPES]
    value = cfg.get("model_type")
    if value is None:
        raise InputError(f"missing: it selects the architecture; one of {', '.join(known)}",
                         file=path, field="model_type")
    if value not in known:
        raise InputError(f"unknown model_type {value!r}; one of {', '.join(known)}",
                         file=path, field="model_type")
    return str(value)


def _ff_width(cfg: dict[str, Any], model_type: str, d: int, path: str) -> int:
    """The feed-forward width: the first width key given, else 4 x `d` where Hugging Face
    derives it so (:data:`_FOUR_X_KEYS`), else an error naming the type's key."""
    key = next((k for k in ("intermediate_size", "ffn_dim", "n_inner")
                if cfg.get(k) is not None), None)
    if key is not None:
        return _int(cfg[key], path, key, 1)
    own = _MODEL_TYPES[model_type][1]
    if own in _FOUR_X_KEYS:
        return 4 * d
    raise InputError(f"missing: a {model_type} config has no rule deriving the feed-forward "
                     "width from the hidden size (Hugging Face would use its class default, "
                     "not this model's)", file=path, field=own)


def load_hf_config(path: str | Path) -> ModelSpec:
    """Read ``config.json`` at `path` into a `ModelSpec` (InputError on bad content)."""
    p = str(path)
    try:
        cfg = json.loads(Path(p).read_text())
    except FileNotFoundError:
        raise InputError("no such file", file=p) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not a readable JSON file ({exc})", file=p) from None
    if not isinstance(cfg, dict):
        raise InputError("top level must be a JSON object", file=p)
    model_type = _model_type(cfg, p)
    if model_type in _SSM_TYPES:
        return _load_mamba(cfg, p, model_type)
    # every size must be >= 1 here: a head count of 0 would divide by zero below
    vals = {k: _int(_first(cfg, keys, p, k), p, keys[0], 1) for k, keys in _KEYS.items()}
    d, heads = vals["d_model"], vals["n_heads"]
    kv = _int(_given(cfg, "num_key_value_heads", heads), p, "num_key_value_heads", 1)
    if heads % kv:
        raise InputError(f"{kv} KV heads do not divide the {heads} attention heads",
                         file=p, field="num_key_value_heads")
    if cfg.get("head_dim") is None and d % heads:
        raise InputError(f"{heads} attention heads do not divide the hidden size {d} (and "
                         "no head_dim is given)", file=p, field="num_attention_heads")
    head_dim = _int(_given(cfg, "head_dim", d // heads), p, "head_dim", 1)
    d_ff = _ff_width(cfg, model_type, d, p)
    act_name = str(cfg.get("hidden_act") or cfg.get("activation_function") or "silu").lower()
    activation = "silu" if "silu" in act_name or "swish" in act_name else (
        "relu" if "relu" in act_name else "gelu")
    gated = _MODEL_TYPES[model_type][0]
    norm = "rms" if "rms_norm_eps" in cfg else "layer"
    n_experts = _int(_given(cfg, "num_local_experts", 1), p, "num_local_experts", 1)
    per_tok = _int(_given(cfg, "num_experts_per_tok", 1), p, "num_experts_per_tok", 1)
    if per_tok > n_experts:
        raise InputError(f"{per_tok} experts per token but only {n_experts} experts", file=p,
                         field="num_experts_per_tok")
    wdt = _weight_dtype(cfg, p)
    try:
        return ModelSpec(
            name=Path(p).parent.name or Path(p).stem,
            n_layers=vals["n_layers"], d_model=d, n_heads=heads, n_kv_heads=kv,
            head_dim=head_dim, d_ff=d_ff, vocab_size=vals["vocab_size"], mlp_gated=gated,
            activation=activation, norm=norm, n_experts=n_experts,
            experts_per_token=per_tok if n_experts > 1 else 1, weight_dtype=wdt,
            kv_dtype=wdt, source=p,
        )
    except InputError as exc:
        raise exc.at(file=p) from None


def _load_mamba(cfg: dict[str, Any], p: str, model_type: str) -> ModelSpec:
    """A pure Mamba (``model_type`` "mamba") or Mamba-2 ("mamba2") config."""
    layers = _int(_first(cfg, _KEYS["n_layers"], p, "n_layers"), p, "num_hidden_layers", 1)
    d = _int(_first(cfg, _KEYS["d_model"], p, "d_model"), p, "hidden_size", 1)
    vocab = _int(_first(cfg, ("vocab_size",), p, "vocab_size"), p, "vocab_size", 1)
    state = _int(_given(cfg, "state_size", 16), p, "state_size", 1)
    expand = _int(_given(cfg, "expand", 2), p, "expand", 1)
    conv = _int(_given(cfg, "conv_kernel", 4), p, "conv_kernel", 1)
    head_dim = _int(_given(cfg, "head_dim", 64), p, "head_dim", 1) if model_type == "mamba2" else 0
    groups = _int(_given(cfg, "n_groups", 1), p, "n_groups", 1)
    wdt = _weight_dtype(cfg, p)
    try:
        return ModelSpec(
            name=Path(p).parent.name or Path(p).stem, n_layers=layers, d_model=d, n_heads=1,
            n_kv_heads=1, head_dim=64, d_ff=1, vocab_size=vocab, n_ssm_layers=layers,
            ssm_state=state, ssm_conv=conv, ssm_expand=expand, ssm_head_dim=head_dim,
            ssm_groups=groups, tied_embeddings=bool(cfg.get("tie_word_embeddings", True)),
            weight_dtype=wdt, kv_dtype=wdt, source=p,
        )
    except InputError as exc:
        raise exc.at(file=p) from None
