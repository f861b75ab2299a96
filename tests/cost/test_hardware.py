"""Hardware presets, the accelerator design, and the verify/tree unit latencies."""

import math
import warnings
from dataclasses import replace

import pytest

from specaccel.models.cost import AcceleratorConfig, get_hardware, get_model, pass_cost
from specaccel.models.cost import hardware_spec as hs
from specaccel.schema.config_fields import config_fields
from specaccel.schema.errors import InputError


def test_gpu_presets_come_from_the_csv():
    a100 = get_hardware("a100-80gb")
    assert a100.kind == "gpu"
    assert a100.peak_flops == 312e12 and a100.mem_bw_bytes_s == 2039e9
    assert a100.mem_bytes == 80 * 2**30 and a100.clock_hz == 1410e6  # 81,920 MiB
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
                         ({"hbm_stacks": 0}, "must be >= 1")]:
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


def _numbers():
    """The numeric fields of the accelerator (those without a list of choices)."""
    return [s for s in config_fields(AcceleratorConfig)
            if s.kind in (int, float) and s.allowed() is None]


def accelerator_corners() -> dict[str, dict[str, float]]:
    """Designs at the corners of the accelerator's ranges: every number at its lowest or
    highest allowed value, and the two mixes that push latency and energy furthest (the
    slowest, leakiest design; the fastest with the least static power)."""
    low = {s.name: s.ge if s.ge is not None else math.ulp(s.gt) for s in _numbers()}
    high = {s.name: s.le for s in _numbers()}
    big = ("array_cores", "array_rows", "array_cols", "vector_lanes", "sram_mib",
           "weight_sram_mib", "hbm_stacks", "hbm_gb_per_stack", "tree_nodes",
           "link_step_latency_s", "leakage_w_per_mm2", "hbm_background_w_per_stack")
    still = ("leakage_w_per_mm2", "hbm_background_w_per_stack", "link_step_latency_s",
             "sram_mib", "weight_sram_mib")
    return {"low": low, "high": high,
            "slow": {**low, **{k: high[k] for k in big}},
            "fast": {**high, **{k: low[k] for k in still}}}


def test_every_accelerator_number_has_a_physical_range():
    for spec in _numbers():
        assert (spec.ge is not None or spec.gt is not None) and spec.le is not None, spec.name
    # the audit's values, each refused naming the parameter the user set
    for name, value in [("bw_efficiency", 1e-320), ("compute_efficiency", 5e-324),
                        ("clock_hz", 1e-300), ("hbm_gbs_per_stack", 1e-308),
                        ("leakage_w_per_mm2", 1e308), ("array_cores", 1_000_000),
                        ("sram_bytes_per_cycle", 1e300)]:
        with pytest.raises(InputError) as exc:
            AcceleratorConfig(**{name: value})
        assert exc.value.field == name


@pytest.mark.parametrize("corner", ["low", "high", "slow", "fast"])
@pytest.mark.parametrize("extra", [{}, {"node_nm": 45, "dataflow": "ws"},
                                   {"node_nm": 3, "precision": "int8", "dataflow": "is",
                                    "verify_unit": "tree_verify_serial", "sampling_lanes": 4}])
def test_the_corners_of_the_ranges_price_finite_numbers_without_warnings(corner, extra):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hw = AcceleratorConfig(**accelerator_corners()[corner], **extra).build()
        for value in (hw.peak_flops, hw.mem_bw_bytes_s, hw.sram_bw_bytes_s, hw.area_mm2,
                      hw.static_power_w):
            assert 0 < value < math.inf
        for model in ("llama-2-70b", "mamba-2.8b"):
            for shape in (dict(tokens=1, context=1024, batch=1, phase="decode"),
                          dict(tokens=64, context=(1 << 24) - 64, batch=1, phase="verify"),
                          dict(tokens=512, context=0, batch=1024, phase="prefill")):
                cost = pass_cost(get_model(model), hw, **shape)
                assert 0 < cost.latency_s < math.inf and 0 < cost.energy_j < math.inf


def test_a_preset_is_its_csv_row_and_its_device_facts():
    """Each preset is declared once: the CSV's ``preset`` column and `DEVICE_FACTS`
    name the same devices, and the facts' links reach the built spec."""
    from specaccel.models.cost import hardware_presets as hp

    gpus = [n for n in hp.list_hardware() if n != "specaccel-default"]
    assert sorted(gpus) == sorted(hp.DEVICE_FACTS)
    for name in gpus:
        hw, facts = get_hardware(name), hp.DEVICE_FACTS[name]
        assert hw.n_cores == facts.n_cores and hw.gpu is facts.kernels
        assert hw.link_bw_bytes_s == hp.LINKS[facts.link].bw_bytes_s
        expected = hp.HOST_LINKS[facts.host_link] if facts.host_link else 0.0
        assert hw.host_link_bw_bytes_s == expected
    assert get_hardware("h100-sxm").host_link_bw_bytes_s == 63e9  # PCIe 5.0 x16
    assert get_hardware("rtx-2080-ti").host_link_bw_bytes_s == 15.75e9  # PCIe 3.0 x16
    assert hp.offload_capable_hardware() == [n for n in gpus if n != "tpuv4"]


def test_device_facts_reject_an_incomplete_declaration():
    from specaccel.models.cost import hardware_presets as hp

    kernels = hp.DEVICE_FACTS["a100-80gb"].kernels
    with pytest.raises(ValueError, match="either a kernel model or flat"):
        hp.DeviceFacts(n_cores=108, vec_flops=1e12, link="pcie4", host_link=None)
    with pytest.raises(ValueError, match="either a kernel model or flat"):
        hp.DeviceFacts(n_cores=108, vec_flops=1e12, link="pcie4", host_link=None,
                       kernels=kernels, efficiency=(0.5, 0.5))
    with pytest.raises(ValueError, match="132 SMs|108 SMs"):
        hp.DeviceFacts(n_cores=132, vec_flops=1e12, link="pcie4", host_link=None,
                       kernels=kernels)
    with pytest.raises(ValueError, match="unknown host link 'pcie9'"):
        hp.DeviceFacts(n_cores=108, vec_flops=1e12, link="pcie4", host_link="pcie9",
                       kernels=kernels)
    with pytest.raises(ValueError, match="unknown link"):
        hp.DeviceFacts(n_cores=108, vec_flops=1e12, link="usb", host_link=None,
                       kernels=kernels)


def test_a_csv_row_without_device_facts_fails_to_load(monkeypatch):
    from specaccel.models.cost import hardware_presets as hp

    facts = dict(hp.DEVICE_FACTS)
    del facts["l40"]
    monkeypatch.setattr(hp, "DEVICE_FACTS", facts)
    hp._csv_presets.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="must name the same devices"):
            hp._csv_presets()
    finally:
        monkeypatch.undo()
        hp._csv_presets.cache_clear()
    assert "l40" in hp.list_hardware()


def test_host_link_bandwidth_is_checked():
    with pytest.raises(InputError) as e:
        replace(get_hardware("a100-80gb"), host_link_bw_bytes_s=-1.0)
    assert e.value.field == "host_link_bw_bytes_s"
