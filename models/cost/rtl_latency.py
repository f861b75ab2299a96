"""Latency laws of the RTL units: how many cycles a unit answers in, as a formula.

A law is declared once, by the unit (``specaccel.hdl.units.<name>``), with this vocabulary;
the unit's gateware uses it as its design latency, the testbenches and the
characterisation measure the real latency and check it against the law, and the
characterisation table carries the law's text in its ``latency_law`` column so that the
cost model (which may not import the RTL) knows how a unit's latency scales with the
request::

    cycles = per_node * n + per_level * max(ceil(log2(N - 1)), 1) + constant

with N the size the unit is built for and n the nodes of the request (n = N when the law
is stated for a full tree).  ``per_node = 1``: a node-serial unit (one node per cycle);
``per_level = 1``: a log-depth pipeline (pointer doubling over N nodes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["LatencyLaw", "log2_levels"]


def log2_levels(nodes: int) -> int:
    """``max(ceil(log2(nodes - 1)), 1)``: doubling levels over a chain of ``nodes - 1``."""
    if nodes < 2:
        return 1
    return max((nodes - 2).bit_length(), 1)


_TERM = re.compile(r"^(?:(?P<n>n)|(?P<lvl>levels\(N\))|(?P<const>\d+))$")


@dataclass(frozen=True)
class LatencyLaw:
    """``cycles = per_node * n + per_level * levels(N) + constant`` (module docstring)."""

    per_node: int = 0
    per_level: int = 0
    constant: int = 0

    def __post_init__(self) -> None:
        for name in ("per_node", "per_level", "constant"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
        if self.per_node > 1 or self.per_level > 1:
            raise ValueError("per_node and per_level are 0 or 1")

    @property
    def node_serial(self) -> bool:
        """The latency grows by one cycle per node of the request."""
        return self.per_node == 1

    def cycles(self, *, nodes: int, n: int | None = None) -> int:
        """Cycles of a unit built for `nodes` nodes on a request of `n` nodes (default
        `nodes`)."""
        n = nodes if n is None else n
        return self.per_node * n + self.per_level * log2_levels(nodes) + self.constant

    def text(self) -> str:
        """The law as the characterisation table writes it, e.g. ``"n + 3"``."""
        terms = (["n"] if self.per_node else []) + (["levels(N)"] if self.per_level else [])
        if self.constant or not terms:
            terms.append(str(self.constant))
        return " + ".join(terms)

    @classmethod
    def parse(cls, text: str) -> LatencyLaw:
        """The law written by :meth:`text` (``ValueError`` on anything else)."""
        per_node = per_level = constant = 0
        for term in (t.strip() for t in str(text).split("+")):
            m = _TERM.match(term)
            if m is None:
                raise ValueError(f"not a latency law: {text!r} (terms: n, levels(N), integers)")
            if m["n"]:
                per_node += 1
            elif m["lvl"]:
                per_level += 1
            else:
                constant += int(m["const"])
        return cls(per_node=per_node, per_level=per_level, constant=constant)
