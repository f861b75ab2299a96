"""The n-gram language models and the stdlib corpus they are trained on."""

from __future__ import annotations

import numpy as np
import pytest

from specaccel.schema.errors import InputError
from specaccel.workloads.ngram_lm import NgramLM, top_k_of
from specaccel.workloads.real_text import load_corpus, split_tokens


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(max_files=40, vocab_size=2048, holdout_every=5)


@pytest.fixture(scope="module")
def lms(corpus):
    docs = corpus.train_ids()
    return NgramLM(docs, 4, corpus.vocab.size), NgramLM(docs, 2, corpus.vocab.size)


def test_tokenizer_round_trips_text_exactly():
    text = "def f(x):\n    return x  + 1  # ok\n"
    assert "".join(split_tokens(text)) == text
    assert "\n    " in split_tokens(text)


def test_corpus_split_is_deterministic_and_disjoint(corpus):
    again = load_corpus(max_files=40, vocab_size=2048, holdout_every=5)
    assert again.vocab.tokens == corpus.vocab.tokens
    assert [d.name for d in again.heldout] == [d.name for d in corpus.heldout]
    assert not {d.name for d in corpus.train} & {d.name for d in corpus.heldout}
    assert len(corpus.heldout) == 8 and corpus.vocab.size == 2048


def test_distributions_sum_to_one_and_match_scalar_prob(corpus, lms):
    rng = np.random.default_rng(3)
    doc = corpus.heldout[0].ids
    for lm in lms:
        for _ in range(25):
            i = int(rng.integers(4, doc.shape[0]))
            ctx = doc[i - 3:i]
            p = lm.distribution(ctx)
            assert p.shape == (corpus.vocab.size,)
            assert abs(p.sum() - 1.0) < 1e-9 and p.min() > 0
            for w in (int(doc[i]), int(rng.integers(0, corpus.vocab.size))):
                assert lm.prob(ctx, w) == pytest.approx(p[w], rel=1e-12)


def test_4gram_beats_2gram_on_heldout_text(corpus, lms):
    four, two = lms
    held = [d.ids for d in corpus.heldout]
    ppl4, ppl2 = four.perplexity(held, 4000), two.perplexity(held, 4000)
    assert ppl4 < 0.8 * ppl2


def test_top_k_is_sorted_with_lowest_id_on_ties():
    p = np.array([0.1, 0.3, 0.1, 0.3, 0.2])
    tokens, probs = top_k_of(p, 3)
    assert tokens.tolist() == [1, 3, 4] and probs.tolist() == [0.3, 0.3, 0.2]
    assert top_k_of(p, 4)[0].tolist() == [1, 3, 4, 0]
    assert int(np.argmax(p)) == top_k_of(p, 1)[0][0]


def test_bad_parameters_raise_input_error():
    with pytest.raises(InputError, match="order"):
        NgramLM([np.array([1, 2])], 0, 10)
    with pytest.raises(InputError, match="docs"):
        NgramLM([np.array([1, 20])], 2, 10)
    with pytest.raises(InputError, match="vocab_size"):
        load_corpus(max_files=3, vocab_size=1)
