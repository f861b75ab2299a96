"""Progress bars with an ETA on stderr (tqdm), fed by :mod:`specaccel.schema.progress`.

A :class:`ProgressBar` is off when the output is ``--json`` or stderr is not a terminal
(set ``SPECACCEL_PROGRESS=1`` to force it on, ``0`` to force it off).  While it is open
it listens to the progress the library reports (:func:`specaccel.schema.progress.advance`
and ``stage``), and a background thread redraws it every second, so the elapsed time and
the stage name move even while one long step (a synthesis tool) runs.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from specaccel.schema import progress
from specaccel.schema.environment import env_switch


def wanted(as_json: bool = False) -> bool:
    """Whether to draw progress: never with ``--json``; else when stderr is a terminal
    (``SPECACCEL_PROGRESS`` = 1 or 0 overrides that)."""
    forced = env_switch("SPECACCEL_PROGRESS")
    if as_json:
        return False
    return sys.stderr.isatty() if forced is None else forced


class ProgressBar:
    """``with ProgressBar(total, "simulating", enabled=...) as bar:`` -- see the module."""

    def __init__(self, total: int | None, desc: str, *, enabled: bool, unit: str = "it",
                 initial: int = 0) -> None:
        self.bar: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._scope: Any = None
        self._desc = desc
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit=unit,
                            file=sys.stderr, dynamic_ncols=True, smoothing=0.1,
                            mininterval=0.2)
            self.bar.refresh()  # on screen from the first moment

    def listen(self, n: int, stage: str | None) -> None:
        if self.bar is None:
            return
        if stage is not None and stage.startswith("total="):
            self.bar.reset(total=int(stage[len("total="):]))
        elif stage is not None:
            self.bar.set_description_str(f"{self._desc}: {stage}", refresh=True)
        if n:
            self.bar.update(n)

    def update(self, n: int) -> None:
        self.listen(n, None)

    def write(self, line: str) -> None:
        """A line on stderr: above the bar while it is drawn, else plainly."""
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self.bar.refresh()

    def __enter__(self) -> ProgressBar:
        self._scope = progress.listening(self.listen)
        self._scope.__enter__()
        if self.bar is not None:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._scope.__exit__(*exc)
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
