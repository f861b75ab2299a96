"""Drafting modes: the registry, and the draft passes each mode runs on hand-made trees."""

from __future__ import annotations

import numpy as np
import pytest

from specaccel.models.cost.drafting import (
    DRAFTING_MODES,
    NO_DRAFTING,
    StepTrees,
    drafting_mode,
    drafting_of,
)
from specaccel.schema.errors import InputError

# request 0: a chain of 3 drafts, then a root + two children of which one has a child;
# request 1: a root-only tree
PARENTS = [[-1, 0, 1, 2], [-1, 0, 0, 1], [-1]]
COMMITTED = [4, 2, 1]


def trees() -> StepTrees:
    off = np.cumsum([0, *map(len, PARENTS)])
    parent = np.concatenate([np.array(p) for p in PARENTS])
    return StepTrees(off, parent, np.array([0, 2, 3]), np.array(COMMITTED))


def test_names_resolve_to_their_objects_and_unknown_names_are_input_errors():
    assert drafting_mode("per-level") is DRAFTING_MODES["per-level"]
    assert drafting_mode(NO_DRAFTING) is NO_DRAFTING
    assert drafting_of({}).name == "per-level"
    with pytest.raises(InputError) as err:
        drafting_of({"drafting": "lookup"})
    assert err.value.field == "drafting" and err.value.where == ("metadata",)
    assert "draft-free" in str(err.value)


def test_per_level_runs_one_pass_per_level_over_the_expanded_nodes():
    p = DRAFTING_MODES["per-level"].draft_passes(trees())
    # slot 1 consumes the previous step's commits (1 at a request's start)
    assert p.tokens.tolist() == [[1, 1, 1], [4, 1, 0], [1, 0, 0]]
    assert p.used.tolist() == [[True] * 3, [True, True, False], [False] * 3]
    assert p.context_offset.tolist() == [0, 1, 2]
    assert p.per_step().tolist() == [3, 2, 0]
    step_of, tok, ctx = p.flat(np.array([10, 14, 7]))
    assert step_of.tolist() == [0, 0, 0, 1, 1]
    assert tok.tolist() == [1, 1, 1, 4, 1]
    assert ctx.tolist() == [10, 11, 12, 14, 15]


def test_single_pass_and_modes_without_a_draft_model():
    p = DRAFTING_MODES["single-pass"].draft_passes(trees())
    assert p.tokens.tolist() == [[1], [1], [1]] and p.per_step().tolist() == [1, 1, 1]
    for name in ("draft-free", "none"):
        mode = DRAFTING_MODES[name]
        assert not mode.runs_draft_model
        assert mode.draft_passes(trees()).n_slots == 0
    assert DRAFTING_MODES["draft-free"].verifies_tree and not NO_DRAFTING.verifies_tree


def test_parallel_drafting_runs_one_pass_over_the_commits_and_a_mask_per_level():
    p = DRAFTING_MODES["parallel"].draft_passes(trees())
    # depths 3, 2, 0; previous commits 1 (start), 4, 1 (start)
    assert p.tokens.tolist() == [[4], [6], [1]] and p.per_step().tolist() == [1, 1, 1]
    assert p.context_offset.tolist() == [0]
