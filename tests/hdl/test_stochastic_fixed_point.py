"""The software side of stochastic verification (quantisation, uniforms) and its contract
with the golden model; the hardware side is in the Amaranth and cocotb benches."""

import numpy as np
import pytest

from specaccel.hdl.stochastic_fixed_point import quantise_tree, to_fixed
from specaccel.hdl.uniform_lfsr import UniformLFSR, lfsr_advance_masks
from specaccel.models.golden import verify_tree
from specaccel.schema.trace import DraftTree
from specaccel.workloads.presets import generate_trace


@pytest.mark.parametrize("w", [8, 12, 16])
def test_quantised_values_are_exact_fractions(w):
    rng = np.random.default_rng(w)
    x = np.concatenate([rng.random(1000), [0.0, 1.0, 1 - 1e-12]])
    v = to_fixed(x, w)
    assert v.min() >= 0 and v.max() == (1 << w) - 1
    assert np.all(v / 2.0**w <= x) and np.all(x - v / 2.0**w <= 2.0**-w + 1e-15)
    # products of two w-bit fractions are exact in float64: u*q*2**(2w) is an integer
    prod = (v[:-1] / 2.0**w) * (v[1:] / 2.0**w) * 2.0 ** (2 * w)
    assert np.array_equal(prod, (v[:-1] * v[1:]).astype(np.float64))


def test_quantised_trace_decides_like_floats_except_near_ties():
    """Paths on the quantised tree equal the float paths unless some node is within the
    quantisation error (2 * 2**-w) of its acceptance threshold."""
    w = 12
    trace = generate_trace("eagle-vicuna-7b-mtbench-t1", n_requests=4, steps_per_request=60,
                           seed=3)
    equal = near_ties = 0
    for s in range(trace.n_steps):
        tree = trace.step(s)
        qtree, values = quantise_tree(tree, w)
        a, b = verify_tree(tree, "stochastic"), verify_tree(qtree, "stochastic")
        margin = np.abs(tree.uniform[1:] * tree.draft_prob[1:] - tree.target_prob[1:])
        if np.any(margin < 2.0 * 2.0**-w):
            near_ties += 1
            continue
        assert a.path.tolist() == b.path.tolist() and a.bonus_token == b.bonus_token
        equal += 1
    assert equal > 0.8 * trace.n_steps


def test_lfsr_bit_serial_model_equals_its_gf2_form():
    steps = 8 * 12
    outputs, next_state = lfsr_advance_masks(steps)
    ref = UniformLFSR(0x1234_5678_9ABC_DEF1)
    state = ref.state
    bits = [ref.bit() for _ in range(steps)]
    assert bits == [bin(state & m).count("1") & 1 for m in outputs]
    after = sum((bin(state & m).count("1") & 1) << j for j, m in enumerate(next_state))
    assert after == ref.state


def test_lfsr_uniforms_give_the_speculative_sampling_acceptance_rate():
    """With the LFSR's uniforms, the golden chain rule accepts with probability min(1, p/q)."""
    w = 12
    lfsr = UniformLFSR()
    u = np.array(lfsr.uniforms(6000, w))
    counts, _ = np.histogram(u, bins=16, range=(0, 1 << w))
    chi2 = float(np.sum((counts - 6000 / 16) ** 2 / (6000 / 16)))
    assert chi2 < 37.7  # 15 degrees of freedom, p = 0.001
    for p, q in [(0.3, 0.6), (0.45, 0.5), (0.8, 0.4)]:
        accepted = 0
        for k in range(2000):
            tree = DraftTree.build([-1, 0], [0, 1], [1, 2], draft_prob=[1.0, q],
                                   target_prob=[1.0, p], uniform=[np.nan, u[k] / 2.0**w])
            qtree, _ = quantise_tree(tree, w)
            accepted += verify_tree(qtree, "stochastic").accepted
        rate = min(1.0, p / q)
        sigma = max(np.sqrt(rate * (1 - rate) / 2000), 1e-3)
        assert abs(accepted / 2000 - rate) < 4 * sigma + 2.0**-w * 4
