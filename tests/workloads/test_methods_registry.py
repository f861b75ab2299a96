"""One method registry: every method and preset declared once, reachable from `trace gen`,
`methods`, `simulate`/`run` and sweeps; `--tau` recalibrates a preset."""

from __future__ import annotations

import json

import numpy as np
import pytest

from specaccel.analysis import design_point as dp
from specaccel.analysis.sweep_spec import parse_spec
from specaccel.cli import main
from specaccel.models.cost import get_model
from specaccel.models.cost.drafting import DraftingMode
from specaccel.models.golden import verify_trace
from specaccel.schema.errors import InputError
from specaccel.sim import simulate_named
from specaccel.sim.config_check import check_trace_metadata
from specaccel.workloads import (
    METHODS,
    PRESETS,
    generate_trace,
    get_method,
    get_preset,
    list_presets,
    validate_trace,
)
from specaccel.workloads import real_text_presets as rtp
from specaccel.workloads.published import published_row

#: The families that ran only from Python before the registry.
FORMERLY_PYTHON_ONLY = ("bass", "staged-speculative", "self-speculation", "del", "calm",
                        "diffusion-llm", "stree")
SMALL = {"n_requests": 2, "steps_per_request": 6}


def test_every_preset_names_a_declared_method_and_a_real_source_row():
    assert len(METHODS) >= 20 and len(PRESETS) >= 40
    for name, preset in PRESETS.items():
        method = get_method(preset.method)
        assert isinstance(method.drafting, DraftingMode), name
        assert preset in method.presets()
        if preset.source_row is not None:
            assert published_row(preset.source_row)["method"] == preset.source_row[0]
    for name, method in METHODS.items():
        assert method.presets(), f"method {name} has no preset"
        assert method.sources and method.tree_policy
    assert set(FORMERLY_PYTHON_ONLY) <= set(METHODS.names())


def test_list_presets_names_the_calibrated_ones():
    assert set(list_presets()) == {n for n, p in PRESETS.items() if p.kind == "calibrated"}
    assert {"eagle-vicuna-7b-mtbench", "sequoia-llama2-7b-128n-d10-c4"} <= set(list_presets())


@pytest.fixture
def real_text(models, monkeypatch):
    """Real-text presets record with the session's small n-gram pair."""
    monkeypatch.setattr(rtp, "default_models", lambda: models)


@pytest.mark.parametrize("name", sorted(PRESETS.names()))
def test_every_preset_generates_a_valid_labelled_trace(name, real_text):
    preset = get_preset(name)
    sizes = SMALL if preset.sized_by_steps else {"n_requests": 2}
    trace = preset.generate(seed=3, **sizes)
    validate_trace(trace)
    check_trace_metadata(trace)  # the names trace validate checks: models, stacks, hardware
    meta = trace.metadata
    assert meta["preset"] == name and meta["method"] == preset.method
    assert meta["drafting"] == get_method(preset.method).drafting.name
    assert trace.n_requests == 2
    again = preset.generate(seed=3, **sizes)
    assert again.equals(trace)                           # seeded


@pytest.mark.parametrize("method", ["bass", "staged-speculative", "stree"])
def test_simulated_python_families_replay_on_the_simulator(method):
    preset = get_method(method).default_preset()
    trace = preset.generate(**SMALL)
    res = simulate_named(trace, "a100-80gb", baseline=True)
    assert res.tokens == int(verify_trace(trace).committed.sum())
    assert res.tokens_per_s > 0 and res.speedup > 0
    get_model(trace.metadata["target_model"])            # names the cost model knows


@pytest.mark.parametrize("tau", [2.2, 4.6])
def test_tau_recalibrates_the_acceptance_model(tau):
    trace = generate_trace("eagle-vicuna-7b-mtbench", n_requests=8, steps_per_request=200,
                           seed=1, tau=tau)
    got = float(verify_trace(trace).committed.mean())
    assert got == pytest.approx(tau, rel=0.05)
    assert trace.metadata["tau"] == tau and trace.metadata["published_tau"] == 3.94
    preset = get_preset("eagle-vicuna-7b-mtbench")
    assert preset.with_tau(tau).model_tau() == pytest.approx(tau, rel=1e-6)
    assert preset.model_tau() == pytest.approx(3.94, rel=1e-6)  # the original is untouched


def test_tau_errors_name_the_field():
    with pytest.raises(InputError, match="not reachable") as exc:
        generate_trace("eagle-vicuna-7b-mtbench", tau=9.0)
    assert exc.value.field == "tau"
    with pytest.raises(InputError, match="no acceptance model") as exc:
        generate_trace("bass-7b-batch8-humaneval", tau=3.0)
    assert exc.value.field == "tau"
    ssm = get_preset("stree-mamba2-2.7b-eagle25").with_tau(2.5)
    assert ssm.model_tau() == pytest.approx(2.5, rel=1e-6)


def test_trace_gen_method_preset_tau_and_list(tmp_path, capsys):
    out = tmp_path / "t.parquet"
    assert main(["trace", "gen", "--method", "sequoia", "--requests", "2", "--steps", "4",
                 "--tau", "3.5", "-o", str(out), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["preset"] == "sequoia-llama2-7b-128n-d10-c4" and r["method"] == "sequoia"
    assert r["tau"] == 3.5 and r["published_tau"] == 5.08
    assert main(["trace", "gen", "--list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["methods"]
    assert {m["method"] for m in listed} == set(METHODS.names())
    rows = {p["preset"]: p for m in listed for p in m["presets"]}
    assert set(rows) == set(PRESETS.names())
    assert rows["eagle-vicuna-7b-mtbench"]["published_tau"] == 3.94
    assert rows["layerskip-e6"]["model_tau"] > 1 and rows["bass-7b-batch8-humaneval"][
        "published_speedup"] == pytest.approx(2.15)
    assert main(["methods", "medusa-1"]) == 0
    text = capsys.readouterr().out
    assert "medusa-63" in text and "Cai et al. 2024" in text


@pytest.mark.parametrize("argv, field", [
    (["--preset", "eagle-vicuna-7b-mtbench", "--method", "bass"], "method"),
    (["--method", "nope"], "method"),
    (["--preset", "nope"], "preset"),
    (["--tau", "1.0"], "tau"),
    (["--preset", "fast-dllm-llada-8b", "--steps", "3"], "steps"),
    (["--list", "--tau", "3"], "list"),
])
def test_trace_gen_bad_options_are_one_line(argv, field, tmp_path, capsys):
    capsys.readouterr()
    assert main(["trace", "gen", *argv, "-o", str(tmp_path / "x.parquet")]) == 2
    err = capsys.readouterr().err.strip()
    assert f"field {field!r}" in err and "\n" not in err


SPEC = """
[sweep]
metrics = ["tokens_per_s", "mean_committed_per_step"]
baseline = false

[fixed]
hardware = "a100-80gb"

[axes]
tau = [2.0, 3.0]

[[workloads]]
method = "eagle"
requests = 2
steps = 30

[[workloads]]
method = "stree"
requests = 2
steps = 30
"""


def test_methods_and_tau_are_sweep_workloads_and_axes():
    spec = parse_spec(SPEC, "m.toml")
    points = spec.points()
    assert {p["preset"] for p in points} == {"eagle-vicuna-7b-mtbench",
                                             "stree-mamba2-2.7b-eagle25"}
    got = {(p["preset"], p["tau"]): dp.evaluate_point(p, spec.settings)
           ["mean_committed_per_step"] for p in points}
    for (_, tau), value in got.items():
        assert abs(value - tau) < 0.25 * tau
    assert np.all([got[(p, 2.0)] < got[(p, 3.0)] for p, _ in got])
    with pytest.raises(InputError, match="no preset|unknown method") as exc:
        parse_spec(SPEC.replace('method = "stree"', 'method = "nope"'), "m.toml")
    assert exc.value.where and exc.value.field == "workloads[1].method"
