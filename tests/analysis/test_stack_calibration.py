"""The stack calibration: fitted on the calibration rows only, predictions reported apart."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest

from specaccel.analysis import stack_calibration as sc
from specaccel.models.cost import get_model
from specaccel.models.cost.deployment import Deployment
from specaccel.models.cost.software_stack import (
    HF_GENERATE_HOST_OP_S,
    HF_HOST_OP_S,
    STACKS,
    VLLM_REQUEST_HOST_S,
    get_stack,
)

LOGS = Path(__file__).resolve().parents[1] / "data" / "mtbench-medusa"


@pytest.fixture(scope="module")
def report():
    return sc.calibrate()


def test_bundled_turns_are_the_medusa_logs_totals():
    bundled = sc._csv_rows(sc.MEDUSA_TURNS)
    fresh = sc.summarise_mtbench_logs(LOGS)
    assert len(bundled) == len(fresh) == 480
    for b, f in zip(bundled, fresh, strict=True):
        assert b["model"] == f["model"] and int(b["idxs"]) == f["idxs"]
        assert int(b["new_tokens"]) == f["new_tokens"]
        assert float(b["wall_time_s"]) == f["wall_time_s"]


def test_timing_runs_are_one_decode_timed_again_and_rows_carry_their_mean():
    """Runs 1 and 2 repeat run 0's decode: same tokens and steps (the per-turn file's
    totals); only the wall time differs.  A Medusa-log row's measured figure is the mean
    of its runs' tokens/s."""
    runs = sc._csv_rows(sc.MEDUSA_RUNS)
    assert len(runs) == 9
    rows = {r.model: r for r in sc.load_rows() if r.kind == "medusa-log"}
    for model, row in rows.items():
        turns = sc.medusa_turns(model)
        mine = [r for r in runs if r["model"] == model]
        assert [int(r["run"]) for r in mine] == [0, 1, 2]
        for r in mine:
            assert int(r["new_tokens"]) == sum(t["new_tokens"] for t in turns)
            assert int(r["steps"]) == sum(t["idxs"] + 1 for t in turns)
        assert float(mine[0]["wall_time_s"]) == pytest.approx(
            sum(t["wall_time_s"] for t in turns), abs=1e-5)
        assert row.measured == pytest.approx(statistics.fmean(sc.medusa_runs(model)),
                                             abs=0.005)


def test_every_row_has_a_role_and_a_source():
    rows = sc.load_rows()
    assert {r.role for r in rows} == {"calibration", "prediction", "reference"}
    assert all(r.source for r in rows)
    assert all(r.fits for r in rows if r.role == "calibration")
    assert not any(r.fits for r in rows if r.role != "calibration")


def test_the_fits_reproduce_their_rows_and_are_what_the_stacks_carry(report):
    assert set(report["fitted"]) == {"hf-static-kv.host_op_s", "hf-eager.host_op_s",
                                     "vllm.request_host_s"}
    assert report["fitted"]["hf-static-kv.host_op_s"] == pytest.approx(HF_HOST_OP_S, rel=0.005)
    assert report["fitted"]["hf-eager.host_op_s"] == pytest.approx(HF_GENERATE_HOST_OP_S,
                                                                    rel=0.005)
    assert report["fitted"]["vllm.request_host_s"] == pytest.approx(VLLM_REQUEST_HOST_S,
                                                                     rel=0.005)
    cal = [r for r in report["rows"] if r["role"] == "calibration"]
    assert len(cal) == 3 and all(abs(r["error"]) < 1e-3 for r in cal)
    # one physical figure: every stack running the repositories' model code takes it
    assert set(sc.shared_fit_targets("hf-static-kv.host_op_s")) == {
        "hf-static-kv", "eagle2", "hf-static-kv-graphs"}
    # generate()'s figure: LADE's loop runs on the same transformers code
    assert sc.shared_fit_targets("hf-eager.host_op_s") == ["hf-eager", "lade"]


def test_a_speedup_row_fits_the_baseline_stack_in_either_direction():
    """A speedup grows with its baseline's host time (tokens/s fall with the stack's own):
    the bisection reads the direction from the bracket and lands on the measured ratio."""
    row = next(r for r in sc.load_rows() if r.kind == "preset-speedup")
    slower = dict(STACKS, **{"hf-eager": STACKS["hf-eager"].with_values(host_op_s=20e-6)})
    faster = dict(STACKS, **{"hf-eager": STACKS["hf-eager"].with_values(host_op_s=10e-6)})
    assert sc.predict_row(row, slower) > row.measured > sc.predict_row(row, faster)
    assert sc.predict_row(row) == pytest.approx(row.measured, rel=2e-3)
    # the registry is restored after a prediction with other stacks
    assert STACKS["hf-eager"].host_op_s == HF_GENERATE_HOST_OP_S


def test_a_speedup_row_naming_a_preset_without_a_published_speedup_is_an_input_error():
    with pytest.raises(sc.InputError, match="no published speedup"):
        sc.predict_preset_speedup("ppd-vicuna-7b-mtbench")


def test_median_and_worst_count_prediction_rows_only(report):
    preds = [abs(r["error"]) for r in report["rows"] if r["role"] == "prediction"]
    assert report["worst_abs_error"] == max(preds)
    assert report["median_abs_error"] == statistics.median(preds)
    assert all(r["predicted"] is None for r in report["rows"] if r["role"] == "reference")


def test_medusa_log_prediction_prices_prefill_and_every_step():
    dep = Deployment(sc.get_hardware("a100-80gb"), get_stack("hf-static-kv"))
    r = sc.predict_medusa_log("vicuna-7b", dep)
    assert r["turns"] == 160 and r["measured"] == pytest.approx(99.54, abs=0.01)
    assert [round(x, 2) for x in r["runs"]] == [101.30, 102.65, 94.66]
    slower = Deployment(dep.hw, STACKS["hf-static-kv"].with_values(host_op_s=2 * HF_HOST_OP_S))
    assert sc.predict_medusa_log("vicuna-7b", slower)["predicted"] < 0.6 * r["predicted"]


def test_an_unknown_role_is_an_input_error(tmp_path, monkeypatch):
    text = Path(str(sc.resources.files("specaccel.data").joinpath(sc.MEASUREMENTS))).read_text()
    bad = text.replace(",calibration,", ",guess,", 1)
    monkeypatch.setattr(sc, "_csv_text", lambda name: bad)
    with pytest.raises(sc.InputError) as exc:
        sc.load_rows()
    assert exc.value.field == "role"
    assert f"{sc.MEASUREMENTS} line 6" in str(exc.value)  # the first row, past the notes


def test_the_medusa_logs_time_per_step_grows_with_context_as_simulated():
    """A prediction of the terms that grow with the context, apart from the constant
    ones: each turn's time per step against its mean context.  On Vicuna-33B the step
    is GPU-bound, and the eager attention over the 64-token tree and the KV reads give
    the slope; on Vicuna-7B the host bounds the step, so time per step does not grow
    with the context, measured or simulated.  No row of this test was fitted: the host
    time per op fitted on the 7B log's tokens/s sets neither slope."""
    rows = {r.model: r for r in sc.load_rows() if r.kind == "medusa-log"}
    big = sc.medusa_log_context_fit("vicuna-33b", sc.deployment_for(rows["vicuna-33b"]))
    assert big["measured_us_per_token"] > 3.0  # the log itself: clearly GPU-bound
    assert big["simulated_us_per_token"] == pytest.approx(big["measured_us_per_token"],
                                                          rel=0.10)
    small = sc.medusa_log_context_fit("vicuna-7b", sc.deployment_for(rows["vicuna-7b"]))
    assert abs(small["measured_us_per_token"]) < 0.5
    assert abs(small["simulated_us_per_token"]) < 0.5
    # the line through the turns is the time per step the tokens/s row divides by
    assert small["simulated_ms"] == pytest.approx(
        sc.predict_medusa_log("vicuna-7b", sc.deployment_for(rows["vicuna-7b"]))["step_ms"],
        rel=0.02)


def _rows_with(monkeypatch, old: str, new: str) -> None:
    text = Path(str(sc.resources.files("specaccel.data").joinpath(sc.MEASUREMENTS))).read_text()
    assert old in text
    bad = text.replace(old, new, 1)
    monkeypatch.setattr(sc, "_csv_text", lambda name: bad)


def test_offloaded_decode_rows_are_predicted_in_seconds_per_token_on_their_placement():
    rows = {r.id: r for r in sc.load_rows() if r.offload}
    row = rows["sequoia-offload-baseline-llama-2-70b-rtx-4090"]
    dep = sc.deployment_for(row)
    assert dep.target_placement.offload and dep.hw.name == "rtx-4090"
    seconds = sc.predict_row(row)
    assert row.unit == "s/token"
    assert seconds == pytest.approx(1.0 / sc.predict_ar(row.model, dep, 1024))
    # the copy over PCIe sets the step: on two A100s that hold the model it is > 20x faster
    on_device = Deployment(sc.get_hardware("a100-80gb"), dep.stack, sc.Placement(tp=2))
    assert seconds > 20.0 / sc.predict_ar(row.model, on_device, 1024)


def test_a_generate_row_prices_its_prompt_prefill_and_the_decode_steps_after_it():
    row = next(r for r in sc.load_rows() if r.id == "sequoia-baseline-vicuna-33b-a100-pcie")
    assert (row.kind, row.context, row.output, row.unit) == ("ar-generate", 128, 32, "ms/token")
    dep = sc.deployment_for(row)
    assert dep.hw.name == "a100-80gb-pcie"
    ms = sc.predict_row(row)
    prefill = float(dep.pass_costs(sc.get_model(row.model), role="target",
                                   tokens=sc.np.array([128.0]), context=sc.np.zeros(1),
                                   phase="prefill")["latency_s"][0])
    # the serving loop's decode steps: the k-th (k = 0..30) sees the prompt and the k
    # tokens decoded before it, its own input being the token the step before made
    steps = [1.0 / sc.predict_ar(row.model, dep, 128 + i) for i in range(31)]
    assert ms == pytest.approx(1e3 * (prefill + sum(steps)) / 32, rel=1e-9)
    assert prefill > max(steps)  # the prompt's pass is the longest of the 32


def test_a_generate_row_without_its_output_count_is_an_input_error(monkeypatch):
    _rows_with(monkeypatch, ",128,32,24.2,ms/token,", ",128,,24.2,ms/token,")
    with pytest.raises(sc.InputError) as exc:
        sc.load_rows()
    assert exc.value.field == "output"


@pytest.mark.parametrize(("old", "new", "field"), [
    (",128,32,24.2,ms/token,", ",128,32.0,24.2,ms/token,", "output"),
    (",128,32,24.2,ms/token,", ",0,32,24.2,ms/token,", "context"),
    (",128,32,24.2,ms/token,", ",128,32,24.2,x,", "unit"),
    (",1,1,1,,1024,,4.54,s/token,", ",1,1,1,,1024,5,4.54,s/token,", "output"),
    (",1,1,1,,1024,,4.54,s/token,", ",1,1,1,,1024,,4.54,ms/token,", "unit"),
    (",1,1,1,,1024,,4.54,s/token,", ",x,1,1,,1024,,4.54,s/token,", "tp"),
    (",1,1,1,,1024,,4.54,s/token,", ",1,1,1,,1024,,fast,s/token,", "measured"),
    ("ar-generate,prediction", "ar-generated,prediction", "kind"),
    (",1,1,1,,1024,,4.54,s/token,", ",1,1,yes,,1024,,4.54,s/token,", "offload"),
    (",1,1,1,,1024,,4.54,s/token,", ",1,1,1,,1024,,4.54,min/token,", "unit"),
    (",1,1,1,,1024,,4.54,s/token,", ",1,1,1,,1024,,-4.54,s/token,", "measured"),
    (",1,1,1,,1024,,4.54,s/token,", ",1,1,1,,1024,,nan,s/token,", "measured"),
    (",1.71,x,hf-eager.host_op_s,", ",1.71,x,hf-eagr.host_op_s,", "fits"),
    (",1.71,x,hf-eager.host_op_s,", ",1.71,x,hf-eager.host_op,", "fits"),
    (",1,1,,4,2,20,212.54,", ",1,1,,0,2,20,212.54,", "batch"),
    (",1,1,,4,2,20,212.54,", ",1,1,,2000000,2,20,212.54,", "batch"),
    (",1,1,,4,2,20,212.54,tokens/s,", ",1,1,,4,2,20,212.54,ms/token,", "unit"),
    (",1,1,1,,1024,,4.54,s/token,", ",1,1,1,2,1024,,4.54,s/token,", "batch"),
])
def test_a_bad_cell_is_one_input_error_naming_the_line_and_column(monkeypatch, old, new, field):
    _rows_with(monkeypatch, old, new)
    with pytest.raises(sc.InputError) as exc:
        sc.load_rows()
    assert exc.value.field == field and f"{sc.MEASUREMENTS} line " in str(exc.value)
    assert "\n" not in str(exc.value)


def test_a_header_without_a_column_is_an_input_error_naming_it(monkeypatch):
    _rows_with(monkeypatch, ",context,output,measured,", ",context,outputs,measured,")
    with pytest.raises(sc.InputError) as exc:
        sc.load_rows()
    assert exc.value.field == "output" and "lacks the columns output" in str(exc.value)


def test_line_numbers_count_the_notes_and_multi_line_cells(monkeypatch):
    text = Path(str(sc.resources.files("specaccel.data").joinpath(sc.MEASUREMENTS))).read_text()
    first = text.index("\nmedusa1-vicuna-13b-mtbench,")
    # a quoted note over two lines in the row before, and a bad role in this one
    before = text[:first].replace(",80 questions x 2 turns;", ',"80 questions x 2\nturns;')
    bad = before.replace("; 63-node tree", '; 63-node tree"') + \
        text[first:].replace(",prediction,", ",guess,", 1)
    monkeypatch.setattr(sc, "_csv_text", lambda name: bad)
    with pytest.raises(sc.InputError) as exc:
        sc.load_rows()
    assert f"{sc.MEASUREMENTS} line 8" in str(exc.value)  # 7 without the note's line break


def test_a_serving_engine_call_pays_the_request_once_with_its_prefill():
    """vLLM's prefill benchmark: one LLM.generate() call per prompt, one output token.  The
    call is its prefill pass plus the engine's host time per request (fitted on the
    16-token call); a decode call pays it once, not per step; a prefill of a later chunk
    (context > 0) does not pay it."""
    rows = {r.id: r for r in sc.load_rows()}
    call = rows["vllm-prefill-call-llama-2-13b-16"]
    dep = sc.deployment_for(call)
    model = get_model("llama-2-13b")
    with_req = dep.pass_costs(model, role="target", tokens=np.array([16.0, 16.0]),
                              context=np.array([0.0, 512.0]), phase="prefill")
    bare = Deployment(dep.hw, STACKS["vllm"].with_values(request_host_s=0.0)).pass_costs(
        model, role="target", tokens=np.array([16.0, 16.0]), context=np.array([0.0, 512.0]),
        phase="prefill")
    assert with_req["latency_s"] - bare["latency_s"] == pytest.approx([VLLM_REQUEST_HOST_S, 0])
    assert list(with_req["request_s"]) == [VLLM_REQUEST_HOST_S, 0.0]
    assert list(with_req["host_s"]) == list(bare["host_s"])  # not beside the pass's host
    seconds = float(with_req["latency_s"][0])
    assert sc.predict_row(call) == pytest.approx(16 / seconds)
    decode = rows["vllm-decode-call-llama-2-13b-b1"]
    per_token = sc.predict_generate_s("llama-2-13b", dep, 2, 20)
    no_req = sc.predict_generate_s("llama-2-13b", Deployment(
        dep.hw, STACKS["vllm"].with_values(request_host_s=0.0)), 2, 20)
    assert (per_token - no_req) * 20 == pytest.approx(VLLM_REQUEST_HOST_S)
    assert sc.predict_row(decode) == pytest.approx(1.0 / per_token)
    # the fit brackets a time per request up to 100 ms, a time per op up to 1 ms
    assert sc.FIT_UPPER_S["request_host_s"] == 0.1 and sc.DEFAULT_FIT_UPPER_S == 1e-3
