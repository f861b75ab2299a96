"""Importers of real answer logs: the bundled Medusa MT-bench logs and a Spec-Bench fixture."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from specaccel.cli.output import to_json
from specaccel.cli.trace_import import register_import
from specaccel.models.golden import verify_trace
from specaccel.schema.errors import InputError
from specaccel.workloads.importers import import_answers, imported_summary

MTBENCH = Path(__file__).resolve().parents[1] / "data" / "mtbench-medusa"
MT7B = MTBENCH / "medusa-vicuna-7b-v1.3-temperature-0.0.jsonl"
SPEC = Path(__file__).parent / "data" / "spec_bench_answers.jsonl"


def _turns_by_hand(path: Path) -> list[tuple[str, int, int]]:
    out = []
    for line in path.read_text().splitlines():
        d = json.loads(line)
        for c in d["choices"]:
            for t, (i, n) in enumerate(zip(c["idxs"], c["new_tokens"], strict=True)):
                out.append((f"{d['question_id']}/c{c['index']}/t{t}", i, n))
    return out


@pytest.fixture(scope="module")
def mt7b():
    return import_answers(MT7B, "mtbench-answers")


def test_mtbench_per_turn_tau_is_reproduced_exactly(mt7b):
    hand = _turns_by_hand(MT7B)
    summary = imported_summary(mt7b)
    assert summary["n_requests"] == len(hand) == 160
    by_id = {r["id"]: r for r in summary["per_request"]}
    for rid, idxs, new in hand[:5] + hand[-5:] + hand[77:80]:
        assert by_id[rid]["tau"] == new / idxs  # exact, not approximately
        assert by_id[rid]["steps"] == idxs and by_id[rid]["new_tokens"] == new
    taus = np.array([n / i for _, i, n in hand])
    assert summary["tau_mean"] == pytest.approx(taus.mean(), rel=1e-15)
    assert summary["tau_p10"] == pytest.approx(np.percentile(taus, 10), rel=1e-15)
    assert summary["tau_p90"] == pytest.approx(np.percentile(taus, 90), rel=1e-15)
    assert 2.0 < summary["tau_mean"] < 3.5  # Medusa-1 on Vicuna-7B (published 2.3..3.5)


def test_mtbench_trace_verifies_to_the_logged_totals_and_flags_spread_steps(mt7b):
    out = verify_trace(mt7b)
    per_turn = np.add.reduceat(out.committed, mt7b.request_step_offsets[:-1])
    assert per_turn.tolist() == [n for _, _, n in _turns_by_hand(MT7B)]
    assert mt7b.steps_per_request().tolist() == [i for _, i, _ in _turns_by_hand(MT7B)]
    assert mt7b.metadata["per_step"] == "spread"
    assert np.all(mt7b.recorded_accepted == -1)  # per-step outcomes are not in the log
    # the spread is even: within a turn accepted lengths differ by at most one
    for r in range(0, mt7b.n_requests, 17):
        s = mt7b.request_steps(r)
        a = out.accepted[s.start:s.stop]
        assert a.max() - a.min() <= 1


def test_mtbench_steps_from_idxs_plus_one():
    tr = import_answers(MT7B, "mtbench-answers", steps_from="idxs+1")
    hand = _turns_by_hand(MT7B)
    assert tr.steps_per_request().tolist() == [i + 1 for _, i, _ in hand]
    assert imported_summary(tr)["per_request"][0]["tau"] == hand[0][2] / (hand[0][1] + 1)


@pytest.mark.parametrize("size", ["13b", "33b"])
def test_other_models_import(size):
    s = imported_summary(import_answers(
        MTBENCH / f"medusa-vicuna-{size}-v1.3-temperature-0.0.jsonl", "mtbench-answers"))
    assert s["n_requests"] == 160 and s["tau_p10"] < s["tau_mean"] < s["tau_p90"]


def test_spec_bench_per_step_accept_lengths_are_recorded():
    tr = import_answers(SPEC, "spec-bench")
    assert tr.request_id == ["1/c0/t0", "1/c0/t1", "2/c0/t0", "3/c0"]
    assert tr.metadata["per_step"] == "recorded" and tr.metadata["turns_merged"] == 1
    assert tr.metadata["new_tokens_mismatch"] == 1  # question 3: 10 tokens vs 5 + 6
    assert tr.recorded_accepted.tolist() == [3, 0, 3, 2, 1, 1, 1, 0, 1, 2, 1, 4]
    out = verify_trace(tr)
    assert np.array_equal(out.accepted, tr.recorded_accepted)  # cross-check vs golden
    s = imported_summary(tr)
    assert [r["tau"] for r in s["per_request"]] == [3.0, 2.5, 7 / 4, 10 / 3]
    assert s["tau_per_step_mean"] == pytest.approx(31 / 12, rel=1e-15)


def _write(tmp_path: Path, obj, good_from: Path = SPEC) -> Path:
    p = tmp_path / "bad.jsonl"
    good = json.loads(good_from.read_text().splitlines()[0])
    p.write_text(json.dumps(good) + "\n" + (obj if isinstance(obj, str) else json.dumps(obj))
                 + "\n")
    return p


@pytest.mark.parametrize("mutate, field", [
    (lambda c: c.pop("accept_lengths"), "choices[0].accept_lengths"),
    (lambda c: c.__setitem__("accept_lengths", [1, "2"]), "choices[0].accept_lengths"),
    (lambda c: c.__setitem__("accept_lengths", [1, 0]), "choices[0].accept_lengths"),
    (lambda c: c.__setitem__("new_tokens", 5), "choices[0].new_tokens"),
    (lambda c: c.__setitem__("wall_time", [0.1]), "choices[0].new_tokens"),
])
def test_bad_spec_bench_line_names_file_line_and_field(tmp_path, mutate, field):
    obj = json.loads(SPEC.read_text().splitlines()[0])
    mutate(obj["choices"][0])
    path = _write(tmp_path, obj)
    with pytest.raises(InputError) as err:
        import_answers(path, "spec-bench")
    assert err.value.file == str(path) and err.value.where == ("line 2",)
    assert err.value.field == field and str(path) in str(err.value)


def test_bad_mtbench_inputs(tmp_path):
    path = _write(tmp_path, "{not json", MT7B)
    with pytest.raises(InputError, match="line 2.*not valid JSON"):
        import_answers(path, "mtbench-answers")
    path = _write(tmp_path, {"question_id": 5, "choices": [{"idxs": [3], "new_tokens": [2],
                                                            "wall_time": [1.0]}]}, MT7B)
    with pytest.raises(InputError, match="new_tokens 2 < steps 3"):
        import_answers(path, "mtbench-answers")
    with pytest.raises(InputError, match="field 'question_id'"):
        import_answers(_write(tmp_path, {"choices": []}), "spec-bench")
    with pytest.raises(InputError, match="format"):
        import_answers(MT7B, "csv")
    with pytest.raises(InputError, match="no such file"):
        import_answers(tmp_path / "missing.jsonl", "spec-bench")


def test_import_command_json_summary(capsys):
    root = argparse.ArgumentParser()
    register_import(root.add_subparsers())
    args = root.parse_args(["import", str(MT7B), "--format", "mtbench-answers", "--json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    hand = _turns_by_hand(MT7B)
    assert out["per_request"][3]["tau"] == hand[3][2] / hand[3][1]
    assert out["tau_mean"] == pytest.approx(np.mean([n / i for _, i, n in hand]))
    assert json.loads(to_json(out)) == out


def test_trace_import_through_the_cli(tmp_path, capsys):
    from specaccel.cli import main
    from specaccel.workloads import read_trace

    out = tmp_path / "mt7b.parquet"
    assert main(["trace", "import", str(MT7B), "--format", "mtbench-answers", "-o", str(out),
                 "--target", "vicuna-7b", "--drafting", "single-pass", "--draft",
                 "medusa-vicuna-7b", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)  # stdout holds only the JSON object
    back = read_trace(out)  # validated on read
    assert back.n_steps == summary["n_steps"] == sum(i for _, i, _ in _turns_by_hand(MT7B))
    # prompt lengths: earlier turns' tokens + 128 assumed per question asked
    hand = _turns_by_hand(MT7B)
    assert back.prompt_len[:2].tolist() == [128, hand[0][2] + 256]
    assert main(["trace", "import", str(tmp_path / "nope.jsonl"), "--format",
                 "spec-bench"]) == 2
    assert "nope.jsonl: no such file" in capsys.readouterr().err


@pytest.mark.parametrize(("fmt", "log", "extra"), [
    ("mtbench-answers", MT7B, ["--steps-from", "idxs+1", "--drafting", "single-pass",
                               "--draft", "medusa-vicuna-7b"]),
    ("spec-bench", SPEC, ["--draft", "eagle-head-vicuna-7b"]),
    ("spec-bench", SPEC, ["--drafting", "draft-free"]),
])
@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_an_imported_trace_always_passes_trace_validate(tmp_path, capsys, fmt, log, extra,
                                                        suffix):
    """import writes only what its own validator accepts: the metadata that simulate and
    trace validate need comes from --target/--draft/--drafting."""
    from specaccel.cli import main

    out = str(tmp_path / f"imp{suffix}")
    assert main(["trace", "import", str(log), "--format", fmt, "-o", out, "--target",
                 "vicuna-7b", *extra]) == 0
    assert main(["trace", "validate", out]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(("argv", "field", "piece"), [
    ([], "--target", "required with --output"),
    (["--target", "nosuch"], "--target", "unknown model 'nosuch'"),
    (["--target", "vicuna-7b"], "--draft", "missing"),                 # per-level drafts
    (["--target", "vicuna-7b", "--draft", "nosuch"], "--draft", "unknown model"),
    (["--target", "vicuna-7b", "--drafting", "bogus"], "--drafting", "unknown drafting"),
])
def test_import_refuses_to_write_a_trace_validate_would_reject(tmp_path, capsys, argv,
                                                               field, piece):
    from specaccel.cli import main

    out = tmp_path / "imp.parquet"
    assert main(["trace", "import", str(SPEC), "--format", "spec-bench", "-o", str(out),
                 *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert f"field {field!r}" in err and piece in err and "\n" not in err
    assert not out.exists()


def test_model_options_need_an_output(capsys):
    from specaccel.cli import main

    assert main(["trace", "import", str(SPEC), "--format", "spec-bench", "--target",
                 "vicuna-7b"]) == 2
    assert "does nothing without --output" in capsys.readouterr().err


@pytest.mark.parametrize(("extra", "field"), [
    (["--steps-from", "idxs+1"], "--steps-from"),   # Spec-Bench logs record every step
    (["--per-request", "--json"], "--per-request"),  # the JSON lists every request anyway
])
def test_import_options_that_do_nothing_here_are_refused(capsys, extra, field):
    from specaccel.cli import main

    assert main(["trace", "import", str(SPEC), "--format", "spec-bench", *extra]) == 2
    err = capsys.readouterr().err
    assert f"field '{field}'" in err and err.count("\n") == 1


@pytest.mark.parametrize(("fmt", "steps_key"), [("mtbench-answers", "idxs"),
                                                ("spec-bench", "decoding_steps")])
@pytest.mark.parametrize("column", ["new_tokens", "wall_time"])
def test_turn_columns_of_different_lengths_are_refused_in_both_formats(tmp_path, fmt,
                                                                      steps_key, column):
    """Both importers check a choice's per-turn lists through one helper: same message."""
    choice = {"index": 0, "turns": ["a", "b"], steps_key: [2, 3], "new_tokens": [4, 5],
              "wall_time": [0.5, 0.25], "accept_lengths": [2, 2, 1, 2, 2]}
    choice[column] = choice[column][:1]
    path = tmp_path / "answers.jsonl"
    path.write_text(json.dumps({"question_id": 7, "choices": [choice]}) + "\n")
    with pytest.raises(InputError) as exc:
        import_answers(path, fmt)
    msg = exc.value.message
    assert msg.startswith(f"{path}: line 1: field 'choices[0].new_tokens': {steps_key}, "
                          "new_tokens and wall_time have different lengths"), msg
    assert "(2, 1, 2)" in msg if column == "new_tokens" else "(2, 2, 1)" in msg
