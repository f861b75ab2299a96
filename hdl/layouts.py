"""Shared payload layouts (``data.StructLayout``) of the speculative-decoding units.

Every stream payload of the units in :mod:`specaccel.hdl` is built here, from the unit's
parameters, so that the units, the Amaranth-simulator tests and the cocotb models pack and
unpack the very same layout (``layout.const({...}).as_value().value`` to pack,
``layout.from_bits(v)`` to unpack).  Per-node fields are ``data.ArrayLayout`` arrays indexed
by node number; in a flattened Verilog port field 0 sits at the least significant bit.

Widths
------
* node index: ``range(nodes)`` (``index_shape``);
* node count ``n_nodes``: one bit wider than ``range(nodes + 1)`` so that a request can say
  "more than N nodes" — such a request is answered with the error flag (``count_shape``).
"""

from __future__ import annotations

from amaranth.hdl import Shape, unsigned
from amaranth.lib import data

__all__ = [
    "count_shape", "pack", "index_shape", "kv_compact_request_layout", "kv_compact_response_layout",
    "tree_mask_request_layout", "tree_mask_response_layout", "verify_node_layout",
    "verify_request_layout", "verify_response_layout",
]


def index_shape(nodes: int) -> Shape:
    """Shape of a node index (parent pointer, path entry): ``range(nodes)``."""
    return Shape.cast(range(nodes))


def count_shape(nodes: int) -> Shape:
    """Shape of the ``n_nodes`` request field: wide enough to express ``nodes + 1`` and more."""
    return unsigned(Shape.cast(range(nodes + 1)).width + 1)


def verify_request_layout(*, nodes: int, token_width: int, prob_width: int,
                          stochastic: bool, uniform_in_request: bool) -> data.StructLayout:
    """Request of :class:`~specaccel.hdl.units.tree_verify.gateware.TreeVerifyUnit` (one tree).

    Fields: ``n_nodes``; per node ``parent`` (node 0's is ignored), ``token`` (the draft
    token), ``target_token`` (the target's token after the node); stochastic units add
    ``draft_prob`` q and ``target_prob`` p (``prob_width``-bit fractions, value/2**w) and,
    when the uniforms come with the request, ``uniform`` u.
    """
    fields: dict[str, object] = {
        "n_nodes": count_shape(nodes),
        "parent": data.ArrayLayout(index_shape(nodes), nodes),
        "token": data.ArrayLayout(unsigned(token_width), nodes),
        "target_token": data.ArrayLayout(unsigned(token_width), nodes),
    }
    if stochastic:
        fields["draft_prob"] = data.ArrayLayout(unsigned(prob_width), nodes)
        fields["target_prob"] = data.ArrayLayout(unsigned(prob_width), nodes)
        if uniform_in_request:
            fields["uniform"] = data.ArrayLayout(unsigned(prob_width), nodes)
    return data.StructLayout(fields)


def verify_node_layout(*, nodes: int, token_width: int, prob_width: int,
                       stochastic: bool, uniform_in_request: bool) -> data.StructLayout:
    """One node record of the node-serial verify unit
    (:class:`~specaccel.hdl.units.tree_verify_serial.gateware.TreeVerifySerialUnit`; a tree
    arrives as one record per node, root first).

    Fields: ``token``, ``parent`` (ignored on the root), ``target_token``; stochastic units
    add ``draft_prob`` q, ``target_prob`` p and, when the uniforms come with the request,
    ``uniform`` u (``prob_width``-bit fractions, value/2**w); ``last`` is 1 on the tree's
    last node.
    """
    fields: dict[str, object] = {
        "token": unsigned(token_width),
        "parent": index_shape(nodes),
        "target_token": unsigned(token_width),
    }
    if stochastic:
        fields["draft_prob"] = unsigned(prob_width)
        fields["target_prob"] = unsigned(prob_width)
        if uniform_in_request:
            fields["uniform"] = unsigned(prob_width)
    fields["last"] = 1
    return data.StructLayout(fields)


def verify_response_layout(*, nodes: int, token_width: int) -> data.StructLayout:
    """Response of the verify unit: accepted ``path`` (root first, zeros after its end),
    ``accepted`` (drafts accepted, root not counted), ``bonus_token``, ``error``."""
    return data.StructLayout({
        "path": data.ArrayLayout(index_shape(nodes), nodes),
        "accepted": index_shape(nodes),
        "bonus_token": unsigned(token_width),
        "error": 1,
    })


def tree_mask_request_layout(*, nodes: int, position_width: int) -> data.StructLayout:
    """Request of :class:`~specaccel.hdl.units.tree_mask.gateware.TreeMaskUnit`: ``n_nodes``,
    per-node ``parent`` and the ``root_position`` (position id of node 0)."""
    return data.StructLayout({
        "n_nodes": count_shape(nodes),
        "parent": data.ArrayLayout(index_shape(nodes), nodes),
        "root_position": unsigned(position_width),
    })


def tree_mask_response_layout(*, nodes: int, position_width: int) -> data.StructLayout:
    """Response of the mask unit: ``mask`` rows (bit j of row i: j is i or an ancestor of i),
    per-node ``position`` ids, ``error``.  Rows and positions past ``n_nodes`` are 0."""
    return data.StructLayout({
        "mask": data.ArrayLayout(unsigned(nodes), nodes),
        "position": data.ArrayLayout(unsigned(position_width), nodes),
        "error": 1,
    })


def kv_compact_request_layout(*, nodes: int, slot_width: int) -> data.StructLayout:
    """Request of :class:`~specaccel.hdl.units.kv_compact.gateware.KVCompactUnit`: an
    accepted ``path`` (as the verify unit emits it), ``accepted`` and the cache slot
    ``base`` of node 0."""
    return data.StructLayout({
        "path": data.ArrayLayout(index_shape(nodes), nodes),
        "accepted": index_shape(nodes),
        "base": unsigned(slot_width),
    })


def kv_compact_response_layout(*, nodes: int, slot_width: int) -> data.StructLayout:
    """Response of the compaction unit: ``gather[k]`` = source slot for destination
    ``base + k`` (k <= accepted, zeros after), ``count`` = accepted + 1, ``moves`` bit k set
    when slot ``base + k`` must be copied (source != destination), ``error``."""
    return data.StructLayout({
        "gather": data.ArrayLayout(unsigned(slot_width), nodes),
        "count": Shape.cast(range(nodes + 1)),
        "moves": unsigned(nodes),
        "error": 1,
    })


def pack(layout: data.Layout, value) -> int:
    """Pack `value` (an int, a sequence for an ``ArrayLayout``, a mapping for a
    ``StructLayout``) into an integer, at the offsets `layout` itself gives.

    The same bits as ``layout.const(value).as_value().value`` (tests hold them equal) but
    without building Amaranth constants, which is what makes thousands of test vectors
    cheap.  Fields missing from a mapping are 0.

    Raises
    ------
    ValueError
        A value does not fit its field, or an array gets too many elements.
    """
    if isinstance(value, int) and isinstance(layout, data.Layout):  # an already packed word
        if not 0 <= value < 1 << layout.size:
            raise ValueError(f"{value} does not fit a {layout.size}-bit layout")
        return value
    if isinstance(layout, data.StructLayout):
        word = 0
        for name, field in layout:
            if name in value:
                word |= pack(field.shape, value[name]) << field.offset
        return word
    if isinstance(layout, data.ArrayLayout):
        width = Shape.cast(layout.elem_shape).width
        word = 0
        for k, v in enumerate(value):
            if k >= layout.length:
                raise ValueError(f"{len(value)} elements for an array of {layout.length}")
            word |= pack(layout.elem_shape, v) << (k * width)
        return word
    width = Shape.cast(layout).width
    value = int(value)
    if not 0 <= value < 1 << width:
        raise ValueError(f"{value} does not fit an unsigned {width}-bit field")
    return value
