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
    if name not in _DTYPES:
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
    kv = _int(cfg.get("num_key_value_heads") or heads, p, "num_key_value_heads")
    head_dim = _int(cfg.get("head_dim") or d // heads, p, "head_dim")
    ff_raw = cfg.get("intermediate_size") or cfg.get("ffn_dim") or cfg.get("n_inner") or 4 * d
    d_ff = _int(ff_raw, p, "intermediate_size")
    act_name = str(cfg.get("hidden_act") or cfg.get("activation_function") or "silu").lower()
    activation = "silu" if "silu" in act_name or "swish" in act_name else (
        "relu" if "relu" in act_name else "gelu")
    gated = model_type in _GATED_TYPES
    norm = "rms" if "rms_norm_eps" in cfg else "layer"
    n_experts = _int(cfg.get("num_local_experts") or 1, p, "num_local_experts")
    per_tok = _int(cfg.get("num_experts_per_tok") or 1, p, "num_experts_per_tok")
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
    d = _int(_first(cfg, _KEYS["d_model"], p, "d_model"), p, "hidden_size")
    vocab = _int(_first(cfg, ("vocab_size",), p, "vocab_size"), p, "vocab_size")
    state = _int(cfg.get("state_size") or 16, p, "state_size")
    expand = _int(cfg.get("expand") or 2, p, "expand")
    conv = _int(cfg.get("conv_kernel") or 4, p, "conv_kernel")
    head_dim = _int(cfg.get("head_dim") or 64, p, "head_dim") if model_type == "mamba2" else 0
    groups = _int(cfg.get("n_groups") or 1, p, "n_groups")
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
