"""GliDe with CaPE on the real-text pair: expansion where the draft is unsure, more tokens
per step than the plain chain at the same depth, a better-aligned glimpse draft, and
output identical to plain greedy decoding."""

from __future__ import annotations

import numpy as np
import pytest

from specaccel.models.golden import verify_trace
from specaccel.schema.errors import InputError
from specaccel.workloads.method_chain import FixedChain
from specaccel.workloads.method_glide_cape import CapeTree, expansion_count, glimpse_draft
from specaccel.workloads.ngram_lm import NgramLM
from specaccel.workloads.real_text import heldout_prompts
from specaccel.workloads.recorder_ngram import (
    RecordConfig,
    greedy_decode,
    record_request,
    record_trace,
)

DEPTH = 5
CFG = RecordConfig(n_requests=6, prompt_len=48, max_new_tokens=150, seed=3)


@pytest.fixture(scope="module")
def traces(models):
    policies = {}

    def keep(name, build):
        def factory(m):
            policies[name] = build(m)
            return policies[name]
        return factory

    out = {
        "chain": record_trace(models, lambda m: FixedChain(m.draft_lm, DEPTH), CFG),
        "cape": record_trace(models, keep("cape", lambda m: CapeTree(m.draft_lm, DEPTH)), CFG),
        "glide-chain": record_trace(models, lambda m: CapeTree(glimpse_draft(m), DEPTH, 0.0),
                                    CFG),
        "glide-cape": record_trace(models, keep("glide-cape",
                                                lambda m: CapeTree(glimpse_draft(m), DEPTH)),
                                   CFG),
    }
    return out, policies


def _tau(trace) -> float:
    return float(verify_trace(trace).committed.mean())


def test_expanded_trees_accept_more_than_the_chain_at_the_same_depth(traces):
    t, _ = traces
    tau = {k: _tau(v) for k, v in t.items()}
    print({k: round(v, 3) for k, v in tau.items()},
          {k: round(float(v.nodes_per_step().mean()), 2) for k, v in t.items()})
    assert all(int(t[k].step(s).depth) == DEPTH for k in t for s in (0, 7, 31))
    assert tau["cape"] > 1.05 * tau["chain"]
    assert tau["glide-chain"] > 1.05 * tau["chain"]  # the glimpse draft agrees more often
    assert tau["glide-cape"] > max(tau["cape"], tau["glide-chain"])
    assert t["glide-cape"].metadata["method"] == "glide-cape"


def test_expansion_happens_where_confidence_is_low(traces):
    _, policies = traces
    policy = policies["cape"]
    q1, extra = (np.array(x) for x in zip(*policy.expansions, strict=True))
    assert extra.sum() > 0 and (extra == 0).sum() > 0
    assert np.all(extra[q1 >= policy.mass] == 0)
    assert np.all(extra[q1 < policy.mass] >= 1)
    rank_q = np.argsort(np.argsort(q1))
    rank_e = np.argsort(np.argsort(extra))
    assert np.corrcoef(rank_q, rank_e)[0, 1] < -0.6  # Spearman-style: fewer when sure


def test_low_confidence_predicts_rejection_and_siblings_get_accepted(traces):
    """Why expand there: the chain child is rejected more often at low q1, and the extra
    candidates do win some of those positions (decided by the golden model)."""
    t, policies = traces
    trace, mass = t["cape"], policies["cape"].mass
    out = verify_trace(trace)
    chain_ok, chain_q, sibling_wins = [], [], 0
    for s in range(trace.n_steps):
        tree = trace.step(s)
        path = out.path(s)
        first = np.r_[True, True, tree.parent[2:] != tree.parent[1:-1]]  # chain child
        on_path = set(path.tolist())
        sibling_wins += sum(1 for i in path[1:] if not first[i])
        for i in range(1, tree.n_nodes):
            if first[i] and tree.parent[i] in on_path:  # the chain child was judged
                chain_ok.append(tree.target_token[tree.parent[i]] == tree.token[i])
                chain_q.append(tree.draft_prob[i])
    ok, q = np.array(chain_ok), np.array(chain_q)
    assert ok[q < mass].mean() + 0.2 < ok[q >= mass].mean()
    assert sibling_wins >= 0.05 * trace.n_steps


@pytest.mark.parametrize("glimpse", [False, True])
def test_lossless_on_real_text(models, glimpse):
    draft = glimpse_draft(models) if glimpse else models.draft_lm
    for _, prompt in heldout_prompts(models.corpus, 3, 40, seed=13):
        trees, generated = record_request(models.target, CapeTree(draft, 4, 0.9, 4), prompt,
                                          100)
        assert np.array_equal(generated, greedy_decode(models.target, prompt,
                                                       generated.shape[0]))
        assert max(t.n_nodes for t in trees) > 5  # some step really was a tree


def test_glimpse_draft_has_the_targets_order_and_the_drafts_data(models):
    g = glimpse_draft(models)
    assert g is glimpse_draft(models)  # cached
    assert g.order == models.target_lm.order > models.draft_lm.order
    n = models.info["draft_train_files"]
    assert n < len(models.corpus.train)
    same_data = NgramLM(models.corpus.train_ids()[:n], g.order, g.vocab_size)
    prompts = [p for _, p in heldout_prompts(models.corpus, 6, 12, seed=4)]
    for ctx in prompts:
        assert np.array_equal(g.distribution(ctx), same_data.distribution(ctx))
    # the target's extra training files are not in it
    assert any(not np.allclose(g.distribution(c), models.target_lm.distribution(c))
               for c in prompts)


def test_expansion_count():
    p = np.array([0.9, 0.05, 0.03, 0.02])
    assert expansion_count(p, 0.8, 3) == 0
    assert expansion_count(np.array([0.5, 0.2, 0.15, 0.1]), 0.8, 3) == 2
    assert expansion_count(np.array([0.3, 0.2, 0.1, 0.1]), 0.8, 3) == 3  # capped
    assert expansion_count(np.array([0.3, 0.2, 0.1, 0.1]), 0.8, 1) == 1
    assert expansion_count(np.array([0.3, 0.2]), 0.8, 3) == 1  # only what exists
    assert expansion_count(p, 0.0, 3) == 0


@pytest.mark.parametrize("kwargs, field", [
    ({"depth": 0}, "depth"), ({"mass": 1.5}, "mass"), ({"max_extra": -1}, "max_extra")])
def test_bad_parameters(models, kwargs, field):
    with pytest.raises(InputError) as err:
        CapeTree(models.draft_lm, **kwargs)
    assert err.value.field == field
