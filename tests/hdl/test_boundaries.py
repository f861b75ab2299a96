"""Directed cases at every arithmetic boundary of the units, at the widths actually used.

Random stimulus never reaches these corners (a random 20-bit base is within 15 slots of the
top once in 70,000 draws), so each is named here; expected outputs still come from the
golden model through the units' vector models.
"""

import numpy as np
import pytest

from specaccel.hdl.amaranth_stream_driver import run_stream
from specaccel.hdl.node_stream_driver import run_node_stream
from specaccel.hdl.stochastic_fixed_point import StochasticValues
from specaccel.hdl.units.kv_compact.gateware import KVCompactUnit
from specaccel.hdl.units.kv_compact.model import CompactVectorModel
from specaccel.hdl.units.tree_mask.gateware import TreeMaskUnit
from specaccel.hdl.units.tree_mask.model import MaskVectorModel
from specaccel.hdl.units.tree_verify.gateware import TreeVerifyUnit
from specaccel.hdl.units.tree_verify.model import VerifyVectorModel
from specaccel.hdl.units.tree_verify_serial.gateware import TreeVerifySerialUnit
from specaccel.hdl.units.tree_verify_serial.model import SerialVerifyVectorModel
from specaccel.schema.trace import DraftTree


def kv_boundary_vectors(model: CompactVectorModel) -> list[tuple[int, int]]:
    """Bases at and around the top of the slot range, and at the carry out of the low
    bits into a base whose high part is all ones but for its MSB (the issue's case)."""
    n, sw = model.nodes, model.slot_width
    top = (1 << sw) - 1
    last = n - 1
    vecs = []
    for base in (0, top - last, top - last + 1, top - 1, top):
        for path in ([0], [0, last], list(range(n))):
            if base + path[-1] <= top:
                vecs.append(model.vector(path, base))
            else:  # the golden model does not know slot widths: an overflow is an error
                vecs.append(model.overflow_vector(path, base))
    p = (n - 1).bit_length()
    if sw > p + 1:
        # high part 0b0111..1, low part near its top: base + path carries into the high part
        # without leaving the slot range (the MSB of base_hi decides; e.g. 0x7FFF1 + 15)
        base = ((1 << (sw - 1)) - 1) & ~((1 << p) - 1) | ((1 << p) - 1)
        vecs.append(model.vector([0, last], base))
        vecs.append(model.vector([0, 1], base))
    return vecs


@pytest.mark.parametrize("nodes, slot_width", [(16, 20), (16, 16), (8, 16), (4, 4), (64, 16)])
def test_kv_compact_slot_boundaries(nodes, slot_width):
    model = CompactVectorModel(nodes=nodes, slot_width=slot_width)
    vecs = kv_boundary_vectors(model)
    run = run_stream(KVCompactUnit(nodes=nodes, slot_width=slot_width),
                     [r for r, _ in vecs], seed=1, p_valid=0.7, p_ready=0.7)
    assert run.responses == [e for _, e in vecs]


def test_kv_compact_msb_case_of_the_issue():
    """Path [0, 15] at base 0x7FFF1 with 20-bit slots fits (0x80000): no error."""
    model = CompactVectorModel(nodes=16, slot_width=20)
    req, resp = model.vector([0, 15], 0x7FFF1)
    assert model.resp_layout.from_bits(resp).error == 0
    run = run_stream(KVCompactUnit(nodes=16, slot_width=20), [req])
    assert run.responses == [resp]


@pytest.mark.parametrize("nodes, position_width", [(16, 16), (16, 12), (8, 4), (64, 16)])
def test_tree_mask_position_wrap(nodes, position_width):
    """Positions are position_width-bit ids: root + depth wraps at 2**position_width (the
    model reduces the golden positions the same way), at and around the top."""
    model = MaskVectorModel(nodes=nodes, position_width=position_width)
    top = (1 << position_width) - 1
    chain = np.array([-1] + list(range(nodes - 1)))
    star = np.array([-1] + [0] * (nodes - 1))
    vecs = [model.vector(parent, root) for root in (0, top - nodes + 1, top - 1, top)
            for parent in (chain, star)]
    run = run_stream(TreeMaskUnit(nodes=nodes, position_width=position_width),
                     [r for r, _ in vecs], seed=2, p_valid=0.8, p_ready=0.6)
    assert run.responses == [e for _, e in vecs]


def stochastic_boundary_trees(nodes: int, w: int) -> list[tuple[DraftTree, StochasticValues]]:
    """Chains whose every node sits at one boundary of ``u*q < p * 2**w``: u, q, p at 0
    and at 2**w - 1, and ``u*q`` exactly ``p * 2**w`` (rejected: strict) or one below it
    (accepted)."""
    top = (1 << w) - 1
    cases = []
    n = nodes
    parent = np.array([-1] + list(range(n - 1)))
    token = np.arange(n) % 3
    tree = DraftTree.build(parent, token, np.roll(token, -1))  # every token matches
    # (u, q, p): all nodes equal
    triples = [(0, top, 0), (0, 0, 0), (top, top, top), (top, 0, 0), (0, top, top),
               (top, top, 0), (top, 1, 1), (1 << (w - 1), 2, 1),  # u*q == p*2**w: reject
               (1 << (w - 1), 2, 2)]                             # u*q == p*2**w - 2**w: ok
    # the largest product: top*top = (top - 1) * 2**w + 1, just above p = top - 1
    triples.append((top, top, top - 1))  # reject: u*q >= p * 2**w by 1
    for u, q, p in triples:
        values = StochasticValues(np.full(n, p), np.full(n, q), np.full(n, u))
        cases.append((tree, values))
    return cases


@pytest.mark.parametrize("unit_cls, model_cls, nodes, w", [
    (TreeVerifyUnit, VerifyVectorModel, 8, 12),
    (TreeVerifyUnit, VerifyVectorModel, 8, 16),
    (TreeVerifySerialUnit, SerialVerifyVectorModel, 16, 12),
    (TreeVerifySerialUnit, SerialVerifyVectorModel, 8, 8),
])
def test_stochastic_extremes_and_the_exact_tie(unit_cls, model_cls, nodes, w):
    cfg = dict(nodes=nodes, token_width=4, prob_width=w, mode="stochastic")
    model = model_cls(**cfg)
    vecs = [model.vector(tree, values) for tree, values in stochastic_boundary_trees(nodes, w)]
    accepted = [v.accepted for v in vecs]
    assert 0 in accepted and nodes - 1 in accepted  # both sides of the comparison
    unit = unit_cls(**cfg)
    if unit_cls is TreeVerifySerialUnit:
        run = run_node_stream(unit, [v.records for v in vecs], seed=3, p_valid=0.8,
                              p_ready=0.7)
    else:
        run = run_stream(unit, [v.request for v in vecs], seed=3, p_valid=0.8, p_ready=0.7)
    assert run.responses == [v.response for v in vecs]
    # u*q == p * 2**w is rejected (strict), one step below is accepted
    tie = vecs[7]
    assert tie.accepted == 0 and vecs[8].accepted == nodes - 1
