"""The accelerator's verify unit is a design choice: whole tree per cycle or node-serial."""

import math

import pytest

from specaccel.analysis.sweep_spec import parse_spec
from specaccel.hdl.characterisation import load_characterisation
from specaccel.models.cost import AcceleratorConfig
from specaccel.models.cost.hardware_spec import verify_units
from specaccel.schema.errors import InputError


def _cycles(hw, n):
    return hw.verify_unit_latency_s(n) * hw.clock_hz


def _table(unit, device="ice40-hx8k"):
    return {int(r["nodes"]): r for r in load_characterisation()
            if r["unit"] == unit and r["device"] == device}


def test_both_units_are_characterised_rtl():
    for unit in verify_units():
        assert len(_table(unit)) >= 5
        assert AcceleratorConfig(verify_unit=unit).build().verify_unit_source == \
            "rtl-characterisation"


@pytest.mark.parametrize("n", [1, 2, 5, 16, 17, 25, 64, 100])
def test_serial_unit_takes_one_cycle_per_node_plus_the_measured_constant(n):
    hw = AcceleratorConfig(verify_unit="tree_verify_serial", tree_nodes=128).build()
    table = _table("tree_verify_serial")
    full = min(k for k in table if k >= n)
    constant = float(table[full]["latency_cycles"]) - full
    compaction = float(next(r["latency_cycles"] for k, r in sorted(_table("kv_compact").items())
                            if k >= min(n, max(_table("kv_compact")))))
    assert _cycles(hw, n) == pytest.approx(n + constant + compaction)


def test_parallel_unit_latency_grows_with_log_n_serial_with_n():
    par = AcceleratorConfig(verify_unit="tree_verify", tree_nodes=128).build()
    ser = AcceleratorConfig(verify_unit="tree_verify_serial", tree_nodes=128).build()
    assert _cycles(par, 64) - _cycles(par, 8) <= math.log2(64 / 8) + 1
    assert _cycles(ser, 64) - _cycles(ser, 8) == pytest.approx(56)


def test_serial_unit_is_smaller_at_64_nodes():
    from specaccel.models.cost import area

    par = AcceleratorConfig(verify_unit="tree_verify").area_breakdown()["verify_unit"]
    ser = AcceleratorConfig(verify_unit="tree_verify_serial").area_breakdown()["verify_unit"]
    assert ser < par

    # the area is the characterised unit alone (plus the same compaction unit), LUTs,
    # flip-flops, carry cells and block RAM all counted, on the iCE40 rows
    def mm2(unit):
        r = _table(unit)[64]
        return area.fpga_logic_area_mm2({c: float(r[c]) for c in area.UNIT_RESOURCES}, 7)

    kv = mm2("kv_compact")
    assert par == pytest.approx(mm2("tree_verify") + kv, rel=1e-12)
    assert ser == pytest.approx(mm2("tree_verify_serial") + kv, rel=1e-12)


def test_unknown_verify_unit_is_bad_input():
    with pytest.raises(InputError) as exc:
        AcceleratorConfig(verify_unit="systolic")
    assert exc.value.field == "verify_unit" and "tree_verify_serial" in exc.value.reason


SPEC = """
[sweep]
name = "verify-unit"
metrics = ["tokens_per_s", "area_mm2"]
[fixed]
hardware = "specaccel-default"
[axes]
verify_unit = {units}
precision = ["bf16", "int8"]
[[workloads]]
preset = "eagle-vicuna-7b-mtbench"
requests = 1
steps = 4
"""


def test_a_sweep_can_choose_the_verify_unit_and_the_precision():
    spec = parse_spec(SPEC.format(units='["tree_verify", "tree_verify_serial"]'), "v.toml")
    assert sorted({p["verify_unit"] for p in spec.points()}) == sorted(verify_units())
    assert len(spec.points()) == 4


@pytest.mark.parametrize("units, reason", [('["systolic"]', "unknown verify unit"),
                                           ("[3]", "must be a string")])
def test_a_bad_verify_unit_in_a_sweep_names_the_line(units, reason):
    with pytest.raises(InputError, match=reason) as exc:
        parse_spec(SPEC.format(units=units), "v.toml")
    assert "v.toml" in str(exc.value)
