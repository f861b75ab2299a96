"""The bidirectional block pass of a masked diffusion LLM with a block KV cache.

A masked diffusion LM (LLaDA-class) generates ``gen_len`` tokens after a prompt of
``prompt_len`` tokens, block by block (``block_size`` tokens, left to right).  Every
*refinement step* runs the model over the current block with **bidirectional**
attention: every query token attends to every key of the block and of the cached
context, masked or not, and the LM head gives logits for every query token.  In this
cost model that is a ``verify``-phase pass without a tree mask (``phase="verify",
tree=False``): all ``T`` query tokens see ``S + T`` keys, the KV of every query token is
written, logits are computed for every row, and no ``T x T`` mask is read.  A *causal*
pass over the same tokens (``phase="prefill"``) attends to ``S + (T + 1) / 2`` keys on
average and runs the LM head on the last token only, so the block pass costs more.

Which tokens are query tokens and which are cached depends on the cache scheme of
Fast-dLLM (Wu et al. 2025), for the block at ``prefix`` tokens (prompt + finished
blocks) with ``suffix`` still-masked tokens after it:

* ``"dual"`` -- prefix and suffix KV are cached: ``T = block_size``,
  ``S = prefix + suffix``;
* ``"prefix"`` -- only the prefix is cached, the masked suffix is recomputed:
  ``T = block_size + suffix``, ``S = prefix``;
* ``"none"`` -- no cache, the whole sequence every step:
  ``T = prefix + block_size + suffix``, ``S = 0``.

With a cache, every block starts with one full pass over the whole sequence
(:func:`block_refresh_costs`) that fills the cache *and* gives the logits of the block's
first refinement step (Fast-dLLM's ``generate_with_prefix_cache`` /
``generate_with_dual_cache`` unmask with the logits of that pass), so a block that takes
``k`` refinement steps costs one refresh pass plus ``k - 1`` block passes
(:func:`diffusion_decode_costs`).  Without a cache each step is a full pass, which is
the same formula because the ``"none"`` block pass *is* the full pass.
"""

from __future__ import annotations

import numpy as np

from specaccel.schema.errors import InputError

from .hardware_spec import HardwareSpec
from .model_spec import ModelSpec
from .pass_args import MAX_ROW_TOKENS

#: Block-cache schemes (module docstring).
CACHE_SCHEMES: tuple[str, ...] = ("dual", "prefix", "none")


def _token_counts(name: str, value: object, minimum: int = 0) -> np.ndarray:
    """`value` as a 1-D int64 array of token counts >= `minimum` (InputError otherwise)."""
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.ndim != 1:
        raise InputError("must be a number or a 1-D array", field=name)
    bad = ~np.isfinite(arr) | (arr < minimum) | (arr > MAX_ROW_TOKENS)
    bad[~bad] = arr[~bad] != np.floor(arr[~bad])
    if np.any(bad):
        raise InputError(f"must be an integer token count in {minimum}..{MAX_ROW_TOKENS}, "
                         f"not {arr[bad][0]:g}", field=name)
    return arr.astype(np.int64)


def check_cache(cache: str) -> str:
    """`cache` if it is one of `CACHE_SCHEMES`, else an InputError naming the field."""
    if cache not in CACHE_SCHEMES:
        raise InputError(f"unknown cache {cache!r}; choose one of {', '.join(CACHE_SCHEMES)}",
                         field="cache")
    return cache


def block_pass_shape(block_size: int, prefix: np.ndarray | int, suffix: np.ndarray | int,
                     cache: str) -> tuple[np.ndarray, np.ndarray]:
    """Query tokens and cached context of one refinement pass over a block.

    Parameters
    ----------
    block_size:
        Tokens per block (>= 1).
    prefix:
        Tokens before the block (prompt + finished blocks); one value or an array.
    suffix:
        Still-masked tokens after the block; one value or an array (broadcast with
        `prefix`).
    cache:
        ``"dual"``, ``"prefix"`` or ``"none"`` (module docstring).

    Returns
    -------
    tokens, context : numpy.ndarray
        Query tokens per pass (int64) and tokens in the KV cache (float64), as
        `pass_costs` takes them.
    """
    b = int(_token_counts("block_size", block_size, 1)[0])
    pre, suf = np.broadcast_arrays(_token_counts("prefix", prefix),
                                   _token_counts("suffix", suffix))
    check_cache(cache)
    if cache == "dual":
        tokens, context = np.full(pre.shape, b, dtype=np.int64), pre + suf
    elif cache == "prefix":
        tokens, context = b + suf, pre
    else:
        tokens, context = pre + b + suf, np.zeros(pre.shape, dtype=np.int64)
    return tokens, context.astype(np.float64)


def block_pass_costs(model: ModelSpec, hw: HardwareSpec, *, block_size: int,
                     prefix: np.ndarray | int, suffix: np.ndarray | int = 0,
                     cache: str = "dual", batch: int = 1, tp: int = 1
                     ) -> dict[str, np.ndarray]:
    """Costs of refinement passes over a block (bidirectional attention, all logits).

    Parameters
    ----------
    model, hw:
        The diffusion LM's shape and the device.
    block_size, prefix, suffix, cache:
        As `block_pass_shape`; `prefix` and `suffix` may be arrays (one pass each).
    batch, tp:
        Rows decoded together and tensor-parallel degree, as `pass_costs`.

    Returns
    -------
    dict
        `pass_costs`'s output fields (``latency_s``, ``energy_j``, ``flops``, ``bytes``,
        ``dram_bytes``, ``link_bytes``), one value per pass.
    """
    from .pass_evaluator import pass_costs  # compiled on first use: `cost` needs only shapes

    tokens, context = block_pass_shape(block_size, prefix, suffix, cache)
    return pass_costs(model, hw, tokens=tokens, context=context, batch=batch, tp=tp,
                      phase="verify", tree=False)


def block_refresh_costs(model: ModelSpec, hw: HardwareSpec, *, total_len: np.ndarray | int,
                        batch: int = 1, tp: int = 1) -> dict[str, np.ndarray]:
    """Costs of the full bidirectional pass over `total_len` tokens that starts a block.

    It refills the block cache and gives the logits of the block's first refinement
    step; with ``cache="none"`` every refinement step is this pass.
    """
    from .pass_evaluator import pass_costs

    tokens = _token_counts("total_len", total_len, 1)
    return pass_costs(model, hw, tokens=tokens, context=np.zeros(tokens.shape), batch=batch,
                      tp=tp, phase="verify", tree=False)


def diffusion_decode_costs(model: ModelSpec, hw: HardwareSpec, *,
                           prompt_len: np.ndarray | int, gen_len: int, block_size: int,
                           cache: str, steps_per_block: np.ndarray, tp: int = 1
                           ) -> dict[str, np.ndarray]:
    """Latency and energy of decoding requests block by block (module docstring).

    Block ``i`` (0-based) of a request with prompt ``p`` has ``prefix = p + i * b`` and
    ``suffix = gen_len - (i + 1) * b``; it costs one refresh pass over ``p + gen_len``
    tokens plus ``steps - 1`` block passes.  Each request is decoded alone (batch 1).

    Parameters
    ----------
    model, hw:
        The diffusion LM and the device.
    prompt_len:
        Prompt tokens of each request (one value or one per request).
    gen_len, block_size:
        Generated tokens per request and tokens per block (`gen_len` a multiple of it).
    cache:
        ``"dual"``, ``"prefix"`` or ``"none"``.
    steps_per_block:
        Refinement steps (>= 1) of every block, request-major: ``requests * blocks``
        values, or an array of shape ``(requests, blocks)``.
    tp:
        Tensor-parallel degree.

    Returns
    -------
    dict
        ``latency_s`` and ``energy_j`` per request, ``passes`` (model passes per request).
    """
    b = int(_token_counts("block_size", block_size, 1)[0])
    gen = int(_token_counts("gen_len", gen_len, 1)[0])
    if gen % b:
        raise InputError(f"gen_len {gen} must be a multiple of block_size {b}",
                         field="block_size")
    blocks = gen // b
    steps = _token_counts("steps_per_block", np.ravel(steps_per_block), 1)
    prompts = _token_counts("prompt_len", prompt_len)
    n_req = steps.size // blocks
    if steps.size != n_req * blocks or n_req == 0 or prompts.size not in (1, n_req):
        raise InputError(f"{steps.size} values do not make {blocks} blocks for each of "
                         f"{prompts.size} requests", field="steps_per_block")
    prompts = np.broadcast_to(prompts, (n_req,))
    i = np.tile(np.arange(blocks), n_req)
    p = np.repeat(prompts, blocks)
    step = block_pass_costs(model, hw, block_size=b, prefix=p + i * b,
                            suffix=gen - (i + 1) * b, cache=cache, tp=tp)
    refresh = block_refresh_costs(model, hw, total_len=p + gen, tp=tp)
    out: dict[str, np.ndarray] = {}
    for name in ("latency_s", "energy_j"):
        per_block = refresh[name] + (steps - 1) * step[name]
        out[name] = per_block.reshape(n_req, blocks).sum(axis=1)
    out["passes"] = steps.reshape(n_req, blocks).sum(axis=1)
    return out
