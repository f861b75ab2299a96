"""Interpolated Kneser–Ney n-gram language models, trained with numpy on token ids.

These are the real-text target and draft models of :mod:`.recorder_ngram` (a smoothed
4-gram target, a 2-gram draft).  Training counts every n-gram of every training document
(never across document boundaries) as one int64 key ``w1·V^(n−1) + … + wn``, so counting
is ``np.unique`` over a few million keys and takes well under a second per MB of text.

The probability of token ``w`` after history ``h`` (interpolated Kneser–Ney, one absolute
discount ``D`` per order)::

    p_k(w | h) = max(c_k(h w) − D, 0) / c_k(h ·)  +  D · N1+(h ·) / c_k(h ·) · p_{k−1}(w | h')

where ``c_n`` are raw counts at the highest order, ``c_k`` (k < n) are continuation counts
(the number of distinct tokens seen before ``h w``), ``h'`` drops the oldest token of
``h``, an unseen history backs off entirely (``p_k = p_{k−1}``), and the unigram level is
add-one smoothed continuation counts, so every token has non-zero probability and each
distribution sums to 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from specaccel.schema.errors import InputError


@dataclass(frozen=True)
class _OrderTable:
    """Counts of one order k ≥ 2, grouped by history (sorted keys)."""

    hist_keys: np.ndarray  # unique history keys (k−1 tokens), sorted
    hist_start: np.ndarray  # slice of `words`/`counts` for each history
    hist_end: np.ndarray
    backoff: np.ndarray  # D · N1+(h ·) / c(h ·)
    words: np.ndarray  # last token of each k-gram, grouped by history
    weight: np.ndarray  # max(c − D, 0) / c(h ·)


def _ngram_keys(ids: np.ndarray, k: int, vocab_size: int) -> np.ndarray:
    n = ids.shape[0] - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    key = np.zeros(n, dtype=np.int64)
    for j in range(k):
        key = key * vocab_size + ids[j:j + n]
    return key


def top_k_of(p: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The `k` largest entries of a distribution, largest first, lower index first on ties.

    Returns ``(tokens, probabilities)``; O(V) with a partial sort.
    """
    k = max(0, min(int(k), p.shape[0]))
    if k == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    if k < p.shape[0]:
        kth = p[np.argpartition(-p, k - 1)[k - 1]]
        cand = np.nonzero(p >= kth)[0]  # every member of a tie group at the cut
    else:
        cand = np.arange(p.shape[0])
    tokens = cand[np.lexsort((cand, -p[cand]))[:k]].astype(np.int64)
    return tokens, p[tokens]


class NgramLM:
    """An interpolated Kneser–Ney language model of a given order over ids ``0..V−1``.

    Parameters
    ----------
    docs:
        Training documents as int arrays of token ids.
    order:
        n (1 = add-one unigram, 2 = bigram, 4 = 4-gram …).
    vocab_size:
        V; every id must be in ``[0, V)``.
    discount:
        Absolute discount D in (0, 1).
    cache_size:
        How many dense next-token distributions to keep (keyed by the last n−1 tokens).
    """

    def __init__(self, docs: Sequence[np.ndarray], order: int, vocab_size: int,
                 discount: float = 0.75, cache_size: int = 2048) -> None:
        if order < 1:
            raise InputError(f"must be >= 1, not {order}", field="order")
        if not 0.0 < discount < 1.0:
            raise InputError(f"must be in (0, 1), not {discount}", field="discount")
        if float(vocab_size) ** order >= 2.0**62:
            raise InputError(f"vocab_size**order must fit in int64 ({vocab_size}**{order})",
                             field="vocab_size")
        self.order = int(order)
        self.vocab_size = int(vocab_size)
        self.discount = float(discount)
        self._cache: dict[tuple[int, ...], np.ndarray] = {}
        self._top_cache: dict[tuple[tuple[int, ...], int], tuple[np.ndarray, np.ndarray]] = {}
        self._cache_size = int(cache_size)
        docs = [np.asarray(d, dtype=np.int64) for d in docs]
        for d in docs:
            if d.size and (d.min() < 0 or d.max() >= vocab_size):
                raise InputError(f"token ids must be in [0, {vocab_size})", field="docs")
        V = self.vocab_size
        # Unique keys and raw counts per order.
        uniq: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for k in range(1, order + 1):
            keys = np.concatenate([_ngram_keys(d, k, V) for d in docs] or [np.zeros(0, np.int64)])
            u, c = np.unique(keys, return_counts=True)
            uniq[k] = (u, c.astype(np.float64))
        # Counts used at each order: raw at the top, continuation counts below.
        used: dict[int, tuple[np.ndarray, np.ndarray]] = {order: uniq[order]}
        for k in range(1, order):
            suffix = uniq[k + 1][0] % (V**k)
            u, c = np.unique(suffix, return_counts=True)
            used[k] = (u, c.astype(np.float64))
        uni = np.ones(V)  # add-one
        u1, c1 = used[1]
        uni[u1] += c1
        self.unigram = uni / uni.sum()
        self.unigram.setflags(write=False)
        self._tables: dict[int, _OrderTable] = {}
        for k in range(2, order + 1):
            keys, counts = used[k]
            hist = keys // V
            hkeys, start, ntypes = np.unique(hist, return_index=True, return_counts=True)
            totals = np.add.reduceat(counts, start) if keys.size else np.zeros(0)
            tot_per_key = np.repeat(totals, ntypes)
            self._tables[k] = _OrderTable(
                hist_keys=hkeys,
                hist_start=start,
                hist_end=start + ntypes,
                backoff=self.discount * ntypes / np.maximum(totals, 1e-300),
                words=keys % V,
                weight=np.maximum(counts - self.discount, 0.0) / tot_per_key,
            )

    # ------------------------------------------------------------------ queries
    def _history_slice(self, k: int, context: Sequence[int]) -> tuple[int, int, float] | None:
        if len(context) < k - 1:
            return None
        t = self._tables[k]
        h = 0
        for w in context[len(context) - (k - 1):]:
            h = h * self.vocab_size + int(w)
        i = int(np.searchsorted(t.hist_keys, h))
        if i >= t.hist_keys.shape[0] or t.hist_keys[i] != h:
            return None
        return int(t.hist_start[i]), int(t.hist_end[i]), float(t.backoff[i])

    def distribution(self, context: Sequence[int]) -> np.ndarray:
        """The next-token distribution after `context` (read-only dense array of length V).

        Only the last ``order − 1`` tokens of `context` matter; results are cached by them.
        """
        key = tuple(int(w) for w in context[max(0, len(context) - (self.order - 1)):])
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        p = self.unigram.copy()
        for k in range(2, self.order + 1):
            sl = self._history_slice(k, key)
            if sl is None:
                continue
            a, b, backoff = sl
            t = self._tables[k]
            p *= backoff
            p[t.words[a:b]] += t.weight[a:b]
        p.setflags(write=False)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[key] = p
        return p

    def prob(self, context: Sequence[int], token: int) -> float:
        """p(token | context) without building the dense distribution."""
        p = float(self.unigram[int(token)])
        for k in range(2, self.order + 1):
            sl = self._history_slice(k, context)
            if sl is None:
                continue
            a, b, backoff = sl
            t = self._tables[k]
            p *= backoff
            j = a + int(np.searchsorted(t.words[a:b], int(token)))
            if j < b and t.words[j] == token:
                p += float(t.weight[j])
        return p

    def argmax(self, context: Sequence[int]) -> int:
        """The most probable next token (lowest id on ties)."""
        return int(np.argmax(self.distribution(context)))

    def top_k(self, context: Sequence[int], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` most probable next tokens and their probabilities, most probable first.

        Ties are broken by lower token id, consistent with :meth:`argmax`.  Cached by the
        last ``order − 1`` tokens and `k` (do not modify the returned arrays).
        """
        key = (tuple(int(w) for w in context[max(0, len(context) - (self.order - 1)):]), int(k))
        hit = self._top_cache.get(key)
        if hit is None:
            if len(self._top_cache) >= 16 * self._cache_size:
                self._top_cache.clear()
            hit = self._top_cache[key] = top_k_of(self.distribution(context), k)
        return hit

    def log_prob(self, ids: np.ndarray, start: int = 0) -> float:
        """Sum of natural-log probabilities of ``ids[start:]``, each given its history."""
        ids = np.asarray(ids, dtype=np.int64)
        total = 0.0
        for i in range(max(start, 0), ids.shape[0]):
            total += np.log(self.prob(ids[max(0, i - self.order + 1):i], int(ids[i])))
        return total

    def perplexity(self, docs: Sequence[np.ndarray], max_tokens: int = 20000) -> float:
        """Per-token perplexity on `docs` (their first `max_tokens` tokens in total)."""
        lp, n = 0.0, 0
        for d in docs:
            d = np.asarray(d, dtype=np.int64)[: max(0, max_tokens - n)]
            if d.shape[0] < 2:
                continue
            lp += self.log_prob(d, start=1)
            n += d.shape[0] - 1
            if n >= max_tokens:
                break
        if n == 0:
            raise InputError("no tokens to score", field="docs")
        return float(np.exp(-lp / n))
