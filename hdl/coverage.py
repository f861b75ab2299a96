"""Functional coverage of the verify units, and the stimulus that steers towards unhit bins.

A :class:`Coverage` is a set of named bins with hit counts, one per unit configuration.
The verify units' bins (:func:`verify_bins`) are

* ``accepted=k`` for every accept length k = 0 .. N - 1 (drafts accepted; the path then
  has k + 1 nodes, so these are all the lengths an N-node tree can give);
* ``tie`` / ``tie_deep``: the path took the lowest-index of two or more acceptable
  children, at depth 1 / at depth 2 or more (the tie-break decided the answer);
* ``error:zero_nodes`` (parallel unit only: the serial unit cannot express it),
  ``error:too_many``, ``error:bad_parent``: every kind of invalid request;
* ``stall@stage=p`` for p = 1 .. latency: the response was back-pressured while the
  youngest request (record) was p stages into the pipeline (``p = latency``: only the
  output register was full);
* stochastic units: ``boundary:uq=p*2^w`` (rejected by the strict comparison),
  ``boundary:uq=p*2^w-1`` (accepted), and u, q, p each at 0 and at ``2**w - 1``, on nodes
  the walk judged (children of path nodes).

Hits are sampled from what the unit *did*: the accept length and error flag from its
response word (equal to the golden model's, or the test has failed already), the stall
position from the handshakes the driver saw; the tie and boundary bins from the request's
tree along the returned path.  :func:`steer` makes vectors aimed at the bins still unhit
(a tree whose accepted path has exactly k nodes, two acceptable siblings, an invalid request
of a given kind, a judged node at a given boundary), which the tests feed to the running
simulation until every bin is hit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from specaccel.hdl.stochastic_fixed_point import StochasticValues
from specaccel.schema.trace import DraftTree

__all__ = ["Coverage", "merge", "sample", "sample_stalls", "steer", "tree_features", "verify_bins"]

BOUNDARIES = ("uq=p*2^w", "uq=p*2^w-1", "u=0", "u=max", "q=0", "q=max", "p=0", "p=max")


@dataclass
class Coverage:
    """Hit counts of named bins for one configuration."""

    name: str
    bins: dict[str, int] = field(default_factory=dict)
    #: how the bins were reached (e.g. vectors sent, bins hit by random stimulus alone)
    notes: dict = field(default_factory=dict)

    def hit(self, name: str, count: int = 1) -> None:
        if name in self.bins:
            self.bins[name] += count

    def unhit(self) -> list[str]:
        return [b for b, n in self.bins.items() if n == 0]

    @property
    def hit_bins(self) -> int:
        return sum(1 for n in self.bins.values() if n)

    @property
    def percent(self) -> float:
        return 100.0 * self.hit_bins / len(self.bins)

    def summary(self) -> str:
        notes = "".join(f", {k.replace('_', ' ')} {v}" for k, v in self.notes.items())
        return (f"coverage {self.name}: {self.hit_bins}/{len(self.bins)} bins "
                f"({self.percent:.1f} %){notes}")

    @property
    def file_name(self) -> str:
        """The name of its JSON file (:meth:`write`)."""
        return self.name.replace(" ", "_").replace("=", "") + ".json"

    def write(self, folder: Path) -> Path:
        """Write ``<name>.json`` (every bin and its hits) into `folder`; returns the file."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.file_name
        path.write_text(json.dumps({"name": self.name, "hit": self.hit_bins,
                                    "bins": len(self.bins), "percent": self.percent,
                                    **self.notes, "counts": self.bins}, indent=1))
        return path

    @classmethod
    def read(cls, path: Path) -> Coverage:
        """The Coverage that :meth:`write` wrote to `path`."""
        data = json.loads(Path(path).read_text())
        notes = {k: v for k, v in data.items()
                 if k not in ("name", "hit", "bins", "percent", "counts")}
        return cls(data["name"], dict(data["counts"]), notes)


def merge(parts: Iterable[Coverage]) -> list[Coverage]:
    """One Coverage per configuration name, from parts of it (e.g. the same configuration
    covered in several processes): the hits of each bin are summed, and so are numeric
    notes (a single part is returned as it is).  Parts of one name must have the same bins.
    Sorted by name."""
    by_name: dict[str, Coverage] = {}
    for part in parts:
        have = by_name.get(part.name)
        if have is None:
            by_name[part.name] = Coverage(part.name, dict(part.bins), dict(part.notes))
            continue
        if set(have.bins) != set(part.bins):
            raise ValueError(f"coverage {part.name}: parts with different bins")
        for b, n in part.bins.items():
            have.bins[b] += n
        for k, v in part.notes.items():
            numeric = isinstance(v, int | float) and isinstance(have.notes.get(k), int | float)
            have.notes[k] = have.notes[k] + v if numeric else v
    return [by_name[k] for k in sorted(by_name)]


def verify_bins(*, nodes: int, mode: str, latency: int, serial: bool) -> list[str]:
    """The bins of a verify unit's configuration (see the module text)."""
    bins = [f"accepted={k}" for k in range(nodes)] + ["tie", "tie_deep"]
    bins += [f"error:{e}" for e in (("too_many", "bad_parent") if serial else
                                    ("zero_nodes", "too_many", "bad_parent"))]
    bins += [f"stall@stage={p}" for p in range(1, latency + 1)]
    if mode == "stochastic":
        bins += [f"boundary:{b}" for b in BOUNDARIES]
    return bins


def _acceptable(parent, token, target, values: StochasticValues | None, w: int) -> np.ndarray:
    n = len(parent)
    if values is None:
        ok = [i > 0 and token[i] == target[parent[i]] for i in range(n)]
    else:
        u, q, p = (np.asarray(x, dtype=np.int64) for x in
                   (values.uniform, values.draft_prob, values.target_prob))
        ok = [i > 0 and u[i] * q[i] < p[i] << w for i in range(n)]
    return np.array(ok, dtype=bool)


def tree_features(parent, token, target, values: StochasticValues | None, w: int,
                  path) -> set[str]:
    """The tie and boundary bins that a valid tree hits along `path` (its accepted path)."""
    parent = np.asarray(parent)
    ok = _acceptable(parent, token, target, values, w)
    hits = set()
    for depth, node in enumerate(path[:-1], start=1):
        if int(np.sum(ok & (parent == node))) >= 2:
            hits.add("tie" if depth == 1 else "tie_deep")
    if values is not None:
        top = (1 << w) - 1
        judged = np.isin(parent, list(path)) & (np.arange(len(parent)) > 0)
        u, q, p = (np.asarray(x, dtype=np.int64) for x in
                   (values.uniform, values.draft_prob, values.target_prob))
        for i in np.flatnonzero(judged):
            if u[i] * q[i] == p[i] << w:
                hits.add("boundary:uq=p*2^w")
            if u[i] * q[i] == (p[i] << w) - 1:
                hits.add("boundary:uq=p*2^w-1")
            for name, x in (("u", u[i]), ("q", q[i]), ("p", p[i])):
                if x == 0:
                    hits.add(f"boundary:{name}=0")
                if x == top:
                    hits.add(f"boundary:{name}=max")
    return hits


def sample(coverage: Coverage, vector, response: dict) -> None:
    """Count the bins that `vector`, answered by the unit with `response` (an unpacked
    response word), hits."""
    if response["error"]:
        for name in vector.features:
            if name.startswith("error:"):
                coverage.hit(name)
        return
    coverage.hit(f"accepted={response['accepted']}")
    for name in vector.features:
        coverage.hit(name)


def sample_stalls(coverage: Coverage, stall_positions: dict[int, int]) -> None:
    """Count the back-pressure cycles by the pipeline stage of the youngest request."""
    for stage, cycles in stall_positions.items():
        coverage.hit(f"stall@stage={stage}", cycles)


# ---- steering --------------------------------------------------------------------------------

def _steered_tree(rng: np.random.Generator, model, accepted: int, *, tie_depth: int = 0,
                  boundary: str = "", size: int | None = None) -> object:
    """A vector whose accepted path is a chain of `accepted` drafts, with rejected nodes
    hanging off it; `tie_depth` adds an acceptable later sibling to the path node at that
    depth; `boundary` puts the first path node's (or the root's first rejected child's)
    u, q, p at that boundary."""
    nodes, w = model.nodes, model.prob_width
    vocab = 1 << model.token_width
    chain = list(range(accepted + 1))  # nodes 0..accepted form the path
    parent = [-1] + list(range(accepted))
    extra = int(rng.integers(0, nodes - len(parent) + 1)) if size is None else size - len(parent)
    if tie_depth and len(parent) < nodes:
        extra = max(extra, 1)
    for _ in range(min(extra, nodes - len(parent))):
        parent.append(int(rng.choice(chain)))
    n = len(parent)
    target = rng.integers(0, vocab, n)
    accept = np.zeros(n, dtype=bool)
    accept[1:accepted + 1] = True
    tie_node = None
    if tie_depth:
        # a later child of the path node at depth tie_depth - 1 that is also acceptable
        # (its subtree is empty, the path does not go there: the lower index wins)
        anchor = tie_depth - 1
        tie_node = next((i for i in range(accepted + 1, n) if parent[i] == anchor), None)
        if tie_node is not None:
            accept[tie_node] = True
    token = np.array([target[parent[i]] if accept[i] else (target[parent[i]] + 1) % vocab
                      if i else 0 for i in range(n)])
    values = None
    if model.mode == "stochastic":
        top = (1 << w) - 1
        q = rng.integers(1, top + 1, n)
        u = rng.integers(0, top + 1, n)
        p = np.where(accept, top, 0)
        q = np.where(accept, 1, q)
        u = np.where(accept, rng.integers(0, top + 1, n), u)
        if boundary:
            rejected = [i for i in range(1, n) if not accept[i] and parent[i] in chain]
            k = 1 if accepted else (rejected[0] if rejected else None)
            if k is not None:
                u[k], q[k], p[k] = _boundary_triple(rng, boundary, w, bool(accept[k]))
        values = StochasticValues(p.astype(np.int64), q.astype(np.int64), u.astype(np.int64))
    return model.vector(DraftTree.build(np.array(parent), token, target), values)


def _boundary_triple(rng, boundary: str, w: int, accept: bool) -> tuple[int, int, int]:
    """(u, q, p) at `boundary` that keeps the node accepted (or rejected) as planned."""
    top = (1 << w) - 1
    half = 1 << (w - 1)
    if boundary == "uq=p*2^w":       # rejected: u*q == p*2^w
        return half, 2, 1
    if boundary == "uq=p*2^w-1":     # accepted: one below
        return top, 1, 1
    table = {  # (u, q, p) accepted / rejected
        "u=0": ((0, top, 1), (0, top, 0)), "u=max": ((top, 1, top), (top, top, 0)),
        "q=0": ((top, 0, 1), (top, 0, 0)), "q=max": ((0, top, 1), (top, top, 0)),
        "p=0": (None, (top, top, 0)), "p=max": ((top, top, top), (top, top, top - 1)),
    }
    acc, rej = table[boundary]
    return (acc or rej) if accept else rej


def steer(rng: np.random.Generator, model, unhit: list[str], *, serial: bool,
          latency: int, per_bin: int = 2) -> list:
    """Vectors aimed at the `unhit` bins.  A stall bin ``stall@stage=p`` gets pairs of
    one-node trees with an idle gap of about ``latency - p`` cycles between them: when the
    first one's response is held back, the second is about p stages in.  Returns vectors
    and :class:`~specaccel.hdl.amaranth_stream_driver.Gap` markers."""
    from specaccel.hdl.amaranth_stream_driver import Gap

    out: list = []
    for name in unhit:
        if name.startswith("stall@stage="):
            stage = int(name.split("=")[1])
            for _ in range(4 * per_bin):
                gap = max(0, latency - stage + int(rng.integers(-1, 2)))
                out += [_steered_tree(rng, model, 0, size=1), Gap(gap),
                        _steered_tree(rng, model, 0, size=1), Gap(latency + 2)]
            continue
        for _ in range(per_bin):
            if name.startswith("accepted="):
                out.append(_steered_tree(rng, model, int(name.split("=")[1])))
            elif name in ("tie", "tie_deep"):
                depth = 1 if name == "tie" else int(rng.integers(2, max(3, model.nodes // 2)))
                accepted = int(rng.integers(depth, model.nodes - 1)) if model.nodes > 3 else 1
                out.append(_steered_tree(rng, model, min(accepted, model.nodes - 2),
                                         tie_depth=depth))
            elif name.startswith("error:"):
                out.append(_invalid(rng, model, name.split(":")[1], serial=serial))
            elif name.startswith("boundary:"):
                accepted = int(rng.integers(0, model.nodes))
                out.append(_steered_tree(rng, model, accepted, boundary=name.split(":")[1]))
    return out


def _invalid(rng: np.random.Generator, model, kind: str, *, serial: bool):
    n = int(rng.integers(2, model.nodes + 1))
    parent = np.array([-1] + [int(rng.integers(0, i)) for i in range(1, n)])
    token = rng.integers(0, 1 << model.token_width, n)
    values = StochasticValues(*(rng.integers(0, 1 << model.prob_width, n) for _ in range(3)))
    if kind == "zero_nodes":
        return model.invalid_vector(0, parent, token, token, values)
    if kind == "too_many":
        count = (model.nodes + 1 + int(rng.integers(0, model.nodes)) if serial else
                 (1 << model.req_layout.members["n_nodes"].width) - 1)
        return model.invalid_vector(count, parent, token, token, values)
    i = int(rng.integers(1, n))
    parent[i] = int(rng.integers(i, model.nodes))
    return model.invalid_vector(n, parent, token, token, values)
