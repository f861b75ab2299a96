"""`specaccel cost --gemm MxNxK`: one GEMM on the accelerator's arrays, in cycles."""

import json

import pytest

from specaccel.cli import main
from specaccel.models.cost import AcceleratorConfig
from specaccel.models.cost.systolic_array import gemm_cycles


def _json(capsys, argv):
    code = main(argv)
    return code, json.loads(capsys.readouterr().out)


def test_gemm_cycles_breakdown_on_an_overridden_array(capsys):
    code, r = _json(capsys, ["cost", "--gemm", "64x4096x4096", "--accel", "array_rows=64",
                             "--accel", "array_cols=64", "--accel", "dataflow=ws", "--json"])
    assert code == 0
    want = gemm_cycles(64, 64, "ws", 64, 4096, 4096, 1, 8)
    c = r["cycles"]
    assert (c["load"], c["compute"], c["skew"], c["drain"]) == (
        want.load, want.stream, want.skew, want.drain)
    assert c["array"] == want.cycles == 512 * (64 + 64 + 63 + 63)
    assert r["engine"] == "array" and r["folds"] == 4096 and r["waves"] == 512
    # compute-bound: no stalls; control bubbles are the compute-efficiency factor
    hw = AcceleratorConfig(array_rows=64, array_cols=64, dataflow="ws").build()
    assert c["stall"] == pytest.approx(0.0, abs=1e-6)
    assert c["control"] == pytest.approx(want.cycles * (1 / hw.compute_efficiency - 1))
    assert c["total"] == pytest.approx(r["latency_s"] * hw.clock_hz)
    assert r["utilisation"] == pytest.approx(64 * 4096 * 4096 / (c["total"] * 64 * 64 * 8))
    assert r["array_utilisation"] == pytest.approx(want.utilisation)


def test_memory_bound_gemm_reports_stalls(capsys):
    # decode GEMM, 1 row: the weights' HBM time exceeds the arrays' (and the vector unit's)
    code, r = _json(capsys, ["cost", "--gemm", "1x8192x8192", "--accel", "dataflow=os",
                             "--json"])
    assert code == 0 and r["bound"] == "memory"
    hw = AcceleratorConfig().build()
    dram_cycles = 8192 * 8192 * 2 / (hw.mem_bw_bytes_s * hw.bw_efficiency) * hw.clock_hz
    assert r["cycles"]["total"] == pytest.approx(dram_cycles)
    assert r["cycles"]["stall"] > 0.5 * r["cycles"]["total"]
    assert r["engine"] == "vector"  # GEMV: the vector unit beats 64 idle array rows


def test_human_output_names_every_term(capsys):
    assert main(["cost", "--gemm", "26x4096x11008", "--hw", "specaccel-default"]) == 0
    out = capsys.readouterr().out
    for word in ("output-stationary", "load", "compute", "skew", "drain", "stalls",
                 "utilisation", "folds"):
        assert word in out


@pytest.mark.parametrize("argv, field", [
    (["--gemm", "64x4096"], "--gemm"),
    (["--gemm", "0x4096x4096"], "--gemm"),
    (["--gemm", "64x4096x4096", "--hw", "a100-80gb"], "--gemm"),
    (["--gemm", "64x4096x4096", "--model", "llama-2-7b"], "--model"),
    (["--gemm", "64x4096x4096", "--batch", "1"], "--batch"),
    (["--gemm", "64x4096x4096", "--tokens", "4"], "--tokens"),
    (["--gemm", "64x4096x4096", "--no-tree"], "--no-tree"),
    (["--gemm", "64x4096x4096", "--accel", "dataflow=rs"], "dataflow"),
    (["--gemm", "99999999999999999999x4x4"], "--gemm"),        # beyond any real GEMM
])
def test_bad_gemm_options_exit_2_naming_the_option(capsys, argv, field):
    extra = [] if any(a.startswith("--hw") for a in argv) else ["--hw", "specaccel-default"]
    if "--accel" in argv:
        extra = []
    assert main(["cost", *argv, *extra]) == 2
    err = capsys.readouterr().err
    assert field in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_an_option_given_twice_is_a_usage_error(capsys):
    """A single-valued option given twice kept the last value silently (which GEMM?)."""
    with pytest.raises(SystemExit) as exc:
        main(["cost", "--gemm", "4x4x4", "--gemm", "8x8x8", "--hw", "specaccel-default"])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and "\n" not in err
    assert "argument --gemm: given twice" in err
