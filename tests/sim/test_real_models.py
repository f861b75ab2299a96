"""The simulator on the real workload generator and cost models: reproducible, sane."""

import numpy as np
import pytest

from specaccel.sim import simulate_named
from specaccel.workloads import DEFAULT_PRESET, generate_trace


@pytest.fixture(scope="module")
def small_trace():
    return generate_trace(DEFAULT_PRESET, n_requests=3, steps_per_request=10, seed=11)


def test_same_seed_is_identical_and_another_seed_differs(small_trace):
    a = simulate_named(small_trace, "specaccel-default").to_dict()
    b = simulate_named(generate_trace(DEFAULT_PRESET, n_requests=3, steps_per_request=10,
                                      seed=11), "specaccel-default").to_dict()
    c = simulate_named(generate_trace(DEFAULT_PRESET, n_requests=3, steps_per_request=10,
                                      seed=12), "specaccel-default").to_dict()
    assert a == b
    assert a["makespan_s"] != c["makespan_s"]


@pytest.mark.parametrize("hw", ["a100-80gb", "specaccel-default"])
def test_real_costs_give_a_consistent_result(small_trace, hw):
    from specaccel.models.cost import get_hardware

    res = simulate_named(small_trace, hw)
    spec = get_hardware(hw)
    assert res.hardware == hw and res.hardware_kind == spec.kind
    assert res.tokens == res.baseline.tokens
    assert res.draft == "eagle-head-vicuna-7b" and res.target == "vicuna-7b"
    # Energies are positive and static energy is the device's static power over the run.
    assert all(v > 0 for v in res.energy_j.values())
    assert res.energy_j["static"] == pytest.approx(spec.static_power_w * res.makespan_s)
    # A verify pass over a 26-node tree costs more than a 1-token decode, but far less
    # than 26 decodes (weights are read once): that is why speculation pays at batch 1.
    per_step_target = res.step_time_s["target"]
    per_token_ar = res.baseline.step_time_s["target"]
    assert per_token_ar < per_step_target < 3 * per_token_ar
    assert res.speedup > 1.5
    util = res.utilisation
    assert 0 < util["hbm_bandwidth"] <= 1.0
    busy_units = [v for k, v in util.items() if k != "hbm_bandwidth"]
    assert np.isclose(sum(res.role_busy_fraction.values()), sum(busy_units))


def test_names_and_metadata_are_checked_as_input(small_trace):
    from specaccel.schema.errors import InputError
    from specaccel.sim import resolve_specs

    hw, target, draft, drafting = resolve_specs(small_trace, "a100-80gb")
    assert (hw.name, target.name, draft.name, drafting.name) == (
        "a100-80gb", "vicuna-7b", "eagle-head-vicuna-7b", "per-level")
    for kwargs, field in (({"target": "nope"}, "target"), ({"draft": "nope"}, "draft")):
        with pytest.raises(InputError) as exc:
            resolve_specs(small_trace, "a100-80gb", **kwargs)
        assert exc.value.field == field and "nope" in str(exc.value)
    bad = small_trace.select_requests([0])
    bad.metadata = {**bad.metadata, "drafting": "psychic"}
    with pytest.raises(InputError, match="psychic"):
        resolve_specs(bad, "a100-80gb")
    bare = small_trace.select_requests([0])
    bare.metadata = {}
    with pytest.raises(InputError, match="--target"):
        resolve_specs(bare, "a100-80gb")
    _, t, d, _ = resolve_specs(bare, "a100-80gb", target="vicuna-7b", draft="vicuna-68m")
    assert (t.name, d.name) == ("vicuna-7b", "vicuna-68m")
