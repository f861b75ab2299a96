"""Bad input on every command: exit 2, one stderr line naming file/field/reason, no traceback.

Each case is an argv whose ``{name}`` placeholders are files made by the `files` fixture
(missing, directories, empty, truncated or corrupt Parquet, JSONL with a wrong type, an
unknown schema version, broken sweep specs and results directories, ...).  Most cases go
through :func:`specaccel.cli.main` in this process; a handful go through a subprocess to
check the real entry point (stdout empty, no "Traceback" anywhere).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from specaccel.cli import main
from specaccel.workloads import generate_trace, write_trace

SWEEP_OK = """[sweep]
name = "t"
[fixed]
hardware = "specaccel-default"
[axes]
array_rows = [32, 64]
[[workloads]]
preset = "eagle-vicuna-7b-mtbench"
requests = 1
steps = 3
"""


def _sweep(old: str, new: str) -> str:
    assert old in SWEEP_OK
    return SWEEP_OK.replace(old, new)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("bad_input")
    f: dict[str, Path] = {"missing": d / "missing.parquet", "dir": d / "adir.parquet"}
    f["dir"].mkdir()
    good = d / "good.parquet"
    write_trace(generate_trace(n_requests=2, steps_per_request=3, seed=0), good)
    good_jsonl = d / "good.jsonl"
    write_trace(generate_trace(n_requests=2, steps_per_request=3, seed=0), good_jsonl)
    f["good"] = good
    f["empty_parquet"] = d / "empty.parquet"
    f["empty_parquet"].write_bytes(b"")
    f["empty_jsonl"] = d / "empty.jsonl"
    f["empty_jsonl"].write_text("")
    raw = good.read_bytes()
    f["truncated"] = d / "truncated.parquet"
    f["truncated"].write_bytes(raw[: len(raw) // 2])
    corrupt = bytearray(raw)
    corrupt[200:400] = b"\xab" * 200
    f["corrupt"] = d / "corrupt.parquet"
    f["corrupt"].write_bytes(bytes(corrupt))
    table = pq.read_table(good)
    meta = dict(table.schema.metadata)
    meta[b"specaccel.schema_version"] = b"99"
    f["version_parquet"] = d / "version.parquet"
    pq.write_table(table.replace_schema_metadata(meta), f["version_parquet"])
    i = table.schema.get_field_index("prompt_len")
    f["type_parquet"] = d / "type.parquet"
    pq.write_table(table.set_column(i, "prompt_len", pa.array(["x"] * table.num_rows)),
                   f["type_parquet"])
    header, *requests = good_jsonl.read_text().splitlines()
    head = json.loads(header)
    head["schema_version"] = 99
    f["version_jsonl"] = d / "version.jsonl"
    f["version_jsonl"].write_text("\n".join([json.dumps(head), *requests]) + "\n")
    head = json.loads(header)
    head["metadata"]["extra_query_tokens_per_step"] = -3
    f["window_jsonl"] = d / "window.jsonl"
    f["window_jsonl"].write_text("\n".join([json.dumps(head), *requests]) + "\n")
    req = json.loads(requests[0])
    req["steps"][1]["draft_prob"][2] = "abc"
    f["type_jsonl"] = d / "type.jsonl"
    f["type_jsonl"].write_text("\n".join([header, json.dumps(req), *requests[1:]]) + "\n")
    f["hf_missing"] = d / "bad.json"
    f["hf_missing"].write_text(json.dumps({"model_type": "llama", "hidden_size": 4096}))
    f["hf_type"] = d / "bad_type.json"
    f["hf_type"].write_text(json.dumps({
        "model_type": "llama", "hidden_size": "x", "num_hidden_layers": 32,
        "num_attention_heads": 32, "intermediate_size": 11008, "vocab_size": 32000}))
    base_cfg = {"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32,
                "num_attention_heads": 32, "intermediate_size": 11008, "vocab_size": 32000}
    for name, change in [("hf_heads0", {"num_attention_heads": 0}),
                         ("hf_layers0", {"num_hidden_layers": 0}),
                         ("hf_dtype", {"torch_dtype": "float7"})]:
        f[name] = d / f"{name}.json"
        f[name].write_text(json.dumps({**base_cfg, **change}))
    specs = {
        "spec_key": _sweep('name = "t"', 'nmae = "t"'),
        "spec_type": _sweep("array_rows = [32, 64]", 'array_rows = ["a", 64]'),
        "spec_value": _sweep("array_rows = [32, 64]", "array_rows = [-32, 64]"),
        "spec_nan": _sweep("array_rows = [32, 64]", "sram_mib = [nan]"),
        "spec_syntax": SWEEP_OK + "\n[[[\n",
        "spec_fraction": _sweep("array_rows = [32, 64]", "array_rows = [32.5]"),
        "spec_huge": _sweep("requests = 1", f"requests = {10**12}"),
        "spec_bigint": _sweep("array_rows = [32, 64]", f"array_rows = [{10**20}]"),
        "spec_tree": _sweep("steps = 3", 'steps = 3\ntree = "100000x100000"'),
    }
    for name, text in specs.items():
        f[name] = d / f"{name}.toml"
        f[name].write_text(text)
    f["spec_ok"] = d / "ok.toml"
    f["spec_ok"].write_text(SWEEP_OK)
    f["spec_empty"] = d / "empty.toml"
    f["spec_empty"].write_text("")
    answers = Path(__file__).parent / "workloads" / "data" / "spec_bench_answers.jsonl"
    answer = json.loads(answers.read_text().splitlines()[0])
    answer["choices"][0]["wall_time"][1] = float("nan")
    f["answers_nan"] = d / "answers_nan.jsonl"
    f["answers_nan"].write_text(json.dumps(answer) + "\n")  # Python writes NaN
    return {k: str(v) for k, v in f.items()}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, str]:
    """Results directories: a good one, and ones with a corrupt part / manifest / lost part."""
    from specaccel.analysis.results_store import ResultsStore

    d = tmp_path_factory.mktemp("results")
    out: dict[str, str] = {}
    for name in ("good", "corrupt_part", "bad_manifest", "lost_part"):
        store = ResultsStore(d / name, columns=["key", "tokens_per_s"])
        store.save_spec("", {"name": name, "axes": [], "metrics": ["tokens_per_s"]})
        store.append([{"key": "a", "tokens_per_s": 1.0}, {"key": "b", "tokens_per_s": 2.0}])
        out[name] = str(d / name)
    part = next((d / "corrupt_part" / "parts").glob("*.parquet"))
    part.write_bytes(part.read_bytes()[:40])
    (d / "bad_manifest" / "manifest.json").write_text("{bad")
    next((d / "lost_part" / "parts").glob("*.parquet")).unlink()
    return out


def _check_one_line(code: int, out: str, err: str, expect: str) -> None:
    assert code == 2, err
    if out:  # only `trace validate --json` reports its verdict on stdout: one JSON object
        verdict = json.loads(out)
        assert verdict["valid"] is False and expect in verdict["error"]
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert expect in lines[0], lines[0]


# (argv, a piece of the one-line message that names the file or field and the reason)
CASES = [
    # trace info / validate / export on broken files
    (["trace", "info", "{missing}"], "missing.parquet: no such file"),
    (["trace", "validate", "{dir}"], "is a directory"),
    (["trace", "info", "{empty_parquet}"], "empty.parquet: not a readable Parquet file"),
    (["trace", "info", "{empty_jsonl}"], "empty.jsonl: empty file"),
    (["trace", "validate", "{truncated}"], "truncated.parquet: not a readable Parquet file"),
    (["trace", "validate", "{corrupt}"], "corrupt.parquet: corrupt Parquet data"),
    (["trace", "info", "{version_parquet}"], "field 'schema_version': unknown schema version"),
    (["trace", "info", "{version_jsonl}"], "field 'schema_version': unknown schema version"),
    (["trace", "validate", "{type_parquet}"], "field 'prompt_len': has type string"),
    (["trace", "info", "{type_jsonl}"],
     "type.jsonl: line 2: request r00000: step 1: node 2: field 'draft_prob': values must be"),
    (["trace", "export", "{good}", "-o", "{dir}"], "is a folder"),
    (["simulate", "--trace", "{window_jsonl}", "--hw", "a100-80gb"],
     "window.jsonl: field 'metadata.extra_query_tokens_per_step': must be a non-negative"),
    # trace gen options
    (["trace", "gen", "--requests", "0", "-o", "{missing}"], "field 'requests': must be >= 1"),
    (["trace", "gen", "--preset", "nope", "-o", "{missing}"], "field 'preset': unknown preset"),
    (["trace", "gen", "--requests", str(10**12), "-o", "{missing}"],
     "field 'requests': 1000000000000 requests x"),
    (["trace", "import", "--format", "spec-bench", "{answers_nan}", "--question-tokens",
      str(10**15)], "field 'question_tokens': must be an integer in [1, 1048576]"),
    (["trace", "import", "--format", "spec-bench", "{answers_nan}"],
     "line 1: field 'choices[0].wall_time': values must be finite and >= 0, found nan"),
    # cost options and model files
    (["cost", "--batch", "0"], "field 'batch': must be >= 1"),
    (["cost", "--tokens", "-1"], "field 'tokens': must be >= 1"),
    (["cost", "--tokens", str(10**12)], "field 'tokens': must be <="),
    (["cost", "--batch", str(10**12)], "field 'batch': must be <="),
    (["cost", "--context", str(10**12)], "field 'context': must be <="),
    (["cost", "--context", "nan"], "field '--context'"),
    (["cost", "--layers", "999"], "field 'layers': must be <= 32"),
    (["cost", "--tp", "5000"], "field 'tp': must be <= 4096"),
    (["cost", "--accel", "sram_mib=nan"], "field 'sram_mib': must be a finite number"),
    (["cost", "--accel", "sram_mib=inf"], "field 'sram_mib': must be a finite number"),
    (["cost", "--accel", "bw_efficiency=1.5"], "field 'bw_efficiency': must be <= 1"),
    (["cost", "--model", "nope"], "unknown model"),
    (["cost", "--hw", "nope"], "field 'hw': unknown hardware"),
    (["cost", "--model", "{hf_missing}"], "bad.json: field 'num_hidden_layers': missing"),
    (["cost", "--model", "{hf_type}"], "bad_type.json: field 'hidden_size'"),
    (["cost", "--model", "{hf_heads0}"], "field 'num_attention_heads': must be >= 1, not 0"),
    (["cost", "--model", "{hf_layers0}"], "field 'num_hidden_layers': must be >= 1, not 0"),
    (["cost", "--model", "{hf_dtype}"], "field 'torch_dtype': unknown dtype 'float7'"),
    # sweep specs and options
    (["sweep", "{spec_key}", "--out", "{missing}"], "line 2: field 'sweep.nmae': unknown key"),
    (["sweep", "{spec_type}", "--out", "{missing}"], "field 'axes.array_rows': must be a num"),
    (["sweep", "{spec_value}", "--out", "{missing}"], "field 'axes.array_rows': must be >= 1"),
    (["sweep", "{spec_nan}", "--out", "{missing}"], "field 'axes.sram_mib'"),
    (["sweep", "{spec_syntax}", "--out", "{missing}"], "invalid TOML"),
    (["sweep", "{spec_empty}", "--out", "{missing}"], "field 'workloads'"),
    (["sweep", "{dir}", "--out", "{missing}"], "adir.parquet"),
    (["sweep", "{spec_fraction}", "--out", "{missing}"],
     "line 6: field 'axes.array_rows': must be an integer, not 32.5"),
    (["sweep", "{spec_huge}", "--out", "{missing}"],
     "line 9: field 'workloads[0].requests': 1000000000000 requests x"),
    (["sweep", "{spec_bigint}", "--out", "{missing}"],
     "line 6: field 'axes.array_rows': must be at most 9007199254740992 in size"),
    (["sweep", "{spec_tree}", "--out", "{missing}"],  # used to build 1e10 nodes: OOM kill
     "line 11: field 'workloads[0].tree': 100000x100000 has 10000000001 nodes; at most 4096"),
    (["sweep", "{spec_ok}", "--out", "{missing}", "--workers", "0"], "field '--workers'"),
    (["sweep", "{spec_ok}", "--out", "{missing}", "--workers", str(10**12)],
     "field '--workers': must be in [1, 256]"),
    (["sweep", "{spec_ok}", "--out", "{missing}", "--scheduler", "bogus"],
     "field 'scheduler': cannot connect"),
    # theory and tree
    (["theory", "--alpha", "nan", "--gamma", "3"], "field 'alpha'"),
    (["theory", "--alpha", "0.5", "--gamma", "0"], "field 'gamma'"),
    (["theory", "--alpha", "0.5", "--gamma", "3", "--cost-ratio", "0.1", "--max-gamma",
      str(10**12)], "field 'max_gamma': must be <="),
    (["tree", "optimize", "--acceptance", "0.5,nan", "--max-nodes", "8", "--draft-time",
      "0.001", "--target-times", "0.01"], "field 'acceptance'"),
    (["tree", "optimize", "--acceptance", "0.5", "--max-nodes", "0", "--draft-time",
      "0.001", "--target-times", "0.01"], "field 'max_nodes'"),
    (["tree", "optimize", "--acceptance", "0.5", "--max-nodes", "100000", "--draft-time",
      "0.001", "--target-times", "0.01"], "field 'max_nodes': must be <= 4096"),
    (["tree", "optimize", "--acceptance", "0.5", "--max-nodes", "8", "--draft-time", "0.001",
      "--model", "llama-2-7b", "--hw", "a100-80gb", "--context", str(10**12)],
     "field 'context': must be <="),
]

RESULT_CASES = [
    ("corrupt_part", "unreadable part file"),
    ("bad_manifest", "manifest.json: unreadable manifest"),
    ("lost_part", "part file listed in manifest.json is missing"),
]


def _fill(argv: list[str], files: dict[str, str]) -> list[str]:
    return [a.format(**files) if a.startswith("{") else a for a in argv]


@pytest.mark.parametrize(("argv", "expect"), CASES, ids=[" ".join(c[0][:3]) for c in CASES])
def test_bad_input_in_process(argv, expect, files, capsys):
    code = main([*_fill(argv, files), "--json"] if argv[0] != "tree" else _fill(argv, files))
    cap = capsys.readouterr()
    _check_one_line(code, cap.out, cap.err, expect)


@pytest.mark.parametrize(("name", "expect"), RESULT_CASES)
def test_broken_results_directory_is_bad_input(name, expect, results, capsys):
    code = main(["report", results[name], "--json"])
    cap = capsys.readouterr()
    _check_one_line(code, cap.out, cap.err, expect)
    assert results[name] in cap.err  # names the directory's file


def test_good_results_directory_still_reports(results, tmp_path, capsys):
    """The same loader accepts the intact directory (the bad-input checks are not blanket)."""
    assert main(["report", results["good"], "--out", str(tmp_path / "r.html"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["points"] == 2


SUBPROCESS_CASES = [
    (["trace", "info", "{truncated}"], "not a readable Parquet file"),
    (["cost", "--model", "{hf_missing}", "--json"], "field 'num_hidden_layers'"),
    (["cost", "--tokens", str(10**12), "--json"], "field 'tokens'"),
    (["sweep", "{spec_key}", "--out", "{missing}", "--json"], "unknown key"),
    (["trace", "validate", "{type_jsonl}", "--json"], "field 'draft_prob'"),
]


@pytest.mark.parametrize(("argv", "expect"), SUBPROCESS_CASES,
                         ids=[c[0][0] for c in SUBPROCESS_CASES])
def test_bad_input_subprocess(argv, expect, files):
    proc = subprocess.run([sys.executable, "-m", "specaccel.cli", *_fill(argv, files)],
                          capture_output=True, text=True, timeout=120)
    _check_one_line(proc.returncode, proc.stdout, proc.stderr, expect)
