"""Vector model of ``tree_verify``: draft trees packed as one request word each, and the
response word :func:`specaccel.models.golden.verify_tree` expects.

This is the *model* half of the testbenches (cocotb-examples style): it never decides an
outcome itself.  The drivers (Amaranth simulator tests, the cocotb bench in
:mod:`.bench`) only move these integers in and out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from specaccel.hdl.layouts import pack, verify_request_layout, verify_response_layout
from specaccel.hdl.stochastic_fixed_point import (
    StochasticValues,
    fixed_point_tree,
    quantise_tree,
)
from specaccel.hdl.tree_vectors import (
    SHAPES,
    random_greedy_tree,
    random_parents,
    random_stochastic_values,
    require_golden_rejects,
)
from specaccel.hdl.uniform_lfsr import UniformLFSR
from specaccel.models.golden import verify_tree
from specaccel.schema.trace import DraftTree

CYCLE_REQUESTS = 12


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


def measure_cycles(unit, rng: np.random.Generator) -> tuple[int, float]:
    """(latency, II) of `unit` on full-size random trees sent back to back, measured."""
    from specaccel.hdl.amaranth_stream_driver import measure_stream

    model = VerifyVectorModel(nodes=unit.nodes, token_width=unit.token_width,
                              prob_width=unit.prob_width)
    return measure_stream(unit, [model.random_tree_vector(rng, n=unit.nodes).request
                                 for _ in range(CYCLE_REQUESTS)])
