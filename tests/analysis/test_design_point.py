"""One design point: parameters -> hardware, trace, models -> the simulator's numbers."""

from __future__ import annotations

import math

import pytest

from specaccel.analysis.design_point import (
    EvalSettings,
    build_hardware,
    deployment_config,
    evaluate_point,
    evaluator_label,
    fast_path_status,
    fast_path_valid,
    run_options,
    tree_shape,
)
from specaccel.models.cost import AcceleratorConfig, get_hardware, get_model
from specaccel.schema.errors import InputError
from specaccel.sim import fast_path_applicable, resolve_deployments, simulate
from specaccel.workloads import generate_trace

POINT = {"preset": "eagle-vicuna-7b-mtbench", "requests": 2, "steps": 15, "trace_seed": 3,
         "workload": "w"}
SETTINGS = EvalSettings(metrics=("tokens_per_s", "speedup", "energy_per_token_j",
                                 "area_mm2", "mean_nodes_per_step", "accepted_histogram"))


def test_hardware_from_parameters():
    hw = build_hardware({**POINT, "array_rows": 32, "sram_mib": 128.0})
    ref = AcceleratorConfig(array_rows=32, sram_mib=128.0).build()
    assert hw == ref and hw.area_mm2 == ref.area_mm2
    gpu = build_hardware({**POINT, "hardware": "a100-80gb", "mem_bw_bytes_s": 3e12})
    assert gpu.mem_bw_bytes_s == 3e12
    assert gpu.peak_flops == get_hardware("a100-80gb").peak_flops
    with pytest.raises(InputError, match="design parameter"):
        build_hardware({**POINT, "hardware": "a100-80gb", "array_rows": 32})


@pytest.mark.parametrize(("engine", "sim_engine", "label"),
                         [("auto", "fast", "fast"), ("event", "event", "event")])
def test_point_equals_a_direct_simulator_call(engine, sim_engine, label):
    point = {**POINT, "hbm_stacks": 3}
    got = evaluate_point(point, EvalSettings(metrics=SETTINGS.metrics, engine=engine))
    trace = generate_trace("eagle-vicuna-7b-mtbench", n_requests=2, steps_per_request=15,
                           seed=3)
    hw = AcceleratorConfig(hbm_stacks=3).build()
    ref = simulate(trace, hw=hw, target=get_model("vicuna-7b"),
                   draft=get_model("eagle-head-vicuna-7b"), engine=sim_engine)
    assert got["evaluator"] == label
    assert got["tokens_per_s"] == ref.tokens_per_s
    assert got["speedup"] == ref.speedup
    assert got["energy_per_token_j"] == ref.energy_per_token_j["total"]
    assert got["accepted_histogram"] == ref.accepted_histogram
    assert got["area_mm2"] == hw.area_mm2


def test_fast_and_event_agree_and_gpu_area_is_unknown():
    fast = evaluate_point(POINT, SETTINGS)
    event = evaluate_point(POINT, EvalSettings(metrics=SETTINGS.metrics, engine="event"))
    assert fast["tokens_per_s"] == pytest.approx(event["tokens_per_s"], rel=1e-9)
    gpu = evaluate_point({**POINT, "hardware": "h100-sxm"}, SETTINGS)
    assert math.isnan(gpu["area_mm2"]) and gpu["tokens_per_s"] > 0


@pytest.mark.parametrize("budget", [2, 6, 16])
def test_sequoia_tree_budget(budget):
    shape = tree_shape(f"sequoia-{budget}", "eagle-vicuna-7b-mtbench")
    assert shape.n_nodes == budget
    got = evaluate_point({**POINT, "tree": f"sequoia-{budget}"}, SETTINGS)
    assert got["mean_nodes_per_step"] == budget
    with pytest.raises(InputError, match="budget >= 2"):
        tree_shape("sequoia-1", "eagle-vicuna-7b-mtbench")
    with pytest.raises(InputError, match="unknown tree"):
        tree_shape("bushy")


def test_tree_node_count_from_the_name_equals_the_built_tree():
    """The size bound on swept tree names is computed without building the tree; it must
    agree with the tree built, and refuse names above the bound before building them."""
    from specaccel.analysis.design_point import _TREE_RE, MAX_TREE_NODES, _tree_nodes, tree_shape

    for name in ("chain-1", "chain-7", "1x1", "4x3", "2-ary-1", "2-ary-5", "3-ary-3",
                 "eagle-25"):
        assert _tree_nodes(_TREE_RE.match(name)) == tree_shape(name).n_nodes, name
    for name in (f"chain-{MAX_TREE_NODES}", "65x64", "2-ary-12", "10-ary-10000000",
                 f"sequoia-{MAX_TREE_NODES + 1}"):
        with pytest.raises(InputError, match=f"at most {MAX_TREE_NODES}"):
            tree_shape(name)
    assert tree_shape(f"chain-{MAX_TREE_NODES - 1}").n_nodes == MAX_TREE_NODES


@pytest.mark.parametrize("point", [
    POINT,
    {**POINT, "hardware": "a100-80gb"},
    {**POINT, "tree_nodes": 32, "array_rows": 32},
])
def test_recorded_evaluator_is_what_the_simulator_says(point):
    """The fast-path decision is the simulator's (fast_path_applicable on the options the
    point is simulated with), and the recorded evaluator is the engine the simulator's
    result reports, for every engine setting."""
    assert fast_path_status(point) == fast_path_applicable(**run_options(point))
    assert fast_path_valid(point) == fast_path_applicable(**run_options(point))[0]
    trace = generate_trace("eagle-vicuna-7b-mtbench", n_requests=2, steps_per_request=15,
                           seed=3)
    for engine, sim_engine in (("auto", "auto"), ("fast", "fast"), ("event", "event")):
        got = evaluate_point(point, EvalSettings(metrics=SETTINGS.metrics, engine=engine))
        hw = build_hardware(point)
        dep, base = resolve_deployments(trace, hw, deployment_config(point))  # the trace's
        ref = simulate(trace, hw=hw, target=get_model("vicuna-7b"),
                       draft=get_model("eagle-head-vicuna-7b"), engine=sim_engine,
                       deployment=dep, baseline_deployment=base, **run_options(point))
        assert got["evaluator"] == evaluator_label(ref.engine)
        assert got["evaluator"] == ("event" if engine == "event" else "fast")
        assert got["tokens_per_s"] == ref.tokens_per_s


def test_evaluator_follows_the_simulators_fast_path_rule(monkeypatch):
    """When the simulator says its fast path is not exact, the evaluator neither chooses
    it ('auto' runs the event model and records 'event') nor accepts it ('fast' is bad
    input giving the simulator's reason)."""
    import specaccel.sim
    import specaccel.sim.engines

    def never(serving=None, pipelined=False):
        return False, "contended (test)"

    monkeypatch.setattr(specaccel.sim, "fast_path_applicable", never)
    monkeypatch.setattr(specaccel.sim.engines, "fast_path_applicable", never)
    assert not fast_path_valid(POINT)
    got = evaluate_point(POINT, EvalSettings(metrics=SETTINGS.metrics, engine="auto"))
    assert got["evaluator"] == "event"
    with pytest.raises(InputError, match=r"not exact for this point \(contended \(test\)\)"):
        evaluate_point(POINT, EvalSettings(metrics=SETTINGS.metrics, engine="fast"))


def test_evaluator_labels_of_every_simulator_engine():
    assert [evaluator_label(e) for e in ("fast", "fast-static-batch", "simpy",
                                         "simpy-serving", "simpy-pipelined")] == \
        ["fast", "fast", "event", "event", "event"]
    with pytest.raises(ValueError, match="unknown simulator engine"):
        evaluator_label("warp")


def test_stack_and_placement_are_sweep_parameters():
    point = {**POINT, "hardware": "a100-80gb"}
    settings = EvalSettings(metrics=("tokens_per_s",), engine="fast", baseline=False)
    own = evaluate_point(point, settings)["tokens_per_s"]  # the preset's stack (EAGLE's)
    ideal = evaluate_point({**point, "stack": "ideal"}, settings)["tokens_per_s"]
    tp2 = evaluate_point({**point, "stack": "ideal", "tp": 2}, settings)["tokens_per_s"]
    assert ideal > own and tp2 > ideal
    with pytest.raises(InputError) as exc:
        evaluate_point({**point, "stack": "hf-eager"} | {"hardware": "specaccel-default"},
                       settings)
    assert exc.value.field == "stack"
    with pytest.raises(InputError) as exc:
        evaluate_point({**point, "tp": 3}, settings)
    assert exc.value.field == "tp"
