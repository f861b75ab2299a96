"""Progress of long work, reported from inside the library to whoever listens.

Long loops (a replay's requests, a serving run's finished requests, a sweep spec's points,
synthesis stages, a characterisation's designs) call :func:`advance` or :func:`stage`;
nothing happens unless a caller listens with :func:`listening` -- the command line does,
and draws a progress bar with an ETA on stderr.  The library never prints progress itself
and never depends on a progress library; a listener is per thread of control (a context
variable), so concurrent runs do not mix.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

Listener = Callable[[int, str | None], None]
"""Called with (units done since the last call, the new stage's name or None); a total
announced by :func:`expect` arrives as the stage name ``"total=N"``."""

_LISTENER: ContextVar[Listener | None] = ContextVar("specaccel_progress", default=None)


def advance(n: int = 1) -> None:
    """`n` more units of the current work are done."""
    listener = _LISTENER.get()
    if listener is not None:
        listener(n, None)


def expect(total: int) -> None:
    """The work reported from now on has `total` units (for an ETA)."""
    listener = _LISTENER.get()
    if listener is not None:
        listener(0, f"total={int(total)}")


def stage(name: str) -> None:
    """A new stage of the work begins (e.g. ``"nextpnr"``)."""
    listener = _LISTENER.get()
    if listener is not None:
        listener(0, name)


@contextlib.contextmanager
def within(name: str) -> Iterator[None]:
    """The work inside the block is part of the current unit `name`: its stages reach the
    listener as ``"name: stage"``; its own totals and units (another kind of unit) do not.
    """
    outer = _LISTENER.get()
    if outer is None:
        yield
        return

    def inner(n: int, stage: str | None) -> None:
        if stage is not None and not stage.startswith("total="):
            outer(0, f"{name}: {stage}")

    token = _LISTENER.set(inner)
    try:
        yield
    finally:
        _LISTENER.reset(token)


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Send the progress reported inside the block to `listener`."""
    token = _LISTENER.set(listener)
    try:
        yield
    finally:
        _LISTENER.reset(token)
