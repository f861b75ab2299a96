"""The Numba evaluator against the pure-Python reference over many random passes."""

import numpy as np
import pytest

from specaccel.models.cost import (
    AcceleratorConfig,
    get_hardware,
    get_model,
    list_hardware,
    list_models,
    pass_cost,
    pass_costs,
    pass_costs_configs,
)
from specaccel.models.cost.pass_evaluator import OUT_FIELDS
from specaccel.schema.errors import InputError

PHASES = ["prefill", "decode", "verify"]


def _random_hardware(rng):
    names = list_hardware()
    hw = get_hardware(names[int(rng.integers(len(names)))])
    if rng.random() < 0.3:  # a random accelerator design, either dataflow
        cfg = AcceleratorConfig(
            array_cores=int(rng.integers(1, 9)), array_rows=int(rng.choice([16, 32, 64, 128])),
            array_cols=int(rng.choice([32, 128, 256])),
            dataflow=str(rng.choice(["os", "ws", "is"])),
            vector_lanes=int(rng.choice([256, 2048])), sram_mib=256.0,
            weight_sram_mib=float(rng.choice([8.0, 200.0])),
        )
        hw = cfg.build()
    return hw


def test_numba_matches_reference_on_random_passes():
    rng = np.random.default_rng(20261125)
    models = list_models()
    n_checked = 0
    for _ in range(150):
        model = get_model(models[int(rng.integers(len(models)))],
                          weight_dtype=str(rng.choice(["bf16", "int8", "fp8"])),
                          kv_dtype=str(rng.choice(["bf16", "fp8"])))
        hw = _random_hardware(rng)
        n = 20
        tokens = rng.integers(1, 300, n)
        context = rng.integers(0, 9000, n).astype(float)
        batch = rng.integers(1, 65, n)
        kv = model.n_kv_heads  # degrees that split the heads (ModelSpec.check_tensor_parallel)
        degrees = [t for t in (1, 2, 4, 8) if model.n_heads % t == 0
                   and (kv % t == 0 if kv >= t else t % kv == 0)]
        tp = rng.choice(degrees, n)
        layers = rng.integers(0, model.n_layers + 1, n)
        tree = rng.random(n) < 0.5
        vp = rng.random(n) < 0.7
        phase = rng.choice(PHASES, n)
        fast = pass_costs(model, hw, tokens=tokens, context=context, batch=batch, tp=tp,
                          phase=phase, layers=layers, tree=tree, vocab_parallel=vp)
        for i in range(n):
            ref = pass_cost(model, hw, tokens=int(tokens[i]), context=float(context[i]),
                            batch=int(batch[i]), tp=int(tp[i]), phase=str(phase[i]),
                            layers=int(layers[i]), tree=bool(tree[i]),
                            vocab_parallel=bool(vp[i]))
            for name in OUT_FIELDS:
                want = getattr(ref, name)
                assert fast[name][i] == pytest.approx(want, rel=1e-9, abs=1e-300), (
                    name, model.name, hw.name, i)
            n_checked += 1
    assert n_checked == 3000


def test_pass_costs_broadcasts_scalars():
    m, hw = get_model("vicuna-7b"), get_hardware("specaccel-default")
    out = pass_costs(m, hw, tokens=np.arange(1, 65), context=512)
    assert out["latency_s"].shape == (64,)
    assert np.all(np.diff(out["flops"]) > 0)


def test_configs_kernel_matches_per_pair_calls():
    rng = np.random.default_rng(7)
    models = [get_model(n) for n in ("llama-2-7b", "mixtral-8x7b", "mamba2-hybrid-8b",
                                     "eagle-head-vicuna-7b")]
    hws = [get_hardware("a100-80gb"), get_hardware("specaccel-default"),
           AcceleratorConfig(array_cores=2, dataflow="ws").build()]
    n = 400
    mi, hi = rng.integers(0, len(models), n), rng.integers(0, len(hws), n)
    tokens, context = rng.integers(1, 64, n), rng.integers(0, 5000, n).astype(float)
    phase = rng.choice(PHASES, n)
    got = pass_costs_configs(models, hws, model_index=mi, hw_index=hi, tokens=tokens,
                             context=context, batch=3, phase=phase)
    for i in range(n):
        want = pass_costs(models[mi[i]], hws[hi[i]], tokens=tokens[i], context=context[i],
                          batch=3, phase=str(phase[i]))
        for name in OUT_FIELDS:
            assert got[name][i] == pytest.approx(want[name][0], rel=1e-12)
    with pytest.raises(InputError, match="index"):
        pass_costs_configs(models, hws, model_index=9, hw_index=0, tokens=1, context=0)
