"""Self-speculation: LayerSkip presets vs the published α, skip-set costs, DEL's dynamic exit."""

from __future__ import annotations

import numpy as np
import pytest

from specaccel.models.cost import get_hardware, pass_costs
from specaccel.models.golden import verify_trace
from specaccel.schema.errors import InputError
from specaccel.workloads import get_preset, validate_trace
from specaccel.workloads.method_self_speculation import (
    LAYERSKIP_LLAMA_1_5B,
    ExitAcceptance,
    LayerSet,
    del_schedule,
    del_trace,
    difficulty_path,
    expected_tokens,
    layerskip_points,
    self_spec_costs,
    u_shaped_importance,
)


def _alpha_hat(accepted: np.ndarray, gamma: np.ndarray) -> float:
    """Per-token acceptance estimated from chain outcomes (truncated geometric MLE)."""
    return float(accepted.sum() / (accepted + (accepted < gamma)).sum())


@pytest.mark.parametrize("point", layerskip_points(), ids=lambda p: f"e{p.exit_layer}")
def test_layerskip_preset_matches_published_alpha(point):
    preset = get_preset(f"layerskip-e{point.exit_layer}")
    assert preset.alpha == pytest.approx(point.alpha)
    trace = preset.generate(n_requests=16, steps_per_request=64, seed=3)
    validate_trace(trace)
    out = verify_trace(trace)
    gamma = np.full(trace.n_steps, preset.draft_length)
    assert _alpha_hat(out.accepted, gamma) == pytest.approx(point.alpha, rel=0.05)
    assert out.committed.mean() == pytest.approx(preset.expected_tau(), rel=0.05)
    assert trace.metadata["kv_reuse"] is True
    assert 1.0 < preset.speedup() < 4.0


def test_earlier_exit_is_cheaper_but_less_accepted():
    acc = ExitAcceptance.layerskip()
    alphas = [acc.alpha_at_exit(e) for e in (3, 6, 9, 12, 18, 24)]
    assert np.all(np.diff(alphas) > 0) and alphas[-1] == pytest.approx(1.0, abs=1e-5)
    drafts = [self_spec_costs(LAYERSKIP_LLAMA_1_5B, "a100-80gb", LayerSet.prefix(e, 24),
                              np.array([4]), 256.0)[0] for e in (6, 12, 18)]
    assert drafts[0] < drafts[1] < drafts[2]


def test_skip_set_cost_follows_the_layer_count_and_has_no_kv_reuse():
    hw = get_hardware("a100-80gb")
    middle = LayerSet(tuple(i for i in range(24) if not 6 <= i < 18), 24)
    prefix = LayerSet.prefix(12, 24)
    assert not middle.is_prefix and prefix.is_prefix
    d_mid, v_mid, full = self_spec_costs(LAYERSKIP_LLAMA_1_5B, "a100-80gb", middle,
                                         np.array([5]), 256.0)
    d_pre, v_pre, _ = self_spec_costs(LAYERSKIP_LLAMA_1_5B, "a100-80gb", prefix,
                                      np.array([5]), 256.0)
    direct = pass_costs(LAYERSKIP_LLAMA_1_5B, hw, tokens=1, context=256.0, layers=12)
    assert d_mid == d_pre == pytest.approx(float(direct["latency_s"][0]))
    assert v_mid[0] > v_pre[0]  # the skip set recomputes every layer at verification
    # U-shaped importance: skipping the middle keeps more of what matters than exiting
    u = ExitAcceptance.layerskip(u_shaped_importance(24))
    assert u.alpha(middle) > u.alpha(prefix) == pytest.approx(u.alpha_at_exit(12))
    assert get_preset("swift-skip-middle-half").alpha == pytest.approx(u.alpha(middle))


def test_del_dynamic_exit_beats_every_static_exit_on_the_same_text():
    acc = ExitAcceptance.layerskip()
    difficulty = difficulty_path(3000, np.random.default_rng(7))
    sched = del_schedule(difficulty, acc)
    trace = del_trace(sched, n_requests=4, seed=1)
    out = verify_trace(trace)
    assert trace.metadata["exit_layer"] == sched.exit_layer.tolist()
    assert np.array_equal(trace.nodes_per_step() - 1, sched.gamma)

    def speed(s, o) -> float:
        return float(o.committed.sum() / s.step_s.sum() * s.autoregressive_s)

    dyn = speed(sched, out)
    best_static = max(
        speed(s, verify_trace(del_trace(s, n_requests=4, seed=1)))
        for s in (del_schedule(difficulty, acc, static=(e, g))
                  for e in (6, 12, 18) for g in (2, 4, 6, 8)))
    assert dyn > 1.03 * best_static
    # DEL exits earlier on easy text and later on hard text
    easy = difficulty < np.median(difficulty)
    assert sched.exit_layer[easy].mean() < sched.exit_layer[~easy].mean()
    assert len(set(sched.exit_layer.tolist())) >= 3
    # the realised acceptance follows the per-step α
    assert out.committed.mean() == pytest.approx(
        expected_tokens(sched.alpha, sched.gamma).mean(), rel=0.05)


def test_bad_inputs():
    with pytest.raises(InputError, match="exit_layer|must be in"):
        LayerSet.prefix(30, 24)
    with pytest.raises(InputError):
        LayerSet((), 24)
    with pytest.raises(InputError, match="unknown preset 'nope'"):
        get_preset("nope")
