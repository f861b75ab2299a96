"""Medusa sparse trees from per-head accuracies, against the published τ."""

from __future__ import annotations

import csv
import itertools
from importlib import resources

import numpy as np
import pytest

from specaccel.schema.errors import InputError
from specaccel.workloads.method_medusa_tree import (
    MEDUSA_HEAD_ACCURACY,
    expected_tau,
    greedy_medusa_tree,
    load_head_accuracy,
    node_probability,
    rank_accuracy,
)
from specaccel.workloads.method_static_tree import MEDUSA_MC_SIM_7B_63, choices_to_parents


def _published_tau(method: str, tree: str, bench: str) -> float:
    text = resources.files("specaccel.data").joinpath("acceptance.csv").read_text()
    for row in csv.DictReader(text.splitlines()):
        if (row["method"], row["draft_or_tree"], row["benchmark"]) == (method, tree, bench):
            return float(row["tau"])
    raise AssertionError("row not found")


@pytest.fixture(scope="module")
def acc7b():
    return rank_accuracy(load_head_accuracy(MEDUSA_HEAD_ACCURACY, "7b"))


def test_rank_accuracy_is_difference_of_topk(acc7b):
    top = load_head_accuracy(MEDUSA_HEAD_ACCURACY, "7b")
    assert top.shape == (5, 5)
    assert np.allclose(np.cumsum(acc7b, axis=1), top)
    assert acc7b[0, 0] == pytest.approx(0.5603876709938049)


def test_greedy_tree_is_the_n_most_probable_nodes(acc7b):
    small = acc7b[:3, :3]
    tree = greedy_medusa_tree(small, 10)
    every = [c for d in range(1, 4) for c in itertools.product(range(3), repeat=d)]
    best = sorted(node_probability(c, small) for c in every)[-10:]
    assert sorted(node_probability(c, small) for c in tree) == pytest.approx(best)
    choices_to_parents(tree)  # prefix-closed: every node's parent is in the tree


def test_medusa_expected_tau_matches_published_within_5_percent(acc7b):
    published = _published_tau("medusa-1", "63-node sparse tree", "Spec-Bench")
    greedy = expected_tau(greedy_medusa_tree(acc7b, 63), acc7b)
    shipped = expected_tau(MEDUSA_MC_SIM_7B_63, acc7b)
    assert abs(greedy / published - 1) < 0.05
    assert abs(shipped / published - 1) < 0.05
    assert greedy >= shipped  # greedy is optimal for this objective at equal size


def test_bad_accuracy_file(tmp_path):
    with pytest.raises(InputError, match="no row named '70b'"):
        load_head_accuracy(MEDUSA_HEAD_ACCURACY, "70b")
    bad = tmp_path / "acc.csv"
    bad.write_text('"Name","train/medusa0_top1","train/medusa0_top2"\n"7b","0.6","x"\n')
    with pytest.raises(InputError, match="train/medusa0_top2"):
        load_head_accuracy(bad, "7b")
    bad.write_text('"Name","train/medusa0_top1","train/medusa0_top2"\n"7b","0.6","0.5"\n')
    with pytest.raises(InputError, match="non-decreasing"):
        load_head_accuracy(bad, "7b")
