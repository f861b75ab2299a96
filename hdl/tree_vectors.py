"""Test vectors for the tree units: random and directed draft trees, their expected outcomes
from :mod:`specaccel.models.golden`, and packing with the units' own Amaranth layouts.

This is the *model* half of the testbenches (cocotb-examples style): it never decides an
outcome itself — expected outputs come from ``verify_tree``, ``tree_attention_mask``,
``position_ids``, ``kv_compaction`` and ``kv_moves``.  The testbench drivers (Amaranth
simulator tests and cocotb benches in ``tests/hdl``) only move these integers in and out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from specaccel.hdl.layouts import (
    kv_compact_request_layout,
    kv_compact_response_layout,
    pack,
    tree_mask_request_layout,
    tree_mask_response_layout,
    verify_request_layout,
    verify_response_layout,
)
from specaccel.hdl.stochastic_fixed_point import (
    StochasticValues,
    fixed_point_tree,
    quantise_tree,
)
from specaccel.hdl.uniform_lfsr import UniformLFSR
from specaccel.models.golden import (
    kv_compaction,
    kv_moves,
    position_ids,
    tree_attention_mask,
    verify_tree,
)
from specaccel.schema.trace import DraftTree

SHAPES = ("random", "chain", "star", "bushy", "deep")


def random_parents(rng: np.random.Generator, n: int, shape: str = "random") -> np.ndarray:
    """Parent pointers of an `n`-node tree in topological order (``parent[0] == -1``)."""
    parent = np.full(n, -1, dtype=np.int32)
    for i in range(1, n):
        if shape == "chain":
            parent[i] = i - 1
        elif shape == "star":
            parent[i] = 0
        elif shape == "bushy":
            parent[i] = int(rng.integers(max(0, i // 3 - 1), i)) if i > 1 else 0
        elif shape == "deep":
            parent[i] = i - 1 if rng.random() < 0.8 else int(rng.integers(0, i))
        else:
            parent[i] = int(rng.integers(0, i))
    return parent


def random_greedy_tree(rng: np.random.Generator, n: int, *, token_width: int,
                       shape: str = "random", accept_rate: float | None = None) -> DraftTree:
    """A greedy draft tree whose tokens match the parent's target token with probability
    `accept_rate` (random when None), with sibling duplicates so that ties occur."""
    parent = random_parents(rng, n, shape)
    vocab = 1 << token_width
    small = min(vocab, 4)
    target = rng.integers(0, small, n) if rng.random() < 0.5 else rng.integers(0, vocab, n)
    token = rng.integers(0, vocab, n)
    rate = float(rng.random()) if accept_rate is None else accept_rate
    for i in range(1, n):
        if rng.random() < rate:
            token[i] = target[parent[i]]
    return DraftTree.build(parent, token, target)


def random_stochastic_values(rng: np.random.Generator, n: int, prob_width: int,
                             uniform: np.ndarray | None = None) -> StochasticValues:
    """Random integer p, q (and u unless given) with acceptance near a random rate."""
    top = 1 << prob_width
    q = rng.integers(1, top, n)
    ratio = rng.uniform(0.2, 1.6)
    p = np.clip((q * ratio * rng.uniform(0.5, 1.5, n)).astype(np.int64), 0, top - 1)
    u = rng.integers(0, top, n) if uniform is None else np.asarray(uniform, dtype=np.int64)
    return StochasticValues(target_prob=p.astype(np.int64), draft_prob=q.astype(np.int64),
                            uniform=u)


# ---------------------------------------------------------------------------------------
# verify unit vectors


def require_golden_rejects(parent, n_nodes: int) -> None:
    """Raise ``ValueError`` unless the golden model rejects the first `n_nodes` parent
    pointers, so an "invalid" test vector really is one."""
    try:
        tree_attention_mask(np.asarray(parent[:n_nodes]))
    except ValueError:
        return
    raise ValueError("invalid_vector() needs a tree the golden model rejects")


@dataclass(frozen=True)
class VerifyVector:
    """One request word and the response word the golden model expects."""

    request: int
    response: int
    n_nodes: int
    accepted: int
    error: bool


class VerifyVectorModel:
    """Packs trees for a TreeVerifyUnit configuration and computes expected responses.

    Parameters
    ----------
    nodes, token_width, prob_width, mode, uniform_source, lfsr_seed:
        The unit's parameters.  With ``uniform_source="lfsr"`` the model draws the uniforms
        from :class:`~specaccel.hdl.uniform_lfsr.UniformLFSR` in request order, exactly as
        the unit does: vectors must be sent in the order they were made.
    """

    def __init__(self, *, nodes: int, token_width: int = 16, prob_width: int = 12,
                 mode: str = "greedy", uniform_source: str = "request",
                 lfsr_seed: int | None = None) -> None:
        self.nodes, self.token_width, self.prob_width = nodes, token_width, prob_width
        self.mode, self.uniform_source = mode, uniform_source
        self.req_layout = verify_request_layout(
            nodes=nodes, token_width=token_width, prob_width=prob_width,
            stochastic=mode == "stochastic", uniform_in_request=uniform_source == "request")
        self.resp_layout = verify_response_layout(nodes=nodes, token_width=token_width)
        self.lfsr = UniformLFSR(lfsr_seed) if lfsr_seed is not None else UniformLFSR()

    def _pad(self, values, fill: int = 0) -> list[int]:
        out = [int(v) for v in values][: self.nodes]
        return out + [fill] * (self.nodes - len(out))

    def pack_request(self, n_nodes: int, parent, token, target_token,
                     values: StochasticValues | None = None) -> int:
        """Request word; ``parent[0]`` (−1) is sent as 0, missing nodes as zeros."""
        fields = {
            "n_nodes": n_nodes,
            "parent": self._pad(np.maximum(np.asarray(parent), 0)),
            "token": self._pad(token),
            "target_token": self._pad(target_token),
        }
        if self.mode == "stochastic":
            assert values is not None
            fields["draft_prob"] = self._pad(values.draft_prob)
            fields["target_prob"] = self._pad(values.target_prob)
            if self.uniform_source == "request":
                fields["uniform"] = self._pad(values.uniform)
        return pack(self.req_layout, fields)

    def pack_response(self, path, bonus: int, error: bool) -> int:
        return pack(self.resp_layout, {
            "path": self._pad(path), "accepted": len(path) - 1 if path else 0,
            "bonus_token": bonus, "error": int(error),
        })

    def unpack_response(self, word: int) -> dict:
        """A response word as ``{"path", "accepted", "bonus_token", "error"}``."""
        c = self.resp_layout.from_bits(word)
        return {"path": [int(c.path[k]) for k in range(self.nodes)],
                "accepted": int(c.accepted), "bonus_token": int(c.bonus_token),
                "error": int(c.error)}

    def _draw_uniforms(self, n: int, values: StochasticValues | None) -> StochasticValues | None:
        if self.mode != "stochastic" or self.uniform_source != "lfsr":
            return values
        drawn = np.asarray(self.lfsr.uniforms(self.nodes, self.prob_width), dtype=np.int64)
        assert values is not None
        return StochasticValues(values.target_prob, values.draft_prob, drawn[:n])

    def vector(self, tree: DraftTree, values: StochasticValues | None = None) -> VerifyVector:
        """Vector for a valid tree (greedy: `tree` as is; stochastic: integer `values`)."""
        n = tree.n_nodes
        values = self._draw_uniforms(n, values)
        if self.mode == "stochastic":
            golden_tree = fixed_point_tree(tree.parent, tree.token, tree.target_token, values,
                                           self.prob_width)
        else:
            golden_tree = tree
        outcome = verify_tree(golden_tree, self.mode)
        path = [int(v) for v in outcome.path]
        return VerifyVector(
            request=self.pack_request(n, tree.parent, tree.token, tree.target_token, values),
            response=self.pack_response(path, outcome.bonus_token, False),
            n_nodes=n, accepted=outcome.accepted, error=False)

    def invalid_vector(self, n_nodes: int, parent, token, target_token,
                       values: StochasticValues | None = None) -> VerifyVector:
        """Vector for a request the golden model rejects (bad parent pointer, or a node count
        outside [1, N]); the expected response is the error flag with a zero payload."""
        if 1 <= n_nodes <= self.nodes:
            require_golden_rejects(parent, n_nodes)
        if self.mode == "stochastic" and self.uniform_source == "lfsr":
            self.lfsr.uniforms(self.nodes, self.prob_width)  # the unit draws them anyway
        return VerifyVector(
            request=self.pack_request(n_nodes, parent, token, target_token, values),
            response=self.pack_response([], 0, True), n_nodes=n_nodes, accepted=0, error=True)

    # -- generators ----------------------------------------------------------------------

    def trace_vector(self, tree: DraftTree) -> VerifyVector:
        """Vector of a step of a workload trace (stochastic: quantised by the software side,
        :func:`~specaccel.hdl.stochastic_fixed_point.quantise_tree`)."""
        if self.mode != "stochastic":
            return self.vector(tree)
        _, values = quantise_tree(tree, self.prob_width)
        return self.vector(tree, values)

    def random_tree_vector(self, rng: np.random.Generator, *, n: int | None = None,
                           shape: str | None = None) -> VerifyVector:
        """A random valid tree (random size and shape unless given)."""
        n = int(rng.integers(1, self.nodes + 1)) if n is None else n
        shape = SHAPES[int(rng.integers(0, len(SHAPES)))] if shape is None else shape
        tree = random_greedy_tree(rng, n, token_width=self.token_width, shape=shape)
        values = None
        if self.mode == "stochastic":
            values = random_stochastic_values(rng, n, self.prob_width)
        return self.vector(tree, values)

    def random_invalid_vector(self, rng: np.random.Generator) -> VerifyVector:
        """A random invalid request: too many nodes, zero nodes, or a bad parent pointer."""
        n_max = (1 << self.req_layout.members["n_nodes"].width) - 1
        kind = int(rng.integers(0, 3))
        n = int(rng.integers(2, self.nodes + 1))
        tree = random_greedy_tree(rng, n, token_width=self.token_width)
        parent = tree.parent.copy()
        if kind == 0 and n_max > self.nodes:
            count = int(rng.integers(self.nodes + 1, n_max + 1))
        elif kind == 1:
            count = 0
        else:
            i = int(rng.integers(1, n))
            parent[i] = int(rng.integers(i, self.nodes))
            count = n
        values = random_stochastic_values(rng, n, self.prob_width)
        return self.invalid_vector(count, parent, tree.token, tree.target_token, values)

    def directed_vectors(self, rng: np.random.Generator) -> Iterator[tuple[str, VerifyVector]]:
        """The directed edge cases: root only, all accepted, none accepted, sibling ties,
        deepest chain, widest star, maximum N (all at n_nodes = N unless named otherwise)."""
        n_max = self.nodes
        tw = self.token_width
        vocab = 1 << tw

        def tokens_all_accepted(parent, target):
            token = np.zeros(len(parent), dtype=np.int64)
            for i in range(1, len(parent)):
                token[i] = target[parent[i]]
            return token

        def values_for(n, accept_all: bool):
            if self.mode != "stochastic":
                return None
            top = 1 << self.prob_width
            if accept_all:  # p > u*q / 2**w for every u: p = top - 1, q = 1
                return StochasticValues(np.full(n, top - 1), np.ones(n, dtype=np.int64),
                                        rng.integers(0, top, n))
            return StochasticValues(np.zeros(n, dtype=np.int64), np.full(n, top - 1),
                                    rng.integers(0, top, n))

        target = rng.integers(0, vocab, n_max)
        yield "root_only", self.vector(DraftTree.build([-1], [5 % vocab], [target[0]]),
                                       values_for(1, True))
        for shape in ("chain", "star", "random"):
            parent = random_parents(rng, n_max, shape)
            token = tokens_all_accepted(parent, target)
            yield f"all_accepted_{shape}", self.vector(
                DraftTree.build(parent, token, target), values_for(n_max, True))
            wrong = (token + 1) % vocab
            wrong[0] = token[0]
            yield f"none_accepted_{shape}", self.vector(
                DraftTree.build(parent, wrong, target), values_for(n_max, False))
        # ties: every child of the root carries the right token; then the lowest index must win
        parent = np.array([-1] + [0] * (n_max // 2) + list(range(1, n_max - n_max // 2)),
                          dtype=np.int32)[:n_max]
        token = tokens_all_accepted(parent, target)
        yield "sibling_ties", self.vector(DraftTree.build(parent, token, target),
                                          values_for(n_max, True))
        parent = random_parents(rng, n_max, "chain")
        yield "deepest_chain", self.vector(
            DraftTree.build(parent, tokens_all_accepted(parent, target), target),
            values_for(n_max, True))
        parent = random_parents(rng, n_max, "star")
        token = np.where(rng.random(n_max) < 0.5, tokens_all_accepted(parent, target), 0)
        yield "widest_star", self.vector(DraftTree.build(parent, token, target),
                                         values_for(n_max, True))
        tree = random_greedy_tree(rng, n_max, token_width=tw, accept_rate=0.9)
        yield "maximum_n", self.vector(tree, values_for(n_max, True))
        yield "n_exceeded", self.invalid_vector(
            (1 << self.req_layout.members["n_nodes"].width) - 1, tree.parent, tree.token,
            tree.target_token, values_for(n_max, True))
        bad = tree.parent.copy()
        bad[n_max - 1] = n_max - 1
        yield "parent_not_below_node", self.invalid_vector(
            n_max, bad, tree.token, tree.target_token, values_for(n_max, True))
        yield "recovery_after_error", self.vector(tree, values_for(n_max, True))


# ---------------------------------------------------------------------------------------
# mask and compaction vectors


class MaskVectorModel:
    """Packs parent pointers for a TreeMaskUnit and computes the expected mask/positions."""

    def __init__(self, *, nodes: int, position_width: int = 16) -> None:
        self.nodes, self.position_width = nodes, position_width
        self.req_layout = tree_mask_request_layout(nodes=nodes, position_width=position_width)
        self.resp_layout = tree_mask_response_layout(nodes=nodes, position_width=position_width)

    def vector(self, parent, root_position: int) -> tuple[int, int]:
        """(request, expected response) for a valid tree."""
        parent = np.asarray(parent)
        n = parent.shape[0]
        mask = tree_attention_mask(parent)
        pos = position_ids(parent, root_position)
        rows = [sum(1 << j for j in range(n) if mask[i, j]) for i in range(n)]
        pad = [0] * (self.nodes - n)
        req = pack(self.req_layout, {
            "n_nodes": n, "parent": [max(0, int(p)) for p in parent] + pad,
            "root_position": root_position})
        resp = pack(self.resp_layout, {
            "mask": rows + pad, "position": [int(p) for p in pos] + pad,
            "error": 0})
        return req, resp

    def invalid_vector(self, n_nodes: int, parent, root_position: int) -> tuple[int, int]:
        parent = [max(0, int(p)) for p in parent][: self.nodes]
        parent += [0] * (self.nodes - len(parent))
        req = pack(self.req_layout, {"n_nodes": n_nodes, "parent": parent,
                                     "root_position": root_position})
        resp = pack(self.resp_layout, {"mask": [0] * self.nodes, "position": [0] * self.nodes,
                                       "error": 1})
        return req, resp


class CompactVectorModel:
    """Packs accepted paths for a KVCompactUnit and computes the expected gather indices."""

    def __init__(self, *, nodes: int, slot_width: int = 16) -> None:
        self.nodes, self.slot_width = nodes, slot_width
        self.req_layout = kv_compact_request_layout(nodes=nodes, slot_width=slot_width)
        self.resp_layout = kv_compact_response_layout(nodes=nodes, slot_width=slot_width)

    def vector(self, path, base: int) -> tuple[int, int]:
        """(request, expected response) for an accepted path (root first)."""
        path = [int(v) for v in path]
        gather = [int(g) for g in kv_compaction(path, base)]
        moves = sum(1 << (dst - base) for _, dst in kv_moves(path, base))
        pad = [0] * (self.nodes - len(path))
        req = pack(self.req_layout, {"path": path + pad, "accepted": len(path) - 1,
                                     "base": base})
        resp = pack(self.resp_layout, {"gather": gather + pad, "count": len(path),
                                       "moves": moves, "error": 0})
        return req, resp

    def invalid_vector(self, path, accepted: int, base: int) -> tuple[int, int]:
        """A path the golden model rejects (not starting at 0, or not increasing)."""
        try:
            kv_compaction(path[: accepted + 1], base)
        except ValueError:
            pass
        else:
            raise ValueError("invalid_vector() needs a path the golden model rejects")
        path = [int(v) for v in path] + [0] * (self.nodes - len(path))
        req = pack(self.req_layout, {"path": path, "accepted": accepted,
                                     "base": base})
        resp = pack(self.resp_layout, {"gather": [0] * self.nodes, "count": 0, "moves": 0,
                                       "error": 1})
        return req, resp


class CoreVectorModel:
    """Vectors for :class:`~specaccel.hdl.spec_decode_core.SpecDecodeCore`: a decode step's
    request and the expected ``mask`` and ``commit`` words, all from the golden model."""

    def __init__(self, *, nodes: int, token_width: int = 16, prob_width: int = 12,
                 mode: str = "greedy", uniform_source: str = "request",
                 position_width: int = 16, slot_width: int = 16) -> None:
        from specaccel.hdl.spec_decode_core import core_commit_layout, core_request_layout

        self.verify = VerifyVectorModel(nodes=nodes, token_width=token_width,
                                        prob_width=prob_width, mode=mode,
                                        uniform_source=uniform_source)
        self.mask = MaskVectorModel(nodes=nodes, position_width=position_width)
        self.compact = CompactVectorModel(nodes=nodes, slot_width=slot_width)
        self.nodes, self.position_width, self.slot_width = nodes, position_width, slot_width
        self.req_layout = core_request_layout(self.verify.req_layout,
                                              position_width=position_width,
                                              slot_width=slot_width)
        self.commit_layout = core_commit_layout(nodes=nodes, token_width=token_width,
                                                slot_width=slot_width)

    def vector(self, tree: DraftTree, values: StochasticValues | None, root_position: int,
               kv_base: int) -> tuple[int, int, int]:
        """(request, expected mask word, expected commit word) of a valid step."""
        vv = self.verify.vector(tree, values)
        _, mask_resp = self.mask.vector(tree.parent, root_position)
        path = [p for k, p in enumerate(self.verify.unpack_response(vv.response)["path"])
                if k <= vv.accepted]
        _, compact_resp = self.compact.vector(path, kv_base)
        req = pack(self.req_layout, {
            "tree": vv.request,
            "root_position": root_position, "kv_base": kv_base})
        commit = pack(self.commit_layout, {
            "verify": vv.response, "compact": compact_resp})
        return req, mask_resp, commit

    def random_vector(self, rng: np.random.Generator, tree: DraftTree | None = None
                      ) -> tuple[int, int, int]:
        """A random step (or the given `tree`), root position and KV base."""
        if tree is None:
            n = int(rng.integers(1, self.nodes + 1))
            shape = SHAPES[int(rng.integers(0, len(SHAPES)))]
            tree = random_greedy_tree(rng, n, token_width=self.verify.token_width, shape=shape)
        values = None
        if self.verify.mode == "stochastic":
            values = random_stochastic_values(rng, tree.n_nodes, self.verify.prob_width)
        root = int(rng.integers(0, (1 << self.position_width) - self.nodes))
        base = int(rng.integers(0, (1 << self.slot_width) - self.nodes))
        return self.vector(tree, values, root, base)

    def invalid_vector(self, rng: np.random.Generator) -> tuple[int, int, int]:
        """A step the golden model rejects (bad parent pointer, zero or too many nodes):
        both outputs carry the error flag; the compaction of the empty path [0] still
        follows, as the units define it."""
        vv = self.verify.random_invalid_vector(rng)
        fields = self.verify.req_layout.from_bits(vv.request)
        n_nodes = int(fields.n_nodes)
        parent = [int(fields.parent[i]) for i in range(self.nodes)]
        root = int(rng.integers(0, 1 << self.position_width))
        base = int(rng.integers(0, (1 << self.slot_width) - self.nodes))
        _, mask_resp = self.mask.invalid_vector(n_nodes, parent, root)
        _, compact_resp = self.compact.vector([0], base)
        req = pack(self.req_layout, {"tree": vv.request, "root_position": root,
                                     "kv_base": base})
        commit = pack(self.commit_layout, {"verify": vv.response, "compact": compact_resp})
        return req, mask_resp, commit
