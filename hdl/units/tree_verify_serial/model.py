"""Vector model of ``tree_verify_serial`` (:class:`.gateware.TreeVerifySerialUnit`).

The serial unit takes a tree as a stream of node records and answers with the very response
word of the parallel unit, so this model *is* ``tree_verify``'s
:class:`~specaccel.hdl.units.tree_verify.model.VerifyVectorModel` (the same random,
directed and trace trees; expected responses from
:func:`specaccel.models.golden.verify_tree`), with two differences:

* a vector carries the list of node-record words (``last`` on the final one) instead of one
  request word;
* with ``uniform_source="lfsr"`` a tree of n records draws n uniforms (the parallel unit
  draws N per request), and a request of "too many nodes" is a stream of more than N
  records (there is no ``n_nodes`` field, so a tree of zero nodes cannot be expressed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specaccel.hdl.layouts import pack, verify_node_layout
from specaccel.hdl.stochastic_fixed_point import StochasticValues
from specaccel.hdl.tree_vectors import (
    random_greedy_tree,
    random_stochastic_values,
    require_golden_rejects,
)
from specaccel.hdl.units.tree_verify.model import VerifyVectorModel
from specaccel.schema.trace import DraftTree

__all__ = ["SerialVerifyVector", "SerialVerifyVectorModel", "measure_cycles"]

CYCLE_TREES = 12


@dataclass(frozen=True)
class SerialVerifyVector:
    """One tree as node-record words and the response word the golden model expects."""

    records: list[int]
    response: int
    n_nodes: int
    accepted: int
    error: bool


class SerialVerifyVectorModel(VerifyVectorModel):
    """Node-record vectors for a TreeVerifySerialUnit configuration (same parameters as
    :class:`~specaccel.hdl.units.tree_verify.model.VerifyVectorModel`; with
    ``uniform_source="lfsr"`` vectors must be sent in the order they were made)."""

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.node_layout = verify_node_layout(
            nodes=self.nodes, token_width=self.token_width, prob_width=self.prob_width,
            stochastic=self.mode == "stochastic",
            uniform_in_request=self.uniform_source == "request")

    def _draw_uniforms(self, n: int, values: StochasticValues | None) -> StochasticValues | None:
        if self.mode != "stochastic" or self.uniform_source != "lfsr":
            return values
        assert values is not None
        drawn = np.asarray(self.lfsr.uniforms(n, self.prob_width), dtype=np.int64)
        return StochasticValues(values.target_prob, values.draft_prob, drawn)

    def node_records(self, count: int, parent, token, target_token,
                     values: StochasticValues | None = None) -> list[int]:
        """`count` node-record words (``last`` on the final one); record i takes the tree's
        node ``i % len(parent)`` (a longer stream repeats the tree: an over-long request).
        The root's parent (-1) is sent as 0."""
        size = len(parent)
        columns = {"parent": np.maximum(np.asarray(parent), 0), "token": np.asarray(token),
                   "target_token": np.asarray(target_token)}
        if self.mode == "stochastic":
            assert values is not None
            columns["draft_prob"] = np.asarray(values.draft_prob)
            columns["target_prob"] = np.asarray(values.target_prob)
            if self.uniform_source == "request":
                columns["uniform"] = np.asarray(values.uniform)
        words = []
        for i in range(count):
            record = {name: int(col[i % size]) for name, col in columns.items()}
            record["last"] = int(i == count - 1)
            words.append(pack(self.node_layout, record))
        return words

    def vector(self, tree: DraftTree, values: StochasticValues | None = None
               ) -> SerialVerifyVector:
        """Vector for a valid tree (greedy: `tree` as is; stochastic: integer `values`)."""
        expected = super().vector(tree, values)
        return SerialVerifyVector(
            records=self.node_records(tree.n_nodes, tree.parent, tree.token, tree.target_token,
                                      values),
            response=expected.response, n_nodes=expected.n_nodes, accepted=expected.accepted,
            error=False)

    def invalid_vector(self, n_nodes: int, parent, token, target_token,
                       values: StochasticValues | None = None) -> SerialVerifyVector:
        """Vector for a tree the golden model rejects: a bad parent pointer within
        ``n_nodes <= N`` records, or more than N records (``n_nodes > N``)."""
        if n_nodes < 1:
            raise ValueError("a node stream has at least one record")
        if n_nodes <= self.nodes:
            require_golden_rejects(parent, n_nodes)
        if self.mode == "stochastic" and self.uniform_source == "lfsr":
            self.lfsr.uniforms(n_nodes, self.prob_width)  # every record draws one
        return SerialVerifyVector(
            records=self.node_records(n_nodes, parent, token, target_token, values),
            response=self.pack_response([], 0, True), n_nodes=n_nodes, accepted=0, error=True)

    def random_invalid_vector(self, rng: np.random.Generator) -> SerialVerifyVector:
        """A random invalid tree: more than N records, or a parent pointer not below its
        node (possibly pointing past N - 1 in value only up to the field's range)."""
        n = int(rng.integers(2, self.nodes + 1))
        tree = random_greedy_tree(rng, n, token_width=self.token_width)
        values = random_stochastic_values(rng, n, self.prob_width)
        parent = tree.parent.copy()
        if rng.random() < 0.5:
            count = int(rng.integers(self.nodes + 1, 2 * self.nodes + 2))
        else:
            i = int(rng.integers(1, n))
            parent[i] = int(rng.integers(i, self.nodes))
            count = n
        return self.invalid_vector(count, parent, tree.token, tree.target_token, values)


def measure_cycles(unit, rng: np.random.Generator) -> tuple[int, float]:
    """Full-size trees back to back: (cycles from a tree's first record to its response,
    mean interval between responses), measured."""
    from specaccel.hdl.amaranth_stream_driver import steady_interval
    from specaccel.hdl.node_stream_driver import run_node_stream

    model = SerialVerifyVectorModel(nodes=unit.nodes, token_width=unit.token_width,
                                    prob_width=unit.prob_width)
    trees = [model.random_tree_vector(rng, n=unit.nodes).records for _ in range(CYCLE_TREES)]
    run = run_node_stream(unit, trees)
    if len(run.responses) != len(trees):
        raise RuntimeError(f"unit answered {len(run.responses)} of {len(trees)} trees")
    return run.received_cycles[0] - run.first_cycles[0], steady_interval(run.received_cycles)
