"""The golden walk against an independent brute-force reading of the rule."""

import numpy as np

from specaccel.models.golden import kv_compaction, tree_attention_mask, verify_trace, verify_tree
from specaccel.schema.trace import DraftTree, Trace


def _brute_force_path(parent, token, target_token):
    """Recursive definition: from the current node, the lowest-index acceptable child."""
    path = [0]
    while True:
        cur = path[-1]
        kids = [i for i in range(len(parent)) if parent[i] == cur and token[i] == target_token[cur]]
        if not kids:
            return path
        path.append(min(kids))


def _random_tree(rng, n, vocab):
    parent = [-1] + [int(rng.integers(0, i)) for i in range(1, n)]
    token = rng.integers(0, vocab, n)
    target = rng.integers(0, vocab, n)
    return DraftTree.build(parent, token, target)


def test_walk_matches_brute_force_on_random_trees():
    rng = np.random.default_rng(1234)
    for _ in range(3000):
        n = int(rng.integers(1, 40))
        t = _random_tree(rng, n, vocab=int(rng.integers(2, 5)))
        out = verify_tree(t)
        expect = _brute_force_path(t.parent, t.token, t.target_token)
        assert out.path.tolist() == expect
        assert out.bonus_token == t.target_token[expect[-1]]


def test_tie_between_siblings_takes_lowest_index():
    # nodes 1, 2 and 3 are children of the root with the same (correct) token
    t = DraftTree.build([-1, 0, 0, 0, 3], [9, 4, 4, 4, 5], [4, 1, 2, 5, 0])
    out = verify_tree(t)
    assert out.path.tolist() == [0, 1]
    assert out.bonus_token == 1


def test_root_only_and_none_accepted():
    assert verify_tree(DraftTree.build([-1], [3], [8])).path.tolist() == [0]
    out = verify_tree(DraftTree.build([-1, 0, 1], [3, 7, 7], [1, 7, 7]))
    assert out.accepted == 0 and out.bonus_token == 1


def test_stochastic_rule_is_u_times_q_below_p():
    t = DraftTree.build([-1, 0, 1], [0, 1, 2], [5, 6, 7], draft_prob=[1, 0.5, 0.5],
                        target_prob=[1, 0.25, 0.5], uniform=[np.nan, 0.49, 0.99])
    # node 1: 0.49*0.5 = 0.245 < 0.25 accepted; node 2: 0.99*0.5 < 0.5 accepted
    assert verify_tree(t, "stochastic").path.tolist() == [0, 1, 2]
    t2 = DraftTree.build([-1, 0, 1], [0, 1, 2], [5, 6, 7], draft_prob=[1, 0.5, 0.5],
                         target_prob=[1, 0.25, 0.5], uniform=[np.nan, 0.5, 0.0])
    assert verify_tree(t2, "stochastic").path.tolist() == [0]


def test_trace_outcome_equals_per_tree_outcome():
    rng = np.random.default_rng(7)
    trees = [_random_tree(rng, int(rng.integers(1, 30)), 3) for _ in range(500)]
    trace = Trace.from_trees([("r0", 5, trees[:200]), ("r1", 9, trees[200:])])
    out = verify_trace(trace)
    for s, t in enumerate(trees):
        one = verify_tree(t)
        assert out.path(s).tolist() == one.path.tolist()
        assert out.bonus_token[s] == one.bonus_token


def test_mask_and_compaction():
    m = tree_attention_mask([-1, 0, 0, 1, 3])
    assert m[4].tolist() == [True, True, False, True, True]
    assert m[2].tolist() == [True, False, True, False, False]
    assert kv_compaction([0, 2, 5], base=100).tolist() == [100, 102, 105]


def test_elementwise_accept_helpers_equal_the_per_node_rule():
    """`greedy_accepts`/`stochastic_accepts` on whole arrays (what the trace generator
    calls) give exactly node_acceptable's verdict node by node, ties (u*q == p) included."""
    from specaccel.models.golden import greedy_accepts, stochastic_accepts
    from specaccel.models.golden.tree_verify import node_acceptable

    rng = np.random.default_rng(99)
    n = 4000
    parent = np.array([-1] + [int(rng.integers(0, i)) for i in range(1, n)], dtype=np.int32)
    token = rng.integers(0, 3, n).astype(np.int64)
    target_token = rng.integers(0, 3, n).astype(np.int64)
    q = rng.choice([0.25, 0.5, 1.0], n)
    u = rng.choice([0.0, 0.5, 0.75, 1.0], n)
    p = rng.choice([0.125, 0.25, 0.5], n)  # exact binary fractions: many u*q == p ties
    greedy = greedy_accepts(token[1:], target_token[parent[1:]])
    stoch = stochastic_accepts(u[1:], q[1:], p[1:])
    assert np.any(u * q == p)
    assert 0 < greedy.sum() < n - 1 and 0 < stoch.sum() < n - 1
    for i in range(1, n):
        assert greedy[i - 1] == node_acceptable(0, i, parent, token, q, p, target_token, u)
        assert stoch[i - 1] == node_acceptable(1, i, parent, token, q, p, target_token, u)
