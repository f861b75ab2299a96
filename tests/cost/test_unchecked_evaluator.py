"""The unchecked entry point of the Numba evaluator (`pass_costs_unchecked`,
`PackedPassCosts`) gives `pass_costs`'s numbers bit for bit, and the reference's to 1e-9."""

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
)
from specaccel.models.cost.pass_args import PHASES
from specaccel.models.cost.pass_evaluator import (
    OUT_FIELDS,
    PackedPassCosts,
    pack_hardware,
    pack_model,
    pass_costs_unchecked,
)


def _hardware(rng):
    if rng.random() < 0.3:
        return AcceleratorConfig(array_rows=int(rng.choice([32, 64, 128])),
                                 dataflow=str(rng.choice(["os", "ws"]))).build()
    names = list_hardware()
    return get_hardware(names[int(rng.integers(len(names)))])


@pytest.mark.parametrize("seed", range(4))
def test_unchecked_kernel_equals_pass_costs_bit_for_bit(seed):
    rng = np.random.default_rng(100 + seed)
    models = list_models()
    for _ in range(25):
        model = get_model(models[int(rng.integers(len(models)))])
        hw = _hardware(rng)
        n = 40
        tokens = rng.integers(1, 400, n)
        context = rng.integers(0, 20000, n) + rng.random(n)
        batch = rng.integers(1, 65, n)
        tp = rng.choice([1, 2, 4], n)
        phase = rng.choice(list(PHASES), n)
        layers = rng.integers(0, model.n_layers + 1, n)
        tree = rng.random(n) < 0.5
        want = pass_costs(model, hw, tokens=tokens, context=context, batch=batch, tp=tp,
                          phase=phase, layers=layers, tree=tree)
        f = [np.ascontiguousarray(a, dtype=np.float64) for a in
             (tokens, context, batch, tp, [PHASES[p] for p in phase], layers, tree)]
        got = pass_costs_unchecked(pack_model(model), pack_hardware(hw), *f)
        for name in OUT_FIELDS:
            assert np.array_equal(got[name], want[name]), (name, model.name, hw.name)


def test_packed_costs_equal_pass_costs_and_the_reference():
    """The serving loop's cost function: the same numbers as the checked entry point
    (bit for bit) and as the pure-Python reference (1e-9), for both models and phases."""
    rng = np.random.default_rng(7)
    hw = get_hardware("specaccel-default")
    target, draft = get_model("vicuna-7b"), get_model("eagle-head-vicuna-7b")
    packed = PackedPassCosts(hw, [target, draft, None])
    n_checked = 0
    for model in (target, draft, target):
        for phase in ("decode", "prefill", "verify"):
            for n in (1, 3, 17):
                tokens = rng.integers(1, 120, n)
                context = rng.integers(0, 4000, n) + 0.5 * rng.random(n)
                batch = rng.integers(1, 33, n)
                got = packed(model, hw, tokens=tokens, context=context, batch=batch,
                             phase=phase)
                want = pass_costs(model, hw, tokens=tokens, context=context, batch=batch,
                                  phase=phase)
                for name in OUT_FIELDS:
                    assert np.array_equal(got[name], want[name]), (name, phase, n)
                for i in range(n):
                    ref = pass_cost(model, hw, tokens=int(tokens[i]), context=float(context[i]),
                                    batch=int(batch[i]), phase=phase)
                    for name in OUT_FIELDS:
                        assert got[name][i] == pytest.approx(getattr(ref, name), rel=1e-9,
                                                             abs=1e-300)
                    n_checked += 1
    assert n_checked == 3 * 3 * 21


def test_packed_costs_refuse_other_specs_and_ragged_arrays():
    hw = get_hardware("specaccel-default")
    target = get_model("vicuna-7b")
    packed = PackedPassCosts(hw, [target])
    one = np.array([1])
    with pytest.raises(ValueError, match="built for"):
        packed(get_model("llama-2-7b"), hw, tokens=one, context=one, batch=one)
    with pytest.raises(ValueError, match="built for"):
        packed(target, get_hardware("a100-80gb"), tokens=one, context=one, batch=one)
    with pytest.raises(ValueError, match="one length"):
        packed(target, hw, tokens=np.array([1, 2]), context=one, batch=np.array([1, 1]))
