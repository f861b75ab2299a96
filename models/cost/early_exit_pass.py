"""Cost of a token that leaves the decoder stack early (CALM-like early exit, no verify).

A token exiting at layer ``E`` of an ``L``-layer decoder costs

* the pass over the first ``E`` layers with the LM head (`pass_costs` with
  ``layers=E``: the model's own embedding, layers and head on the roofline), plus
* CALM's *state propagation* (Schuster et al. 2022): the exited hidden state is copied
  to the ``L - E`` skipped layers, which compute their keys and values from it so that
  later tokens can attend to them.  Per skipped attention layer that is the layer's
  input norm (`kv_propagation_operators`) and a ``d_model -> 2 x kv_heads x head_dim``
  GEMM -- the K/V columns of the layer's QKV projection -- whose output is written to
  the KV cache.  Both are ordinary operators of the cost model (`operators`), priced by
  its roofline with the pass's placement of weights and activations.

The confidence measure that decides the exit is taken as a cheap classifier (its cost is
not counted).  Only attention layers propagate this way: a model with SSM layers would
have to run their scans on the copied state, which is not modelled (InputError).
"""

from __future__ import annotations

import numpy as np

from specaccel.schema.errors import InputError

from .hardware_spec import HardwareSpec
from .model_spec import ACTIVATION_BYTES, NORM_FLOPS, ModelSpec
from .operators import (
    Operator,
    _gemm,
    _vector,
    activations_on_chip,
    dequant_s,
    weights_resident,
)
from .pass_args import PassArgs, check_pass_args
from .pass_evaluator import pass_costs


def kv_propagation_operators(model: ModelSpec, hw: HardwareSpec, *, batch: int = 1
                             ) -> list[Operator]:
    """The operators one skipped attention layer runs for `batch` exited tokens.

    ``kv_prop_norm`` (the layer's input norm) and ``kv_prop_proj`` (the K/V projection;
    its activation bytes also count the K/V written to the cache in the model's KV
    precision, as the attention operator of a pass does for new tokens).
    """
    rows = float(batch)
    d, hd = float(model.d_model), float(model.head_dim)
    wb, ab = model.weight_bytes_per_param, ACTIVATION_BYTES
    kv_n = 2.0 * model.n_kv_heads * hd
    norm = _vector("kv_prop_norm", hw, NORM_FLOPS[model.norm] * rows * d, d * wb,
                   2.0 * rows * d * ab)
    kv_write = rows * kv_n * model.kv_bytes_per_elem
    dq = dequant_s(model, hw)
    return [norm, _gemm("kv_prop_proj", hw, rows, kv_n, d, 1.0, wb, ab, kv_write, dq)]


def kv_propagation_layer_costs(model: ModelSpec, hw: HardwareSpec, *, batch: int = 1
                               ) -> dict[str, float]:
    """Cost of propagating `batch` exited tokens' state to one skipped attention layer
    (:func:`kv_propagation_operators` on the roofline, with the placement of weights and
    activations of a one-token pass): ``latency_s``, dynamic ``energy_j`` (no static
    power), ``flops`` and ``hbm_bytes``."""
    _check_model(model)
    args: PassArgs = check_pass_args(model.n_layers, tokens=1, context=0.0, batch=batch)
    resident = weights_resident(model, hw, 1)
    on_chip = activations_on_chip(model, hw, args, resident)
    out = {"latency_s": 0.0, "energy_j": 0.0, "flops": 0.0, "hbm_bytes": 0.0}
    for op in kv_propagation_operators(model, hw, batch=args.batch):
        c = op.cost(hw, resident, on_chip)
        out["latency_s"] += c.latency_s
        out["energy_j"] += c.energy_j
        out["flops"] += c.flops
        out["hbm_bytes"] += c.dram_bytes
    return out


def _check_model(model: ModelSpec) -> None:
    if model.kind != "decoder":
        raise InputError(f"early exit needs a decoder model, not a {model.kind!r} head",
                         field="model")
    if model.n_ssm_layers:
        raise InputError(f"{model.name} has SSM layers; state propagation to skipped SSM "
                         "layers is not modelled", field="model")


def early_exit_token_costs(model: ModelSpec, hw: HardwareSpec,
                           exit_layer: np.ndarray | int, *, context: float = 256.0,
                           batch: int = 1) -> dict[str, np.ndarray]:
    """Latency and energy of tokens exiting at `exit_layer` (module docstring).

    Parameters
    ----------
    model, hw:
        A decoder-only transformer and the device.
    exit_layer:
        The layer each token leaves at, ``1 .. n_layers`` (one value or an array);
        ``n_layers`` is the full model, with nothing to propagate.
    context:
        Tokens already in the KV cache.
    batch:
        Tokens exiting together (one per row; the same exit layer for the batch).

    Returns
    -------
    dict
        ``latency_s``, ``energy_j`` (the exit pass + propagation) and
        ``kv_propagation_s`` (the propagation part), one value per exit layer.
    """
    _check_model(model)
    e = np.atleast_1d(np.asarray(exit_layer))
    if e.ndim != 1 or not np.issubdtype(e.dtype, np.number) or e.size == 0 \
            or np.any(e != np.floor(e)) or np.any(e < 1) or np.any(e > model.n_layers):
        raise InputError(f"every exit layer must be an integer in 1..{model.n_layers}",
                         field="exit_layer")
    e = e.astype(np.int64)
    args: PassArgs = check_pass_args(model.n_layers, tokens=1, context=context, batch=batch)
    layer = kv_propagation_layer_costs(model, hw, batch=args.batch)
    lat = float(layer["latency_s"])
    energy = float(layer["energy_j"]) + hw.static_power_w * lat
    exit_pass = pass_costs(model, hw, tokens=1, context=args.context, batch=batch, layers=e)
    skipped = (model.n_layers - e).astype(np.float64)
    return {"latency_s": exit_pass["latency_s"] + skipped * lat,
            "energy_j": exit_pass["energy_j"] + skipped * energy,
            "kv_propagation_s": skipped * lat}
