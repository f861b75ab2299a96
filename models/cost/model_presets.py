"""Model presets with published shapes (the models' Hugging Face ``config.json`` files).

Vicuna 7B/13B/33B are fine-tunes of LLaMA 7B/13B/33B (v1.3) or Llama-2 (v1.5): the same
shapes.  ``vicuna-68m`` (double7/vicuna-68m) is a fine-tune of JackFram/llama-68m.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from specaccel.schema.errors import InputError

from .model_spec import ModelSpec


def _llama(name: str, layers: int, d: int, heads: int, kv: int, ff: int, vocab: int,
           source: str) -> ModelSpec:
    return ModelSpec(name, layers, d, heads, kv, d // heads, ff, vocab, source=source)


def _mamba(name: str, layers: int, d: int, state: int, head_dim: int,
           source: str) -> ModelSpec:
    """A pure SSM (Mamba-1 when head_dim == 0, else Mamba-2); tied embeddings, no MLP,
    vocabulary 50280 (GPT-NeoX, padded).  Attention fields are unused placeholders."""
    return ModelSpec(name, layers, d, 1, 1, 64, 1, 50280, n_ssm_layers=layers,
                     ssm_state=state, ssm_head_dim=head_dim, tied_embeddings=True,
                     source=source)


_L2_7B = _llama("llama-2-7b", 32, 4096, 32, 32, 11008, 32000, "meta-llama/Llama-2-7b-hf")
_L2_13B = _llama("llama-2-13b", 40, 5120, 40, 40, 13824, 32000, "meta-llama/Llama-2-13b-hf")
_L68M = _llama("llama-68m", 2, 768, 12, 12, 3072, 32000, "JackFram/llama-68m")
_L2_70B = _llama("llama-2-70b", 80, 8192, 64, 8, 28672, 32000, "meta-llama/Llama-2-70b-hf")
_L3_8B = _llama("llama-3-8b", 32, 4096, 32, 8, 14336, 128256, "meta-llama/Meta-Llama-3-8B")
_L3_70B = _llama("llama-3-70b", 80, 8192, 64, 8, 28672, 128256, "meta-llama/Meta-Llama-3-70B")
_V33B = _llama("vicuna-33b", 60, 6656, 52, 52, 17920, 32000, "lmsys/vicuna-33b-v1.3")
_QWEN25_7B = _llama("qwen2.5-7b", 28, 3584, 28, 4, 18944, 152064,
                    "Qwen/Qwen2.5-7B (untied embeddings; the q/k/v biases are not priced)")

MODEL_PRESETS: dict[str, ModelSpec] = {
    m.name: m
    for m in [
        _L2_7B,
        _L2_13B,
        _L2_70B,
        replace(_L2_7B, name="vicuna-7b", source="lmsys/vicuna-7b-v1.3 (LLaMA-7B shape)"),
        replace(_L2_13B, name="vicuna-13b", source="lmsys/vicuna-13b-v1.3 (LLaMA-13B shape)"),
        _V33B,
        _L3_8B,
        _L3_70B,
        _QWEN25_7B,
        _L68M,
        replace(_L68M, name="vicuna-68m", source="double7/vicuna-68m (llama-68m shape)"),
        replace(_L2_7B, name="eagle-head-vicuna-7b", n_layers=1, kind="eagle",
                source="yuhuili/EAGLE-Vicuna-7B-v1.3: 1 layer + fc 2d->d, target LM head"),
        replace(_L2_13B, name="eagle-head-vicuna-13b", n_layers=1, kind="eagle",
                source="yuhuili/EAGLE-Vicuna-13B-v1.3: 1 layer + fc 2d->d, target LM head"),
        replace(_L2_7B, name="medusa-vicuna-7b", n_layers=0, kind="medusa", medusa_heads=5,
                source="FasterDecoding/medusa-vicuna-7b-v1.3: 5 heads, 1 block each"),
        replace(_L2_13B, name="medusa-vicuna-13b", n_layers=0, kind="medusa", medusa_heads=5,
                source="FasterDecoding/medusa-vicuna-13b-v1.3: 5 heads, 1 block each"),
        replace(_V33B, name="medusa-vicuna-33b", n_layers=0, kind="medusa", medusa_heads=5,
                source="FasterDecoding/medusa-vicuna-33b-v1.3: 5 heads, 1 block each"),
        replace(_V33B, name="eagle-head-vicuna-33b", n_layers=1, kind="eagle",
                source="yuhuili/EAGLE-Vicuna-33B-v1.3: 1 layer + fc 2d->d, target LM head"),
        replace(_L2_70B, name="eagle-head-llama-2-70b", n_layers=1, kind="eagle",
                source="yuhuili/EAGLE-llama2-chat-70B: 1 layer (GQA 8 KV heads, d_ff 28672) "
                       "+ fc 2d->d, 0.99B parameters, target LM head"),
        replace(_L3_8B, name="eagle-head-llama-3-8b", n_layers=1, kind="eagle",
                source="yuhuili/EAGLE-LLaMA3-Instruct-8B: 1 layer + fc 2d->d, vocabulary "
                       "128256, target LM head"),
        replace(_L3_70B, name="eagle-head-llama-3-70b", n_layers=1, kind="eagle",
                source="yuhuili/EAGLE-LLaMA3-Instruct-70B: 1 layer + fc 2d->d, vocabulary "
                       "128256, target LM head"),
        replace(_L3_70B, name="medusa-llama-3-70b", n_layers=0, kind="medusa", medusa_heads=4,
                source="leptonai/Meta-Llama-3.1-70B-Instruct-4heads: medusa_num_heads 4, "
                       "medusa_num_layers 1 (Llama-3.1-70B has the Llama-3-70B shape)"),
        ModelSpec("gpt-3-175b", 96, 12288, 96, 96, 128, 49152, 50257, mlp_gated=False,
                  activation="gelu", norm="layer", source="Brown et al. 2020, Table 2.1"),
        ModelSpec("gpt-j-6b", 28, 4096, 16, 16, 256, 16384, 50400, mlp_gated=False,
                  activation="gelu", norm="layer",
                  source="EleutherAI/gpt-j-6b (attention and MLP in parallel from one "
                         "LayerNorm: the same GEMMs; rotary on 64 of 256 head dims)"),
        ModelSpec("opt-125m", 12, 768, 12, 12, 64, 3072, 50272, mlp_gated=False,
                  activation="relu", norm="layer", source="facebook/opt-125m"),
        ModelSpec("opt-6.7b", 32, 4096, 32, 32, 128, 16384, 50272, mlp_gated=False,
                  activation="relu", norm="layer", source="facebook/opt-6.7b"),
        ModelSpec("opt-13b", 40, 5120, 40, 40, 128, 20480, 50272, mlp_gated=False,
                  activation="relu", norm="layer", source="facebook/opt-13b"),
        _mamba("mamba-130m", 24, 768, 16, 0, "state-spaces/mamba-130m"),
        _mamba("mamba-2.8b", 64, 2560, 16, 0, "state-spaces/mamba-2.8b"),
        _mamba("mamba2-2.7b", 64, 2560, 128, 64, "state-spaces/mamba2-2.7b"),
        ModelSpec("mamba2-hybrid-8b", 28, 4096, 32, 8, 128, 16384, 256000, mlp_gated=False,
                  activation="relu", n_ssm_layers=24, ssm_state=128, ssm_head_dim=64,
                  ssm_groups=8, ssm_has_mlp=True,
                  source="approximate: Waleffe et al. 2024 (arXiv 2406.07887) 8B "
                         "Mamba-2-Hybrid, 24 Mamba-2 + 4 attention mixers, 28 MLPs"),
        ModelSpec("llada-8b", 32, 4096, 32, 32, 128, 12288, 126464,
                  source="approximate: GSAI-ML/LLaDA-8B-Instruct (32 layers, d 4096, MHA, "
                         "d_ff 12288, vocab 126464); a masked diffusion LM: price its "
                         "refinement steps with diffusion_block_pass"),
        ModelSpec("mixtral-8x7b", 32, 4096, 32, 8, 128, 14336, 32000, n_experts=8,
                  experts_per_token=2, source="mistralai/Mixtral-8x7B-v0.1"),
        ModelSpec("gpt2", 12, 768, 12, 12, 64, 3072, 50257, mlp_gated=False,
                  activation="gelu", norm="layer", source="openai-community/gpt2"),
        ModelSpec("gpt2-large", 36, 1280, 20, 20, 64, 5120, 50257, mlp_gated=False,
                  activation="gelu", norm="layer", source="openai-community/gpt2-large"),
        ModelSpec("layerskip-llama2-1.5b", 24, 2048, 16, 16, 128, 5632, 32000,
                  source="approximate: LayerSkip's continually pre-trained Llama2 1.5B (24 "
                         "layers, d 2048); heads/d_ff assumed TinyLlama-like"),
        ModelSpec("bass-draft-310m", 24, 1024, 16, 16, 64, 2048, 32000,
                  source="assumed: a ~310M Llama-shaped draft for a 7-8B target (BASS)"),
    ]
}


def list_models() -> list[str]:
    """Names of the model presets."""
    return list(MODEL_PRESETS)


def get_model(name: str | Path, *, weight_dtype: str | None = None,
              kv_dtype: str | None = None) -> ModelSpec:
    """A preset by name, or a model loaded from a Hugging Face ``config.json`` path.

    Parameters
    ----------
    name:
        A preset name (`list_models`) or a path to a ``config.json``.
    weight_dtype, kv_dtype:
        Override the storage precision of the weights / KV cache.
    """
    key = str(name)
    if key in MODEL_PRESETS:
        spec = MODEL_PRESETS[key]
    elif key.endswith(".json") or Path(key).is_file():
        from .hf_config import load_hf_config

        spec = load_hf_config(key)
    else:
        raise InputError(
            f"unknown model {key!r}; choose one of {', '.join(MODEL_PRESETS)} "
            "or give a path to a Hugging Face config.json",
            field="model",
        )
    changes: dict[str, str] = {}
    if weight_dtype is not None:
        changes["weight_dtype"] = weight_dtype
    if kv_dtype is not None:
        changes["kv_dtype"] = kv_dtype
    return replace(spec, **changes) if changes else spec
