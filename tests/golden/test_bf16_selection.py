"""The bf16 token-selection rule (order, fixed point, top-k, temperature weights, inverse CDF)
against independent definitions: float32 comparisons, exact fractions, sorting."""

import math
from fractions import Fraction

import numpy as np
import pytest

from specaccel.models.golden import bf16
from specaccel.models.golden.token_selection import (
    EXP2_TABLE,
    EXP_FRAC,
    MAX_TOP_K,
    NO_TOKEN,
    UNIFORM_WIDTH,
    WEIGHT_FRAC,
    candidate_weights,
    exp2_weight,
    inv_temp_fixed,
    select_token,
    top_k_candidates,
    uniform_fixed,
)

ALL = np.arange(1 << 16)
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered in cast")


def test_order_key_is_the_order_of_the_values_on_every_pattern():
    vals = bf16.to_float(ALL).astype(np.float64)
    keys = bf16.order_key(ALL)
    nan = np.isnan(vals)
    assert nan.sum() == 254  # 127 non-zero mantissas x 2 signs
    assert (keys[nan] == bf16.NAN_KEY).all()
    num = ~nan
    order = np.argsort(vals[num], kind="stable")
    sk = keys[num][order]
    sv = vals[num][order]
    assert (np.diff(sk) >= 0).all()
    # equal keys exactly for equal values (only +0 and -0 share a value)
    same_key = np.diff(sk) == 0
    assert (same_key == (np.diff(sv) == 0)).all() and same_key.sum() == 1
    assert keys[num].min() > bf16.NAN_KEY  # NaN is below -inf


def _exact_fixed(pattern: int) -> int:
    v = float(bf16.to_float(np.array([pattern]))[0])
    if math.isnan(v):
        return bf16.FIXED_MIN
    if math.isinf(v):
        return bf16.FIXED_MAX if v > 0 else bf16.FIXED_MIN
    q = math.floor(Fraction(v) * (1 << bf16.FIXED_FRAC))
    return max(bf16.FIXED_MIN, min(bf16.FIXED_MAX, q))


def test_to_fixed_is_floor_and_saturation_on_every_pattern():
    got = bf16.to_fixed(ALL)
    step = 97  # every 97th pattern exactly by Fraction, plus all exponents' boundaries
    picks = set(range(0, 1 << 16, step)) | {e << 7 | m for e in range(256) for m in (0, 1, 127)}
    picks |= {p | 0x8000 for p in list(picks)}
    for p in sorted(picks):
        assert got[p] == _exact_fixed(p), hex(p)
    # monotone in the order key: differences of ranked candidates are never negative
    order = np.argsort(bf16.order_key(ALL), kind="stable")
    assert (np.diff(got[order]) >= 0).all()


def test_from_float_rounds_to_nearest_even():
    x = np.array([1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8, -1.0 - 2.0 ** -8, 3.4e38, np.nan],
                 dtype=np.float32)
    b = bf16.from_float(x)
    assert list(b[:3]) == [0x3F80, 0x3F82, 0xBF80]
    assert b[3] == 0x7F80 and bf16.is_nan(b[4:]).all()  # 3.4e38 rounds up to +inf


def _ranked(bits) -> list[int]:
    vals = bf16.to_float(np.asarray(bits)).astype(np.float64)
    key = [(-np.inf, i) if np.isnan(v) else (v, i) for i, v in enumerate(vals)]
    nan_last = sorted(range(len(vals)), key=lambda i: (np.isnan(vals[i]), -key[i][0], i))
    return nan_last


def test_top_k_ranks_by_value_then_lower_index():
    rng = np.random.default_rng(3)
    for _ in range(1500):
        v = int(rng.integers(1, 60))
        pool = np.array([0x3F80, 0xBF80, 0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0x4000],
                        np.int64)
        bits = rng.choice(pool, v) if rng.random() < 0.5 else rng.integers(0, 1 << 16, v)
        k = int(rng.integers(1, MAX_TOP_K + 1))
        assert list(top_k_candidates(bits, k)) == _ranked(bits)[:k]
    # the partition fast path agrees with full ranking on long vocabularies
    bits = bf16.from_float(rng.integers(-5, 5, 5000).astype(np.float32))
    assert list(top_k_candidates(bits, 8)) == _ranked(bits)[:8]


def test_exp_table_and_weights():
    assert EXP2_TABLE[0] == 1 << WEIGHT_FRAC and len(EXP2_TABLE) == 64
    assert all(a > b for a, b in zip(EXP2_TABLE, EXP2_TABLE[1:], strict=False))
    assert exp2_weight(0) == 1 << WEIGHT_FRAC
    assert exp2_weight(1 << EXP_FRAC) == 1 << (WEIGHT_FRAC - 1)  # 2**-1
    assert exp2_weight((WEIGHT_FRAC + 1) << EXP_FRAC) == 0
    # weights follow exp(-(x0 - xi) / T) to the table's precision (1/64 of an octave)
    x = bf16.from_float([4.0, 3.0, 1.5, -2.0])
    w = candidate_weights(x, inv_temp_fixed(1.0))
    want = [math.exp(-(4.0 - v)) * (1 << WEIGHT_FRAC) for v in (4.0, 3.0, 1.5, -2.0)]
    for g, t in zip(w, want, strict=True):
        assert abs(g - t) <= 0.012 * t + 2
    assert set(candidate_weights(x, 0)) == {1 << WEIGHT_FRAC}  # infinite temperature


def test_inverse_cdf_over_all_uniforms_gives_the_weights():
    rng = np.random.default_rng(5)
    for _ in range(6):
        bits = bf16.from_float(rng.normal(0, 1, 30))
        k = int(rng.integers(2, MAX_TOP_K + 1))
        it = int(rng.integers(1, 1 << 14))
        sel = select_token(bits, top_k=k, inv_temp=it, uniform=0)
        total = sum(sel.weights)
        hits = {}
        for u in range(0, 1 << UNIFORM_WIDTH, 29):
            tok = select_token(bits, top_k=k, inv_temp=it, uniform=u).token
            hits[tok] = hits.get(tok, 0) + 1
        n = len(range(0, 1 << UNIFORM_WIDTH, 29))
        for c, wgt in zip(sel.candidates, sel.weights, strict=True):
            assert abs(hits.get(c, 0) / n - wgt / total) < 4e-3
        assert sel.token == sel.candidates[0]  # u = 0 picks the top candidate
        last = select_token(bits, top_k=k, inv_temp=it, uniform=(1 << UNIFORM_WIDTH) - 1)
        nz = [c for c, wgt in zip(sel.candidates, sel.weights, strict=True) if wgt]
        assert last.token == nz[-1]  # the largest u picks the last candidate with weight


def test_greedy_and_edges():
    f = bf16.from_float
    assert select_token(f([1.0, 3.0, 3.0, 2.0])).token == 1
    assert select_token(f([1.0, 3.0]), top_k=1, inv_temp=9, uniform=60000).token == 1
    assert select_token(np.array([0xFF80, 0x7FC0, 0xFF80])).token == 0  # -inf above NaN
    s = select_token(np.array([0x7FC0, 0xFFC0]))
    assert s.token == 0 and s.nan
    assert select_token(np.array([0x8000, 0x0000])).token == 0  # -0 ties +0
    assert select_token(np.zeros(0, np.uint16)) .token == NO_TOKEN
    assert inv_temp_fixed(1.0) == round(math.log2(math.e) * 4096)
    assert uniform_fixed(0.5) == 1 << (UNIFORM_WIDTH - 1)
    for bad in (dict(top_k=0), dict(top_k=MAX_TOP_K + 1), dict(uniform=1 << UNIFORM_WIDTH),
                dict(inv_temp=-1)):
        with pytest.raises(ValueError):
            select_token(f([1.0, 2.0]), **bad)
    with pytest.raises(TypeError):
        select_token(np.array([1.5, 2.0]))
    with pytest.raises(ValueError):
        inv_temp_fixed(0.0)
