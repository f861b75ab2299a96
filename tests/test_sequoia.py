"""Sequoia dynamic program against brute-force enumeration; hardware-aware choice; CLI."""

import json
from functools import cache

import numpy as np
import pytest

from specaccel.cli import main
from specaccel.models import theory
from specaccel.models.golden import node_depth
from specaccel.models.sequoia import choose_tree, sequoia_table
from specaccel.schema.errors import InputError

R_TEST = theory.marginal_from_conditional([0.6, 0.5, 0.4, 0.3, 0.3, 0.3, 0.2, 0.2])


@cache
def _ordered_trees(n: int) -> tuple[tuple, ...]:
    """Every ordered rooted tree with n nodes, as nested tuples of child subtrees."""
    if n == 1:
        return ((),)
    out = []
    for first in range(1, n):  # nodes in the first child's subtree
        for sub in _ordered_trees(first):
            for rest in _ordered_trees(n - first):
                out.append((sub, *rest))
    return tuple(out)


def _parents(tree) -> list[int]:
    """Preorder parent list (siblings in rank order, parent[i] < i)."""
    parent = [-1]

    def walk(node, idx):
        for child in node:
            parent.append(idx)
            walk(child, len(parent) - 1)

    walk(tree, 0)
    return parent


def _brute_best(n, r, depth):
    best = -np.inf
    for t in _ordered_trees(n):
        parent = _parents(t)
        if node_depth(parent).max() > depth:
            continue
        counts = np.bincount(parent[1:], minlength=n) if n > 1 else np.zeros(1)
        if counts.max() > len(r):
            continue
        best = max(best, theory.tree_expected_tokens(parent, r))
    return best


def test_enumeration_counts_are_catalan():
    assert [len(_ordered_trees(n)) for n in range(1, 9)] == [1, 1, 2, 5, 14, 42, 132, 429]


@pytest.mark.parametrize("r", [
    R_TEST,
    np.array([0.3, 0.3, 0.3]),
    np.array([0.9]),
    np.array([0.45, 0.05, 0.4]),  # not sorted: the DP must not assume it
    np.array([0.2, 0.15, 0.1, 0.05, 0.05]),
])
def test_dp_matches_brute_force_up_to_8_nodes(r):
    table = sequoia_table(r, 8)
    for n in range(1, 9):
        for depth in range(0, n):
            got = table.best_exact[n, depth]
            expect = _brute_best(n, r, depth)
            if expect == -np.inf:
                assert got == -np.inf
            else:
                assert got == pytest.approx(expect, rel=1e-12), (n, depth)


@pytest.mark.parametrize("budget", [1, 2, 5, 16, 33, 64])
@pytest.mark.parametrize("depth", [1, 3, 6, None])
def test_emitted_tree_realises_the_dp_value(budget, depth):
    table = sequoia_table(R_TEST, 64)
    parent = table.tree(budget, depth)
    assert parent[0] == -1 and np.all(parent[1:] < np.arange(1, parent.size))
    assert parent.size == table.best_size(budget, depth) <= budget
    d = node_depth(parent)
    assert d.max() <= (table.max_depth if depth is None else depth)
    assert np.all(np.diff(d) >= 0)  # breadth first
    assert np.bincount(parent[1:], minlength=parent.size).max(initial=0) <= R_TEST.size
    assert theory.tree_expected_tokens(parent, R_TEST) == pytest.approx(
        table.expected_tokens(budget, depth), rel=1e-12)


def test_chain_acceptance_gives_the_closed_form():
    table = sequoia_table([0.8], 20, 10)
    for b in (2, 5, 11, 20):
        assert table.expected_tokens(b) == pytest.approx(
            theory.expected_tokens_per_step(0.8, min(b - 1, 10)))
        assert table.tree(b).tolist() == [-1, *range(min(b - 1, 10))]


def test_value_grows_with_budget_and_depth():
    table = sequoia_table(R_TEST, 128, 12)
    e = [table.expected_tokens(b) for b in range(1, 129)]
    assert all(b >= a for a, b in zip(e, e[1:], strict=False))
    assert table.expected_tokens(128, 3) < table.expected_tokens(128, 12)
    assert table.expected_tokens(128) < 1 + R_TEST.sum() / (1 - R_TEST.sum())  # geometric bound


def test_a_tree_is_charged_the_draft_passes_of_its_own_height():
    """Under zero acceptance every budget's best tree is the root alone: no level is
    drafted, so the step is the verify pass and the speedup 1 (not a drafted level
    charged for a tree that has none)."""
    table = sequoia_table(np.zeros(2), 8, 4)
    assert table.height(8, 3) == 0 and table.best_size(8, 3) == 1
    best, _ = choose_tree(table, [8], [1e-2], draft_time_s=1e-3, baseline_time_s=1e-2)
    assert (best.depth, best.nodes, best.step_time_s) == (0, 1, pytest.approx(1e-2))
    assert best.speedup == pytest.approx(1.0)
    # a tree that does use its depth is charged all of it
    full = sequoia_table(np.array([0.9]), 8, 7)     # a chain: one rank, height 7
    assert full.height(8, 7) == int(node_depth(full.tree(8, 7)).max()) >= 2


def test_hardware_choice_trades_depth_against_draft_time():
    table = sequoia_table(R_TEST, 128, 16)
    budgets = [16, 32, 64, 128]
    flat = [1e-3] * 4  # verify time independent of budget: biggest tree wins
    best, per = choose_tree(table, budgets, flat, draft_time_s=0.0, baseline_time_s=1e-3)
    top = table.expected_tokens(128, 16)
    shallowest = min(d for d in range(1, 17) if table.expected_tokens(128, d) == top)
    assert best.budget == 128 and best.depth == shallowest  # ties go to the smaller depth
    assert best.speedup == pytest.approx(table.expected_tokens(128, 16))
    steep = [1e-3, 2e-3, 4e-3, 8e-3]  # verify time linear in budget: small trees win
    best, _ = choose_tree(table, budgets, steep, draft_time_s=1e-4, baseline_time_s=1e-3)
    assert best.budget == 16
    # exhaustive check of the objective over every (budget, depth)
    cands = [((d * 1e-4 + t) / table.expected_tokens(b, d), b, d)
             for b, t in zip(budgets, steep, strict=True) for d in range(1, 17)]
    assert (best.time_per_token_s, best.budget, best.depth) == pytest.approx(min(cands))
    # slower drafting prefers shallower trees
    slow, _ = choose_tree(table, [64], [1e-3], draft_time_s=5e-4, baseline_time_s=1e-3)
    fast, _ = choose_tree(table, [64], [1e-3], draft_time_s=1e-5, baseline_time_s=1e-3)
    assert slow.depth < fast.depth
    assert per[0].budget == 16 and len(per) == 4


def test_bad_inputs():
    with pytest.raises(InputError):
        sequoia_table([0.7, 0.6], 8)  # marginal sum > 1
    with pytest.raises(InputError):
        sequoia_table([1.2], 8)
    with pytest.raises(InputError):
        sequoia_table([0.5], 0)
    table = sequoia_table([0.5], 8)
    with pytest.raises(InputError):
        table.tree(9)
    with pytest.raises(InputError):
        choose_tree(table, [4, 8], [1e-3], 0.0, 1e-3)


def _cli(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_optimize_json(capsys):
    code, out, err = _cli(["tree", "optimize", "--acceptance", "0.6,0.5,0.4,0.3",
                           "--max-nodes", "64", "--max-depth", "8", "--draft-time", "0.0002",
                           "--budgets", "16,32,64", "--target-times", "0.01,0.011,0.013",
                           "--json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    r = theory.marginal_from_conditional([0.6, 0.5, 0.4, 0.3])
    table = sequoia_table(r, 64, 8)
    best, per = choose_tree(table, [16, 32, 64], [0.01, 0.011, 0.013], 0.0002, 0.01)
    assert res["best"]["budget"] == best.budget and res["best"]["depth"] == best.depth
    assert res["best"]["speedup"] == pytest.approx(best.speedup)
    assert [p["expected_tokens_per_step"] for p in res["per_budget"]] == pytest.approx(
        [c.expected_tokens for c in per])
    parent = res["tree"]["parent"]
    assert theory.tree_expected_tokens(parent, r) == pytest.approx(best.expected_tokens)
    assert res["inputs"]["rank_acceptance_marginal"] == pytest.approx(r.tolist())


def test_cli_marginal_form_and_human_output(capsys):
    code, out, _ = _cli(["tree", "optimize", "--acceptance", "0.6,0.2", "--acceptance-form",
                         "marginal", "--max-nodes", "8", "--draft-time", "0",
                         "--target-times", "0.01"], capsys)
    assert code == 0
    # the human text shows the solved tree: the dynamic program's own answer for r as given
    table = sequoia_table([0.6, 0.2], 8)
    best, _ = choose_tree(table, [8], [0.01], 0.0, 0.01)
    head = out.splitlines()[0]
    assert head.startswith(f"best budget {best.budget}, depth {best.depth} ")
    assert f"{best.expected_tokens:.4f} tokens/step" in head
    parent_line = next(line for line in out.splitlines() if line.startswith("parent: "))
    parent = json.loads(parent_line.removeprefix("parent: "))
    assert theory.tree_expected_tokens(parent, [0.6, 0.2]) == pytest.approx(best.expected_tokens)
    # marginal 0.6, 0.2 is conditional 0.6, 0.5: the conditional form gives the same tree
    code, out_c, _ = _cli(["tree", "optimize", "--acceptance", "0.6,0.5", "--max-nodes", "8",
                           "--draft-time", "0", "--target-times", "0.01"], capsys)
    assert code == 0 and out_c == out


@pytest.mark.parametrize("argv", [
    ["--acceptance", "0.6,x", "--max-nodes", "8", "--draft-time", "0", "--target-times", "1"],
    ["--acceptance", "0.6", "--max-nodes", "0", "--draft-time", "0", "--target-times", "1"],
    ["--acceptance", "0.6", "--max-nodes", "8", "--draft-time", "-1", "--target-times", "1"],
    ["--acceptance", "0.6", "--max-nodes", "8", "--draft-time", "0", "--budgets", "4,16",
     "--target-times", "1,2"],
    ["--acceptance", "0.6", "--max-nodes", "8", "--draft-time", "0", "--budgets", "4,8",
     "--target-times", "1"],
    ["--acceptance", "0.9,0.5", "--acceptance-form", "marginal", "--max-nodes", "8",
     "--draft-time", "0", "--target-times", "1"],
    ["--acceptance", "0.6", "--max-nodes", "8", "--draft-time", "0", "--budgets", "4,4",
     "--target-times", "1,1"],                                  # a budget twice
    ["--acceptance", "0.6", "--max-nodes", "8", "--draft-time", "0", "--target-times", "1",
     "--baseline-time", "1e300"],                               # no pass lasts 1e300 s
])
def test_cli_bad_input_exit_2_one_line(argv, capsys):
    code, out, err = _cli(["tree", "optimize", *argv, "--json"], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_takes_verify_times_from_the_cost_model(capsys):
    from specaccel.models.cost import get_hardware, get_model, pass_cost

    code, out, err = _cli(["tree", "optimize", "--acceptance", "0.7,0.4", "--max-nodes", "32",
                           "--budgets", "8,32", "--draft-time", "0.0003", "--model",
                           "llama-2-7b", "--hw", "a100-80gb", "--context", "512", "--json"],
                          capsys)
    assert code == 0, err
    res = json.loads(out)
    model, hw = get_model("llama-2-7b"), get_hardware("a100-80gb")
    expect = [pass_cost(model, hw, tokens=b, context=512, batch=1).latency_s for b in (8, 32)]
    assert res["inputs"]["target_times_s"] == pytest.approx(expect)
    assert res["inputs"]["baseline_time_s"] == pytest.approx(
        pass_cost(model, hw, tokens=1, context=512, batch=1).latency_s)


def test_cli_without_cost_model_asks_for_target_times(capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "specaccel.models.cost", None)  # import fails
    code, out, err = _cli(["tree", "optimize", "--acceptance", "0.7", "--max-nodes", "8",
                           "--draft-time", "0", "--model", "m", "--hw", "h"], capsys)
    assert code == 2 and out == "" and "--target-times" in err
    assert len(err.strip().splitlines()) == 1
