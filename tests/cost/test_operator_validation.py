"""The GPU GEMM model against Vidur's profiled linear layers (``operator-profiles.csv``)."""

from __future__ import annotations

import json
import statistics
from dataclasses import replace

import pytest

from specaccel.analysis.validation_report import by_device_and_tokens, validation_report
from specaccel.cli import main
from specaccel.models.cost import get_hardware, get_model
from specaccel.models.cost.gpu_kernels import gemm_time
from specaccel.models.cost.operator_validation import (
    OperatorProfile,
    fit_mma,
    fit_operator_calibration,
    fit_streaming,
    kernel_seconds,
    load_profiles,
    operator_validation_rows,
)

#: CodeLlama-34B is no model preset; its shape from codellama/CodeLlama-34b-Instruct-hf's
#: config.json: (hidden, heads, KV heads, intermediate).
CODELLAMA_34B = (8192, 64, 8, 22016)


@pytest.fixture(scope="module")
def rows():
    return operator_validation_rows()


def _shape(model: str) -> tuple[int, int, int, int]:
    if model == "codellama-34b":
        return CODELLAMA_34B
    m = get_model(model)
    return m.d_model, m.n_heads, m.n_kv_heads, m.d_ff


def test_every_profile_is_a_tensor_parallel_shard_of_its_model():
    table = load_profiles()
    assert len(table) == 3 * 5 * 13 * 4  # 3 GPUs x 5 (model, tp) x 13 token counts x 4 ops
    assert {r.hardware for r in table} == {"a100-80gb", "h100-sxm", "a40"}
    for r in table:
        d, heads, kv, ff = _shape(r.model)
        hd = d // heads
        want = {"attn_pre_proj": (d, (heads + 2 * kv) * hd // r.tp),
                "attn_post_proj": (heads * hd // r.tp, d),
                "mlp_up_proj": (d, 2 * ff // r.tp), "mlp_down_proj": (ff // r.tp, d)}
        assert (r.in_features, r.out_features) == want[r.operator], r.label
    # Vidur's medians in ms, here in us: the H100's eighth of the 70B QKV at 4096 tokens
    last_qkv = next(r for r in table if (r.hardware, r.model, r.tp, r.tokens, r.operator)
                    == ("h100-sxm", "llama-2-70b", 8, 4096, "attn_pre_proj"))
    assert last_qkv.median_us == 150.5
    first = table[0]  # Vidur's A100, Llama-2-7B QKV at one token: 0.065 ms
    assert (first.hardware, first.operator, first.tokens, first.median_us) == (
        "a100-80gb", "attn_pre_proj", 1, 65.0)
    assert first.nbytes == 2.0 * (4096 * 12288 + 4096 + 12288)


def test_each_row_is_priced_on_its_preset_as_a_profiler_times_it(rows):
    """A profiler's kernel time has no gap before the next kernel: the row is the kernel
    model's time less the preset's launch gap, which a pass does pay."""
    h100 = get_hardware("h100-sxm")
    assert h100.gpu.launch_gap_s > 0  # the H100's is fitted on a whole pass
    for r in (rows[0], rows[-1]):
        hw = get_hardware(r["hardware"])
        nbytes = 2.0 * (r["k"] * r["n"] + r["m"] * r["k"] + r["m"] * r["n"])
        t = gemm_time(hw.peak_flops, hw.mem_bw_bytes_s, hw.gpu, r["m"], r["n"], r["k"], 1.0,
                      nbytes)
        assert r["predicted_s"] == pytest.approx(t.seconds - hw.gpu.launch_gap_s)
        assert r["error"] == pytest.approx(r["predicted_s"] / r["measured_s"] - 1.0)
    assert {rows[0]["hardware"], rows[-1]["hardware"]} == {"a100-80gb", "a40"}
    h100_row = next(r for r in rows if r["hardware"] == "h100-sxm")
    t = gemm_time(h100.peak_flops, h100.mem_bw_bytes_s, h100.gpu, h100_row["m"],
                  h100_row["n"], h100_row["k"], 1.0,
                  2.0 * (h100_row["k"] * h100_row["n"] + h100_row["m"] * h100_row["k"]
                         + h100_row["m"] * h100_row["n"]))
    assert h100_row["predicted_s"] == pytest.approx(t.seconds - h100.gpu.launch_gap_s)


def test_a_pass_pays_the_gap_between_kernels_and_a_profile_does_not():
    """On the H100 every kernel of a pass costs its in-kernel time and the launch gap; a
    pass without the gap is shorter by kernels x gap, the stack's extra kernels too."""
    from specaccel.models.cost import pass_cost
    from specaccel.models.cost.stack_cost import gpu_kernel_s

    h100 = get_hardware("h100-sxm")
    g = h100.gpu
    assert gpu_kernel_s(h100) == pytest.approx(g.kernel_latency_s + g.launch_gap_s)
    no_gap = replace(h100, gpu=replace(g, launch_gap_s=0.0))
    model = get_model("llama-2-7b")
    with_gap = pass_cost(model, h100, tokens=1, context=256)
    without = pass_cost(model, no_gap, tokens=1, context=256)
    assert with_gap.kernels == without.kernels > 0
    assert with_gap.latency_s - without.latency_s == pytest.approx(
        with_gap.kernels * g.launch_gap_s, rel=1e-9)


def test_only_the_fitted_h100_rows_are_calibration(rows):
    cal = [r for r in rows if r["role"] == "calibration"]
    assert len(cal) == 5 * 4 + 3 * 4  # 7B at 1-64 tokens (5 counts), at 1024-4096 (3)
    assert all(r["hardware"] == "h100-sxm" and "llama-2-7b " in r["label"] for r in cal)
    assert {r["fits"] for r in cal} == {"streaming", "mma_efficiency"}
    assert all(r["role"] == "prediction" for r in rows if r["hardware"] != "h100-sxm")


def test_the_h100_figures_are_the_fits_of_their_rows():
    fits = fit_operator_calibration()
    assert set(fits) == {"h100-sxm kernel_latency_s", "h100-sxm dram_efficiency",
                         "h100-sxm mma_efficiency"}
    for fit in fits.values():  # the preset carries each figure rounded
        assert fit["fitted"] == pytest.approx(fit["preset_value"], rel=0.01)
    assert 0.85 < fits["h100-sxm dram_efficiency"]["fitted"] < 0.95  # streams near 3 TB/s


def test_fit_streaming_recovers_a_line_and_fit_mma_a_figure():
    hw = get_hardware("h100-sxm")
    peak = hw.mem_bw_bytes_s
    rows = [OperatorProfile("h100-sxm", "x", 1, 1, "mlp_up_proj", k, n,
                            (3e-6 + 2.0 * (k * n + k + n) / (0.8 * peak)) * 1e6)
            for k, n in ((4096, 4096), (4096, 12288), (8192, 28672))]
    latency, dram = fit_streaming(rows, peak)
    assert latency == pytest.approx(3e-6, rel=1e-3) and dram == pytest.approx(0.8, rel=1e-3)
    g = replace(hw.gpu, mma_efficiency=0.6)
    big = [OperatorProfile("h100-sxm", "x", 1, 4096, "mlp_up_proj", 4096, 22016, 1.0)]
    big = [replace(big[0], median_us=kernel_seconds(hw, g, big[0]) * 1e6)]
    assert fit_mma(big, hw, replace(g, mma_efficiency=0.9)) == pytest.approx(0.6, rel=1e-3)


def test_validate_exits_1_when_a_fit_of_the_profiles_is_stale(capsys, monkeypatch):
    stale = {"h100-sxm dram_efficiency": {"preset": "h100-sxm", "row": "rows",
                                          "fitted": 0.95, "preset_value": 0.902}}
    monkeypatch.setattr(
        "specaccel.models.cost.operator_validation.fit_operator_calibration", lambda: stale)
    assert main(["validate", "--section", "operators", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["stale_calibration_rows"] == ["h100-sxm dram_efficiency (row: rows)"]


def test_a100_decode_and_verify_gemms_are_predicted_within_a_few_percent(rows):
    """The A100's figures were fitted to whole passes, never to these kernels; at 1 to 64
    tokens (decode, verify) the GEMMs stream their weights and the model holds."""
    errors = [abs(r["error"]) for r in rows if r["hardware"] == "a100-80gb" and r["m"] <= 64]
    assert len(errors) == 100
    assert statistics.median(errors) < 0.05 and max(errors) < 0.15


def test_the_ga102_dram_fraction_measured_on_the_a10_predicts_the_a40(rows):
    """The A40 takes the GDDR6 streaming fraction of the A10 (the same die and memory);
    nothing of the A40 is fitted, and its decode and verify GEMMs land within a few
    per cent at the median."""
    errors = [r["error"] for r in rows if r["hardware"] == "a40" and r["m"] <= 64]
    assert len(errors) == 100
    assert statistics.median(map(abs, errors)) < 0.05


def test_groups_split_rows_by_device_and_tokens(rows):
    section_rows = validation_report(("operators",))["sections"][0]["rows"]
    groups = by_device_and_tokens(section_rows)
    assert [(hw, tokens) for hw, tokens, *_ in groups] == [
        (hw, t) for hw in ("a100-80gb", "a40", "h100-sxm")
        for t in ("1-64", "65-256", "257-4096")]
    pred = [r for r in rows if r["role"] == "prediction"]
    assert sum(n for _, _, n, *_ in groups) == len(pred)
    for hw, tokens, n, med, worst, signed in groups:
        lo, hi = {"1-64": (1, 64), "65-256": (65, 256), "257-4096": (257, 4096)}[tokens]
        errs = [r["error"] for r in pred if r["hardware"] == hw and lo <= r["m"] <= hi]
        assert n == len(errs) and med == pytest.approx(statistics.median(map(abs, errs)))
        assert worst == pytest.approx(max(map(abs, errs)))
        assert signed == pytest.approx(statistics.median(errs))


def test_validate_reports_the_section_by_groups(capsys):
    assert main(["validate", "--section", "operators"]) == 0
    out = capsys.readouterr().out
    assert "Vidur's profiled linear layers" in out and "h100-sxm   257-4096" in out
    assert "748 prediction rows" in out and "32 calibration rows" in out
    assert main(["validate", "--section", "operators", "--json"]) == 0
    sec = json.loads(capsys.readouterr().out)["sections"][0]
    assert sec["name"] == "operators" and sec["summary"]["prediction_rows"] == 748
    assert set(sec["fits"]) == set(fit_operator_calibration())
