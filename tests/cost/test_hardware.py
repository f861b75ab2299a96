"""Hardware presets, the accelerator design, and the verify/tree unit latencies."""

import math
from dataclasses import replace

import pytest

from specaccel.models.cost import AcceleratorConfig, get_hardware
from specaccel.models.cost import hardware_spec as hs
from specaccel.schema.errors import InputError


def test_gpu_presets_come_from_the_csv():
    a100 = get_hardware("a100-80gb")
    assert a100.kind == "gpu"
    assert a100.peak_flops == 312e12 and a100.mem_bw_bytes_s == 2039e9
    assert a100.mem_bytes == 80e9 and a100.clock_hz == 1410e6
    assert a100.sram_bytes == 40 * 1024**2
    assert get_hardware("h200").clock_hz == get_hardware("h100-sxm").clock_hz  # "as H100"
    assert get_hardware("h200").sram_bytes == get_hardware("h100-sxm").sram_bytes
    assert get_hardware("tpuv4").peak_flops == 275e12
    # GPU energy from TDP: static + compute at peak + DRAM at peak bandwidth = TDP.
    full = a100.static_power_w + a100.e_flop_j * a100.peak_flops \
        + a100.e_dram_byte_j * a100.mem_bw_bytes_s
    assert full == pytest.approx(a100.tdp_w)


def test_default_accelerator_numbers():
    hw = get_hardware("specaccel-default")
    cfg = AcceleratorConfig()
    assert hw.kind == "accelerator"
    assert hw.peak_flops == 2 * 8 * 64 * 128 * 1.2e9
    assert hw.mem_bw_bytes_s == pytest.approx(2048e9)
    assert hw.area_mm2 == pytest.approx(cfg.area_breakdown()["total"])
    parts = cfg.area_breakdown()
    assert sum(v for k, v in parts.items() if k != "total") == pytest.approx(parts["total"])
    assert 50 < hw.area_mm2 < 400  # a plausible single die
    assert 0 < hw.e_sram_byte_j < hw.e_dram_byte_j


def test_accelerator_rejects_bad_parameters():
    with pytest.raises(InputError, match="dataflow"):
        AcceleratorConfig(dataflow="rs")
    with pytest.raises(InputError, match="weight_sram_mib"):
        AcceleratorConfig(sram_mib=8, weight_sram_mib=16)
    with pytest.raises(InputError, match="node_nm"):
        AcceleratorConfig(node_nm=6)
    # NaN compares False with 0, so 'v <= 0' alone let it through (energy came out nan)
    for kwargs, text in [({"sram_mib": float("nan")}, "must be a finite number"),
                         ({"clock_hz": float("inf")}, "must be a finite number"),
                         ({"array_rows": 32.5}, "must be an integer"),
                         ({"bw_efficiency": 1.2}, "must be <= 1"),
                         ({"hbm_stacks": 0}, "must be > 0")]:
        with pytest.raises(InputError, match=text) as exc:
            AcceleratorConfig(**kwargs)
        assert exc.value.field == next(iter(kwargs))
    cfg = AcceleratorConfig(array_rows=32.0)  # an integral float (TOML 32.0) is the integer
    assert cfg.array_rows == 32 and isinstance(cfg.array_rows, int)


def test_gpu_verify_is_launch_bound_software():
    hw = get_hardware("a100-80gb")
    assert hw.verify_unit_source == "gpu-software-kernels"
    assert hw.verify_unit_latency_s(64) == hs.GPU_VERIFY_KERNELS * hw.kernel_launch_s
    assert hw.tree_unit_latency_s(64) == hs.GPU_TREE_KERNELS * hw.kernel_launch_s


def test_accelerator_pipeline_model_without_characterisation(monkeypatch):
    monkeypatch.setattr(hs, "_rtl_points", lambda unit: [])
    hw = get_hardware("specaccel-default")
    assert hw.verify_unit_source == "pipeline-model"
    for n in (1, 2, 5, 64, 100):
        cyc = (math.ceil(math.log2(n)) if n > 1 else 0) + 3
        unit = replace(hw, verify_unit_nodes=n)  # a unit built for exactly this tree
        assert unit.verify_unit_latency_s(n) == pytest.approx(cyc / hw.clock_hz)
        assert hw.tree_unit_latency_s(n) == pytest.approx((n + cyc) / hw.clock_hz)
    with pytest.raises(InputError):
        hw.verify_unit_latency_s(0)


def test_a_tree_parallel_unit_takes_its_own_size_whatever_the_tree(monkeypatch):
    monkeypatch.setattr(hs, "_rtl_points", lambda unit: [])
    hw = get_hardware("specaccel-default")  # 64-node unit
    assert hw.verify_unit_latency_s(4) == hw.verify_unit_latency_s(64) == 9 / hw.clock_hz
    bigger = replace(hw, verify_unit_nodes=256)
    assert bigger.verify_unit_latency_s(4) == 11 / hw.clock_hz
    serial = replace(hw, verify_unit="tree_verify_serial")
    assert serial.verify_unit_latency_s(4) == 7 / hw.clock_hz  # node-serial: the tree


def test_accelerator_uses_rtl_characterisation_when_present(monkeypatch):
    table = {"tree_verify": [(8, 5.0), (16, 6.0), (32, 8.0)], "tree_mask": [(16, 20.0)],
             "kv_compact": [(128, 1.0)]}  # verify step = verify unit + compaction unit
    monkeypatch.setattr(hs, "_rtl_points", lambda unit: table.get(unit, []))
    hw = replace(get_hardware("specaccel-default"), verify_unit_nodes=1)  # sized per tree
    assert hw.verify_unit_source == "rtl-characterisation"
    assert hw.verify_unit_latency_s(5) == pytest.approx(6.0 / hw.clock_hz)
    assert hw.verify_unit_latency_s(16) == pytest.approx(7.0 / hw.clock_hz)
    # beyond the table: log2 extrapolation of the last two rows (2 cycles per doubling)
    assert hw.verify_unit_latency_s(128) == pytest.approx(13.0 / hw.clock_hz)
    assert replace(hw, verify_unit_nodes=32).verify_unit_latency_s(5) == pytest.approx(
        9.0 / hw.clock_hz)
    assert hw.tree_unit_latency_s(4) == pytest.approx(20.0 / hw.clock_hz)
