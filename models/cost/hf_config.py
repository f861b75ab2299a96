"""Load a `ModelSpec` from a Hugging Face ``config.json`` (Llama, Mistral, Mixtral, OPT,
GPT-2/GPT-J/GPT-NeoX style key names; Mamba and Mamba-2)."""

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
_GATED_TYPES = {"llama", "mistral", "mixtral", "qwen2", "gemma", "phi3"}
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
    model_type = str(cfg.get("model_type", ""))
    if model_type in ("mamba", "mamba2"):
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
    ff_key = next((k for k in ("intermediate_size", "ffn_dim", "n_inner")
                   if cfg.get(k) is not None), "intermediate_size")
    d_ff = _int(_given(cfg, ff_key, 4 * d), p, ff_key, 1)
    act_name = str(cfg.get("hidden_act") or cfg.get("activation_function") or "silu").lower()
    activation = "silu" if "silu" in act_name or "swish" in act_name else (
        "relu" if "relu" in act_name else "gelu")
    gated = model_type in _GATED_TYPES
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
