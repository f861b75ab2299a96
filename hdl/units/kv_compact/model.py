"""Vector model of ``kv_compact``: accepted paths packed as a request, and the gather
indices and moves :func:`~specaccel.models.golden.kv_compaction` and
:func:`~specaccel.models.golden.kv_moves` expect."""

from __future__ import annotations

import numpy as np

from specaccel.hdl.layouts import (
    kv_compact_request_layout,
    kv_compact_response_layout,
    pack,
)
from specaccel.models.golden import kv_compaction, kv_moves

CYCLE_REQUESTS = 12


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

    def overflow_vector(self, path, base: int) -> tuple[int, int]:
        """A valid path whose last slot ``base + path[-1]`` is past ``2**slot_width - 1``:
        the golden gather indices do not fit the unit's slots, so it answers the error."""
        gather = kv_compaction([int(v) for v in path], base)
        if int(max(gather)) < 1 << self.slot_width:
            raise ValueError("overflow_vector() needs a slot past the slot width")
        padded = [int(v) for v in path] + [0] * (self.nodes - len(path))
        req = pack(self.req_layout, {"path": padded, "accepted": len(path) - 1, "base": base})
        resp = pack(self.resp_layout, {"gather": [0] * self.nodes, "count": 0, "moves": 0,
                                       "error": 1})
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


def measure_cycles(unit, rng: np.random.Generator) -> tuple[int, float]:
    """(latency, II) of `unit` on fully accepted chains sent back to back, measured."""
    from specaccel.hdl.amaranth_stream_driver import measure_stream

    model = CompactVectorModel(nodes=unit.nodes, slot_width=unit.slot_width)
    return measure_stream(unit, [model.vector(list(range(unit.nodes)),
                                              int(rng.integers(0, 1000)))[0]
                                 for _ in range(CYCLE_REQUESTS)])
