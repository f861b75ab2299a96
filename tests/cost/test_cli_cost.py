"""`specaccel cost` and `specaccel validate` through the CLI entry point."""

import json

import pytest

from specaccel.cli import main
from specaccel.models.cost import get_hardware, get_model, pass_cost
from specaccel.schema.errors import InputError


def _json(capsys, argv):
    code = main(argv)
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_cost_json_has_totals_and_breakdown(capsys):
    code, r = _json(capsys, ["cost", "--model", "llama-2-13b", "--hw", "h100-sxm", "--phase",
                             "verify", "--tokens", "32", "--context", "700", "--batch", "2",
                             "--tp", "2", "--json"])
    assert code == 0
    want = pass_cost(get_model("llama-2-13b"), get_hardware("h100-sxm"), tokens=32,
                     context=700, batch=2, tp=2, phase="verify")
    for key in ("latency_s", "energy_j", "flops", "bytes"):
        assert r[key] == pytest.approx(getattr(want, key), rel=1e-12)
    assert {"name", "flops", "bytes", "latency_s", "energy_j", "bound"} <= set(r["breakdown"][0])
    assert any(e["name"] == "mlp_allreduce" for e in r["breakdown"])


def test_cost_accepts_hf_config_and_per_row_context(tmp_path, capsys):
    cfg = tmp_path / "tiny" / "config.json"
    cfg.parent.mkdir()
    cfg.write_text(json.dumps({"model_type": "llama", "num_hidden_layers": 4, "hidden_size": 256,
                               "num_attention_heads": 8, "num_key_value_heads": 2,
                               "intermediate_size": 688, "vocab_size": 1000,
                               "rms_norm_eps": 1e-5}))
    code, r = _json(capsys, ["cost", "--model", str(cfg), "--context", "10,20,30", "--json"])
    assert code == 0 and r["model"] == "tiny" and r["batch"] == 3 and r["context"] == 20
    # the numbers are the cost model's for that config (4 layers of d=256, GQA 8/2 heads)
    from specaccel.models.cost.hf_config import load_hf_config

    spec = load_hf_config(cfg)
    assert (spec.n_layers, spec.d_model, spec.n_heads, spec.n_kv_heads, spec.d_ff) == (
        4, 256, 8, 2, 688)
    want = pass_cost(spec, get_hardware("a100-80gb"), tokens=1, context=[10, 20, 30])
    for key in ("latency_s", "energy_j", "flops", "bytes"):
        assert r[key] == pytest.approx(getattr(want, key), rel=1e-12)
    assert r["tokens_per_s"] == pytest.approx(3 / want.latency_s)


def test_cost_accelerator_overrides_change_the_result(capsys):
    _, base = _json(capsys, ["cost", "--hw", "specaccel-default", "--tokens", "64", "--json"])
    _, small = _json(capsys, ["cost", "--accel", "array_cores=1", "--tokens", "64", "--json"])
    assert small["latency_s"] > base["latency_s"]
    assert small["hardware"]["area_mm2"] < base["hardware"]["area_mm2"]


@pytest.mark.parametrize("argv", [
    ["cost", "--model", "nope"],
    ["cost", "--hw", "nope"],
    ["cost", "--tokens", "0"],
    ["cost", "--context", "a,b"],
    ["cost", "--accel", "warp=9"],
    ["cost", "--model", "/no/such/config.json"],
])
def test_cost_bad_input_exits_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_offloading_on_a_device_without_a_host_link_names_the_ones_with_one(capsys):
    assert main(["cost", "--model", "llama-2-7b", "--hw", "tpuv4", "--offload"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "field 'offload'" in err
    assert "tpuv4 has no host link" in err and "rtx-2080-ti" in err and "h200" in err


def test_offloading_over_a_host_link_set_to_zero_says_so():
    from dataclasses import replace

    from specaccel.models.cost.placement import host_link_bw

    with pytest.raises(InputError) as e:
        host_link_bw(replace(get_hardware("a100-80gb"), host_link_bw_bytes_s=0.0))
    assert e.value.field == "offload" and "host_link_bw_bytes_s is 0" in str(e.value)


def test_validate_json_gives_sections_with_roles_and_prediction_only_summaries(capsys):
    from specaccel.models.cost.validation_table import measurement_rows

    code, r = _json(capsys, ["validate", "--section", "kernels", "--section", "stacks",
                             "--json"])
    assert code == 0 and r["stale_calibration_rows"] == []
    kernels, stacks = r["sections"]
    assert (kernels["name"], stacks["name"]) == ("kernels", "stacks")
    assert len(kernels["rows"]) == len(measurement_rows())
    for sec in (kernels, stacks):
        pred = [abs(x["error"]) for x in sec["rows"] if x["role"] == "prediction"]
        assert sec["summary"]["prediction_rows"] == len(pred)
        assert sec["summary"]["worst_abs_error"] == max(pred)
    assert [x["id"] for x in stacks["rows"] if x["role"] == "calibration"] == [
        "medusa1-vicuna-7b-mtbench", "specbench-medusa1-vicuna-7b-speedup",
        "vllm-prefill-call-llama-2-13b-16"]


def test_validate_exits_1_on_a_stale_fit(capsys, monkeypatch):
    from specaccel.models.cost import software_stack

    stale = software_stack.STACKS["hf-static-kv"].with_values(host_op_s=30e-6)
    monkeypatch.setitem(software_stack.STACKS, "hf-static-kv", stale)  # refit elsewhere
    def fit(row, stacks):  # the host time per op refits to 30 us; vLLM's term stays
        name, _, field = row.fits.partition(".")
        return row.fits, 30e-6 if field == "host_op_s" else getattr(stacks[name], field)

    monkeypatch.setattr("specaccel.analysis.stack_calibration.fit_parameter", fit)
    code, r = _json(capsys, ["validate", "--section", "stacks", "--json"])
    assert code == 1 and r["stale_calibration_rows"] == [
        "medusa1-vicuna-7b-mtbench", "specbench-medusa1-vicuna-7b-speedup"]


def test_validate_kernels_section_lists_every_row_and_refits(capsys):
    code, r = _json(capsys, ["validate", "--section", "kernels", "--json"])
    assert code == 0
    sec = r["sections"][0]
    assert len(sec["rows"]) == 44 and sec["summary"]["prediction_rows"] == 37
    assert {x["role"] for x in sec["rows"]} == {"calibration", "prediction", "reference"}
    assert sec["summary"]["median_abs_error"] <= 0.05
    assert sec["summary"]["worst_abs_error"] <= 0.35
    assert all(abs(x["error"]) <= x["tolerance"] for x in sec["rows"])
    # every calibrated parameter re-fits to the preset's figure
    for fit in sec["fits"].values():
        assert fit["fitted"] == pytest.approx(fit["preset_value"], rel=0.01)


def test_prefill_context_defaults_to_zero_but_can_be_given(capsys):
    _, fresh = _json(capsys, ["cost", "--phase", "prefill", "--tokens", "256", "--json"])
    _, chunk = _json(capsys, ["cost", "--phase", "prefill", "--tokens", "256", "--context",
                              "1024", "--json"])
    assert fresh["context"] == 0 and chunk["context"] == 1024
    assert chunk["latency_s"] > fresh["latency_s"]


def test_cost_on_a_stack_reports_wall_host_and_gpu(capsys):
    _, plain = _json(capsys, ["cost", "--model", "vicuna-7b", "--json"])
    assert "deployment" not in plain
    _, eager = _json(capsys, ["cost", "--model", "vicuna-7b", "--stack", "hf-eager", "--json"])
    d = eager["deployment"]
    assert d["stack"] == "hf-eager" and d["bound"] == "host"
    assert d["wall_s"] == max(d["host_s"], d["gpu_s"]) > plain["latency_s"]
    _, piped = _json(capsys, ["cost", "--model", "llama-2-70b", "--stack", "vllm", "--pp", "4",
                              "--json"])
    assert piped["fits_memory"] and piped["deployment"]["placement"]["pp"] == 4
    assert piped["deployment"]["wall_s"] > piped["latency_s"]  # three activation hops


@pytest.mark.parametrize("argv,field", [
    (["cost", "--stack", "tensorrt"], "stack"),
    (["cost", "--stack", "hf-eager", "--hw", "specaccel-default"], "stack"),
    (["cost", "--model", "llama-2-70b", "--tp", "3", "--stack", "vllm"], "tp"),
    (["cost", "--gemm", "16x4096x4096", "--stack", "vllm"], "--stack"),
    # a stage count is checked with or without a stack, against the model's layers
    (["cost", "--pp", "0"], "--pp"),
    (["cost", "--pp", "33"], "--pp"),
    (["cost", "--model", "llama-2-70b", "--stack", "vllm", "--pp", "81"], "--pp"),
    # no tree mask to drop on a one-token or prefill pass
    (["cost", "--no-tree"], "--no-tree"),
    (["cost", "--phase", "prefill", "--no-tree"], "--no-tree"),
])
def test_cost_stack_bad_input_names_the_option(argv, field, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"'{field}'" in err


def test_validate_plot_draws_the_rows_it_reports(capsys, tmp_path):
    """--plot writes one PNG whose embedded digest is that of the rows printed, a panel
    per section asked for; a path that cannot take it fails before the long run."""
    from PIL import Image

    from specaccel.analysis.validation_plot import plotted_rows, rows_digest

    png = tmp_path / "v.png"
    code, r = _json(capsys, ["validate", "--section", "stacks", "--json", "--plot", str(png)])
    assert code == 0 and r["plot"] == str(png)
    with Image.open(png) as img:
        assert img.format == "PNG" and img.size[0] == 850 and img.size[1] > 250
        assert img.text["Description"] == "rows sha256 " + rows_digest(r)
    rows = plotted_rows(r)
    assert {s for s, *_ in rows} == {"stacks"}
    assert {(i, role) for _, i, role, _ in rows} >= {
        ("medusa1-vicuna-7b-mtbench", "calibration"), ("chen2026-h100-qwen2.5-7b-2048",
                                                        "prediction")}
    for bad, reason in ((tmp_path / "no" / "v.png", "does not exist"),
                        (tmp_path / "v.txt", "expected a .png")):
        assert main(["validate", "--section", "array", "--plot", str(bad)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "'--plot'" in err and reason in err


def test_no_tree_drops_the_tree_mask_of_a_verify_pass(capsys):
    """A 64-token verify pass reads a 64 x 64 mask per row; --no-tree (a chain) does not."""
    argv = ["cost", "--phase", "verify", "--tokens", "64", "--json"]
    _, tree = _json(capsys, argv)
    _, chain = _json(capsys, argv + ["--no-tree"])
    assert tree["bytes"] - chain["bytes"] == pytest.approx(32 * 64 * 64)


def test_a_cost_that_is_not_finite_is_an_error_not_a_number(monkeypatch, capsys):
    """An accelerator's ranges keep its costs finite; a device the ranges do not cover
    (here a preset whose bandwidth underflows) must not print 'latency inf ms' with
    exit 0 either."""
    from dataclasses import replace

    import specaccel.cli.cost_cmd as cost_cmd

    slow = replace(get_hardware("a100-80gb"), mem_bw_bytes_s=1e-300)
    monkeypatch.setattr(cost_cmd, "get_hardware", lambda name: slow)
    capsys.readouterr()
    assert main(["cost"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.count("\n") == 1
    assert out.err.startswith("specaccel: error: field '--hw': ")
    assert "latency_s came out inf, not a finite number" in out.err


def test_cost_of_an_offloaded_pass_says_what_stays_and_what_crosses_the_link(capsys):
    from specaccel.models.cost.placement import Placement, host_link_bw, offload_plan

    code, r = _json(capsys, ["cost", "--model", "llama-2-70b", "--hw", "rtx-4090",
                             "--offload", "--context", "1024", "--json"])
    assert code == 0
    d = r["deployment"]
    off = d["offload"]
    plan = offload_plan(get_model("llama-2-70b"), get_hardware("rtx-4090"),
                        Placement(offload=True), kv_tokens=1025)
    assert off["resident_layers"] == plan.resident_layers and 0 < off["resident_layers"] < 80
    assert off["resident_bytes"] + off["streamed_bytes"] == pytest.approx(
        get_model("llama-2-70b").weight_bytes)
    assert off["copy_s"] == pytest.approx(off["streamed_bytes"]
                                          / host_link_bw(get_hardware("rtx-4090")))
    assert d["wall_s"] > off["copy_s"]  # the copy adds to the pass's kernels
    assert main(["cost", "--model", "llama-2-70b", "--hw", "rtx-4090", "--offload"]) == 0
    text = capsys.readouterr().out
    assert f"offload: keeps {off['resident_layers']} of 80 layers" in text
    # a model that fits keeps every layer and copies nothing
    small = _json(capsys, ["cost", "--model", "llama-2-7b", "--hw", "rtx-4090", "--offload",
                           "--json"])[1]["deployment"]["offload"]
    assert small["resident_layers"] == 32 and small["streamed_bytes"] == 0.0


def test_cost_shows_a_serving_stacks_host_time_per_request_apart(capsys):
    """A prefill at context 0 on vLLM's stack starts a request per row: the engine's host
    time per request is added to the wall time, shown apart from the overlapped host
    and GPU times; a decode pass starts none."""
    from specaccel.models.cost.software_stack import VLLM_REQUEST_HOST_S

    args = ["cost", "--model", "llama-2-13b", "--hw", "a100-80gb", "--stack", "vllm",
            "--phase", "prefill", "--tokens", "16", "--batch", "8"]
    code, r = _json(capsys, [*args, "--json"])
    d = r["deployment"]
    assert code == 0 and d["request_s"] == pytest.approx(8 * VLLM_REQUEST_HOST_S)
    assert d["wall_s"] == pytest.approx(max(d["host_s"], d["gpu_s"]) + d["request_s"])
    assert main(args) == 0
    assert f"+ request {8 * VLLM_REQUEST_HOST_S * 1e3:.4g} ms" in capsys.readouterr().out
    code, r = _json(capsys, ["cost", "--model", "llama-2-13b", "--stack", "vllm", "--json"])
    assert r["deployment"]["request_s"] == 0.0
