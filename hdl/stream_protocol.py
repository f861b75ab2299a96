"""The stream protocol, checked on every interface of a simulated unit.

A ``lib.stream`` (AXI-Stream-like) interface transfers a payload in a cycle where ``valid``
and ``ready`` are both high.  Its producer must keep ``valid`` high, and the payload
unchanged, from the cycle it raises ``valid`` until that transfer; ``ready`` may do as it
likes.  :class:`StreamMonitor` watches one interface cycle by cycle and raises
:class:`StreamProtocolError` at the first cycle that breaks the rule, so the test that
drives the simulation fails there.  The Amaranth-simulator drivers
(:mod:`~specaccel.hdl.amaranth_stream_driver`, :mod:`~specaccel.hdl.node_stream_driver`) and
the cocotb driver (:mod:`~specaccel.hdl.cocotb_stream`) put one on every input and output
stream of the unit they drive: on the inputs it checks the driver itself, on the outputs
the unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["StreamMonitor", "StreamProtocolError"]


class StreamProtocolError(AssertionError):
    """A stream interface broke the valid/ready rule (raised by :class:`StreamMonitor`)."""


@dataclass
class StreamMonitor:
    """Checks one stream interface; call :meth:`observe` once per clock cycle with the
    values the next clock edge will see.

    Attributes
    ----------
    name:
        The interface, for the error message (e.g. ``"tree_verify.resp"``).
    transfers, stalls:
        Counts of handshake cycles and of cycles with ``valid`` high and ``ready`` low.
    """

    name: str
    transfers: int = 0
    stalls: int = 0
    _pending: int | None = field(default=None, repr=False)
    _since: int = field(default=0, repr=False)

    def observe(self, cycle: int, valid: bool, ready: bool, payload: int) -> None:
        """Record one cycle; raise :class:`StreamProtocolError` when ``valid`` dropped, or
        the payload changed, while a transfer was pending."""
        if self._pending is not None:
            if not valid:
                raise StreamProtocolError(
                    f"{self.name}: valid dropped at cycle {cycle} without a handshake "
                    f"(offered since cycle {self._since})")
            if payload != self._pending:
                raise StreamProtocolError(
                    f"{self.name}: payload changed at cycle {cycle} while stalled "
                    f"(offered since cycle {self._since}: {self._pending:#x} -> {payload:#x})")
        if valid and ready:
            self.transfers += 1
            self._pending = None
        elif valid:
            self.stalls += 1
            if self._pending is None:
                self._since = cycle
            self._pending = payload
        else:
            self._pending = None
