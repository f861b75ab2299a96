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
``train/medusa{h}_top{k}``, one row per model size) as published with Medusa; a copy of
its accuracy columns is bundled (:data:`MEDUSA_HEAD_ACCURACY`).
"""

from __future__ import annotations

import csv
import heapq
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from specaccel.schema.errors import InputError
from specaccel.workloads.method_static_tree import MEDUSA_MC_SIM_7B_63, StaticTree
from specaccel.workloads.methods import declare_method, declare_preset
from specaccel.workloads.presets import (
    FLAT_ALPHA,
    MTBENCH,
    SPECBENCH,
    Preset,
)
from specaccel.workloads.real_text_presets import RealTextPreset
from specaccel.workloads.recorder_ngram import DraftPolicy, RealTextModels
from specaccel.workloads.tree_shapes import medusa_default_tree

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


# ---------------------------------------------------------------------- methods and presets
MEDUSA_HEAD_ACCURACY = Path(str(resources.files("specaccel.data")
                                .joinpath("medusa-head-accuracy.csv")))
"""The bundled per-head top-1..5 accuracies of Medusa-1 on Vicuna 7B/13B/33B
(FasterDecoding/Medusa ``assets/medusa_acc.csv``, Apache-2.0; the accuracy columns)."""

declare_method(
    "medusa-1",
    description="extra decoding heads on the target's last hidden state draft every tree "
                "level in one pass; frozen backbone",
    drafting="single-pass", tree_policy="a static sparse tree over the heads' ranked "
                                        "predictions (mc_sim_7b_63, or built greedily from "
                                        "head accuracies)",
    sources=("Cai et al. 2024, Medusa (ICML 2024)",))
declare_method(
    "medusa-2",
    description="Medusa heads trained jointly with the backbone (higher acceptance)",
    drafting="single-pass", tree_policy="Medusa's static 63-token sparse tree",
    sources=("Cai et al. 2024, Medusa (ICML 2024)",))
declare_method(
    "hydra",
    description="sequentially dependent draft heads: each head sees the tokens the earlier "
                "heads chose",
    drafting="per-level", tree_policy="a static sparse tree, one head pass per level",
    sources=("Ankner et al. 2024, Hydra (arXiv 2402.05109)",))


def _medusa_greedy(models: RealTextModels) -> DraftPolicy:
    acc = rank_accuracy(load_head_accuracy(MEDUSA_HEAD_ACCURACY, "7b"))
    return StaticTree(models.draft_lm, greedy_medusa_tree(acc, 63), label="medusa-greedy-63")


_MEDUSA_1_ROW = ("medusa-1", "Vicuna-7B", "63-node sparse tree", "Spec-Bench", "0", "A100")
declare_preset(RealTextPreset(
    "medusa-63", "medusa-1", "Medusa-1's 63-node sparse tree mc_sim_7b_63",
    lambda m: StaticTree(m.draft_lm, MEDUSA_MC_SIM_7B_63, "medusa-63"), _MEDUSA_1_ROW,
    draft_model="medusa-vicuna-7b"))
declare_preset(RealTextPreset(
    "medusa-greedy-63", "medusa-1",
    "63-node tree built greedily from Vicuna-7B Medusa head accuracies", _medusa_greedy,
    _MEDUSA_1_ROW, draft_model="medusa-vicuna-7b"))
declare_preset(Preset(
    name="medusa2-vicuna-7b-mtbench",
    description="Medusa-2 on Vicuna-7B, MT-Bench, greedy, 63-token sparse tree (tau 3.47)",
    method="medusa-2",
    source_row=("medusa-2", "Vicuna-7B", "64-node sparse tree", "MT-Bench", "0"),
    tree=medusa_default_tree(),
    target_model="vicuna-7b",
    draft_model="medusa-vicuna-7b",
    benchmark=MTBENCH,
    assumptions=(
        "tree: Medusa's mc_sim_7b_63 (63 drafts + root = 64 nodes)",
        "flat alpha profile (the source gives only tau; head accuracies of Medusa-1 fix "
        "only the rank decay)",
    ),
))
_MEDUSA1_SPECBENCH = declare_preset(Preset(
    name="medusa1-vicuna-7b-specbench",
    description="Medusa-1 on Vicuna-7B, Spec-Bench, greedy, 63-token sparse tree (tau 2.31)",
    method="medusa-1",
    source_row=_MEDUSA_1_ROW,
    tree=medusa_default_tree(),
    target_model="vicuna-7b",
    draft_model="medusa-vicuna-7b",
    benchmark=SPECBENCH,
    steps=64,
    assumptions=(
        "tree: Medusa's mc_sim_7b_63 (63 drafts + root = 64 nodes), the Medusa "
        "repository's default, which Spec-Bench's inference_medusa.py keeps",
        FLAT_ALPHA,
    ),
))
declare_preset(_MEDUSA1_SPECBENCH.for_target("Vicuna-13B", "vicuna-13b", "medusa-vicuna-13b"))
declare_preset(_MEDUSA1_SPECBENCH.for_target("Vicuna-33B", "vicuna-33b", "medusa-vicuna-33b"))
declare_preset(_MEDUSA1_SPECBENCH.for_hardware("RTX 3090"))
_HYDRA_SPECBENCH = declare_preset(Preset(
    name="hydra-vicuna-7b-specbench",
    description="Hydra on Vicuna-7B, Spec-Bench, greedy, 63-token sparse tree (tau 3.26)",
    method="hydra",
    source_row=("hydra", "Vicuna-7B", "tree", "Spec-Bench", "0", "A100"),
    tree=medusa_default_tree(),
    target_model="vicuna-7b",
    draft_model="medusa-vicuna-7b",
    benchmark=SPECBENCH,
    steps=64,
    assumptions=(
        "tree: Medusa's mc_sim_7b_63 stands in for Hydra's own sparse tree (the row "
        "gives no size)",
        "draft 'medusa-vicuna-7b' stands in for Hydra's sequentially dependent heads "
        "(similar size); 'per-level' because each head waits for the previous level",
        FLAT_ALPHA,
    ),
))
declare_preset(_HYDRA_SPECBENCH.for_target("Vicuna-13B", "vicuna-13b", "medusa-vicuna-13b"))
declare_preset(_HYDRA_SPECBENCH.for_target("Vicuna-33B", "vicuna-33b", "medusa-vicuna-33b"))
declare_preset(_HYDRA_SPECBENCH.for_hardware("RTX 3090"))
