"""Tree shapes: topology, sibling ranks and rejection of malformed shapes."""

import re

import numpy as np
import pytest

from specaccel.models.golden import node_depth
from specaccel.schema.errors import InputError
from specaccel.workloads import (
    chain,
    eagle_default_tree,
    from_choices,
    from_parents,
    k_ary,
    k_by_depth,
    medusa_default_tree,
)
from specaccel.workloads.tree_shapes import EAGLE_DEFAULT_CHOICES, MEDUSA_DEFAULT_CHOICES


def test_eagle_default_tree_is_25_drafts_depth_5():
    t = eagle_default_tree()
    assert t.n_draft_tokens == 25 == len(EAGLE_DEFAULT_CHOICES)
    assert t.n_nodes == 26
    assert t.max_depth == 5
    assert t.level_sizes().tolist() == [1, 4, 8, 8, 3, 2]
    assert t.n_children()[0] == 4  # top-4 at the root
    np.testing.assert_array_equal(t.depth, node_depth(t.parent))


def test_from_choices_reproduces_every_path():
    t = eagle_default_tree()
    paths = set()
    for i in range(1, t.n_nodes):
        path, v = [], i
        while v:
            path.append(int(t.rank[v]))
            v = int(t.parent[v])
        paths.add(tuple(reversed(path)))
    assert paths == set(EAGLE_DEFAULT_CHOICES)


def test_medusa_default_tree_is_63_drafts_depth_4():
    t = medusa_default_tree()
    assert t.n_draft_tokens == 63 == len(set(MEDUSA_DEFAULT_CHOICES)) and t.n_nodes == 64
    assert t.max_depth == 4
    assert t.n_children()[0] == 10  # top-10 at the root
    per_level = np.bincount([len(c) for c in MEDUSA_DEFAULT_CHOICES])
    assert t.level_sizes().tolist() == [1, *per_level[1:].tolist()]


def test_chain_and_kary_and_kxd_sizes():
    c = chain(5)
    assert c.parent.tolist() == [-1, 0, 1, 2, 3, 4] and c.rank.tolist() == [0] * 6
    k = k_ary(2, 5)
    assert k.n_nodes == 63 and k.max_depth == 5
    assert set(k.n_children().tolist()) == {0, 2}
    s = k_by_depth(5, 8)
    assert s.n_nodes == 41 and s.max_depth == 8
    assert s.n_children()[0] == 5 and s.rank[1:6].tolist() == [0, 1, 2, 3, 4]
    assert np.all(s.n_children()[1:] <= 1)  # each root child starts a chain
    assert s.level_sizes().tolist() == [1] + [5] * 8


def test_from_parents_ranks_by_position():
    t = from_parents([-1, 0, 0, 1, 0, 1])
    assert t.rank.tolist() == [0, 0, 1, 0, 2, 1]


@pytest.mark.parametrize("parent, msg", [
    ([0, 0], "parent[0] must be -1"),
    ([-1, 0, 2], "parent[2] must be in [0, 2)"),
    ([-1, 0, -3], "parent[2] must be in [0, 2)"),
    ([], "at least the root"),
])
def test_bad_parent_lists_are_rejected(parent, msg):
    with pytest.raises(InputError, match=re.escape(msg)):
        from_parents(parent)


def test_ranks_must_increase_among_siblings():
    with pytest.raises(InputError, match="previous sibling"):
        from_parents([-1, 0, 0], rank=[0, 1, 1])


def test_choices_need_their_prefix():
    with pytest.raises(InputError, match="no parent"):
        from_choices([[0], [1, 0]])
    assert from_choices([[0], [2], [0, 3]]).rank.tolist() == [0, 0, 2, 3]
