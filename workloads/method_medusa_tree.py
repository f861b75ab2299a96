"""Medusa sparse trees built greedily from per-head top-k accuracies.

Medusa (Cai et al. 2024, section 3.2.2 / appendix) estimates, for head h and rank r, the
probability ``a[h][r]`` that the head's r-th prediction is the right token — the
difference of consecutive top-k accuracies, ``top_{r+1} − top_r``.  Assuming heads are
independent, the tree node reached by ranks ``(r1, …, rd)`` is accepted with probability
``Π_j a[j][r_j]``, and the expected number of tokens a step commits is
``1 + Σ_nodes Π_j a[j][r_j]`` (the bonus token plus, since at most one child of a node can
be right, the sum over nodes of their acceptance probabilities).  The greedy
construction adds, one at a time, the child candidate with the highest acceptance
probability; because those never increase along a path, it yields the ``n`` most
probable nodes and every prefix is already in the tree.

:func:`load_head_accuracy` reads ``medusa_head_accuracy.csv`` (columns
``train/medusa{h}_top{k}``, one row per model size) as published with Medusa.
"""

from __future__ import annotations

import csv
import heapq
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from specaccel.schema.errors import InputError

Choice = tuple[int, ...]


def load_head_accuracy(path: str | Path, model: str) -> np.ndarray:
    """Top-k accuracies ``acc[h, k-1]`` of every head for the row named `model` (e.g. ``7b``).

    Raises
    ------
    InputError
        Missing file, row, or column, or a value that is not a number in [0, 1].
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except FileNotFoundError:
        raise InputError("no such file", file=str(path)) from None
    match = [r for r in rows if r.get("Name") == model]
    if not match:
        names = ", ".join(r.get("Name", "?") for r in rows)
        raise InputError(f"no row named {model!r} (rows: {names})", file=str(path),
                         field="Name")
    row = match[0]
    heads = sorted({int(c.split("medusa")[1].split("_")[0]) for c in row
                    if c.startswith("train/medusa") and "_top" in c})
    ks = sorted({int(c.rsplit("_top", 1)[1]) for c in row
                 if c.startswith("train/medusa") and "_top" in c})
    if not heads or ks != list(range(1, len(ks) + 1)):
        raise InputError("needs columns train/medusa{h}_top{k}", file=str(path), field="columns")
    acc = np.empty((len(heads), len(ks)))
    for h in heads:
        for k in ks:
            col = f"train/medusa{h}_top{k}"
            try:
                acc[h, k - 1] = float(row[col])
            except (KeyError, ValueError):
                raise InputError("must be a number", file=str(path), where=(f"row {model}",),
                                 field=col) from None
    if np.any((acc < 0) | (acc > 1)) or np.any(np.diff(acc, axis=1) < -1e-12):
        raise InputError("top-k accuracies must be in [0, 1] and non-decreasing in k",
                         file=str(path), where=(f"row {model}",))
    return acc


def rank_accuracy(topk: np.ndarray) -> np.ndarray:
    """``a[h, r]``: probability that head h's rank-r prediction is right (top-k differences)."""
    topk = np.asarray(topk, dtype=np.float64)
    return np.diff(np.concatenate([np.zeros((topk.shape[0], 1)), topk], axis=1), axis=1)


def node_probability(choice: Sequence[int], rank_acc: np.ndarray) -> float:
    """Acceptance probability of the node reached by `choice` (0 beyond known heads/ranks)."""
    p = 1.0
    for depth, r in enumerate(choice):
        if depth >= rank_acc.shape[0] or r >= rank_acc.shape[1]:
            return 0.0
        p *= float(rank_acc[depth, r])
    return p


def expected_tau(choices: Sequence[Sequence[int]], rank_acc: np.ndarray) -> float:
    """Expected tokens committed per step, ``1 + Σ_nodes P(node accepted)``."""
    return 1.0 + sum(node_probability(c, rank_acc) for c in choices)


def greedy_medusa_tree(rank_acc: np.ndarray, n_nodes: int) -> tuple[Choice, ...]:
    """The `n_nodes` most probable nodes, added greedily (ties: shallower, lower ranks first)."""
    if n_nodes < 1:
        raise InputError(f"must be >= 1, not {n_nodes}", field="n_nodes")
    n_heads, n_ranks = rank_acc.shape
    heap: list[tuple[float, int, Choice]] = [(-float(rank_acc[0, r]), 1, (r,))
                                            for r in range(n_ranks)]
    heapq.heapify(heap)
    out: list[Choice] = []
    while heap and len(out) < n_nodes:
        neg, depth, c = heapq.heappop(heap)
        out.append(c)
        if depth < n_heads:
            for r in range(n_ranks):
                heapq.heappush(heap, (neg * float(rank_acc[depth, r]), depth + 1, c + (r,)))
    return tuple(out)
