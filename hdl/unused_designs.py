"""Designs built only to check their parameters, never elaborated.

Amaranth warns (``UnusedElaboratable``) when an elaboratable is garbage-collected without
having been elaborated.  A command that constructs a unit only to validate its parameters
before a long run must mark the unit *and every elaboratable it holds* (a core's
sub-units, a host link's UART) as deliberately unused, or each of them prints a warning
when it is collected.
"""

from __future__ import annotations

from typing import Any, TypeVar

from amaranth.hdl import Elaboratable

T = TypeVar("T")


def built_only_to_check(design: T) -> T:
    """Silence the unused-design warning of `design` and of every elaboratable reachable
    through its attributes (and lists, tuples and dicts of them); returns `design`."""
    seen: set[int] = set()
    stack: list[Any] = [design]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, (list, tuple, set)):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, Elaboratable):
            obj._MustUse__silence = True
            stack.extend(vars(obj).values())
    return design
