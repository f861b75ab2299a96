"""SamplingUnit in the Amaranth simulator against the golden bf16 token selection.

Every expectation comes from :func:`specaccel.models.golden.token_selection.select_token`
on the same logits (through the unit's vector model, :mod:`specaccel.hdl.units.sampling.model`).
The cocotb bench (``tests/hdl/test_benches.py``) runs the generated Verilog."""

import numpy as np
import pytest

from specaccel.hdl.units.sampling import model as sv
from specaccel.hdl.units.sampling.gateware import SamplingUnit
from specaccel.models.golden import bf16


def _check(unit: SamplingUnit, reqs, *, seed: int, p_valid: float, p_ready: float):
    run = sv.run_sampling(unit, reqs, seed=seed, p_valid=p_valid, p_ready=p_ready)
    want = [r.expected(max_top_k=unit.max_top_k, vocab=unit.vocab) for r in reqs]
    assert len(run.results) == len(reqs)
    bad = [(i, g, w, reqs[i]) for i, (g, w) in enumerate(zip(run.results, want, strict=True))
           if not sv.matches(g, w)]
    assert not bad, bad[:2]
    return run, want


@pytest.mark.parametrize("lanes, max_top_k, vocab, n, p_valid, p_ready", [
    (4, 8, 1 << 10, 600, 0.8, 0.6),
    (1, 3, 1 << 8, 500, 1.0, 1.0),
    (8, 1, 1 << 9, 900, 0.7, 0.5),
    (16, 8, 1 << 12, 200, 1.0, 0.8),
])
def test_random_and_directed_vectors_match_golden(lanes, max_top_k, vocab, n, p_valid,
                                                  p_ready):
    unit = SamplingUnit(lanes=lanes, max_top_k=max_top_k, vocab=vocab)
    rng = np.random.default_rng(lanes * 100 + max_top_k)
    reqs = (sv.edge_case_requests(lanes=lanes, max_top_k=max_top_k)
            + sv.random_requests(rng, n, lanes=lanes, max_top_k=max_top_k,
                                 max_vocab=6 * lanes + 5))
    _, want = _check(unit, reqs, seed=n, p_valid=p_valid, p_ready=p_ready)
    # the vectors reach the corners: vocabularies that are not a multiple of W, NaNs,
    # sampled picks that are not the argmax, empty requests
    assert lanes == 1 or sum(len(r.logits) % lanes != 0 for r in reqs) > n // 3
    assert sum(w[2] for w in want) > n // 20
    assert sum(w[1] == 0 for w in want) >= 2
    if max_top_k > 1:
        greedy = [r.expected(max_top_k=1, vocab=vocab)[0] for r in reqs]
        assert sum(g != w[0] for g, w in zip(greedy, want, strict=True)) > n // 10


@pytest.mark.parametrize("vocab", [
    pytest.param(32000, marks=pytest.mark.slow), 4000])
def test_real_vocabulary_at_64_lanes(vocab):
    """A 32k vocabulary at W = 64 (slow; 4,000 logits in the default run): one beat per
    cycle through a greedy and a top-8 request, the greedy latency after the last beat and
    the top-8 tail after it (its result cannot come before the tail is done)."""
    unit = SamplingUnit(lanes=64, max_top_k=8)
    rng = np.random.default_rng(64)
    reqs = [sv.SamplingRequest(bf16.from_float(rng.normal(0, 3, vocab)), 1, 0, 0),
            sv.SamplingRequest(bf16.from_float(rng.normal(0, 3, vocab)), 8, 6000, 41000)]
    run, _ = _check(unit, reqs, seed=1, p_valid=1.0, p_ready=1.0)
    beats = run.beat_cycles
    assert len(beats) == 2 * -(-vocab // 64) and beats[-1] - beats[0] == len(beats) - 1
    lat = [r - b for r, b in zip(run.result_cycles, run.last_beat_cycles, strict=True)]
    assert lat[0] == unit.latency_greedy and lat[1] > unit.latency_greedy + 100


@pytest.mark.parametrize("lanes", [1, 4, 32])
def test_greedy_latency_and_one_beat_per_cycle(lanes):
    unit = SamplingUnit(lanes=lanes, max_top_k=8, vocab=1 << 12)
    rng = np.random.default_rng(lanes)
    reqs = [sv.SamplingRequest(bf16.from_float(rng.normal(0, 1, 12 * lanes + 1)), 1, 0, 0)
            for _ in range(6)]
    run, _ = _check(unit, reqs, seed=0, p_valid=1.0, p_ready=1.0)
    lat = {r - b for r, b in zip(run.result_cycles, run.last_beat_cycles, strict=True)}
    assert lat == {unit.latency_greedy} == {unit.tree_levels + 5}
    assert run.beat_cycles[-1] - run.beat_cycles[0] == len(run.beat_cycles) - 1


def test_top_k_tail_overlaps_the_next_stream():
    """With 8 candidates the tail takes about 190 cycles; a 200-beat request behind it
    streams without a gap."""
    unit = SamplingUnit(lanes=4, max_top_k=8, vocab=1 << 12)
    rng = np.random.default_rng(9)
    reqs = [sv.SamplingRequest(bf16.from_float(rng.normal(0, 1, 800)), 8, 3000, 12345)
            for _ in range(3)]
    run, _ = _check(unit, reqs, seed=0, p_valid=1.0, p_ready=1.0)
    assert run.beat_cycles[-1] - run.beat_cycles[0] == len(run.beat_cycles) - 1
    tail = run.result_cycles[0] - run.last_beat_cycles[0] - unit.latency_greedy
    assert 150 < tail < 250


def test_requests_past_the_vocabulary_are_errors():
    unit = SamplingUnit(lanes=4, max_top_k=2, vocab=16)
    f = bf16.from_float
    reqs = [sv.SamplingRequest(f(np.arange(17, dtype=np.float32)), 1),
            sv.SamplingRequest(f(np.arange(16, dtype=np.float32)), 1),
            sv.SamplingRequest(f(np.arange(40, dtype=np.float32)), 2, 100, 500)]
    run, _ = _check(unit, reqs, seed=0, p_valid=1.0, p_ready=1.0)
    assert [r[3] for r in run.results] == [1, 0, 1]
    assert run.results[1][0] == 15


def test_a_vocabulary_that_is_not_a_power_of_two():
    """vocab = 13: 4-bit indices, and the 14th logit is an error although 4 bits could
    index it."""
    unit = SamplingUnit(lanes=4, max_top_k=2, vocab=13)
    assert unit.token_width == 4
    f = bf16.from_float
    reqs = [sv.SamplingRequest(f(np.arange(13, dtype=np.float32)), 1),
            sv.SamplingRequest(f(np.arange(14, dtype=np.float32)), 1)]
    run, _ = _check(unit, reqs, seed=0, p_valid=1.0, p_ready=1.0)
    assert [r[3] for r in run.results] == [0, 1] and run.results[0][0] == 12


def test_greedy_mode_answers_the_argmax_whatever_top_k_says():
    unit = SamplingUnit(lanes=4, mode="greedy", max_top_k=8, vocab=64)
    assert unit.max_top_k == 1
    rng = np.random.default_rng(3)
    reqs = [sv.SamplingRequest(bf16.from_float(rng.normal(0, 1, 30)), 8, 3000, u)
            for u in (0, 40000, 65535)]
    run, want = _check(unit, reqs, seed=0, p_valid=1.0, p_ready=1.0)
    argmax = [r.expected(max_top_k=1, vocab=64) for r in reqs]
    sampled = [r.expected(max_top_k=8, vocab=64) for r in reqs]
    assert want == argmax and sampled != argmax  # a stochastic unit would answer otherwise


@pytest.mark.parametrize("kwargs", [dict(lanes=3), dict(lanes=0), dict(lanes=128),
                                    dict(max_top_k=0), dict(max_top_k=9),
                                    dict(vocab=(1 << 18) + 1), dict(vocab=0),
                                    dict(mode="top-k"), dict(lanes=True)])
def test_parameters_are_checked(kwargs):
    with pytest.raises(TypeError):
        SamplingUnit(**kwargs)


def _unit_row(lanes, device, pnr, seeds=0, fmax=None):
    return {"kind": "unit", "lanes": lanes, "max_top_k": 8, "token_width": 18, "vocab": None,
            "top_k": None, "device": device, "pnr": pnr, "pnr_seeds": seeds,
            "fmax_median_mhz": fmax, "bare_luts": 100}


def test_merged_rows_keep_what_each_part_measured():
    """A part's rows replace those that know less, never those that know more; the header
    says what the rows hold."""
    from specaccel.hdl.sampling_characterisation import merge_rows, table_note

    old = [_unit_row(4, "ecp5", "not run"), _unit_row(4, "ice40-hx8k", "placed", 5, 60.0),
           _unit_row(32, "ice40-hx8k", "does not fit"),
           {"kind": "cycles", "lanes": 4, "max_top_k": 8, "vocab": 32000, "top_k": 1,
            "device": "", "cycles": 16007}]
    new = [_unit_row(4, "ecp5", "placed", 5, 83.0), _unit_row(4, "ice40-hx8k", "not run"),
           _unit_row(8, "ecp5", "placed", 1, 80.0)]
    rows = merge_rows(old, new)
    by = {(r["kind"], r["lanes"], r["device"]): r for r in rows}
    assert len(rows) == 5 and rows[0]["kind"] == "cycles"
    assert by["unit", 4, "ecp5"]["fmax_median_mhz"] == 83.0
    assert by["unit", 4, "ice40-hx8k"]["fmax_median_mhz"] == 60.0  # not lost to "not run"
    assert by["unit", 32, "ice40-hx8k"]["pnr"] == "does not fit"
    # one seed does not replace five
    again = merge_rows(rows, [_unit_row(4, "ecp5", "placed", 1, 70.0)])
    assert {(r["lanes"], r["device"]): r for r in again}[4, "ecp5"]["pnr_seeds"] == 5
    note = table_note(rows, ["python -m specaccel.hdl.sampling_characterisation --lanes 4"])
    last = note.splitlines()[-1]
    assert "ice40-hx8k: placed W=4 over 5 seeds; does not fit W=32" in last
    assert "ecp5: placed W=4 over 5 seeds; W=8 over 1 seed" in last


def test_bundled_table_says_what_is_placed():
    """Every unit row of the bundled table is placed (with its Fmax over its seeds), does
    not fit, or is declared not run; its header's last line is made from the rows."""
    from importlib import resources

    from specaccel.hdl.sampling_characterisation import table_note
    from specaccel.hdl.synthesis import PNR, too_big_is_stated
    from specaccel.models.cost.sampling_unit_table import load_sampling_table

    text = resources.files("specaccel.data").joinpath(
        "sampling-characterisation.csv").read_text()
    rows = load_sampling_table()
    header = [ln[2:] for ln in text.splitlines() if ln.startswith("# ")]
    assert header[-1] == table_note(rows, []).splitlines()[-1]
    units = [r for r in rows if r["kind"] == "unit"]
    assert {r["lanes"] for r in units} == {4, 8, 16, 32, 64}
    for r in units:
        if r["device"] not in PNR:
            assert r["pnr"] == "not run" and r["fmax_median_mhz"] is None
        elif r["pnr"] == "placed":
            assert r["pnr_seeds"] >= 1
            assert 10 < r["fmax_min_mhz"] <= r["fmax_median_mhz"] <= r["fmax_max_mhz"] < 500
            # the harness adds registers; its LUT4s may be fewer than the unit's alone (on
            # the ECP5 the area mapping, -nowidelut, gives up the wide-LUT muxes; on both
            # families the two netlists are optimised separately: W = 8 on the iCE40 places
            # 4,796 LUT4s against the unit's 4,799)
            assert r["harness_ffs"] > r["bare_ffs"] and r["harness_luts"] > 0
        else:
            assert r["pnr"] in ("does not fit", "not run") and r["fmax_median_mhz"] is None
            if r["pnr"] == "does not fit":  # the placed design, else the unit alone; or
                # nextpnr packed the harness into more cells than the part has (header)
                assert too_big_is_stated(r, text, f"sampling W={r['lanes']}")
