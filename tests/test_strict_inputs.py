"""Strictness as policy (docs/strictness.md): each bad input the newcomer report (issue 14)
found silently accepted, exiting 1, or damaging a file is now exit 2 with one line naming
the file or option and the reason; impossible numbers carry a warning and a JSON flag;
output paths are checked before the work and never overwrite a file of another kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specaccel.cli import main
from specaccel.workloads import generate_trace, write_trace


@pytest.fixture(scope="module")
def d(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("strict")
    trace = generate_trace(n_requests=2, steps_per_request=3, seed=0)
    write_trace(trace, root / "t.parquet")
    write_trace(trace, root / "t.jsonl")
    return root


def _jsonl(d: Path, name: str, edit) -> str:
    header, *reqs = (d / "t.jsonl").read_text().splitlines()
    lines = [json.loads(x) for x in [header, *reqs]]
    out = edit(lines)
    path = d / name
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in out) + "\n")
    return str(path)


def _fails(argv: list[str], capsys, *pieces: str) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for piece in pieces:
        assert piece in lines[0], lines[0]
    return lines[0]


def test_misspelt_optional_step_key_is_an_error(d, capsys):
    def edit(lines):
        lines[1]["steps"][0]["recorded_acceptd"] = 2
        return lines
    path = _jsonl(d, "misspelt.jsonl", edit)
    _fails(["trace", "validate", path], capsys, "misspelt.jsonl", "line 2", "step 0",
           "'recorded_acceptd'", "unknown key")


@pytest.mark.parametrize("where", ["header", "request"])
def test_unknown_keys_in_header_and_request_lines(d, capsys, where):
    def edit(lines):
        lines[0 if where == "header" else 1]["colour"] = "blue"
        return lines
    path = _jsonl(d, f"unknown_{where}.jsonl", edit)
    _fails(["trace", "info", path], capsys, "'colour'", "unknown key")


def test_garbage_line_is_bad_json_on_its_line(d, capsys):
    path = _jsonl(d, "garbage.jsonl", lambda lines: [lines[0], lines[1], "not json{", lines[2]])
    _fails(["trace", "validate", path], capsys, "line 3", "invalid JSON")


@pytest.mark.parametrize(("field", "value"), [("prompt_len", 10**30), ("arrival_s", 10**400)])
def test_overflowing_numbers_are_exit_2(d, capsys, field, value):
    def edit(lines):
        lines[1][field] = value
        return lines
    path = _jsonl(d, f"overflow_{field}.jsonl", edit)
    _fails(["simulate", "--trace", path, "--hw", "a100-80gb"], capsys, f"'{field}'")


def test_overflowing_node_value_names_its_node(d, capsys):
    def edit(lines):
        lines[1]["steps"][1]["token"][2] = 2**70
        return lines
    path = _jsonl(d, "overflow_token.jsonl", edit)
    _fails(["trace", "info", path], capsys, "step 1", "node 2", "'token'", "64-bit")


def test_empty_trace_is_an_error_not_nan(d, capsys):
    def edit(lines):
        lines[0]["requests"] = 0
        return lines[:1]
    path = _jsonl(d, "empty_trace.jsonl", edit)
    _fails(["simulate", "--trace", path, "--hw", "a100-80gb"], capsys, "no requests")
    _fails(["trace", "validate", path], capsys, "no requests")


@pytest.mark.parametrize("key", ["drafting", "hardware", "stack"])
def test_trace_validate_checks_what_simulate_reads(d, capsys, key):
    def edit(lines):
        lines[0]["metadata"][key] = "bogus"
        return lines
    path = _jsonl(d, f"{key}.jsonl", edit)
    one = _fails(["trace", "validate", path], capsys, f"metadata.{key}", "'bogus'")
    two = _fails(["simulate", "--trace", path, "--hw", "a100-80gb"], capsys)
    assert one == two  # the same check, the same words


@pytest.mark.parametrize(("change", "field"), [
    ({"num_attention_heads": 30}, "num_attention_heads"),      # 30 does not divide 4096
    ({"num_key_value_heads": 0}, "num_key_value_heads"),
    ({"num_key_value_heads": 5}, "num_key_value_heads"),       # 5 does not divide 32
    ({"intermediate_size": 0}, "intermediate_size"),
    ({"intermediate_size": None}, "intermediate_size"),        # no 4 x hidden rule for llama
    ({"model_type": "nosuch"}, "model_type"),                  # it selects gating
    ({"model_type": None}, "model_type"),
])
def test_impossible_model_shapes(tmp_path, capsys, change, field):
    cfg = {"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32,
           "num_attention_heads": 32, "intermediate_size": 11008, "vocab_size": 32000}
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**cfg, **change}))
    _fails(["cost", "--model", str(path)], capsys, f"'{field}'")


def test_tp_must_split_the_heads(capsys):
    _fails(["cost", "--tp", "3"], capsys, "'tp'", "32 attention heads")


@pytest.mark.parametrize(("option", "field", "role"), [
    ("--tp", "'tp'", "target"), ("--draft-tp", "'draft_tp'", "draft")])
def test_simulate_refuses_a_split_before_it_starts(d, capsys, option, field, role):
    """The one line names the option of the model that cannot be split; nothing (not
    even the "simulating ..." line) comes before it."""
    _fails(["simulate", "--trace", str(d / "t.parquet"), "--hw", "a100-80gb", option, "5"],
           capsys, field, f"attention heads of {role}")


@pytest.mark.parametrize(("argv", "option"), [
    (["cost", "--hw", "a100-80gb", "--accel", "array_cores=2"], "--accel"),
    (["simulate", "--trace", "{t}", "--hw", "a100-80gb", "--gantt-window", "0,1"],
     "--gantt-window"),
    (["simulate", "--trace", "{t}", "--hw", "a100-80gb", "--seed", "3"], "--seed"),
    (["sweep", "x.toml", "--out", "o", "--workers", "2", "--scheduler", "tcp://h:1"],
     "--workers"),
    (["theory", "--alpha", "0.8", "--gamma", "4", "--max-gamma", "8"], "--max-gamma"),
    (["tree", "optimize", "--acceptance", "0.8,0.1", "--max-nodes", "8", "--draft-time",
      "0.001", "--target-times", "0.01", "--model", "llama-2-7b"], "--model"),
])
def test_orphaned_and_conflicting_options(d, capsys, argv, option):
    argv = [a.replace("{t}", str(d / "t.parquet")) for a in argv]
    _fails(argv, capsys, f"'{option}'")


@pytest.mark.parametrize(("argv", "option"), [
    (["cost", "--context", "1,,2", "--batch", "2"], "--context"),
    (["cost", "--context", "1024,", "--batch", "2"], "--context"),
    # a bad option read later, before any synthesis, fails should the list be accepted
    (["hdl", "characterise", "--nodes", "4,,8", "--devices", "bogus", "-o", "{d}/c.csv"],
     "--nodes"),
    (["hdl", "characterise", "--nodes", "4", "--seeds", "1,,2", "--tool-timeout", "0",
      "-o", "{d}/c.csv"], "--seeds"),
    (["hdl", "characterise", "--nodes", "4", "--devices", "ecp5,,bogus", "-o", "{d}/c.csv"],
     "--devices"),
    (["simulate", "--trace", "{d}/t.parquet", "--hw", "a100-80gb", "--gantt", "{d}/g.png",
      "--gantt-window", "0,,1"], "gantt-window"),
    (["report", "{d}", "--pareto", "tokens_per_s:max,,speedup:max"], "--pareto"),
])
def test_an_empty_list_item_is_an_error_not_dropped(d, capsys, argv, option):
    """Every comma-separated option reads through one helper (split_list): `1,,2` was
    read as `1,2`."""
    argv = [a.replace("{d}", str(d)) for a in argv]
    _fails(argv, capsys, option, "is empty")


@pytest.mark.parametrize(("lists", "option"), [
    (["--acceptance", "0.6,,0.2", "--target-times", "0.01"], "--acceptance"),
    (["--acceptance", "0.6,0.2", "--budgets", ",4,8", "--target-times", "0.01,0.02"],
     "--budgets"),
    (["--acceptance", "0.6,0.2", "--budgets", "4,8", "--target-times", "0.01,,0.02"],
     "--target-times"),
])
def test_an_empty_tree_list_item_is_a_usage_error(capsys, lists, option):
    """tree optimize's lists are argparse types: the same helper, argparse's one line."""
    with pytest.raises(SystemExit) as exc:
        main(["tree", "optimize", "--max-nodes", "8", "--draft-time", "0.001", *lists])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and "\n" not in err
    assert f"argument {option}: item" in err and "is empty" in err


def test_the_default_of_an_option_is_not_an_orphan(d, capsys):
    """`cost --accel` alone is fine: --hw holds its default, nobody gave it."""
    assert main(["cost", "--accel", "array_cores=2", "--json"]) == 0
    capsys.readouterr()


def test_negative_seed_is_blamed_on_seed(d, capsys):
    _fails(["simulate", "--trace", str(d / "t.parquet"), "--hw", "a100-80gb",
            "--arrivals", "poisson:5", "--seed", "-1"], capsys, "'seed'", ">= 0")


def test_duplicate_pareto_metric(d, capsys):
    from specaccel.analysis.html_report import parse_objectives
    from specaccel.schema.errors import InputError

    with pytest.raises(InputError, match="given twice"):
        parse_objectives("tokens_per_s:max,tokens_per_s:max")


def test_sweep_range_needs_a_step(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('[sweep]\nname = "s"\n[axes]\nsram_mib = { start = 32, stop = 128 }\n'
                    '[[workloads]]\npreset = "eagle-vicuna-7b-mtbench"\n')
    _fails(["sweep", str(spec), "--out", str(tmp_path / "o")], capsys, "axes.sram_mib",
           "needs a step")


def test_oversized_random_search_is_blamed_on_samples(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('[sweep]\nname = "s"\n[search]\nstrategy = "random"\nsamples = 20000000\n'
                    '[axes]\nsram_mib = { low = 32, high = 128 }\n'
                    '[[workloads]]\npreset = "eagle-vicuna-7b-mtbench"\n')
    _fails(["sweep", str(spec), "--out", str(tmp_path / "o")], capsys, "search.samples")


def test_report_on_empty_or_half_written_folder(tmp_path, capsys):
    from specaccel.analysis.results_store import ResultsStore

    ResultsStore(tmp_path / "half", columns=["key", "tokens_per_s"])
    _fails(["report", str(tmp_path / "half")], capsys, "sweep.json")
    store = ResultsStore(tmp_path / "empty", columns=["key", "tokens_per_s"])
    store.save_spec("", {"name": "e", "axes": [], "metrics": ["tokens_per_s"]})
    _fails(["report", str(tmp_path / "empty")], capsys, "no design points")
    assert not (tmp_path / "empty" / "report.html").exists()


def test_report_never_overwrites_a_trace(d, tmp_path, capsys):
    from specaccel.analysis.results_store import ResultsStore

    store = ResultsStore(tmp_path / "res", columns=["key", "tokens_per_s"])
    store.save_spec("", {"name": "r", "axes": [], "metrics": ["tokens_per_s"]})
    store.append([{"key": "a", "tokens_per_s": 1.0}])
    victim = tmp_path / "trace.html"  # a Parquet trace under an HTML name
    victim.write_bytes((d / "t.parquet").read_bytes())
    before = victim.read_bytes()
    _fails(["report", str(tmp_path / "res"), "--out", str(victim)], capsys,
           "holds a parquet file", "refusing to overwrite")
    assert victim.read_bytes() == before


@pytest.mark.parametrize(("argv", "piece"), [
    (["trace", "gen", "--requests", "1", "--steps", "2", "-o", "{missing}/t.parquet"],
     "does not exist"),
    (["trace", "gen", "--requests", "1", "--steps", "2", "-o", "{file}/t.parquet"],
     "is a file, not a folder"),
    (["trace", "gen", "--requests", "1", "--steps", "2", "-o", "/dev/null"], "--output"),
    (["run", "--requests", "1", "--steps", "2", "--out", "{file}"], "not a folder"),
    (["simulate", "--trace", "{t}", "--hw", "a100-80gb", "--timeline", "{dir}/"],
     "names a folder"),
    (["hdl", "generate", "--unit", "tree_mask", "--nodes", "4", "-o", "{t}"], "--output"),
    (["trace", "export", "{t}", "-o", "{t}"], "input file"),
])
def test_output_paths_checked_before_work(d, tmp_path, capsys, argv, piece):
    (tmp_path / "afile").write_text("keep me")
    subs = {"{missing}": str(tmp_path / "no" / "such"), "{file}": str(tmp_path / "afile"),
            "{t}": str(d / "t.parquet"), "{dir}": str(tmp_path)}
    filled = []
    for a in argv:
        for k, v in subs.items():
            a = a.replace(k, v)
        filled.append(a)
    before = (d / "t.parquet").read_bytes()
    _fails(filled, capsys, piece)
    assert (tmp_path / "afile").read_text() == "keep me"
    assert (d / "t.parquet").read_bytes() == before


def test_impossible_number_warns_and_flags(capsys):
    assert main(["cost", "--model", "llama-2-70b", "--hw", "l4"]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1].startswith("warning: llama-2-70b needs 128.5 GiB")
    assert main(["cost", "--model", "llama-2-70b", "--hw", "l4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["fits_memory"] is False
    assert result["warnings"][0]["code"] == "does_not_fit_memory"
    assert main(["cost", "--model", "llama-2-7b", "--hw", "l4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["fits_memory"] is True and "warnings" not in result


def test_simulate_has_a_size_cap(d, capsys):
    _fails(["simulate", "--trace", str(d / "t.parquet"), "--hw", "a100-80gb",
            "--requests", str(10**9)], capsys, "'requests'", "at most")


@pytest.mark.parametrize(("argv", "field"), [
    # one request's steps alone overflow a trace: --steps is the cause, not --requests
    (["trace", "gen", "--steps", "1000000000", "-o", "{d}/big.parquet"], "'steps'"),
    (["trace", "gen", "--requests", "100000000", "-o", "{d}/big.parquet"], "'requests'"),
    # a path that cannot be created names the option that gave it
    (["trace", "gen", "--requests", "1", "--steps", "1", "-o", "/proc/x.parquet"],
     "'--output'"),
    (["methods", ""], "'method'"),
])
def test_the_error_names_the_option_at_fault(d, capsys, argv, field):
    _fails([a.replace("{d}", str(d)) for a in argv], capsys, field)


def test_export_never_writes_a_trace_validate_refuses(d, capsys):
    """The metadata check of trace validate runs before an export writes anything."""
    def no_target(lines):
        lines[0]["metadata"]["target_model"] = ""
        return lines

    bad = _jsonl(d, "no_target.jsonl", no_target)
    out = d / "exported.parquet"
    _fails(["trace", "export", bad, "-o", str(out)], capsys, "'metadata.target_model'")
    assert not out.exists()
    _fails(["trace", "validate", bad], capsys, "'metadata.target_model'")


def test_an_error_is_one_line_whatever_the_file_name(capsys):
    """A file name with a newline is quoted, so the error stays on its one line."""
    line = _fails(["trace", "info", "a\nb.jsonl"], capsys, "no such file")
    assert line.startswith("specaccel: error: 'a\\nb.jsonl': ")


def test_a_flag_given_twice_is_not_said_to_take_a_value(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["cost", "--json", "--json"])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and err.endswith("argument --json: given twice")
