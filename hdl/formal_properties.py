"""Every formal property of the units (see :mod:`specaccel.hdl.formal`), gathered.

* the stream rules of every unit's outputs (valid held until ready, payload stable while
  stalled), with rule-keeping producers and free consumers — :func:`stream_rules`, one
  configuration per unit below;
* each unit's own properties, from its folder's ``properties.py`` (``PROOFS``): response
  invariants, and the serial/parallel equivalence.
"""

from __future__ import annotations

import importlib
import importlib.util

from amaranth.hdl import Module

from specaccel.hdl.formal import Proof, _no_reset, check_stream_output, drive_stream_input

__all__ = ["PROOFS", "stream_rules"]


def stream_rules(unit: str, **params) -> Module:
    """Any unit between rule-keeping producers and free consumers: its outputs keep the
    stream rules (valid held until ready, payload stable while stalled).  `unit` is a
    registered unit's name."""
    from amaranth.lib import wiring

    from specaccel.hdl.units import build_unit

    m = Module()
    _no_reset(m)
    dut = build_unit(unit, **params)
    m.submodules.dut = dut
    for name, member in dut.signature.members.items():
        stream = getattr(dut, name)
        if not hasattr(stream, "valid"):  # plain ports (status counters)
            continue
        if member.flow == wiring.In:
            drive_stream_input(m, stream, name)
        else:
            check_stream_output(m, stream, name)
    return m


# (unit, N, parameters, the fault that breaks the rule)
_STREAM_RULES = (
    ("tree_verify", 4, dict(token_width=4), "tv-stall-ignored"),
    ("tree_verify", 8, dict(token_width=4, prob_width=8, mode="stochastic"), "tv-stall-ignored"),
    ("tree_verify_serial", 8, dict(token_width=4), "tvs-handshake"),
    ("tree_verify_serial", 8, dict(token_width=4, prob_width=8, mode="stochastic",
                                   uniform_source="lfsr"), "tvs-handshake"),
    ("tree_mask", 8, dict(position_width=8), "mask-handshake"),
    ("kv_compact", 16, dict(slot_width=20), "kv-handshake"),
    ("argmax_sample", 4, dict(token_width=6, prob_width=4, chunk=2, logit_width=6),
     "argmax-fifo-pop"),
    ("spec_decode_core", 4, dict(token_width=4, position_width=8, slot_width=8),
     "core-commit-pop"),
)


def _unit_proofs() -> list[Proof]:
    """``PROOFS`` of every registered unit folder that has a ``properties`` module."""
    from specaccel.hdl.units import registry

    proofs: list[Proof] = []
    for unit in registry().values():
        name = f"{unit.package}.properties"
        if importlib.util.find_spec(name) is not None:
            proofs += importlib.import_module(name).PROOFS
    return proofs


PROOFS: list[Proof] = [
    Proof(f"{unit} N={n}{' ' + p['mode'] if 'mode' in p else ''} stream rules", unit,
          (lambda unit=unit, n=n, p=p: stream_rules(unit, nodes=n, **p)), induction=4,
          fault=fault)
    for unit, n, p, fault in _STREAM_RULES
] + [
    # its result machine waits for the tail without bound, so induction does not close
    Proof("sampling W=1 top-2 stream rules", "sampling",
          lambda: stream_rules("sampling", lanes=1, max_top_k=2, vocab=16),
          depth=20, fault="su-out-handshake"),
    # the core with a greedy sampling unit (no top-k tail, so induction closes); a commit
    # needs a whole tree through the sampling, verify and compaction units, so its fault
    # shows only 14 cycles after reset
    Proof("streaming_core N=2 W=1 greedy stream rules", "streaming_core",
          lambda: stream_rules("streaming_core", nodes=2, lanes=1, max_top_k=1,
                               token_width=1, slot_width=1),
          induction=4, fault="score-commit-pop", fault_depth=14),
] + _unit_proofs()
