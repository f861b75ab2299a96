"""`specaccel trace gen|info|validate|export` through the CLI entry point."""

import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from specaccel.cli import main
from specaccel.models.golden import verify_trace
from specaccel.workloads import generate_trace, read_trace


def _json(capsys):
    out = capsys.readouterr().out
    return json.loads(out)


def test_gen_info_validate_export(tmp_path, capsys):
    path = tmp_path / "t.parquet"
    assert main(["trace", "gen", "--preset", "specinfer-llama2-7b-c4", "--requests", "3",
                 "--steps", "20", "--seed", "5", "-o", str(path), "--json"]) == 0
    gen = _json(capsys)
    expected = generate_trace("specinfer-llama2-7b-c4", n_requests=3, steps_per_request=20,
                              seed=5)
    assert read_trace(path).equals(expected)
    committed = verify_trace(expected).committed
    assert gen["steps"] == 60 and gen["nodes"] == 60 * 41
    assert gen["committed_per_step"] == committed.mean()

    assert main(["trace", "info", str(path), "--json"]) == 0
    info = _json(capsys)
    assert (info["requests"], info["steps"], info["nodes"]) == (3, 60, 2460)
    assert info["depth"] == {"max": 8, "mean": 8.0}
    assert info["nodes_per_step"]["mean"] == 41
    assert info["committed_per_step"]["mean"] == committed.mean()
    assert info["committed_per_step"]["p10"] == np.percentile(committed, 10)
    assert info["committed_per_step"]["p90"] == np.percentile(committed, 90)
    assert info["metadata"]["preset"] == "specinfer-llama2-7b-c4"
    assert info["verification"] == "greedy"

    assert main(["trace", "info", str(path)]) == 0
    human = capsys.readouterr().out
    assert "committed tokens/step" in human and "2460" in human

    assert main(["trace", "validate", str(path), "--json"]) == 0
    assert _json(capsys)["valid"] is True

    out = tmp_path / "t.jsonl"
    assert main(["trace", "export", str(path), "-o", str(out)]) == 0
    capsys.readouterr()
    assert read_trace(out).equals(expected)


def test_validate_invalid_file_exit_2_one_line(tmp_path, capsys):
    path = tmp_path / "t.parquet"
    assert main(["trace", "gen", "--requests", "2", "--steps", "3", "-o", str(path)]) == 0
    capsys.readouterr()
    table = pq.read_table(path)
    probs = table.column("draft_prob").to_pylist()
    probs[4][2] = -0.5
    table = table.set_column(table.schema.get_field_index("draft_prob"), "draft_prob",
                             pa.array(probs, pa.large_list(pa.float64())))
    pq.write_table(table, path)
    assert main(["trace", "validate", str(path)]) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0] == (f"specaccel: error: {path}: request r00001: step 1: field 'draft_prob': "
                        "draft_prob[2] = -0.5 is not a probability in [0, 1]")
    assert main(["trace", "validate", str(path), "--json"]) == 2
    cap = capsys.readouterr()
    result = json.loads(cap.out)
    assert result["valid"] is False and result["field"] == "draft_prob"
    assert main(["trace", "info", str(path)]) == 2


def test_bad_inputs_exit_2(tmp_path, capsys):
    assert main(["trace", "info", str(tmp_path / "none.parquet")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["trace", "gen", "--preset", "nope", "-o", str(tmp_path / "x.parquet")]) == 2
    assert "eagle-vicuna-7b-mtbench" in capsys.readouterr().err
    assert main(["trace", "gen", "-o", str(tmp_path / "x.txt")]) == 2
    assert "expected a .parquet or .jsonl file name" in capsys.readouterr().err
    assert not (tmp_path / "x.txt").exists()
    assert main(["trace", "gen", "--requests", "0", "-o", str(tmp_path / "x.jsonl")]) == 2
    capsys.readouterr()


def test_subprocess_exit_codes_and_one_line_stderr(tmp_path):
    good = tmp_path / "g.jsonl"
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"format": "specaccel-trace", "schema_version": 9}\n')
    cmd = [sys.executable, "-m", "specaccel.cli", "trace"]
    ok = subprocess.run([*cmd, "gen", "--requests", "1", "--steps", "2", "-o", str(good),
                         "--json"], capture_output=True, text=True)
    assert ok.returncode == 0 and json.loads(ok.stdout)["steps"] == 2
    proc = subprocess.run([*cmd, "validate", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert f"{bad}: line 1: field 'schema_version': unknown schema version 9" in proc.stderr
