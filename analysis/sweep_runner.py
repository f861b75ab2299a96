"""Running a sweep: points -> workers (local processes or a Dask cluster) -> results store.

:func:`run_sweep` expands the spec into points, keys each point by the hash of its full
configuration (:func:`~specaccel.analysis.sweep_spec.point_key`), skips the keys the
results store already holds (``resume``), evaluates the rest in chunks on a local
process pool or on an existing ``dask.distributed`` cluster, and commits finished points
to the store in batches (:class:`~specaccel.analysis.results_store.ResultsStore`).
Only this process writes the store; workers only compute.  A progress bar (points done,
rate, ETA) goes to stderr.

Successive halving (``[search] strategy = "successive-halving"``): ``samples`` seeded
random candidates are evaluated on short traces (``min_steps`` steps per request); the
best ``1/eta`` (by ``objective``, feasible designs first, ties to the earlier candidate)
go on to ``eta`` times more steps, until the workloads' full step count.  Each rung's
points are ordinary keyed points, so a killed successive-halving sweep resumes like any
other and re-derives the same survivors from the stored results.
"""

from __future__ import annotations

import abc
import fcntl
import math
import os
import socket
import time
import tomllib
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from specaccel.analysis import design_point as dp
from specaccel.analysis.progress_bar import ProgressBar
from specaccel.analysis.results_store import (
    MANIFEST,
    PARTS,
    SPEC_COPY,
    SPEC_META,
    TMP_PREFIX,
    ResultsStore,
    load_results,
)
from specaccel.analysis.sweep_spec import SweepSpec, point_key
from specaccel.schema.errors import InputError
from specaccel.schema.progress import advance as report_progress

EvaluateFn = Callable[[dict[str, Any], dp.EvalSettings], dict[str, Any]]
FLUSH_SECONDS = 2.0
LOCK = ".lock"


@dataclass
class SweepSummary:
    """What a sweep run did.

    Attributes
    ----------
    out_dir:
        The results directory.
    total:
        Distinct points of the sweep (over all rungs for successive halving).
    skipped:
        Points already in the store (resume).
    evaluated:
        Points evaluated by this run.
    seconds:
        Wall time of this run's evaluation.
    evaluators:
        How many points this run evaluated with each evaluator (``fast``/``event``).
    recovery:
        What opening the store repaired (temp files removed, parts adopted/discarded).
    backend:
        ``"serial"``, ``"processes (N)"`` or ``"dask tcp://..."``.
    rungs:
        Successive halving: candidates and steps per rung.
    """

    out_dir: str
    total: int = 0
    skipped: int = 0
    evaluated: int = 0
    seconds: float = 0.0
    evaluators: dict[str, int] = field(default_factory=dict)
    recovery: dict[str, Any] = field(default_factory=dict)
    backend: str = ""
    rungs: list[dict[str, int]] = field(default_factory=list)

    @property
    def points_per_minute(self) -> float:
        return 60.0 * self.evaluated / self.seconds if self.seconds > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {"out_dir": self.out_dir, "total": self.total, "skipped": self.skipped,
                "evaluated": self.evaluated, "seconds": self.seconds,
                "points_per_minute": self.points_per_minute, "evaluators": self.evaluators,
                "recovery": self.recovery, "backend": self.backend, "rungs": self.rungs}


def evaluate_chunk(points: list[tuple[str, dict[str, Any]]], settings: dp.EvalSettings,
                   evaluate: EvaluateFn | None = None) -> list[dict[str, Any]]:
    """Evaluate keyed points on a worker; returns one record per point (key, params,
    metrics, evaluator)."""
    fn = evaluate or dp.evaluate_point
    return [{"key": key, **point, **fn(point, settings)} for key, point in points]


# ------------------------------------------------------------------------ executors
class _Backend(abc.ABC):
    """Runs chunks somewhere and yields their records as they finish."""

    name = ""

    @abc.abstractmethod
    def run(self, chunks: list[list[tuple[str, dict[str, Any]]]], settings: dp.EvalSettings,
            evaluate: EvaluateFn | None) -> Iterator[list[dict[str, Any]]]:
        """Evaluate `chunks`; yield each chunk's records when it is done."""

    def close(self) -> None:  # noqa: B027 - optional hook: most backends hold nothing
        """Release workers or connections (nothing by default)."""


class _Serial(_Backend):
    name = "serial"

    def run(self, chunks, settings, evaluate):
        for c in chunks:
            yield evaluate_chunk(c, settings, evaluate)


def _exit_with_parent(parent: int) -> None:
    """Worker initialiser: leave when the sweep process dies (a SIGKILL of it alone would
    otherwise orphan idle workers forever)."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


class _Processes(_Backend):
    def __init__(self, workers: int) -> None:
        self.name = f"processes ({workers})"
        self.pool = ProcessPoolExecutor(max_workers=workers, initializer=_exit_with_parent,
                                        initargs=(os.getpid(),))
        self.workers = workers

    def run(self, chunks, settings, evaluate):
        pending: set = set()
        it = iter(chunks)
        window = 4 * self.workers
        try:
            while True:
                while len(pending) < window:
                    c = next(it, None)
                    if c is None:
                        break
                    pending.add(self.pool.submit(evaluate_chunk, c, settings, evaluate))
                if not pending:
                    return
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    yield f.result()
        finally:
            for f in pending:
                f.cancel()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


#: Most local worker processes (more on one machine is a typo; a cluster is --scheduler).
MAX_LOCAL_WORKERS = 256


def _refused_at_once(address: str, timeout_s: float = 10.0) -> None:
    """Raise ConnectionRefusedError if nothing listens at a ``tcp://HOST:PORT`` address,
    TimeoutError if it does not answer within `timeout_s` (the client's own wait).

    Dask's client retries a refused connection until its timeout (10 s, then a message
    about a time-out); a port where no scheduler listens is said at once, as refused.
    Other addresses (and any other outcome) are left to the client."""
    scheme, _, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme != "tcp" or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except ConnectionRefusedError:
        raise ConnectionRefusedError(
            f"nothing listens at {address} (connection refused)") from None
    except TimeoutError:  # the client would wait as long again
        raise TimeoutError(f"no answer from {address} within {timeout_s:g} s") from None
    except OSError:  # an unknown host, no route, ...: the client says what it finds
        return


class _Dask(_Backend):
    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise InputError(f"dask.distributed is not installed ({exc})",
                             field="scheduler") from None
        self.name = f"dask {address}"
        try:
            _refused_at_once(address)
            self.client = Client(address, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:  # ValueError: a malformed address
            raise InputError(f"cannot connect to the Dask scheduler: {exc}",
                             field="scheduler") from None

    def run(self, chunks, settings, evaluate):
        from distributed import as_completed

        futures = self.client.map(evaluate_chunk, chunks, settings=settings,
                                  evaluate=evaluate, pure=False)
        try:
            for f in as_completed(futures):
                yield f.result()
        finally:
            self.client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        self.client.close()


def _backend(workers: int | None, scheduler: str | None) -> _Backend:
    if scheduler:
        return _Dask(scheduler)
    n = (os.cpu_count() or 1) if workers is None else workers
    if not 1 <= n <= MAX_LOCAL_WORKERS:
        raise InputError(f"must be in [1, {MAX_LOCAL_WORKERS}], not {n}", field="workers")
    return _Serial() if n == 1 else _Processes(n)


# ------------------------------------------------------------------------ the run
class _Lock:
    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise InputError("another sweep is writing to this directory",
                             file=str(root)) from None

    def release(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _columns(spec: SweepSpec, points: list[dict[str, Any]]) -> list[str]:
    params: list[str] = []
    for p in points:
        for k in p:
            if k not in params:
                params.append(k)
    if spec.search.strategy == "successive-halving" and "steps" not in params:
        params.append("steps")
    return ["key", *params, *spec.settings.metrics, "evaluator"]


def _types(columns: list[str], points: list[dict[str, Any]], metrics: tuple[str, ...]
           ) -> dict[str, str]:
    """Arrow type names of the store's columns, from every point's parameter values."""
    types: dict[str, str] = {"key": "string", "evaluator": "string"}
    for m in metrics:
        types[m] = "list<int64>" if not dp.metric_is_numeric(m) else "float64"
    for c in columns:
        if c in types:
            continue
        vals = [p[c] for p in points if p.get(c) is not None]
        if vals and all(isinstance(v, bool) for v in vals):
            types[c] = "bool"
        elif vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
            types[c] = "int64"
        elif vals and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                          for v in vals):
            types[c] = "float64"
        else:
            types[c] = "string"
    return types


def _keyed(points: list[dict[str, Any]], settings: dp.EvalSettings
           ) -> list[tuple[str, dict[str, Any]]]:
    seen: set[str] = set()
    out = []
    for i, p in enumerate(points):
        if i % 4096 == 4095:
            report_progress(4096)
        k = point_key(p, settings)
        if k not in seen:
            seen.add(k)
            out.append((k, p))
    return out


def _Progress(total: int, enabled: bool, desc: str, initial: int = 0) -> ProgressBar:
    return ProgressBar(total + initial, desc, enabled=enabled, unit="pt", initial=initial)


def _execute(todo: list[tuple[str, dict[str, Any]]], store: ResultsStore, spec: SweepSpec,
             backend: _Backend, evaluate: EvaluateFn | None, progress: bool,
             summary: SweepSummary, desc: str, chunk_size: int | None,
             already_done: int = 0) -> None:
    if not todo:
        return
    workers = getattr(backend, "workers", 2)
    size = chunk_size or max(1, min(16, math.ceil(len(todo) / (8 * workers))))
    chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
    bar = _Progress(len(todo), progress, desc, initial=already_done)
    buffer: list[dict[str, Any]] = []
    last = time.monotonic()
    t0 = time.perf_counter()
    try:
        for records in backend.run(chunks, spec.settings, evaluate):
            buffer.extend(records)
            for r in records:
                summary.evaluators[r["evaluator"]] = summary.evaluators.get(
                    r["evaluator"], 0) + 1
            summary.evaluated += len(records)
            bar.update(len(records))
            if len(buffer) >= spec.batch_size or time.monotonic() - last > FLUSH_SECONDS:
                store.append(buffer)
                buffer = []
                last = time.monotonic()
    finally:
        # Commit what finished, also when a point failed or the run is interrupted.
        if buffer:
            store.append(buffer)
        summary.seconds += time.perf_counter() - t0
        bar.close()


def run_sweep(spec: SweepSpec, out_dir: str | Path, *, workers: int | None = None,
              scheduler: str | None = None, resume: bool = False,
              evaluate: EvaluateFn | None = None, progress: bool = False,
              chunk_size: int | None = None) -> SweepSummary:
    """Run (or resume) a sweep into `out_dir`.

    Parameters
    ----------
    spec:
        The validated spec (:func:`~specaccel.analysis.sweep_spec.load_spec`).
    out_dir:
        Results directory; must be new or empty unless `resume`.
    workers:
        Local worker processes (default: all cores; 1 runs in this process).
    scheduler:
        Address of an existing Dask scheduler (``tcp://host:port``); overrides `workers`.
    resume:
        Continue a sweep in `out_dir`, skipping the points it already holds.
    evaluate:
        Evaluation function ``(point, settings) -> metrics + evaluator`` (default the
        simulator, :func:`~specaccel.analysis.design_point.evaluate_point`).  It must be
        picklable (a module-level function) for process and Dask backends.
    progress:
        Show a progress bar on stderr.
    chunk_size:
        Points per task (default: about 8 tasks per worker, at most 16 points each).
    """
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise InputError("exists and is not a directory", file=str(root))
    made = _store_files_missing(root)
    lock = _Lock(root)
    backend: _Backend | None = None
    try:
        parts = root / "parts"
        has_results = (root / MANIFEST).exists() and parts.is_dir() and any(
            p.name.startswith("part-") for p in parts.iterdir())
        if has_results and not resume:
            raise InputError("already holds sweep results; pass --resume to continue them "
                             "or choose another --out", file=str(root))
        first = spec.points()
        if spec.search.strategy == "successive-halving":
            first = [{**p, "steps": _full_steps(p)} for p in first]
        columns = _columns(spec, first)
        backend = _backend(workers, scheduler)     # connect before touching the store
        store = ResultsStore(root, columns=columns,
                             types=_types(columns, first, spec.settings.metrics))
        if store.columns != columns:
            raise InputError(f"holds results of a sweep with other columns "
                             f"({', '.join(store.columns)}); use another --out",
                             file=str(root))
        summary = SweepSummary(out_dir=str(root), recovery=vars(store.recovery),
                               backend=backend.name)
        if spec.search.strategy == "successive-halving":
            _check_resumed_spec(root, spec, store.done_keys(), None)
            store.save_spec(spec.text, spec_meta(spec))
            _successive_halving(spec, store, backend, evaluate, progress, summary,
                                chunk_size)
        else:
            with ProgressBar(len(first), f"{spec.name}: keying points", enabled=progress,
                             unit="pt"):
                keyed = _keyed(first, spec.settings)
            done = store.done_keys()
            _check_resumed_spec(root, spec, done, {k for k, _ in keyed})
            store.save_spec(spec.text, spec_meta(spec))
            todo = [kp for kp in keyed if kp[0] not in done]
            summary.total = len(keyed)
            summary.skipped = len(keyed) - len(todo)
            _execute(todo, store, spec, backend, evaluate, progress, summary,
                     spec.name, chunk_size, already_done=summary.skipped)
        return summary
    finally:
        if backend is not None:
            backend.close()
        emptied = _remove_if_nothing_stored(root, made)
        lock.release()
        if emptied:
            _remove_lock_and_folder(root, made)


#: What a run creates in its results folder, besides the part files.
_STORE_FILES = (LOCK, MANIFEST, SPEC_COPY, SPEC_META, PARTS)


def _store_files_missing(root: Path) -> list[str]:
    """The names of :data:`_STORE_FILES` that `root` lacks (all of them, and the folder
    itself as ``""``, when it does not exist)."""
    if not root.exists():
        return ["", *_STORE_FILES]
    return [name for name in _STORE_FILES if not (root / name).exists()]


def _remove_if_nothing_stored(root: Path, made: list[str]) -> bool:
    """Remove the store files a run that stored no point made (`made`: what was missing
    before it), so that a run refused or failed before its first commit leaves nothing
    that blocks the next sweep to the same --out ("holds results of a sweep with other
    columns"); True when it did.  A store that existed before, even one without points,
    and every folder with a part file in it stay as they are."""
    parts = root / PARTS
    if parts.is_dir() and any(not p.name.startswith(TMP_PREFIX) for p in parts.iterdir()):
        return False
    if MANIFEST not in made and (root / MANIFEST).exists():
        return False
    if PARTS in made and parts.is_dir():
        for tmp in parts.iterdir():   # a batch whose write failed before its rename
            tmp.unlink()
        parts.rmdir()
    for name in (MANIFEST, SPEC_COPY, SPEC_META):
        if name in made:
            (root / name).unlink(missing_ok=True)
    return True


def _remove_lock_and_folder(root: Path, made: list[str]) -> None:
    """After :func:`_remove_if_nothing_stored` and the lock's release: the lock file and
    the folder too, when the run made them and the folder holds nothing else."""
    if LOCK in made:
        (root / LOCK).unlink(missing_ok=True)
    if "" in made and not any(root.iterdir()):
        root.rmdir()


def _check_resumed_spec(root: Path, spec: SweepSpec, done: set[str],
                        keys: set[str] | None) -> None:
    """Refuse to continue the results in `root` (keys `done`) with a spec that does not
    describe them: the folder would hold the points of two sweeps under the new spec.

    A grid or sampled sweep (`keys`: the keys of the new spec's points) may go on with a
    spec whose points include every stored one, as when an axis grows; a
    successive-halving sweep (`keys` None), whose later rungs follow from the results,
    only with the TOML content it started with (``DIR/sweep.toml``).
    """
    stored = root / SPEC_COPY
    if keys is not None:
        foreign = len(done - keys)
        if not foreign:
            return
        why = (f"{foreign} of the {len(done)} stored points are not points of the new spec "
               "(a changed axis, workload, metric or trace file)")
    else:
        if not done or _same_toml(stored, spec.text):
            return
        why = "a successive-halving sweep resumes only with the spec it started with"
    raise InputError(f"the spec differs from the one these results were made with: {why}; "
                     "resume with that spec or choose another --out",
                     file=str(stored if stored.exists() else root))


def _same_toml(path: Path, text: str) -> bool:
    """Whether the TOML file `path` holds the same content as `text` (comments, layout
    and key order aside); an unreadable file holds none."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")) == tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


def spec_meta(spec: SweepSpec) -> dict[str, Any]:
    """What reports need from a spec (written to ``DIR/sweep.json``)."""
    return {"name": spec.name, "axes": spec.axis_names, "metrics": list(spec.settings.metrics),
            "strategy": spec.search.strategy, "objective": spec.search.objective,
            "maximize": spec.search.maximize, "engine": spec.settings.engine,
            "constraints": [{"metric": c.metric, "min": c.min, "max": c.max}
                            for c in spec.constraints]}


def _full_steps(point: dict[str, Any]) -> int:
    if point.get("steps") is not None:
        return int(point["steps"])
    from specaccel.workloads import get_preset

    return int(get_preset(point["preset"]).steps_per_request)


def rung_steps(full: int, min_steps: int, eta: int) -> list[int]:
    """Trace steps per request on each successive-halving rung (the last is `full`)."""
    steps = []
    s = min(min_steps, full)
    while s < full:
        steps.append(s)
        s *= eta
    steps.append(full)
    return steps


def _successive_halving(spec: SweepSpec, store: ResultsStore, backend: _Backend,
                        evaluate: EvaluateFn | None, progress: bool,
                        summary: SweepSummary, chunk_size: int | None) -> None:
    search = spec.search
    rng = np.random.default_rng(search.seed)
    candidates = [{a.name: a.sample(rng) for a in spec.axes} for _ in range(search.samples)]
    full = {w.name: _full_steps(w.params) for w in spec.workloads}
    ladders = {w: rung_steps(f, search.min_steps, search.eta) for w, f in full.items()}
    n_rungs = max(len(v) for v in ladders.values())
    alive = list(range(len(candidates)))
    for r in range(n_rungs):
        keyed_by_cand: dict[int, list[str]] = {}
        todo_all: list[tuple[str, dict[str, Any]]] = []
        for c in alive:
            for w in spec.workloads:
                ladder = ladders[w.name]
                steps = ladder[min(r, len(ladder) - 1)]
                p = {**spec.point(w, candidates[c]), "steps": steps}
                k = point_key(p, spec.settings)
                keyed_by_cand.setdefault(c, []).append(k)
                todo_all.append((k, p))
        keyed = _keyed([p for _, p in todo_all], spec.settings)
        done = store.done_keys()
        todo = [kp for kp in keyed if kp[0] not in done]
        summary.total += len(keyed)
        summary.skipped += len(keyed) - len(todo)
        summary.rungs.append({"rung": r, "candidates": len(alive),
                              "steps": max(ladders[w][min(r, len(ladders[w]) - 1)]
                                           for w in ladders)})
        _execute(todo, store, spec, backend, evaluate, progress, summary,
                 f"{spec.name} rung {r}", chunk_size, already_done=len(keyed) - len(todo))
        if r == n_rungs - 1:
            break
        frame = load_results(store.root).frame.set_index("key")
        scores = []
        for c in alive:
            rows = frame.loc[keyed_by_cand[c]]
            feasible = all(_feasible(row, spec) for _, row in rows.iterrows())
            obj = float(rows[search.objective].mean())
            obj = obj if math.isfinite(obj) else -math.inf if search.maximize else math.inf
            score = obj if search.maximize else -obj
            scores.append((not feasible, -score, c))
        keep = max(1, math.ceil(len(alive) / search.eta))
        alive = sorted(c for _, _, c in sorted(scores)[:keep])


def _feasible(row: Any, spec: SweepSpec) -> bool:
    for c in spec.constraints:
        v = float(row[c.metric])
        if not math.isfinite(v):
            return False
        if c.max is not None and v > c.max or c.min is not None and v < c.min:
            return False
    return True


__all__ = ["EvaluateFn", "SweepSummary", "evaluate_chunk", "rung_steps", "run_sweep"]
