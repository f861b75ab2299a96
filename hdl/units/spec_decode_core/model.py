"""Vector model of ``spec_decode_core``: a decode step's request and the ``mask`` and
``commit`` words the golden model expects, built from the three units' models."""

from __future__ import annotations

import numpy as np

from specaccel.hdl.layouts import pack
from specaccel.hdl.stochastic_fixed_point import StochasticValues
from specaccel.hdl.tree_vectors import SHAPES, random_greedy_tree, random_stochastic_values
from specaccel.hdl.units.kv_compact.model import CompactVectorModel
from specaccel.hdl.units.spec_decode_core.gateware import (
    core_commit_layout,
    core_request_layout,
)
from specaccel.hdl.units.tree_mask.model import MaskVectorModel
from specaccel.hdl.units.tree_verify.model import VerifyVectorModel
from specaccel.schema.trace import DraftTree

CYCLE_REQUESTS = 12


class CoreVectorModel:
    """Vectors for :class:`.gateware.SpecDecodeCore`: a decode step's
    request and the expected ``mask`` and ``commit`` words, all from the golden model."""

    def __init__(self, *, nodes: int, token_width: int = 16, prob_width: int = 12,
                 mode: str = "greedy", uniform_source: str = "request",
                 position_width: int = 16, slot_width: int = 16) -> None:
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


def measure_cycles(unit, rng: np.random.Generator) -> tuple[int, float]:
    """(latency to ``commit``, II) of `unit` on full-size random steps, measured."""
    from specaccel.hdl.amaranth_stream_driver import measure_stream

    model = CoreVectorModel(nodes=unit.nodes, token_width=unit.token_width,
                            prob_width=unit.prob_width, position_width=unit.position_width,
                            slot_width=unit.slot_width)
    reqs = [model.random_vector(rng, random_greedy_tree(rng, unit.nodes,
                                                        token_width=unit.token_width))[0]
            for _ in range(CYCLE_REQUESTS)]
    return measure_stream(unit, reqs, output="commit", outputs=("mask", "commit"))
