"""`specaccel run` and `specaccel simulate` through the CLI entry point (real modules)."""

import json
import re

import pytest

from specaccel.cli import main
from specaccel.cli.output import _fmt

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RUN_ARGS = ["--requests", "3", "--steps", "12", "--seed", "5"]


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    """One human-output run shared by the tests that read its files and its text."""
    out = tmp_path_factory.mktemp("run") / "out"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["run", "--out", str(out), *RUN_ARGS])
    return code, buf.getvalue(), out


def test_run_writes_report_trace_and_pngs(text_run):
    code, stdout, out = text_run
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert [h["hardware"] for h in report["hardware"]] == ["a100-80gb", "specaccel-default"]
    assert report["workload"]["preset"] == "eagle-vicuna-7b-mtbench"
    assert report["workload"]["n_requests"] == 3 and report["workload"]["n_steps"] == 36
    assert len(report["plots"]) >= 3
    for name in report["plots"]:
        data = (out / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 10_000, name
    from specaccel.workloads import generate_trace, read_trace
    assert read_trace(out / "trace.parquet").equals(
        generate_trace("eagle-vicuna-7b-mtbench", n_requests=3, steps_per_request=12, seed=5))
    assert str(out.resolve()) in stdout
    pub = report["workload"]["published"]       # the row the preset is calibrated to
    assert (pub["tau"], pub["speedup"], pub["hardware"]) == (3.94, 2.90, "A100")
    assert "published: tau 3.94, speedup 2.90x on A100" in stdout
    for h, full in zip(report["hardware"], report["results"], strict=True):
        assert h["tokens_per_s"] == full["tokens_per_s"]
        assert h["speedup"] == pytest.approx(
            full["tokens_per_s"] / full["baseline"]["tokens_per_s"])
        assert full["tokens"] == full["baseline"]["tokens"]
        assert h["speedup"] > 1.0            # a tau ~ 4 tree pays off at batch 1 on both
        assert h["mean_committed_per_step"] == pytest.approx(h["mean_accepted_per_step"] + 1)


def test_printed_numbers_are_the_json_numbers(text_run):
    _, stdout, out = text_run
    report = json.loads((out / "report.json").read_text())
    for h in report["hardware"]:
        line = next(ln for ln in stdout.splitlines() if ln.startswith(h["hardware"] + " "))
        cells = line.split()
        expected = [h["tokens_per_s"], h["baseline_tokens_per_s"], h["speedup"],
                    h["mean_committed_per_step"], h["mean_accepted_per_step"],
                    h["energy_per_token_j"] * 1e3, h["baseline_energy_per_token_j"] * 1e3]
        assert cells[1:8] == [_fmt(float(v)) for v in expected]
    assert re.search(r"wall time: \d+\.\d s", stdout)


def test_run_json_is_one_object_and_same_seed_is_reproducible(text_run, tmp_path, capsys):
    _, _, out_text = text_run
    assert main(["run", "--out", str(tmp_path / "j"), *RUN_ARGS, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)          # exactly one JSON object
    assert printed == json.loads((tmp_path / "j" / "report.json").read_text())
    first = json.loads((out_text / "report.json").read_text())
    assert printed["results"] == first["results"]          # same seed -> identical numbers
    assert printed["hardware"] == first["hardware"]


@pytest.mark.parametrize("argv, field", [
    (["--requests", "0"], "requests"),
    (["--steps", "-2"], "steps"),
    (["--seed", "-1"], "seed"),
])
def test_run_bad_options_are_exit_2_one_line(argv, field, tmp_path, capsys):
    assert main(["run", "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and field in err and "Traceback" not in err


def test_run_out_is_a_file_is_exit_2(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["run", "--out", str(f), *RUN_ARGS]) == 2
    err = capsys.readouterr().err
    assert str(f) in err and "folder" in err


def test_simulate_cli_equals_the_library_and_rejects_bad_names(text_run, tmp_path, capsys):
    _, _, out = text_run
    trace_file = str(out / "trace.parquet")
    timeline = tmp_path / "timeline.json"
    assert main(["simulate", "--trace", trace_file, "--hw", "specaccel-default",
                 "--baseline", "--json", "--timeline", str(timeline)]) == 0
    got = json.loads(capsys.readouterr().out)
    events = json.loads(timeline.read_text())["traceEvents"]
    slices = [e for e in events if e["ph"] == "X" and e.get("cat") == "stage"]
    assert len(slices) == 4 * got["n_steps"]       # draft, tree, target, verify per step
    decode_spans = [e for e in events if e.get("cat") == "request" and e["name"] == "decode"]
    assert len(decode_spans) == got["n_requests"]   # one decode span per request
    assert max(e["ts"] + e["dur"] for e in slices) == pytest.approx(got["makespan_s"] * 1e6)
    from specaccel.sim import simulate_named
    from specaccel.workloads import read_trace
    want = simulate_named(read_trace(trace_file), "specaccel-default", baseline=True)
    assert got["tokens_per_s"] == want.tokens_per_s and got["speedup"] == want.speedup
    report = json.loads((out / "report.json").read_text())
    assert got["tokens_per_s"] == report["hardware"][1]["tokens_per_s"]

    assert main(["simulate", "--trace", trace_file, "--hw", "no-such-hw"]) == 2
    err = capsys.readouterr().err
    assert "no-such-hw" in err and "\n" not in err.strip() and "'hw'" in err
    assert main(["simulate", "--trace", str(out / "missing.parquet"), "--hw", "a100-80gb"]) == 2
    assert "missing.parquet" in capsys.readouterr().err
    assert main(["simulate", "--trace", trace_file, "--hw", "a100-80gb", "--draft",
                 "no-such-model"]) == 2
    assert "no-such-model" in capsys.readouterr().err


def _files(folder):
    """Every entry of `folder` (hidden ones too) with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_run_refuses_a_bad_split_before_it_writes(text_run, tmp_path, capsys):
    """--tp 3 fails the split check of the A100 run: an earlier run's folder keeps its
    files and a new folder is not made; the simulation never starts."""
    import shutil

    _, _, done = text_run
    old = tmp_path / "old"
    shutil.copytree(done, old)
    before = _files(old)
    small = ["--requests", "1", "--steps", "2"]
    for out in (old, tmp_path / "new" / "sub"):
        assert main(["run", "--out", str(out), "--tp", "3", *small]) == 2
        err = capsys.readouterr().err
        (line,) = err.strip().splitlines()     # the error is the only line
        assert line.startswith("specaccel: error: field 'tp': ")
    assert _files(old) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]


def test_run_failing_while_writing_leaves_the_folder_as_it_was(text_run, tmp_path,
                                                               monkeypatch, capsys):
    """The outputs move into the folder only once all are written: a failure on the
    last plot leaves neither a new trace nor a temporary folder behind."""
    import shutil

    from specaccel.analysis import plots
    from specaccel.schema.errors import InputError

    def fail(report, out_dir):
        plots.plot_throughput(report, out_dir / "throughput.png")
        raise InputError("no room for the plots", field="--out")

    _, _, done = text_run
    old = tmp_path / "old"
    shutil.copytree(done, old)
    before = _files(old)
    monkeypatch.setattr(plots, "write_run_plots", fail)
    assert main(["run", "--out", str(old), "--requests", "1", "--steps", "2"]) == 2
    assert "no room for the plots" in capsys.readouterr().err
    assert _files(old) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]


@pytest.mark.parametrize(("extra", "flag"), [
    (["--draft-stack", "vllm"], "--draft-stack"), (["--draft-tp", "2"], "--draft-tp")])
def test_run_refuses_draft_placement_for_a_workload_without_draft(tmp_path, capsys, extra,
                                                                  flag):
    """Prompt lookup runs no draft model: a draft stack or placement is an orphan."""
    out = tmp_path / "r"
    assert main(["run", "--out", str(out), "--method", "prompt-lookup", "--requests", "1",
                 "--steps", "2", *extra]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"field '{flag}'" in line and "runs no draft model" in line
    assert not out.exists()


def test_run_simulates_the_gpu_the_presets_source_measured_on(tmp_path, capsys):
    """A preset measured on the RTX 3090 is replayed on the rtx-3090 preset, so its
    simulated speedup stands beside the published one of the same machine; a preset whose
    source names no GPU preset keeps the A100."""
    from specaccel.cli.run_cmd import run_hardware
    from specaccel.workloads import generate_trace

    code = main(["run", "--preset", "medusa1-vicuna-7b-specbench-rtx-3090", "--requests",
                 "2", "--steps", "8", "--out", str(tmp_path / "o"), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert [h["hardware"] for h in report["hardware"]] == ["rtx-3090", "specaccel-default"]
    assert report["workload"]["published"]["hardware"] == "RTX 3090"
    plain = generate_trace("eagle-vicuna-7b-mtbench", n_requests=1, steps_per_request=2)
    assert run_hardware(plain) == ("a100-80gb", "specaccel-default")
    plain.metadata["hardware"] = "specaccel-default"  # not a GPU: the A100 stands in
    assert run_hardware(plain) == ("a100-80gb", "specaccel-default")


def test_a_preset_whose_tree_outgrows_the_default_accelerator_says_how_to_size_it(
        tmp_path, capsys):
    """Token Recycling's 71-node trees exceed the default accelerator's 64-node verify
    unit: `run` refuses before simulating or writing, in one line that names the
    accelerator parameter to raise, and runs once it is raised."""
    out = tmp_path / "o"
    args = ["run", "--preset", "token-recycling-vicuna-7b-specbench", "--requests", "2",
            "--steps", "8", "--out", str(out), "--json"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "71-node tree" in err
    assert err.endswith("set the accelerator's tree_nodes to at least 71")
    assert not out.exists()
    assert main([*args, "--accel", "tree_nodes=71"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [h["hardware"] for h in report["hardware"]] == ["a100-80gb", "specaccel-default"]
