"""SamplingUnit in the Amaranth simulator against the golden bf16 token selection.

Every expectation comes from :func:`specaccel.models.golden.token_selection.select_token`
on the same logits (through :mod:`specaccel.hdl.sampling_vectors`)."""

import numpy as np
import pytest

from specaccel.hdl import sampling_vectors as sv
from specaccel.hdl.sampling_unit import SamplingUnit
from specaccel.models.golden import bf16


def _check(unit: SamplingUnit, reqs, *, seed: int, p_valid: float, p_ready: float):
    run = sv.run_sampling(unit, reqs, seed=seed, p_valid=p_valid, p_ready=p_ready)
    want = [r.expected(max_top_k=unit.max_top_k, token_width=unit.token_width) for r in reqs]
    assert len(run.results) == len(reqs)
    bad = [(i, g, w, reqs[i]) for i, (g, w) in enumerate(zip(run.results, want, strict=True))
           if not sv.matches(g, w)]
    assert not bad, bad[:2]
    return run, want


@pytest.mark.parametrize("lanes, max_top_k, token_width, n, p_valid, p_ready", [
    (4, 8, 10, 600, 0.8, 0.6),
    (1, 3, 8, 500, 1.0, 1.0),
    (8, 1, 9, 900, 0.7, 0.5),
    (16, 8, 12, 200, 1.0, 0.8),
])
def test_random_and_directed_vectors_match_golden(lanes, max_top_k, token_width, n, p_valid,
                                                  p_ready):
    unit = SamplingUnit(lanes=lanes, max_top_k=max_top_k, token_width=token_width)
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
        greedy = [r.expected(max_top_k=1, token_width=token_width)[0] for r in reqs]
        assert sum(g != w[0] for g, w in zip(greedy, want, strict=True)) > n // 10


@pytest.mark.parametrize("vocab", [
    pytest.param(32000, marks=pytest.mark.slow), 4000])
def test_real_vocabulary_at_64_lanes(vocab):
    """A 32k vocabulary at W = 64 (slow; 4,000 logits in the default run): one beat per
    cycle, and the greedy latency after the last beat."""
    unit = SamplingUnit(lanes=64, max_top_k=8)
    rng = np.random.default_rng(64)
    reqs = [sv.SamplingRequest(bf16.from_float(rng.normal(0, 3, vocab)), 8, 6000, 41000),
            sv.SamplingRequest(bf16.from_float(rng.normal(0, 3, vocab)), 1, 0, 0)]
    run, _ = _check(unit, reqs, seed=1, p_valid=1.0, p_ready=1.0)
    beats = run.beat_cycles
    assert len(beats) == 2 * -(-vocab // 64) and beats[-1] - beats[0] == len(beats) - 1
    assert run.result_cycles[1] - run.last_beat_cycles[1] == unit.latency_greedy


@pytest.mark.parametrize("lanes", [1, 4, 32])
def test_greedy_latency_and_one_beat_per_cycle(lanes):
    unit = SamplingUnit(lanes=lanes, max_top_k=8, token_width=12)
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
    unit = SamplingUnit(lanes=4, max_top_k=8, token_width=12)
    rng = np.random.default_rng(9)
    reqs = [sv.SamplingRequest(bf16.from_float(rng.normal(0, 1, 800)), 8, 3000, 12345)
            for _ in range(3)]
    run, _ = _check(unit, reqs, seed=0, p_valid=1.0, p_ready=1.0)
    assert run.beat_cycles[-1] - run.beat_cycles[0] == len(run.beat_cycles) - 1
    tail = run.result_cycles[0] - run.last_beat_cycles[0] - unit.latency_greedy
    assert 150 < tail < 250


def test_vocabulary_past_the_index_width_is_an_error():
    unit = SamplingUnit(lanes=4, max_top_k=2, token_width=4)
    f = bf16.from_float
    reqs = [sv.SamplingRequest(f(np.arange(17, dtype=np.float32)), 1),
            sv.SamplingRequest(f(np.arange(16, dtype=np.float32)), 1),
            sv.SamplingRequest(f(np.arange(40, dtype=np.float32)), 2, 100, 500)]
    run, _ = _check(unit, reqs, seed=0, p_valid=1.0, p_ready=1.0)
    assert [r[3] for r in run.results] == [1, 0, 1]
    assert run.results[1][0] == 15


@pytest.mark.parametrize("kwargs", [dict(lanes=3), dict(lanes=0), dict(lanes=128),
                                    dict(max_top_k=0), dict(max_top_k=9),
                                    dict(token_width=19), dict(lanes=True)])
def test_parameters_are_checked(kwargs):
    with pytest.raises(TypeError):
        SamplingUnit(**kwargs)
