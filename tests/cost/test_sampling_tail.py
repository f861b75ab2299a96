"""The sampling tail in the cost model: the characterised law against the simulated cycles,
and the accelerator's verify step paying it."""

import dataclasses
import math

import pytest

from specaccel.models.cost import sampling_tail as st
from specaccel.models.cost.accelerator import AcceleratorConfig
from specaccel.schema.errors import InputError


def test_law_reproduces_the_simulated_requests():
    """Greedy rows exactly; sampled rows within the scan's data-dependent length (the law
    charges the longest tail, the scan to the last candidate)."""
    rows = st.load_sampling_table()
    cyc = [r for r in rows if r["kind"] == "cycles"]
    assert {r["vocab"] for r in cyc} == {32000, 128256}
    assert {r["lanes"] for r in cyc} >= {4, 8}
    for r in cyc:
        t = st.sampling_timing(r["lanes"])
        law = st.sampling_cycles(t, n_nodes=r["nodes"], vocab=r["vocab"],
                                 sampled=r["top_k"] > 1)
        if r["top_k"] == 1:
            assert law == r["cycles"], r
        else:
            assert 0 <= law - r["cycles"] <= 2 * t.max_top_k, r


def test_cycles_scale_with_vocabulary_over_lanes():
    t4, t64 = st.sampling_timing(4), st.sampling_timing(64)
    assert st.sampling_cycles(t4, n_nodes=26, vocab=32000) == 26 * 8000 + t4.latency_cycles
    assert st.sampling_cycles(t64, n_nodes=26, vocab=128256) == \
        26 * math.ceil(128256 / 64) + t64.latency_cycles
    # a small vocabulary at many lanes is bound by the sampled tail, not the stream
    assert st.sampling_cycles(t64, n_nodes=3, vocab=640, sampled=True) == \
        3 * t64.tail_cycles + t64.latency_cycles + t64.tail_cycles
    assert st.sampling_cycles(t4, n_nodes=0, vocab=10) == 0.0


def test_accelerator_pays_it_and_gpus_do_not():
    hw = AcceleratorConfig(sampling_lanes=4).build()
    assert hw.sampling_lanes == 4
    s = st.sampling_tail_s(hw, n_nodes=26, vocab=32000)
    assert s == pytest.approx((26 * 8000 + 7) / hw.clock_hz)

    class Gpu:
        kind = "gpu"
    assert st.sampling_tail_s(Gpu(), n_nodes=26, vocab=32000) == 0.0


def test_uncharacterised_lanes_are_an_input_error():
    with pytest.raises(InputError, match="sampling_lanes"):
        AcceleratorConfig(sampling_lanes=12)
    with pytest.raises(InputError, match="missing columns"):
        st.parse_sampling_table("kind,lanes\nunit,4\n", "x.csv")
    with pytest.raises(InputError, match="kind"):
        st.parse_sampling_table(",".join(st.COLUMNS) + "\nfoo" + "," * (len(st.COLUMNS) - 1)
                                + "\n", "x.csv")


def test_step_costs_charge_every_verified_node():
    from specaccel.models.cost.model_presets import MODEL_PRESETS
    from specaccel.sim.step_costs import compute_step_costs
    from specaccel.workloads.presets import generate_trace

    trace = generate_trace("eagle-vicuna-7b-mtbench", n_requests=1, steps_per_request=5,
                           seed=0)
    target = MODEL_PRESETS["vicuna-7b"] if "vicuna-7b" in MODEL_PRESETS else \
        MODEL_PRESETS["llama-2-7b"]
    hw4 = AcceleratorConfig(sampling_lanes=4).build()
    costs = compute_step_costs(trace, target_model=target, draft_model=target, hw=hw4)
    base = compute_step_costs(trace, target_model=target, draft_model=target,
                              hw=dataclasses.replace(hw4, sampling_lanes=None))
    t = st.sampling_timing(4)
    for n, a, b in zip(costs.n_nodes, costs.verify_s, base.verify_s, strict=True):
        want = st.sampling_cycles(t, n_nodes=int(n), vocab=target.vocab_size) / hw4.clock_hz
        assert a - b == pytest.approx(want)
    assert costs.target_s.tolist() == base.target_s.tolist()
