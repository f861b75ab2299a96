"""Vector model of ``tree_mask``: parent pointers packed as a request, and the mask rows and
position ids :func:`~specaccel.models.golden.tree_attention_mask` and
:func:`~specaccel.models.golden.position_ids` expect."""

from __future__ import annotations

import numpy as np

from specaccel.hdl.layouts import pack, tree_mask_request_layout, tree_mask_response_layout
from specaccel.hdl.tree_vectors import random_parents
from specaccel.models.golden import position_ids, tree_attention_mask

CYCLE_REQUESTS = 12


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
        # position ids are position_width bits: they wrap as the unit's adder does
        pos = position_ids(parent, root_position) % (1 << self.position_width)
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


def measure_cycles(unit, rng: np.random.Generator) -> tuple[int, float]:
    """(latency, II) of `unit` on full-size random trees sent back to back, measured."""
    from specaccel.hdl.amaranth_stream_driver import measure_stream

    model = MaskVectorModel(nodes=unit.nodes, position_width=unit.position_width)
    return measure_stream(unit, [model.vector(random_parents(rng, unit.nodes),
                                              int(rng.integers(0, 1000)))[0]
                                 for _ in range(CYCLE_REQUESTS)])
