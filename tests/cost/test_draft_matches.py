"""A draft must propose the target's tokens; a head must sit on the target's hidden size."""

from __future__ import annotations

import pytest

from specaccel.models.cost import get_model
from specaccel.models.cost.model_spec import check_draft_matches
from specaccel.schema.errors import InputError


@pytest.mark.parametrize("target,draft", [
    ("vicuna-7b", "eagle-head-vicuna-7b"), ("vicuna-7b", "medusa-vicuna-7b"),
    ("vicuna-7b", "vicuna-68m"), ("llama-2-70b", "eagle-head-llama-2-70b"),
    ("llama-3-70b", "eagle-head-llama-3-70b"), ("llama-3-70b", "medusa-llama-3-70b"),
    ("vicuna-33b", "medusa-vicuna-33b"), ("llama-2-70b", "llama-2-7b"),
])
def test_matching_pairs_are_accepted(target, draft):
    check_draft_matches(get_model(target), get_model(draft))


@pytest.mark.parametrize("target,draft,words", [
    ("vicuna-13b", "eagle-head-vicuna-7b", "hidden size 4096"),
    ("llama-2-70b", "medusa-vicuna-7b", "hidden size 4096"),
    ("llama-3-70b", "eagle-head-llama-2-70b", "vocabulary of 32000"),
    ("llama-3-8b", "vicuna-68m", "vocabulary of 32000"),
])
def test_a_head_for_another_model_is_an_input_error(target, draft, words):
    with pytest.raises(InputError) as exc:
        check_draft_matches(get_model(target), get_model(draft))
    assert exc.value.field == "draft" and words in str(exc.value)
