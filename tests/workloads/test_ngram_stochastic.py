"""Stochastic real-text recording: speculative sampling keeps the target's distribution."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chisquare

from specaccel.models.golden import verify_trace
from specaccel.workloads.method_chain import FixedChain
from specaccel.workloads.method_eagle2 import DynamicTree
from specaccel.workloads.real_text import heldout_prompts
from specaccel.workloads.recorder_ngram import (
    RecordConfig,
    record_request,
    record_trace,
    tempered,
    train_models,
)


@pytest.fixture(scope="module")
def models():
    return train_models(vocab_size=2048, max_files=60)


@pytest.mark.parametrize("make", [lambda m: FixedChain(m.draft_lm, 3),
                                  lambda m: DynamicTree(m.draft_lm, 2, 3, 6)])
def test_first_committed_token_follows_the_tempered_target(models, make):
    temperature = 0.8
    # a context where the target is uncertain (most code contexts are near-deterministic)
    for _, prompt in heldout_prompts(models.corpus, 40, 32, seed=4):
        p = tempered(models.target.distribution(prompt.tolist()), temperature)
        if p.max() < 0.5 and np.sort(p)[-6:].sum() > 0.5:
            break
    else:
        raise AssertionError("no uncertain context among 40 prompts")
    top = np.argsort(-p)[:6]
    rng = np.random.default_rng(123)
    policy = make(models)
    n = 1500
    counts = np.zeros(7)
    for _ in range(n):
        _, gen = record_request(models.target, policy, prompt, 1, verification="stochastic",
                                temperature=temperature, rng=rng)
        hit = np.nonzero(top == gen[0])[0]
        counts[hit[0] if hit.size else 6] += 1
    expected = np.append(p[top], 1 - p[top].sum()) * n
    keep = expected > 5
    obs, exp = counts[keep], expected[keep]
    assert chisquare(obs, exp * obs.sum() / exp.sum()).pvalue > 1e-3


def test_stochastic_trace_replays_with_its_uniforms(models):
    cfg = RecordConfig(n_requests=3, prompt_len=32, max_new_tokens=60, seed=5,
                       verification="stochastic", temperature=1.0)
    trace = record_trace(models, lambda m: FixedChain(m.draft_lm, 4), cfg)
    assert trace.verification == "stochastic"
    out = verify_trace(trace)
    per_request = np.add.reduceat(out.committed, trace.request_step_offsets[:-1])
    assert np.all((per_request >= 60) & (per_request < 60 + 5))
    nodes = trace.nodes
    non_root = nodes["parent"] >= 0
    assert np.all(np.isfinite(nodes["uniform"][non_root]))
    assert np.all(np.isnan(nodes["uniform"][~non_root]))
    # deterministic drafts: acceptance probability is the target's (residual) probability
    assert np.all(nodes["draft_prob"][non_root] == 1.0)
    assert 0 < out.accepted.mean() < 4
