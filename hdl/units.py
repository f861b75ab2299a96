"""The unit registry: build any speculative-decoding unit by name, and emit its Verilog.

>>> from specaccel.hdl.units import UNIT_NAMES, build_unit, generate_verilog
>>> unit = build_unit("tree_verify", nodes=16)
>>> text = generate_verilog(unit, "tree_verify")

``"argmax_sample"`` is built by the colleague's :mod:`specaccel.hdl.argmax_sample_unit`
(imported only when asked for).
"""

from __future__ import annotations

from typing import Any

from amaranth.back import verilog
from amaranth.lib import wiring

__all__ = ["UNIT_NAMES", "build_unit", "generate_verilog"]

UNIT_NAMES = ("tree_verify", "tree_mask", "kv_compact", "argmax_sample", "spec_decode_core",
              "tree_verify_serial")


def build_unit(name: str, *, nodes: int, token_width: int = 16, prob_width: int = 12,
               **extra: Any) -> wiring.Component:
    """Build the unit called `name`.

    Parameters
    ----------
    name:
        One of :data:`UNIT_NAMES`.
    nodes, token_width, prob_width:
        The shared parameters (validated by the unit; ``TypeError`` when out of range).
    **extra:
        Unit-specific keyword parameters (e.g. ``mode="stochastic"``,
        ``uniform_source="lfsr"`` for ``tree_verify`` and ``tree_verify_serial``;
        ``position_width`` for ``tree_mask``; ``slot_width`` for ``kv_compact``).

    Raises
    ------
    ValueError
        Unknown unit name.
    """
    if name == "tree_verify":
        from specaccel.hdl.tree_verify_unit import TreeVerifyUnit
        return TreeVerifyUnit(nodes=nodes, token_width=token_width, prob_width=prob_width,
                              **extra)
    if name == "tree_verify_serial":
        from specaccel.hdl.tree_verify_serial_unit import TreeVerifySerialUnit
        return TreeVerifySerialUnit(nodes=nodes, token_width=token_width,
                                    prob_width=prob_width, **extra)
    if name == "tree_mask":
        from specaccel.hdl.tree_mask_unit import TreeMaskUnit
        return TreeMaskUnit(nodes=nodes, token_width=token_width, prob_width=prob_width,
                            **extra)
    if name == "kv_compact":
        from specaccel.hdl.kv_compact_unit import KVCompactUnit
        return KVCompactUnit(nodes=nodes, token_width=token_width, prob_width=prob_width,
                             **extra)
    if name == "argmax_sample":
        from specaccel.hdl.argmax_sample_unit import ArgmaxSampleUnit
        return ArgmaxSampleUnit(nodes=nodes, token_width=token_width, prob_width=prob_width,
                                **extra)
    if name == "spec_decode_core":
        from specaccel.hdl.spec_decode_core import SpecDecodeCore
        return SpecDecodeCore(nodes=nodes, token_width=token_width, prob_width=prob_width,
                              **extra)
    raise ValueError(f"unit name must be one of {', '.join(UNIT_NAMES)}, not {name!r}")


def generate_verilog(component: wiring.Component, name: str) -> str:
    """Verilog text of `component` as module `name` (no source locations: byte-identical
    across runs and free of absolute paths)."""
    return verilog.convert(component, name=name, emit_src=False)
