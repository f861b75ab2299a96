"""Output paths: checked before any work starts, never a file of another kind overwritten,
written atomically.

Every command that writes a file or a folder goes through this module
(docs/strictness.md):

* :func:`check_output_file` — before the work: the path names a regular file (or nothing
  yet) in a folder that exists and is writable, with one of the expected suffixes; an
  existing file is overwritten only if it is empty or of the same kind (a Parquet trace
  is never replaced by an HTML page).
* :func:`check_output_dir` — before the work: the path is a folder, or nothing yet under
  a writable folder; never a file.
* :func:`atomic_write` / :func:`atomic_target` — the bytes land in a temporary file
  beside the target and are renamed over it, so a crash or a full disk leaves the old file
  or the new one, never half of either.
* :func:`staged_dir` — the same for the several files a command writes into a folder:
  they land in a temporary folder and move into place only when all are written.

Every problem is an :class:`~specaccel.schema.errors.InputError` naming the path and the
option, so the command line reports it with exit code 2 before any minutes of work.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from specaccel.schema.errors import InputError

#: File kinds recognised by their first bytes (or, for text, their suffix and start).
KIND_SUFFIXES: dict[str, tuple[str, ...]] = {
    "parquet": (".parquet",),
    "jsonl": (".jsonl",),
    "json": (".json",),
    "html": (".html", ".htm"),
    "png": (".png",),
    "csv": (".csv",),
    "verilog": (".v", ".sv"),
    "toml": (".toml",),
}

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PAR1", "parquet"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"%PDF", "pdf"),
    (b"PK\x03\x04", "zip"),
    (b"\x1f\x8b", "gzip"),
    (b"\x7fELF", "executable"),
)


def file_kind(path: str | Path) -> str:
    """What an existing regular file holds: a kind of :data:`KIND_SUFFIXES`, ``"empty"``,
    ``"text"`` or ``"binary"``.  Recognised by content, not by name: a Parquet file
    called ``report.html`` is ``"parquet"``."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    if not head:
        return "empty"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut at byte 512 is still text.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return "binary"
    start = text.lstrip().lower()
    if start.startswith(("<!doctype html", "<html")):
        return "html"
    if start.startswith("{") and '"specaccel-trace"' in text:
        return "jsonl"
    if start.startswith(("{", "[")):
        return "json"
    suffix = Path(path).suffix.lower()
    for kind, suffixes in KIND_SUFFIXES.items():
        if suffix in suffixes and kind in ("csv", "verilog", "toml"):
            return kind
    return "text"


def _fail(reason: str, path: str | Path, option: str | None) -> InputError:
    return InputError(reason, file=str(path), field=option)


def _plain(path: str | Path, option: str | None) -> Path:
    text = os.fspath(path)
    if not text.strip():
        raise _fail("an empty path", text, option)
    if "\0" in text:
        raise _fail("the path contains a NUL byte", text.replace("\0", "\\0"), option)
    return Path(text)


def _writable_folder(folder: Path, path: str | Path, option: str | None) -> None:
    """`folder` (where a new file or folder goes) must exist, be a folder and be writable."""
    try:
        st = folder.stat()
    except FileNotFoundError:
        raise _fail(f"folder {str(folder)!r} does not exist", path, option) from None
    except NotADirectoryError:
        raise _fail("a part of the path is a file, not a folder", path, option) from None
    except OSError as exc:
        raise _fail(f"cannot reach folder {str(folder)!r} ({exc.strerror})", path,
                    option) from None
    if not stat.S_ISDIR(st.st_mode):
        raise _fail(f"{str(folder)!r} is a file, not a folder", path, option)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _fail(f"folder {str(folder)!r} is not writable", path, option)


def check_output_file(path: str | Path, *, kind: str, option: str | None = None,
                      suffixes: tuple[str, ...] | None = None) -> Path:
    """Check, before any work, that `path` can take a new file of `kind`.

    Parameters
    ----------
    path:
        Where the command will write.
    kind:
        What it will write: a key of :data:`KIND_SUFFIXES`.
    option:
        The option that gave the path, named in errors (``"--out"``).
    suffixes:
        Accepted suffixes (default: those of `kind`).

    Raises
    ------
    InputError
        The path is empty, has another suffix, is a folder or a device, lies in a folder
        that does not exist or is not writable, or holds a non-empty file of another
        kind (which would be lost).
    """
    p = _plain(path, option)
    wanted = suffixes if suffixes is not None else KIND_SUFFIXES[kind]
    if os.fspath(path).endswith(("/", os.sep)):
        raise _fail(f"names a folder; give a {kind} file name", path, option)
    if p.suffix.lower() not in wanted:
        raise _fail(f"expected a {' or '.join(wanted)} file name for the {kind} output, "
                    f"not {p.suffix or '(no suffix)'!r}", path, option)
    if len(p.name.encode()) > 255:
        raise _fail("the file name is longer than 255 bytes", path, option)
    try:
        st = p.lstat()
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise _fail("a part of the path is a file, not a folder", path, option) from None
    except OSError as exc:
        raise _fail(f"cannot reach the path ({exc.strerror})", path, option) from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise _fail(f"is a folder; give a {kind} file name", path, option)
        if stat.S_ISLNK(st.st_mode):
            raise _fail("is a symbolic link; give the path of the file itself", path, option)
        if not stat.S_ISREG(st.st_mode):
            raise _fail("is not a regular file (a device, pipe or socket)", path, option)
        try:
            found = file_kind(p)
        except OSError as exc:
            raise _fail(f"cannot read the existing file ({exc.strerror})", path,
                        option) from None
        if found not in ("empty", kind):
            raise _fail(f"holds a {found} file, not a {kind} file; refusing to overwrite "
                        "it (remove it or choose another path)", path, option)
    _writable_folder(p.parent if str(p.parent) else Path("."), path, option)
    return p


def check_output_dir(path: str | Path, *, option: str | None = None,
                     create: bool = False) -> Path:
    """Check, before any work, that `path` is a folder or can become one.

    With `create`, the folder (and its missing parents) is made now.

    Raises
    ------
    InputError
        The path is empty, is a file or a device, or neither it nor its nearest existing
        parent is a writable folder.
    """
    p = _plain(path, option)
    try:
        st = p.stat()
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise _fail("a part of the path is a file, not a folder", path, option) from None
    except OSError as exc:
        raise _fail(f"cannot reach the path ({exc.strerror})", path, option) from None
    if st is not None:
        if not stat.S_ISDIR(st.st_mode):
            raise _fail("exists and is not a folder", path, option)
        if not os.access(p, os.W_OK | os.X_OK):
            raise _fail("the folder is not writable", path, option)
        return p
    if any(len(part.encode()) > 255 for part in p.parts):
        raise _fail("a folder name is longer than 255 bytes", path, option)
    ancestor = p.absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    _writable_folder(ancestor, path, option)
    if create:
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _fail(f"cannot create the folder ({exc.strerror})", path, option) from None
    return p


def check_trace_output(path: str | Path, *, option: str | None = None) -> Path:
    """:func:`check_output_file` for a trace file: its suffix chooses Parquet or JSONL."""
    suffix = Path(os.fspath(path)).suffix.lower()
    kind = "jsonl" if suffix == ".jsonl" else "parquet"
    return check_output_file(path, kind=kind, option=option, suffixes=(".parquet", ".jsonl"))


@contextlib.contextmanager
def atomic_target(path: str | Path, *, option: str | None = None) -> Iterator[Path]:
    """A temporary path beside `path` to write to; renamed over `path` on success,
    removed on failure.  Write errors become :class:`InputError` naming `path`."""
    p = Path(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp",
                                        dir=p.parent if str(p.parent) else ".")
    except OSError as exc:
        raise _fail(f"cannot write ({exc.strerror})", path, option) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, p)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _fail(f"cannot write ({exc.strerror or exc})", path, option) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, data: str | bytes, *, option: str | None = None) -> Path:
    """Write `data` (text as UTF-8) to `path` atomically; return the path."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_target(path, option=option) as tmp:
        tmp.write_bytes(raw)
    return Path(path)


@contextlib.contextmanager
def staged_dir(path: str | Path, *, option: str | None = None) -> Iterator[Path]:
    """A temporary folder to write the files of the output folder `path` into.

    When the block ends normally the files move into `path`; when it raises, the
    temporary folder is removed and `path` is as it was (or still absent).  Check `path`
    with :func:`check_output_dir` first.  The temporary folder lies in `path` itself if it
    exists, else in its nearest existing parent, so every move is a rename on one file
    system.  Errors of the moves become :class:`InputError` naming `path`.
    """
    p = Path(path)
    home = p.absolute()
    while not home.is_dir() and home != home.parent:
        home = home.parent
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{p.name or 'out'}.", suffix=".tmp", dir=home))
    except OSError as exc:
        raise _fail(f"cannot write ({exc.strerror})", path, option) from None
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        _publish(tmp, p)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _fail(f"cannot write ({exc.strerror or exc})", path, option) from None


def _publish(tmp: Path, p: Path) -> None:
    """Move the files of the folder `tmp` into `p`: a new `p` is `tmp` renamed (it appears
    whole); in an existing `p` each file replaces its namesake, and the files of `p` that
    `tmp` does not hold stay."""
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o777 & ~_UMASK)
        os.rename(tmp, p)
        return
    for f in sorted(tmp.iterdir()):
        os.replace(f, p / f.name)
    tmp.rmdir()


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask is process-wide, not thread-safe
