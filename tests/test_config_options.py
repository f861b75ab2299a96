"""The config dataclasses reach the CLI and the sweeps: ``--accel``/``--accel-file`` on
``simulate`` and ``run``, serving fields as ``simulate`` options and as sweep axes."""

from __future__ import annotations

import json
import math

import pytest

from specaccel.analysis import design_point as dp
from specaccel.analysis.sweep_spec import parse_spec
from specaccel.cli import main
from specaccel.models.cost import AcceleratorConfig, get_model
from specaccel.schema.config_fields import field_names
from specaccel.schema.errors import InputError
from specaccel.sim import simulate
from specaccel.sim.serving import ServingConfig
from specaccel.workloads import DEFAULT_PRESET, generate_trace, read_trace, write_trace


@pytest.fixture(scope="module")
def trace_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "t.parquet"
    write_trace(generate_trace(DEFAULT_PRESET, n_requests=3, steps_per_request=8, seed=2), path)
    return path


def _json(capsys, argv):
    capsys.readouterr()
    code = main(argv)
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def test_simulate_accel_is_the_library_on_that_design(trace_file, capsys, tmp_path):
    got = _json(capsys, ["simulate", "--trace", str(trace_file), "--accel", "array_rows=32",
                         "--accel", "dataflow=ws", "--json"])
    trace = read_trace(trace_file)
    want = simulate(trace, hw=AcceleratorConfig(array_rows=32, dataflow="ws").build(),
                    target=get_model("vicuna-7b"), draft=get_model("eagle-head-vicuna-7b"),
                    baseline=False)
    assert got["tokens_per_s"] == want.tokens_per_s
    default = _json(capsys, ["simulate", "--trace", str(trace_file), "--hw",
                             "specaccel-default", "--json"])
    assert default["tokens_per_s"] != got["tokens_per_s"]
    design = tmp_path / "d.toml"
    design.write_text('name = "mine"\narray_rows = 16\ndataflow = "ws"\n')
    from_file = _json(capsys, ["simulate", "--trace", str(trace_file), "--accel-file",
                               str(design), "--accel", "array_rows=32", "--json"])
    assert from_file["hardware"] == "mine"                  # the file's name
    assert from_file["tokens_per_s"] == got["tokens_per_s"]  # --accel overrides the file


@pytest.mark.parametrize("argv, text", [
    (["--hw", "a100-80gb", "--accel", "array_rows=32"], "field '--accel': configures"),
    (["--accel", "array_rowz=32"], "field '--accel': expected KEY=VALUE"),
    (["--accel", "sram_mib=8"], "field 'weight_sram_mib'"),
    (["--accel-file", "{bad}"], "line 2: field 'sram_mb': unknown key"),
    ([], "field 'hw': give a hardware preset"),
    (["--hw", "a100-80gb", "--batch", "0"], "field 'batch': must be >= 1, not 0"),
    (["--hw", "a100-80gb", "--token-budget", "many"], "field 'token-budget': must be a number"),
    (["--hw", "a100-80gb", "--kv-capacity", "-5"], "field 'kv-capacity': must be >= 1"),
    # more KV cache than the memory left after the weights ran as if it "fits"
    (["--hw", "a100-80gb", "--kv-capacity", "100000000"],
     "field 'kv-capacity': 100000000 tokens of KV cache need 52.43 TB on a100-80gb "
     "(524288 B a token), but it has 67.01 GiB left after 12.99 GiB of weights: at most "
     "137234 tokens fit"),
    # the capacity given is what is too small, not the memory
    (["--hw", "a100-80gb", "--kv-capacity", "1"],
     "field 'kv-capacity': one request needs"),
    # the verify unit's size is the parameter the user set, not the spec's field
    (["--accel", "tree_nodes=4"], "field 'tree_nodes': the trace has a 26-node tree"),
    (["--verify-nodes", "4"], "field 'verify-nodes': the trace has a 26-node tree"),
    # the NaN energy of an absurd design came with numpy's RuntimeWarning
    (["--accel", "leakage_w_per_mm2=1e308", "--accel", "array_cores=1000000"],
     "field 'leakage_w_per_mm2': must be <= 1, not 1e+308"),
])
def test_bad_hardware_and_serving_options_are_one_line_exit_2(trace_file, capsys, tmp_path,
                                                               argv, text):
    bad = tmp_path / "bad.toml"
    bad.write_text("array_rows = 32\nsram_mb = 64\n")
    argv = [a.replace("{bad}", str(bad)) for a in argv]
    capsys.readouterr()
    assert main(["simulate", "--trace", str(trace_file), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert text in err and "\n" not in err


@pytest.mark.parametrize("item, text", [
    # each priced a pass at inf (0 tokens/s) with exit 0
    ("bw_efficiency=1e-320", "field 'bw_efficiency': must be >= 0.01, not 1e-320"),
    ("compute_efficiency=5e-324", "field 'compute_efficiency': must be >= 0.01"),
    ("clock_hz=1e-300", "field 'clock_hz': must be >= 1e+06, not 1e-300"),
    ("hbm_gbs_per_stack=1e-308", "field 'hbm_gbs_per_stack': must be >= 1"),
    # named the derived 'sram_bw_bytes_s' (= this x clock_hz) that overflowed
    ("sram_bytes_per_cycle=1e300", "field 'sram_bytes_per_cycle': must be <= 1e+08"),
])
def test_an_accelerator_value_out_of_its_range_is_refused_naming_it(capsys, item, text):
    capsys.readouterr()
    assert main(["cost", "--accel", item]) == 2
    out = capsys.readouterr()
    assert out.out == "" and text in out.err and out.err.count("\n") == 1, out.err


def test_serving_options_build_the_serving_config(trace_file, capsys):
    got = _json(capsys, ["simulate", "--trace", str(trace_file), "--hw", "a100-80gb",
                         "--batch", "2", "--no-prefill", "--token-budget", "512",
                         "--arrivals", "poisson:40", "--seed", "3", "--json"])
    assert got["serving"]["config"] == ServingConfig(
        max_batch=2, prefill=False, token_budget=512, arrivals="poisson", rate_per_s=40.0,
        seed=3).to_dict()
    replay = _json(capsys, ["simulate", "--trace", str(trace_file), "--hw", "a100-80gb",
                            "--json"])
    assert replay.get("serving") is None
    assert main(["simulate", "--trace", str(trace_file), "--hw", "a100-80gb",
                 "--seed", "3"]) == 2                      # orphaned: seeds no arrivals
    assert "field '--seed'" in capsys.readouterr().err


def test_run_takes_an_accelerator_design(tmp_path, capsys):
    capsys.readouterr()
    out = tmp_path / "o"
    assert main(["run", "--out", str(out), "--requests", "2", "--steps", "6",
                 "--accel", "array_cores=4", "--json"]) == 0
    report = json.loads((out / "report.json").read_text())
    trace = read_trace(out / "trace.parquet")
    want = simulate(trace, hw=AcceleratorConfig(array_cores=4).build(),
                    target=get_model("vicuna-7b"), draft=get_model("eagle-head-vicuna-7b"))
    assert report["hardware"][1]["tokens_per_s"] == want.tokens_per_s
    assert report["hardware"][0]["hardware"] == "a100-80gb"


def test_run_names_the_tree_nodes_the_user_set(tmp_path, capsys):
    capsys.readouterr()
    assert main(["run", "--out", str(tmp_path / "o"), "--requests", "1", "--steps", "2",
                 "--accel", "tree_nodes=4"]) == 2
    err = capsys.readouterr().err
    assert "field 'tree_nodes': the trace has a 26-node tree" in err and err.count("\n") == 1


@pytest.mark.parametrize("name, text, reason", [
    ("empty.toml", "", "empty file"),
    ("comments.toml", "# only a comment\n\n", "empty file"),
    ("design.jsonl", "", "an accelerator design is a .toml file, not '.jsonl'"),
    ("design.parquet", "array_rows = 32\n", "a .toml file, not '.parquet'"),
])
@pytest.mark.parametrize("command", ["cost", "simulate", "run"])
def test_an_accelerator_file_that_sets_nothing_or_is_not_toml_is_refused(
        trace_file, capsys, tmp_path, name, text, reason, command):
    """An empty design file used to mean the default accelerator, silently."""
    design = tmp_path / name
    design.write_text(text)
    argv = {"cost": ["cost"], "simulate": ["simulate", "--trace", str(trace_file)],
            "run": ["run", "--out", str(tmp_path / "o")]}[command]
    capsys.readouterr()
    assert main([*argv, "--accel-file", str(design)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"specaccel: error: {design}: ") and reason in err, err
    assert "\n" not in err


SERVING_SPEC = """
[sweep]
metrics = ["tokens_per_s", "ttft_p50_s", "tpot_p50_s"]
baseline = false

[fixed]
hardware = "a100-80gb"
{fixed}

[axes]
{axes}

[[workloads]]
preset = "eagle-vicuna-7b-mtbench"
requests = 6
steps = 4
"""


def test_every_serving_field_is_a_sweep_parameter():
    assert set(field_names(ServingConfig)) <= dp.parameter_names()
    assert set(field_names(AcceleratorConfig)) <= dp.parameter_names()


def test_a_serving_axis_makes_serving_points():
    spec = parse_spec(SERVING_SPEC.format(fixed='arrivals = "poisson"\nrate_per_s = 50.0',
                                          axes="max_batch = [1, 4]"), "s.toml")
    points = spec.points()
    assert [dp.serving_config(p).max_batch for p in points] == [1, 4]
    settings = spec.settings
    one, four = (dp.evaluate_point(p, settings) for p in points)
    assert one["evaluator"] == "event" and not math.isnan(one["ttft_p50_s"])
    assert four["tokens_per_s"] > one["tokens_per_s"]      # batching serves the queue
    plain = parse_spec(SERVING_SPEC.format(fixed="", axes='array_rows = [32, 64]')
                       .replace('hardware = "a100-80gb"', ""), "p.toml")
    assert all(dp.serving_config(p) is None for p in plain.points())
    res = dp.evaluate_point(plain.points()[0], plain.settings)
    assert math.isnan(res["ttft_p50_s"])


@pytest.mark.parametrize("fixed, axes, field, reason", [
    ("", "rate_per_s = [5.0, 10.0]", "axes.rate_per_s", "arrivals = poisson"),
    ('arrivals = "poisson"', "rate_per_s = [5.0, -1.0]", "axes.rate_per_s", "must be >= 1e-06"),
    ('arrivals = "uniform"', "max_batch = [1]", "fixed.arrivals", "unknown arrivals"),
    ("seed = 3", "array_rows = [1]", "fixed.seed", "sets no serving parameter"),
])
def test_bad_serving_parameters_fail_before_the_sweep(fixed, axes, field, reason):
    body = SERVING_SPEC.format(fixed=fixed, axes=axes)
    if "array_rows" in axes:
        body = body.replace('hardware = "a100-80gb"', "")
    with pytest.raises(InputError) as exc:
        parse_spec(body, "s.toml")
    assert exc.value.field == field and reason in exc.value.reason
    key = field.split(".")[1]
    line = next(i for i, text in enumerate(body.splitlines(), 1) if text.startswith(key))
    assert exc.value.where == (f"line {line}",)


def test_engine_options_are_sweep_axes_and_simulate_options(trace_file, capsys):
    from specaccel.sim.options import EngineOptions

    assert set(field_names(EngineOptions)) <= dp.parameter_names()
    spec = parse_spec(SERVING_SPEC.format(fixed='hardware = "specaccel-default"',
                                          axes="pipelined = [false, true]")
                      .replace('hardware = "a100-80gb"\n', ""), "e.toml")
    plain, piped = (dp.evaluate_point(p, spec.settings) for p in spec.points())
    assert plain["evaluator"] == "fast" and piped["evaluator"] == "event"
    assert piped["tokens_per_s"] != plain["tokens_per_s"]   # drafting overlaps verifying
    with pytest.raises(InputError, match="batch-1 replay only") as exc:
        parse_spec(SERVING_SPEC.format(fixed="max_batch = 4", axes="pipelined = [true]"),
                   "e.toml")
    assert exc.value.field == "axes.pipelined"
    got = _json(capsys, ["simulate", "--trace", str(trace_file), "--hw", "specaccel-default",
                         "--verify-nodes", "64", "--pipelined", "--json"])
    assert got["engine"].startswith("simpy") or got["engine"] == "pipelined"
