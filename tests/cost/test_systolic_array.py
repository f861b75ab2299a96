"""The accelerator's systolic-array model (`systolic_array`): folds, load, skew, drain."""

import math

import numpy as np
import pytest

from specaccel.models.cost import AcceleratorConfig, HardwareSpec, get_hardware
from specaccel.models.cost.operators import gemm_compute_time
from specaccel.models.cost.systolic_array import (
    DATAFLOW_CODES,
    DATAFLOWS,
    array_gemm_cycles_nb,
    gemm_cycles,
)
from specaccel.schema.errors import InputError


def test_one_fold_by_hand():
    # 8x8 array, GEMM 4 x 8 x 8: one fold in every dataflow.
    # os: stream K=8, skew 7, drain 7, no load            -> 22
    # ws: load 8, stream M=4, skew 7, drain 7             -> 26
    # is: load 8, stream N=8, skew 7, drain 7 (M=4 cols)  -> 30
    assert gemm_cycles(8, 8, "os", 4, 8, 8).cycles == 22
    assert gemm_cycles(8, 8, "ws", 4, 8, 8).cycles == 26
    assert gemm_cycles(8, 8, "is", 4, 8, 8).cycles == 30


def test_folds_follow_the_mapped_dimensions():
    # M=100, N=300, K=200 on 32 x 64: os folds M/32 x N/64, ws K/32 x N/64, is K/32 x M/64
    os_ = gemm_cycles(32, 64, "os", 100, 300, 200)
    ws = gemm_cycles(32, 64, "ws", 100, 300, 200)
    is_ = gemm_cycles(32, 64, "is", 100, 300, 200)
    assert (os_.row_folds, os_.col_folds) == (4, 5)
    assert (ws.row_folds, ws.col_folds) == (7, 5)
    assert (is_.row_folds, is_.col_folds) == (7, 2)
    assert os_.cycles == 20 * (200 + 31 + 63)
    assert ws.cycles == 35 * (32 + 100 + 31 + 63)
    assert is_.cycles == 14 * (32 + 300 + 31 + 63)


def test_breakdown_adds_up_and_utilisation_is_macs_over_pe_cycles():
    for df in DATAFLOWS:
        c = gemm_cycles(64, 128, df, 37, 2500, 1500, count=3, cores=4)
        assert c.load + c.stream + c.skew + c.drain == pytest.approx(c.cycles)
        assert c.waves == math.ceil(c.folds / 4)
        assert c.utilisation == pytest.approx(3 * 37 * 2500 * 1500 / (c.cycles * 64 * 128 * 4))
        assert 0 < c.utilisation <= c.mapping_efficiency <= 1
    assert gemm_cycles(64, 128, "os", 1, 4096, 4096).load == 0


def test_weight_load_makes_small_m_weight_stationary_slow():
    # decode (M=1) on a 128x128 WS array: each fold loads 128 weight rows to use them once
    c = gemm_cycles(128, 128, "ws", 1, 4096, 4096)
    assert c.load == c.waves * 128
    assert c.stream == c.waves * 1
    assert c.utilisation < 0.01
    # the same GEMM output-stationary streams K through 32 folds: far fewer cycles
    assert gemm_cycles(128, 128, "os", 1, 4096, 4096).cycles < c.cycles / 2


def test_more_cores_divide_the_folds_into_waves():
    one = gemm_cycles(64, 64, "ws", 16, 4096, 4096, cores=1)
    eight = gemm_cycles(64, 64, "ws", 16, 4096, 4096, cores=8)
    assert eight.waves == one.waves / 8
    assert eight.cycles == one.cycles / 8
    # 3 folds on 8 cores: one wave
    assert gemm_cycles(64, 64, "os", 64, 192, 512, cores=8).waves == 1


def test_numba_kernel_matches_the_reference():
    rng = np.random.default_rng(11)
    for _ in range(2000):
        rows, cols = int(rng.choice([8, 32, 64, 128])), int(rng.choice([8, 32, 128, 256]))
        df = str(rng.choice(DATAFLOWS))
        m, n, k = (float(x) for x in rng.integers(1, 20000, 3))
        count = float(rng.choice([1.0, 3.0, 2.7]))  # MoE: expected touched experts
        cores = int(rng.integers(1, 9))
        want = gemm_cycles(rows, cols, df, m, n, k, count, cores).cycles
        got = array_gemm_cycles_nb(float(rows), float(cols), DATAFLOW_CODES[df],
                                   float(cores), m, n, k, count)
        assert got == want


def test_cost_model_times_accelerator_gemms_with_the_array_model():
    for df in DATAFLOWS:
        hw = AcceleratorConfig(array_cores=2, array_rows=32, array_cols=64, dataflow=df,
                               vector_lanes=16).build()
        cycles = gemm_cycles(32, 64, df, 96, 1000, 700, count=2, cores=2).cycles
        assert gemm_compute_time(hw, 96, 1000, 700, 2) == pytest.approx(
            cycles / hw.clock_hz / hw.compute_efficiency, rel=1e-12)


def test_vector_unit_takes_gemv_when_faster():
    hw = get_hardware("specaccel-default")
    array_s = gemm_cycles(hw.tile_m, hw.tile_n, hw.dataflow, 1, 4096, 4096, 1,
                          hw.n_cores).cycles / hw.clock_hz
    vector_s = 2.0 * 4096 * 4096 / hw.vec_flops
    assert vector_s < array_s
    assert gemm_compute_time(hw, 1, 4096, 4096, 1) == pytest.approx(
        vector_s / hw.compute_efficiency)


def test_input_stationary_is_an_accelerator_dataflow_only():
    hw = AcceleratorConfig(dataflow="is").build()
    assert hw.dataflow == "is"
    gpu = get_hardware("a100-80gb").to_dict()
    gpu.pop("verify_unit_source")
    gpu["dataflow"] = "is"
    with pytest.raises(InputError, match="input-stationary") as err:
        HardwareSpec(**gpu)
    assert err.value.field == "dataflow"
    with pytest.raises(InputError, match="unknown dataflow"):
        gemm_cycles(8, 8, "rs", 1, 1, 1)


def test_empty_gemm_takes_no_cycles():
    assert gemm_cycles(8, 8, "ws", 0, 8, 8).cycles == 0
    assert gemm_cycles(8, 8, "os", 4, 8, 8, count=0).cycles == 0
