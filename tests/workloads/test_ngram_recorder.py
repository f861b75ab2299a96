"""Real-text traces: speculative decoding with the n-gram pair reproduces greedy decoding,
and the recorded acceptance shows real (non-i.i.d.) dynamics."""

from __future__ import annotations

import numpy as np
import pytest

from specaccel.models.golden import verify_trace
from specaccel.workloads.method_chain import AdaptiveChain, FixedChain
from specaccel.workloads.method_eagle2 import DynamicTree
from specaccel.workloads.method_prompt_lookup import PromptLookup
from specaccel.workloads.method_static_tree import EAGLE_TREE_25, StaticTree, specinfer_choices
from specaccel.workloads.real_text import heldout_prompts
from specaccel.workloads.recorder_ngram import (
    RecordConfig,
    greedy_decode,
    record_request,
    record_trace,
)


@pytest.fixture(scope="module")
def chain_trace(models):
    cfg = RecordConfig(n_requests=16, prompt_len=48, max_new_tokens=150, seed=0)
    return record_trace(models, lambda m: FixedChain(m.draft_lm, 6), cfg)


@pytest.fixture(scope="module")
def sampled_chain_trace(models):
    cfg = RecordConfig(n_requests=16, prompt_len=48, max_new_tokens=150, seed=0,
                       verification="stochastic", temperature=1.0)
    return record_trace(models, lambda m: FixedChain(m.draft_lm, 6), cfg)


POLICIES = {
    "chain": lambda m: FixedChain(m.draft_lm, 5),
    "adaptive": lambda m: AdaptiveChain(m.draft_lm, 8, 0.4),
    "specinfer": lambda m: StaticTree(m.draft_lm, specinfer_choices(3, 4)),
    "eagle": lambda m: StaticTree(m.draft_lm, EAGLE_TREE_25),
    "eagle2": lambda m: DynamicTree(m.draft_lm, depth=4, top_k=4, total_tokens=20),
}


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_speculative_output_equals_plain_greedy(models, name):
    for _, prompt in heldout_prompts(models.corpus, 3, 40, seed=7):
        trees, generated = record_request(models.target, POLICIES[name](models), prompt, 120)
        assert generated.shape[0] >= 120
        assert np.array_equal(generated, greedy_decode(models.target, prompt,
                                                       generated.shape[0]))
        # the drafts did real work: some step accepted at least one token
        assert any(t.n_nodes > 1 for t in trees)


def test_recorded_trace_commits_exactly_the_generated_tokens(models, chain_trace):
    out = verify_trace(chain_trace)
    per_request = np.add.reduceat(out.committed, chain_trace.request_step_offsets[:-1])
    assert np.all(per_request >= 150) and np.all(per_request < 150 + 7)
    # target_prob of an accepted greedy node is the target's top probability there
    tree = chain_trace.step(0)
    assert np.all((tree.draft_prob > 0) & (tree.draft_prob <= 1))
    assert chain_trace.metadata["method"] == "chain"


def test_trees_beat_chains_and_tau_grows_with_gamma(models):
    cfg = RecordConfig(n_requests=6, prompt_len=48, max_new_tokens=100, seed=1)
    tau = {}
    for name, fac in [("g1", lambda m: FixedChain(m.draft_lm, 1)),
                      ("g4", lambda m: FixedChain(m.draft_lm, 4)),
                      ("eagle2", lambda m: DynamicTree(m.draft_lm, 5, 6, 30))]:
        tau[name] = float(verify_trace(record_trace(models, fac, cfg)).committed.mean())
    assert 1.0 < tau["g1"] < tau["g4"] < tau["eagle2"]


def _lag1(x: np.ndarray) -> float:
    x = x - x.mean()
    d = float((x * x).sum())
    return float((x[:-1] * x[1:]).sum() / d) if d > 0 else 0.0


def test_acceptance_is_not_iid(chain_trace):
    acc = verify_trace(chain_trace).accepted
    # per-position acceptance (reaching depth k) decays with depth
    reach = np.array([(acc >= k).mean() for k in range(1, 7)])
    assert np.all(np.diff(reach) <= 0) and reach[0] > 2 * reach[-1]
    # bursts: steps are autocorrelated within a request more than a shuffle of them
    rng = np.random.default_rng(0)
    real, shuffled = [], []
    for r in range(chain_trace.n_requests):
        s = chain_trace.request_steps(r)
        a = acc[s.start:s.stop].astype(float)
        real.append(_lag1(a))
        shuffled.append(np.mean([_lag1(rng.permutation(a)) for _ in range(50)]))
    assert np.mean(real) > np.mean(shuffled) + 0.03


def test_easy_and_hard_stretches(sampled_chain_trace):
    """With sampled text, tau over windows of 8 consecutive steps varies more than in
    requests whose steps were shuffled (greedy n-gram text is quasi-periodic instead)."""
    chain_trace = sampled_chain_trace
    acc = verify_trace(chain_trace).accepted.astype(float)

    def window_var(a: np.ndarray) -> float:
        out = []
        for r in range(chain_trace.n_requests):
            s = chain_trace.request_steps(r)
            x = a[s.start:s.stop]
            n = x.shape[0] // 8 * 8
            out.append(x[:n].reshape(-1, 8).mean(axis=1))
        return float(np.var(np.concatenate(out)))

    rng = np.random.default_rng(1)
    null = []
    for _ in range(200):
        b = acc.copy()
        for r in range(chain_trace.n_requests):
            s = chain_trace.request_steps(r)
            b[s.start:s.stop] = rng.permutation(b[s.start:s.stop])
        null.append(window_var(b))
    assert window_var(acc) > np.quantile(null, 0.99)


def test_copy_bursts_in_prompt_lookup(models):
    """Once a copied continuation matches, it keeps matching: conditional acceptance deep
    in a prompt-lookup draft is far above the first position's (not i.i.d.)."""
    trace = record_trace(models, lambda m: PromptLookup(3, 10),
                         RecordConfig(n_requests=8, prompt_len=128, max_new_tokens=120))
    acc = verify_trace(trace).accepted
    cond = [(acc >= k).sum() / max(1, (acc >= k - 1).sum()) for k in range(1, 6)]
    assert np.mean(cond[2:]) > cond[0] + 0.3


def test_either_package_can_be_imported_first():
    """specaccel.models.golden imports specaccel.schema.trace and the recorder imports the
    golden model: both import orders must work in a fresh interpreter."""
    import subprocess
    import sys

    for first in ("specaccel.models.golden.speculative_sampling", "specaccel.workloads"):
        code = f"import {first}; from specaccel.workloads import record_trace, import_answers"
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
