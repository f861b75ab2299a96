"""Up-front configuration checks, the serving CLI, per-request timeline spans, the
bounded KV series and the request sampler."""

import json
from dataclasses import replace

import numpy as np
import pytest

from specaccel.schema.errors import InputError
from specaccel.schema.trace import DraftTree, Trace
from specaccel.sim import simulate
from specaccel.sim.bounded_series import BoundedSeries
from specaccel.sim.config_check import check_config, kv_capacity_tokens, verify_unit_nodes
from specaccel.sim.request_sampling import take_requests
from specaccel.sim.serving import ServingConfig
from specaccel.sim.timeline_export import chrome_trace
from specaccel.workloads import DEFAULT_PRESET, generate_trace, write_trace


def star(n: int) -> DraftTree:
    return DraftTree.build([-1] + [0] * (n - 1), list(range(n)), [1] * n)


def test_weights_larger_than_memory_are_rejected_before_simulating():
    from specaccel.models.cost import get_hardware, get_model

    hw = get_hardware("specaccel-default")
    small = replace(hw, mem_bytes=10e9)
    trace = generate_trace(DEFAULT_PRESET, n_requests=1, steps_per_request=2, seed=0)
    target, draft = get_model("vicuna-7b"), get_model("eagle-head-vicuna-7b")
    with pytest.raises(InputError, match=r"weights of vicuna-7b \+ eagle-head-vicuna-7b "
                                         r"\(13\.48 GiB\) do not fit the 9\.31 GiB") as e:
        simulate(trace, hw=small, target=target, draft=draft)
    assert e.value.field == "hw" and "\n" not in str(e.value)
    # the KV capacity is what is left after the weights
    assert kv_capacity_tokens(hw, target, draft, 2 * 32 * 32 * 128 * 2) == int(
        (80e9 - target.weight_bytes - draft.weight_bytes) // (2 * 32 * 32 * 128 * 2))


def test_a_tree_larger_than_the_verify_unit_is_rejected(toy_hw, toy_gpu):
    trace = Trace.from_trees([("a", 4, [star(65)])], metadata={"drafting": "per-level"})
    assert verify_unit_nodes(toy_hw) == 64 and verify_unit_nodes(toy_gpu) is None
    with pytest.raises(InputError, match="65-node tree .* at most 64 nodes") as e:
        check_config(trace, toy_hw, None, None, drafting="per-level")
    assert e.value.field == "tree_nodes"    # the accelerator's parameter, as the user sets it
    check_config(trace, toy_gpu, None, None, drafting="per-level")   # software verify
    check_config(trace, toy_hw, None, None, drafting="per-level", verify_nodes=65)
    with pytest.raises(InputError, match="at most 16 nodes") as e:
        check_config(trace, toy_hw, None, None, drafting="per-level", verify_nodes=16)
    assert e.value.field == "verify-nodes"


def test_verify_unit_nodes_is_the_hardware_specs_field_and_never_guessed(toy_hw):
    from specaccel.models.cost import AcceleratorConfig, get_hardware, list_hardware

    for name in list_hardware():
        hw = get_hardware(name)
        want = None if hw.kind == "gpu" else AcceleratorConfig().tree_nodes
        assert hw.verify_unit_nodes == want and verify_unit_nodes(hw) == want, name
    for n in (16, 128, 200):
        hw = AcceleratorConfig(tree_nodes=n).build()
        assert hw.verify_unit_nodes == n and verify_unit_nodes(hw) == n
    # a spec without the field is refused, not given a default size
    with pytest.raises(TypeError, match="verify_unit_nodes"):
        verify_unit_nodes(type("NoField", (), {"kind": "accelerator"})())
    # ... and an older field name is not read in its place
    legacy = type("Legacy", (), {"kind": "accelerator", "tree_nodes": 8})()
    with pytest.raises(TypeError, match="verify_unit_nodes"):
        verify_unit_nodes(legacy)
    # the spec itself holds the rule: GPUs have no limit, accelerators need one
    gpu = get_hardware("a100-80gb")
    with pytest.raises(InputError, match="must be None on a GPU") as e:
        replace(gpu, verify_unit_nodes=64)
    assert e.value.field == "verify_unit_nodes"
    accel = get_hardware("specaccel-default")
    for bad in (None, 0, -3, 2.5, True):
        with pytest.raises(InputError, match="node count >= 1") as e:
            replace(accel, verify_unit_nodes=bad)
        assert e.value.field == "verify_unit_nodes"
    assert replace(toy_hw, verify_unit_nodes=None).verify_unit_nodes is None


def _star_trace(n: int) -> Trace:
    return Trace.from_trees([("a", 4, [star(n), star(n)])],
                            metadata={"drafting": "per-level", "target_model": "vicuna-7b",
                                      "draft_model": "eagle-head-vicuna-7b"})


def test_tree_size_limit_follows_the_accelerators_tree_nodes():
    """100-node trees: refused by the default 64-node unit, accepted by a unit built for
    128 nodes and by a GPU (software verify), with the numbers of an unchecked run."""
    from specaccel.models.cost import AcceleratorConfig, get_hardware, get_model

    trace = _star_trace(100)
    target, draft = get_model("vicuna-7b"), get_model("eagle-head-vicuna-7b")
    with pytest.raises(InputError, match="100-node tree .* at most 64 nodes") as e:
        simulate(trace, hw=AcceleratorConfig().build(), target=target, draft=draft,
                 baseline=False)
    assert e.value.field == "tree_nodes"    # the accelerator's parameter, as the user sets it
    for hw in (AcceleratorConfig(tree_nodes=128).build(), get_hardware("h100-sxm")):
        got = simulate(trace, hw=hw, target=target, draft=draft, baseline=False)
        ref = simulate(trace, hw=hw, target=target, draft=draft, baseline=False, check=False)
        assert got.mean_nodes_per_step == 100 and got.tokens_per_s == ref.tokens_per_s
    with pytest.raises(InputError, match="at most 99 nodes"):
        simulate(trace, hw=AcceleratorConfig(tree_nodes=99).build(), target=target,
                 draft=draft, baseline=False)


def test_cli_rejects_a_tree_larger_than_the_accelerators_unit(_cli, tmp_path):
    path = tmp_path / "big.parquet"
    write_trace(_star_trace(65), path)
    p = _cli("--trace", str(path), "--hw", "specaccel-default")
    assert p.returncode == 2 and p.stdout == ""
    (last,) = p.stderr.strip().splitlines()     # no progress line before the error
    assert "Traceback" not in p.stderr and last.startswith("specaccel: error: ")
    assert "field 'tree_nodes'" in last and "65-node tree" in last
    gpu = _cli("--trace", str(path), "--hw", "a100-80gb", "--json")
    assert gpu.returncode == 0, gpu.stderr
    assert json.loads(gpu.stdout)["mean_nodes_per_step"] == 65


@pytest.mark.parametrize("corner", ["low", "high", "slow"])
def test_designs_at_the_ends_of_the_accelerators_ranges_simulate_without_warnings(corner):
    """The pricing subtracts static power x latency from every pass's energy: an
    absurd design (leakage 1e308 W/mm^2) made that inf - inf, a RuntimeWarning and a NaN
    energy.  At the ends of the parameters' ranges every number stays finite."""
    import math
    import warnings

    from specaccel.models.cost import AcceleratorConfig, get_model
    from specaccel.schema.config_fields import config_fields

    numbers = [f for f in config_fields(AcceleratorConfig)
               if f.kind in (int, float) and f.allowed() is None]
    low = {f.name: f.ge if f.ge is not None else math.ulp(f.gt) for f in numbers}
    high = {f.name: f.le for f in numbers}
    # the weights fit the memory and the trace's trees the verify unit
    fits = {k: high[k] for k in ("hbm_stacks", "hbm_gb_per_stack", "tree_nodes")}
    design = {"low": {**low, **fits}, "high": high,
              "slow": {**low, **fits, "leakage_w_per_mm2": high["leakage_w_per_mm2"],
                       "array_cores": high["array_cores"]}}
    hw = AcceleratorConfig(**design[corner]).build()
    trace = generate_trace(DEFAULT_PRESET, n_requests=2, steps_per_request=3, seed=0)
    target, draft = get_model("vicuna-7b"), get_model("eagle-head-vicuna-7b")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for serving in (None, ServingConfig(max_batch=2)):
            got = simulate(trace, hw=hw, target=target, draft=draft, serving=serving)
            for value in (got.makespan_s, got.tokens_per_s, got.baseline.makespan_s,
                          *got.energy_j.values(), *got.energy_per_token_j.values()):
                assert 0 < value < math.inf


@pytest.mark.parametrize("serving", [None, ServingConfig(max_batch=2)])
def test_a_pass_priced_at_inf_is_an_error_before_any_nan(serving):
    """A device beyond the accelerator's ranges (a hand-made spec whose bandwidth
    underflows) prices passes at inf: the pricing door refuses them, naming the device,
    instead of subtracting static energy from them (inf - inf: a RuntimeWarning and NaN)
    and reporting the run."""
    import warnings

    from specaccel.models.cost import AcceleratorConfig, get_model

    hw = replace(AcceleratorConfig().build(), mem_bw_bytes_s=1e-300)
    trace = generate_trace(DEFAULT_PRESET, n_requests=2, steps_per_request=3, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match="passes of .* on specaccel-default: latency_s "
                                             "came out inf, not a finite number") as e:
            simulate(trace, hw=hw, target=get_model("vicuna-7b"),
                     draft=get_model("eagle-head-vicuna-7b"), serving=serving)
    assert e.value.field == "hw"


def test_a_kv_capacity_must_fit_the_memory_left_after_the_weights():
    from specaccel.models.cost import get_hardware, get_model
    from specaccel.models.cost.deployment_config import DeploymentConfig
    from specaccel.sim.simulation import check_run, resolve_deployments
    from specaccel.sim.step_costs import kv_bytes_per_token

    hw = get_hardware("a100-80gb")
    trace = generate_trace(DEFAULT_PRESET, n_requests=1, steps_per_request=2, seed=0)
    target, draft = get_model("vicuna-7b"), get_model("eagle-head-vicuna-7b")
    default = kv_capacity_tokens(hw, target, draft, kv_bytes_per_token(target))

    def check(tokens, **deployment):
        dep, base = resolve_deployments(trace, hw, DeploymentConfig(**deployment))
        check_run(trace, hw=hw, target=target, draft=draft, deployment=dep,
                  baseline_deployment=base,
                  serving=ServingConfig(kv_capacity_tokens=tokens))

    check(default)            # what a serving run takes when none is given
    # the device holds the draft's weights less the embedding it shares with the target:
    # a little more than the default fits, not 10**8 tokens
    with pytest.raises(InputError, match=r"need 52\.43 TB .* at most 137234 tokens") as e:
        check(10**8)
    assert e.value.field == "kv_capacity_tokens"
    with pytest.raises(InputError, match="at most 137234 tokens"):
        check(137235)
    # two tensor-parallel shards hold half the cache each: twice the default fits
    check(2 * default, tp=2)
    with pytest.raises(InputError, match=r"on a100-80gb #0 .* at most 300174 tokens"):
        check(300175, tp=2)
    # and a serving run without a capacity takes exactly that limit of its placement
    dep, _ = resolve_deployments(trace, hw, DeploymentConfig(tp=2))
    assert kv_capacity_tokens(hw, target, draft, kv_bytes_per_token(target),
                              deployment=dep) == 300174
    run = simulate(trace, hw=hw, target=target, draft=draft, deployment=dep,
                   serving=ServingConfig(max_batch=2), engine="event")
    assert run.serving["kv_capacity_tokens"] == 300174


def test_latency_percentiles_are_right_at_the_slowest_poisson_rate():
    """At 1e-300 requests/s the arrivals came ~1e300 s apart, where a float64 clock
    steps by ~1e284 s: every latency percentile came out 0.  The rate's range and the
    arrivals' span keep the clock fine enough: requests that never overlap have the
    same latencies whether they arrive 1e3 or 1e6 s apart."""
    from specaccel.models.cost import get_hardware, get_model
    from specaccel.sim.step_input import poisson_arrivals

    with pytest.raises(InputError, match="must be >= 1e-06") as e:
        ServingConfig(arrivals="poisson", rate_per_s=1e-300)
    assert e.value.field == "rate_per_s"
    with pytest.raises(InputError, match="span .* beyond the 1e\\+09 s") as e:
        poisson_arrivals(100_000, 1e-5, 0)       # about 1e10 s
    assert e.value.field == "rate_per_s"
    trace = generate_trace(DEFAULT_PRESET, n_requests=2, steps_per_request=3, seed=0)
    target, draft = get_model("vicuna-7b"), get_model("eagle-head-vicuna-7b")
    got = {rate: simulate(trace, hw=get_hardware("a100-80gb"), target=target, draft=draft,
                          baseline=False,
                          serving=ServingConfig(arrivals="poisson", rate_per_s=rate)).serving
           for rate in (1e-3, 1e-6)}
    for key in ("ttft_s", "tpot_s", "e2e_s"):
        slow, fast = got[1e-6][key], got[1e-3][key]
        assert slow["p50"] > 0 and slow == pytest.approx(fast, rel=1e-6), key


def test_bounded_series_keeps_evenly_spread_points_and_stays_bounded():
    s = BoundedSeries(8)
    for i in range(1000):
        s.offer(float(i), float(i))
    assert len(s.t) < 8
    gaps = np.diff(s.t)
    assert np.all(gaps == gaps[0]) and s.t[0] == 0.0 and s.t[-1] >= 1000 - 2 * gaps[0]
    small = BoundedSeries(8)
    for i in range(5):
        small.offer(float(i), 2.0 * i)
    assert small.to_dict() == {"t_s": [0, 1, 2, 3, 4], "value": [0, 2, 4, 6, 8]}
    with pytest.raises(ValueError):
        BoundedSeries(3)


def test_take_requests_repeats_the_trace_cyclically():
    trace = generate_trace(DEFAULT_PRESET, n_requests=3, steps_per_request=4, seed=2)
    assert take_requests(trace, 3).equals(trace)
    big = take_requests(trace, 7)
    assert big.n_requests == 7 and big.n_steps == 7 * 4
    assert big.request_id[3] == f"{trace.request_id[0]}#1"
    assert big.select_requests([3, 4, 5]).nodes["token"].tolist() == \
        trace.nodes["token"].tolist()
    assert take_requests(trace, 2).equals(trace.select_requests([0, 1]))


def test_perfetto_export_has_unit_tracks_and_per_request_spans(toy_hw, target_model,
                                                              draft_model, batch_cost):
    chain = DraftTree.build([-1, 0, 1], [4, 5, 7], [5, 6, 8])
    trace = Trace.from_trees([("A", 10, [chain]), ("B", 5, [chain])],
                             metadata={"drafting": "per-level"})
    res = simulate(trace, hw=toy_hw, target=target_model, draft=draft_model,
                   cost_fn=batch_cost, baseline=False, record_timeline=True,
                   serving=ServingConfig(max_batch=1, prefill=True))
    doc = chrome_trace(res.timeline, hardware="toy", request_times=res.request_times)
    json.dumps(doc)
    spans = [(e["tid"], e["name"]) for e in doc["traceEvents"]
             if e["ph"] == "X" and e["pid"] == 1]
    # A: prefill then decode; B waits for A (batch 1), then prefill and decode
    assert spans == [(1, "prefill"), (1, "decode"), (2, "queued"), (2, "prefill"),
                     (2, "decode")]
    b_queued = [e for e in doc["traceEvents"] if e["pid"] == 1 and e["name"] == "queued"][0]
    assert b_queued["ts"] == 0.0
    assert b_queued["dur"] == pytest.approx(res.request_times["start"][1] * 1e6)
    units = {e["args"]["name"] for e in doc["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name" and e["pid"] == 0}
    assert units == {"array", "tree_unit", "verify_unit"}


class _Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.returncode, self.stdout, self.stderr = code, out, err


@pytest.fixture
def _cli(capsys):
    from specaccel.cli import main

    def call(*args):
        capsys.readouterr()
        code = main(["simulate", *args])
        got = capsys.readouterr()
        return _Run(code, got.out, got.err)

    return call


@pytest.fixture(scope="module")
def trace_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim") / "t.parquet"
    write_trace(generate_trace(DEFAULT_PRESET, n_requests=3, steps_per_request=8, seed=4),
                path)
    return str(path)


def test_cli_serving_run_prints_percentiles_and_writes_timeline_and_gantt(_cli, trace_file,
                                                                         tmp_path):
    tl, png = tmp_path / "t.json", tmp_path / "g.png"
    p = _cli("--trace", trace_file, "--hw", "specaccel-default", "--arrivals", "poisson:50",
             "--batch", "4", "--requests", "10", "--seed", "3", "--timeline", str(tl),
             "--gantt", str(png), "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["n_requests"] == 10 and out["engine"] == "simpy-serving"
    assert out["serving"]["config"]["rate_per_s"] == 50.0
    assert set(out["serving"]["tpot_s"]) == {"p50", "p90", "p99", "mean"}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads(tl.read_text())
    assert any(e.get("pid") == 1 and e["name"] == "decode" for e in doc["traceEvents"])
    human = _cli("--trace", trace_file, "--hw", "specaccel-default", "--batch", "4")
    assert human.returncode == 0 and "TTFT (ms)" in human.stdout and "P99" in human.stdout


@pytest.mark.parametrize("args, field", [
    (["--arrivals", "uniform:3"], "arrivals"),
    (["--arrivals", "poisson:-1"], "arrivals"),
    (["--batch", "0"], "batch"),
    (["--verify-nodes", "8"], "verify-nodes"),
    (["--engine", "fast", "--batch", "4"], "engine"),
    (["--token-budget", "5"], "token-budget"),     # the option, not the config's field
    (["--arrivals", "poisson:1e-300"], "arrivals"),   # ran 1.7e300 s, every latency 0
    (["--arrivals", "poisson:1e-6", "--requests", "5000"], "arrivals"),  # ~5e9 s
    (["--pipelined", "--batch", "2"], "pipelined"),
    (["--baseline-stack", "vllm"], "--baseline-stack"),
])
def test_cli_rejects_bad_serving_input_with_one_line(_cli, trace_file, args, field):
    """The error is the only line: the run's "simulating ..." line comes once it runs."""
    p = _cli("--trace", trace_file, "--hw", "specaccel-default", *args)
    assert p.returncode == 2, p.stderr
    (line,) = p.stderr.strip().splitlines()
    assert f"field {field!r}" in line and line.startswith("specaccel: error: ")


@pytest.mark.parametrize("hw_name", ["specaccel-default", "a100-80gb"])
def test_committed_kv_is_written_back_from_sram_on_the_accelerator_only(hw_name):
    from specaccel.sim import simulate_named

    trace = generate_trace(DEFAULT_PRESET, n_requests=1, steps_per_request=6, seed=3)
    res = simulate_named(trace, hw_name, baseline=False)
    kvb = res.kv_cache["peak_bytes"] / res.kv_cache["peak_tokens"]
    expected = res.tokens * kvb if hw_name == "specaccel-default" else 0.0
    assert res.hbm_bytes["kv_writeback"] == pytest.approx(expected)
    parts = sum(v for k, v in res.hbm_bytes.items() if k != "total")
    assert res.hbm_bytes["total"] == pytest.approx(parts)


def test_kv_bound_is_a_path_a_step_plus_one_tree_not_every_drafted_node():
    """A request holds at most its prompt, what each step can commit (the deepest path
    and the root) and one tree's nodes; a 64-node tree a step for 64 steps is not 4096
    tokens of KV.  Never above the prompt plus every drafted node; no steps: the prompt."""
    from specaccel.sim.config_check import trace_kv_tokens

    wide = DraftTree.build([-1, 0, 0, 1], [1, 2, 3, 4], [2, 4, 0, 0])  # depth 2, 4 nodes
    chain = DraftTree.build([-1, 0], [1, 2], [2, 0])  # depth 1, 2 nodes
    trace = Trace.from_trees([("a", 100, [wide] * 10 + [chain]), ("b", 7, []),
                              ("c", 300, [chain] * 3)])
    # a: 10 x (2 + 1) + 1 x (1 + 1) + 4 = 36 < 42 drafted; c: min(3 x 2 + 2, 6) = 6
    assert trace_kv_tokens(trace) == 306.0
    assert trace_kv_tokens(Trace.from_trees([("a", 100, [wide] * 10 + [chain])])) == 136.0
    assert trace_kv_tokens(Trace.from_trees([("x", 9, [])])) == 9.0
    assert trace_kv_tokens(Trace.from_trees([("x", 9, [chain]), ("y", 50, [])])) == 50.0


def test_a_gantt_window_after_the_run_is_flagged(_cli, trace_file, tmp_path):
    """The chart is drawn (the run is not lost) and the result says why it is empty."""
    png = tmp_path / "late.png"
    p = _cli("--trace", trace_file, "--hw", "a100-80gb", "--gantt",
             str(png), "--gantt-window", "100,200", "--json")
    assert p.returncode == 0 and png.exists()
    (w,) = json.loads(p.stdout)["warnings"]
    assert w["code"] == "gantt_window_after_run" and "100 s" in w["message"]
    inside = _cli("--trace", trace_file, "--hw", "a100-80gb", "--gantt",
                  str(png), "--gantt-window", "0,0.01", "--json")
    assert "warnings" not in json.loads(inside.stdout)
