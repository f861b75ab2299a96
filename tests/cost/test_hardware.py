"""Hardware presets, the accelerator design, and the verify/tree unit latencies."""

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


def test_accelerator_times_its_units_from_the_characterisation_table():
    from specaccel.models.cost.rtl_table import request_cycles

    hw = get_hardware("specaccel-default")
    assert hw.verify_unit_source == hw.tree_unit_source == "rtl-characterisation"
    for n in (1, 2, 5, 16, 64, 100):
        unit = replace(hw, verify_unit_nodes=n)  # a verify unit built for this tree
        verify = request_cycles(hw.verify_unit, n) + request_cycles("kv_compact", n)
        assert unit.verify_unit_latency_s(n) == pytest.approx(verify / hw.clock_hz)
        # the mask unit is node-serial: n cycles for an n-node tree
        assert hw.tree_unit_latency_s(n) == pytest.approx(n / hw.clock_hz)
    with pytest.raises(InputError):
        hw.verify_unit_latency_s(0)


def test_a_tree_parallel_unit_takes_its_own_size_whatever_the_tree():
    from specaccel.models.cost.rtl_table import request_cycles

    hw = get_hardware("specaccel-default")  # a 64-node unit
    at64 = request_cycles("tree_verify", 64) + request_cycles("kv_compact", 64)
    assert hw.verify_unit_latency_s(4) == hw.verify_unit_latency_s(64) == pytest.approx(
        at64 / hw.clock_hz)
    bigger = replace(hw, verify_unit_nodes=256)
    assert bigger.verify_unit_latency_s(4) > hw.verify_unit_latency_s(4)
    serial = replace(hw, verify_unit="tree_verify_serial")
    assert serial.verify_unit_latency_s(4) < serial.verify_unit_latency_s(64)  # the tree
