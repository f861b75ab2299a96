"""The sweep results store: Parquet part files plus a manifest, safe against SIGKILL.

Layout of a results directory::

    DIR/sweep.toml             the spec the sweep ran (copied at the start)
    DIR/sweep.json             its axes, metrics, constraints and objective (for reports)
    DIR/manifest.json          columns, and every committed part file with its point keys
    DIR/parts/part-000001.parquet, part-000002.parquet, ...   one row per point

Commit protocol (:meth:`ResultsStore.append`): a batch of finished points is written to a
hidden temporary file in ``DIR/parts``, flushed and fsync'ed, then renamed to its final
``part-NNNNNN.parquet`` name with :func:`os.replace` (atomic), and the directory is
fsync'ed; then the manifest is rewritten the same way (temp, fsync, replace) with the
part's keys appended.  A process killed at any instant therefore leaves, besides
committed parts, at most one temporary file (deleted on the next open) and at most one
complete part file that the manifest does not list yet; :meth:`ResultsStore.recover`
adopts that part (its keys were never committed anywhere else, since the runner never
re-submits a key that is in the store) or deletes it if it cannot be read or overlaps.
So every finished point is stored exactly once.

The part files are plain Parquet with flat columns (``accepted_histogram`` is a list
column): ``pandas.read_parquet("DIR/parts")`` and DuckDB's
``read_parquet('DIR/parts/*.parquet')`` read them directly.  :func:`load_results` reads
only committed parts, drops duplicate keys defensively (and says how many it dropped)
and sorts by key, which makes the table independent of the order points finished in.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from specaccel.schema.errors import InputError

MANIFEST = "manifest.json"
SPEC_COPY = "sweep.toml"
SPEC_META = "sweep.json"
PARTS = "parts"
FORMAT = 1
COLUMN_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(), "int64": pa.int64(), "float64": pa.float64(),
    "bool": pa.bool_(), "list<int64>": pa.list_(pa.int64()),
}
"""Column types a store can declare (names as in the manifest)."""
_PART_RE = re.compile(r"^part-(\d{6,})\.parquet$")
TMP_PREFIX = ".tmp-"
"""Name prefix of the temporary files of atomic writes (deleted on the next open)."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically: temp file in the same folder, fsync, replace."""
    tmp = path.parent / f"{TMP_PREFIX}{os.getpid()}-{path.name}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@dataclass
class Recovery:
    """What :meth:`ResultsStore.recover` found and did on open."""

    temp_files_removed: int = 0
    parts_adopted: int = 0
    parts_discarded: int = 0
    notes: list[str] = field(default_factory=list)


class ResultsStore:
    """A results directory (see the module docstring).

    Parameters
    ----------
    root:
        The directory (created if missing).
    columns:
        Column order of the part files: ``key``, parameters, metrics, ``evaluator``.
        Required for a new store; an existing store keeps its own.
    types:
        Column types (:data:`COLUMN_TYPES` names), so that every part file has the same
        schema whatever values its batch happened to hold (a column that is all null in
        one batch would otherwise get Arrow's null type there).  Default: inferred per
        batch.
    """

    def __init__(self, root: str | Path, columns: list[str] | None = None,
                 types: dict[str, str] | None = None) -> None:
        self.root = Path(root)
        self.parts_dir = self.root / PARTS
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        self._manifest = read_manifest(self.root)
        if self._manifest is None:
            if columns is None:
                raise InputError("not a results directory (no manifest.json)",
                                 file=str(self.root))
            self._manifest = {"format": FORMAT, "columns": list(columns), "parts": []}
            if types is not None:
                unknown = {t for t in types.values() if t not in COLUMN_TYPES}
                if unknown or set(types) != set(columns):
                    raise ValueError(f"types must name every column with one of "
                                     f"{sorted(COLUMN_TYPES)}")
                self._manifest["types"] = dict(types)
            self._write_manifest()
        self.recovery = self.recover()
        self._keys = {k for p in self._manifest["parts"] for k in p["keys"]}

    # ---------------------------------------------------------------- manifest
    def _write_manifest(self) -> None:
        data = json.dumps(self._manifest, separators=(",", ":")).encode()
        write_atomic(self.root / MANIFEST, data)

    @property
    def columns(self) -> list[str]:
        return list(self._manifest["columns"])

    @property
    def types(self) -> dict[str, str] | None:
        t = self._manifest.get("types")
        return dict(t) if t is not None else None

    def _schema(self) -> pa.Schema | None:
        t = self.types
        if t is None:
            return None
        return pa.schema([(c, COLUMN_TYPES[t[c]]) for c in self.columns])

    @property
    def part_files(self) -> list[Path]:
        """Committed part files, in commit order."""
        return [self.parts_dir / p["file"] for p in self._manifest["parts"]]

    def done_keys(self) -> set[str]:
        """Keys of every committed point."""
        return set(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    # ---------------------------------------------------------------- recovery
    def recover(self) -> Recovery:
        """Make the directory consistent after a crash (see the module docstring)."""
        rec = Recovery()
        for d in (self.root, self.parts_dir):
            for p in d.iterdir():
                if p.name.startswith(TMP_PREFIX):
                    p.unlink()
                    rec.temp_files_removed += 1
        listed = {p["file"] for p in self._manifest["parts"]}
        known = {k for p in self._manifest["parts"] for k in p["keys"]}
        stray = sorted(p for p in self.parts_dir.iterdir()
                       if _PART_RE.match(p.name) and p.name not in listed)
        changed = False
        for p in stray:
            try:
                keys = pq.read_table(p, columns=["key"]).column("key").to_pylist()
            except (OSError, pa.ArrowException) as exc:
                p.unlink()
                rec.parts_discarded += 1
                rec.notes.append(f"{p.name}: unreadable ({exc}); discarded")
                continue
            if known.intersection(keys) or len(set(keys)) != len(keys):
                p.unlink()
                rec.parts_discarded += 1
                rec.notes.append(f"{p.name}: overlaps committed points; discarded")
                continue
            self._manifest["parts"].append({"file": p.name, "keys": keys})
            known.update(keys)
            rec.parts_adopted += 1
            changed = True
        missing = [p["file"] for p in self._manifest["parts"]
                   if not (self.parts_dir / p["file"]).exists()]
        if missing:
            raise InputError(f"manifest lists missing part file {missing[0]}",
                             file=str(self.root / MANIFEST))
        if changed:
            self._write_manifest()
        return rec

    # ---------------------------------------------------------------- writing
    def _next_part_name(self) -> str:
        nums = [int(m.group(1)) for p in self.parts_dir.iterdir()
                if (m := _PART_RE.match(p.name))]
        return f"part-{max(nums, default=0) + 1:06d}.parquet"

    def append(self, records: list[dict[str, Any]]) -> Path | None:
        """Commit finished points (dicts with ``key`` and the store's columns).

        Points whose key is already stored are skipped (never stored twice).  Returns
        the new part file, or ``None`` if there was nothing new.
        """
        cols = self.columns
        fresh: list[dict[str, Any]] = []
        seen: set[str] = set()
        for r in records:
            k = r["key"]
            if k in self._keys or k in seen:
                continue
            extra = set(r) - set(cols)
            if extra:
                raise ValueError(f"record has columns not in the store: {sorted(extra)}")
            seen.add(k)
            fresh.append(r)
        if not fresh:
            return None
        table = pa.table({c: [r.get(c) for r in fresh] for c in cols}, schema=self._schema())
        name = self._next_part_name()
        final = self.parts_dir / name
        tmp = self.parts_dir / f"{TMP_PREFIX}{os.getpid()}-{name}"
        with open(tmp, "wb") as f:
            pq.write_table(table, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        _fsync_dir(self.parts_dir)
        self._manifest["parts"].append({"file": name, "keys": [r["key"] for r in fresh]})
        self._write_manifest()
        self._keys.update(seen)
        return final

    def save_spec(self, text: str, meta: dict[str, Any] | None = None) -> None:
        """Keep a copy of the spec that produced these results, and (``sweep.json``) what
        the analysis needs from it: axes, metrics, constraints, objective."""
        write_atomic(self.root / SPEC_COPY, text.encode())
        if meta is not None:
            write_atomic(self.root / SPEC_META, json.dumps(meta, indent=1).encode())


def read_manifest(root: str | Path) -> dict[str, Any] | None:
    """The checked ``manifest.json`` of a results directory (None if there is none).

    Raises InputError naming the manifest when it is unreadable, of another format, or
    lacks its ``columns``/``parts`` lists (the store never writes such a file: refuse
    rather than guess).
    """
    path = Path(root) / MANIFEST
    if not path.exists():
        return None
    try:
        m = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"unreadable manifest: {exc}", file=str(path)) from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        found = m.get("format") if isinstance(m, dict) else type(m).__name__
        raise InputError(f"unsupported manifest format {found!r}", file=str(path))
    unknown = sorted(set(m) - MANIFEST_KEYS)
    if unknown:
        raise InputError("unknown key (the store writes format, columns, parts, types)",
                         file=str(path), field=unknown[0])
    columns = m.get("columns")
    if not (isinstance(columns, list) and all(isinstance(c, str) and c for c in columns)
            and "key" in columns and len(set(columns)) == len(columns)):
        raise InputError("must be a list of distinct column names including 'key'",
                         file=str(path), field="columns")
    types = m.get("types")
    if types is not None and not (isinstance(types, dict) and set(types) == set(columns)
                                  and all(t in COLUMN_TYPES for t in types.values())):
        raise InputError("must give one known type for every column", file=str(path),
                         field="types")
    parts = m.get("parts")
    if not isinstance(parts, list) or not all(
        isinstance(q, dict) and set(q) == {"file", "keys"} and isinstance(q["file"], str)
        and isinstance(q["keys"], list) and all(isinstance(k, str) for k in q["keys"])
        for q in parts
    ):
        raise InputError("must be a list of {file, keys} objects", file=str(path),
                         field="parts")
    return m


#: The keys of a manifest the store writes.
MANIFEST_KEYS = frozenset({"format", "columns", "parts", "types"})


def _check_part(table: pa.Table, path: Path, columns: list[str], keys: list[str]) -> None:
    """A part file holds exactly the manifest's columns and the keys it lists for it."""
    if set(table.column_names) != set(columns):
        extra = sorted(set(table.column_names) - set(columns))
        missing = sorted(set(columns) - set(table.column_names))
        raise InputError("its columns are not the manifest's ("
                         + ", ".join(filter(None, (
                             f"not listed: {', '.join(extra)}" if extra else "",
                             f"missing: {', '.join(missing)}" if missing else "")))
                         + ")", file=str(path), field="columns")
    if sorted(table.column("key").to_pylist()) != sorted(keys):
        raise InputError("its point keys are not the ones manifest.json lists for it",
                         file=str(path), field="keys")


def _read_part(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except FileNotFoundError:
        raise InputError("part file listed in manifest.json is missing",
                         file=str(path)) from None
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"unreadable part file ({exc})", file=str(path)) from None


def read_sweep_meta(root: str | Path) -> dict[str, Any]:
    """The ``sweep.json`` of a results directory (empty dict if absent)."""
    path = Path(root) / SPEC_META
    if not path.exists():
        return {}
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"unreadable sweep metadata: {exc}", file=str(path)) from None
    if not isinstance(meta, dict):
        raise InputError("must hold a JSON object", file=str(path))
    unknown = sorted(set(meta) - SWEEP_META_KEYS)
    if unknown:
        raise InputError("unknown key (a sweep writes " + ", ".join(sorted(SWEEP_META_KEYS))
                         + ")", file=str(path), field=unknown[0])
    return meta


#: The keys of the ``sweep.json`` a sweep writes (`sweep_runner.spec_meta`).
SWEEP_META_KEYS = frozenset({"name", "axes", "metrics", "strategy", "objective", "maximize",
                             "engine", "constraints"})


def stored_count(root: str | Path) -> int:
    """Committed points of a results directory, from its manifest (read-only)."""
    manifest = read_manifest(root)
    return 0 if manifest is None else sum(len(p["keys"]) for p in manifest["parts"])


@dataclass
class LoadedResults:
    """A results table and what loading it had to fix."""

    frame: pd.DataFrame
    duplicates_dropped: int
    parts: int


def load_results(root: str | Path) -> LoadedResults:
    """Every committed point of a results directory, one row each, sorted by key.

    Reads only the parts the manifest lists; duplicate keys (which the store never
    writes) are dropped defensively and counted in ``duplicates_dropped``.
    """
    root = Path(root)
    # Read-only: no recovery here, so loading never disturbs a sweep that is running.
    manifest = read_manifest(root)
    if manifest is None:
        raise InputError("not a results directory (no manifest.json)", file=str(root))
    columns = list(manifest["columns"])
    tables = []
    for part in manifest["parts"]:
        path = root / PARTS / part["file"]
        tables.append(_read_part(path))
        _check_part(tables[-1], path, columns, part["keys"])
    if tables:
        # One Arrow table first, so pandas dtypes do not depend on how rows were batched.
        df = pa.concat_tables(tables, promote_options="permissive").to_pandas()
    else:
        df = pd.DataFrame({c: [] for c in columns})
    before = len(df)
    df = df.drop_duplicates(subset="key", keep="first")
    df = df.sort_values("key", kind="stable").reset_index(drop=True)
    return LoadedResults(frame=df[columns], duplicates_dropped=before - len(df),
                         parts=len(tables))


def frames_bit_identical(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether two result frames hold the same rows, columns and values, bit for bit.

    Float columns are compared as raw 64-bit patterns (so ``-0.0`` differs from ``0.0`` and
    a NaN equals only the same NaN); other columns element by element, which also covers
    list-valued cells. This is the check behind "a resumed or distributed sweep stores the
    very same numbers as an uninterrupted local one".
    """
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return False
    for c in a.columns:
        x, y = a[c].to_numpy(), b[c].to_numpy()
        if x.dtype.kind == "f":
            if x.dtype != y.dtype or not np.array_equal(x.view(np.uint64), y.view(np.uint64)):
                return False
        elif not all(np.array_equal(np.asarray(u), np.asarray(v))
                     for u, v in zip(x, y, strict=True)):
            return False
    return True
