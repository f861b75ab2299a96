"""The links' all-reduce bandwidth against Vidur's NCCL profiles (``allreduce-profiles.csv``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from specaccel.cli import main
from specaccel.models.cost import get_hardware
from specaccel.models.cost.collective_validation import (
    AllreduceProfile,
    bus_factor,
    collective_validation_rows,
    fit_line,
    load_profiles,
    model_line,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rows():
    return collective_validation_rows()


def test_the_table_holds_every_mib_from_16_to_64_of_seven_node_device_pairs():
    table = load_profiles()
    groups = {(r.node, r.devices, r.hardware) for r in table}
    assert groups == {("a100_dgx", n, "a100-80gb") for n in (2, 4, 8)} | {
        ("h100_dgx", n, "h100-sxm") for n in (2, 4, 8)} | {
        ("a100_pairwise_nvlink", 4, "a100-80gb-pcie")}
    for node, n, _ in groups:
        sizes = sorted(r.size_bytes for r in table if (r.node, r.devices) == (node, n))
        assert sizes == [mib << 20 for mib in range(16, 65)]
    # Vidur's medians in ms, here in us: the A100 DGX's 8-GPU all-reduce of 64 MiB
    last = next(r for r in table if (r.node, r.devices, r.size_bytes)
                == ("a100_dgx", 8, 64 << 20))
    assert last.median_us == 675.0 and last.seconds == pytest.approx(675e-6)


def test_the_generator_keeps_single_node_rows_first_seen(tmp_path):
    """The generator on a Vidur-shaped work tree: the rows of one node, the first of a
    repeated (workers, size) pair, sizes in MiB steps; a multi-node row is dropped."""
    head = ("Unnamed: 0,time_stats.all_reduce.min,time_stats.all_reduce.max,"
            "time_stats.all_reduce.mean,time_stats.all_reduce.median,"
            "time_stats.all_reduce.std,rank,num_workers,size,collective,"
            "devices_per_node,max_devices_per_node\n")
    nodes = {"a100_dgx": (2, 4, 8), "h100_dgx": (2, 4, 8), "a100_pairwise_nvlink": (4,)}
    for node, workers in nodes.items():
        lines = [head]
        for n in workers:
            lines.append(f"0,1,1,1,9.0,0,0,{n},{16 << 20},all_reduce,{n // 2},8\n")
            for mib in range(16, 65):
                ms = mib / 1000 + n / 1e4
                lines.append(f"0,1,1,1,{ms},0,0,{n},{mib << 20},all_reduce,{n},8\n")
                lines.append(f"0,1,1,1,{2 * ms},0,0,{n},{mib << 20},all_reduce,{n},8\n")
        path = tmp_path / "data/profiling/network" / node
        path.mkdir(parents=True)
        (path / "all_reduce.csv").write_text("".join(lines))
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit", "-q", "--allow-empty", "-m", "t"], check=True)
    made = subprocess.run([sys.executable, str(ROOT / "tests/data/vidur_allreduce_profiles.py"),
                           str(tmp_path)], check=True, capture_output=True, text=True).stdout
    body = [line for line in made.splitlines() if not line.startswith("#")]
    assert body[0] == "node,hardware,devices,size_bytes,median_us"
    assert len(body) == 1 + 7 * 49
    assert body[1] == f"a100_dgx,a100-80gb,2,{16 << 20},16.2"
    assert body[-1] == f"a100_pairwise_nvlink,a100-80gb-pcie,4,{64 << 20},64.4"


def test_a_line_through_ring_times_gives_back_the_bus_bandwidth():
    """Times of a ring with a 3 us call and 150 GB/s of bus bandwidth: the fit returns
    both, whatever the device count (the bus factor 2 (n-1)/n is undone)."""
    for n in (2, 4, 8):
        rows = [AllreduceProfile("x", "a100-80gb", n, s,
                                 (3e-6 + bus_factor(n) * s / 150e9) * 1e6)
                for s in (16 << 20, 40 << 20, 64 << 20)]
        intercept, bw = fit_line(rows)
        assert intercept == pytest.approx(3e-6, rel=1e-6)
        assert bw == pytest.approx(150e9, rel=1e-9)
    assert bus_factor(2) == 1.0 and bus_factor(8) == 1.75
    with pytest.raises(ValueError, match="one device count"):
        fit_line([AllreduceProfile("x", "a100-80gb", n, 1 << 24, 100.0) for n in (2, 4)])


def test_the_models_all_reduce_runs_at_the_links_bandwidth_with_its_per_call_time():
    """The line the model gives is the all-reduce it charges: at these sizes the ring
    (2 (n-1) steps) or, for eight GPUs on NVLink, two-shot (two one-shot latencies),
    both at the link's bus bandwidth."""
    for preset in ("a100-80gb", "h100-sxm", "a100-80gb-pcie"):
        hw = get_hardware(preset)
        for n in (2, 4, 8):
            intercept, bw = model_line(preset, n, 16 << 20, 64 << 20)
            assert bw == pytest.approx(hw.link_bw_bytes_s, rel=1e-9)
            ring = 2 * (n - 1) * hw.link_step_latency_s
            two_shot = (2 * hw.link_oneshot_latency_s if hw.link_oneshot_latency_s > 0
                        else ring)
            assert intercept == pytest.approx(min(ring, two_shot), rel=1e-6)
    assert model_line("a100-80gb", 8, 16 << 20, 64 << 20)[0] == pytest.approx(18.8e-6)


def test_each_row_compares_the_fitted_slope_with_the_models(rows):
    table = load_profiles()
    assert len(rows) == 7 and {r["role"] for r in rows} == {"prediction"}
    for r in rows:
        mine = [p for p in table if (p.node, p.devices) == (r["node"], r["devices"])]
        assert r["points"] == len(mine) == 49
        assert (r["intercept_s"], r["measured_bw"]) == pytest.approx(fit_line(mine))
        assert r["predicted_bw"] == pytest.approx(get_hardware(r["hardware"]).link_bw_bytes_s)
        assert r["error"] == pytest.approx(r["predicted_bw"] / r["measured_bw"] - 1.0)
    # a slope is a bandwidth: NVSwitch A100s run 150-250 GB/s, H100s more, PCIe tens
    by = {(r["node"], r["devices"]): r["measured_bw"] for r in rows}
    assert all(150e9 < by[("a100_dgx", n)] < 250e9 for n in (2, 4, 8))
    assert all(by[("h100_dgx", n)] > by[("a100_dgx", n)] for n in (2, 4, 8))
    assert 15e9 < by[("a100_pairwise_nvlink", 4)] < 32e9


def test_validate_prints_the_section(capsys):
    assert main(["validate", "--section", "collectives"]) == 0
    out = capsys.readouterr().out
    assert "Vidur's NCCL profiles" in out and "h100_dgx 8 GPUs (h100-sxm)" in out
    assert "7 prediction rows" in out and "0 calibration rows" in out
    assert main(["validate", "--section", "collectives", "--json"]) == 0
    sec = json.loads(capsys.readouterr().out)["sections"][0]
    assert sec["name"] == "collectives" and sec["summary"]["prediction_rows"] == 7
    assert {r["unit"] for r in sec["rows"]} == {"GB/s"}
