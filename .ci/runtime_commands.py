"""Every documented command, run in an environment holding only the runtime dependencies.

The environment is built by the Makefile's own `make run` rule (``make runtime-env
VENV=...``: a new venv, ``pip install -e .``), so a package that only the test extra
brings in (pytest, scipy, transformers, ...) is not there.  Then every ``$ specaccel ...``
example of docs/cli.md and the README's ``specaccel run`` run in a scratch folder laid out
as the doc tests lay it out.  A command may exit 0 or 2 (some examples show an error on
purpose); exit 1, a traceback, a missing module or a stray warning on stderr fails the
check.  A stray warning is one a library raised or logged (a Python ``...Warning:`` from
NumPy, Numba, matplotlib, pandas or dask, a logged ``WARNING``): the user did nothing
wrong and cannot act on it, so its cause is fixed, not filtered.  specaccel's own
``warning: ...`` lines (an impossible number, a design too large for the device) are
meant for the user and allowed.

Usage: python3 .ci/runtime_commands.py VENV_DIR   (called by `make test`)
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TEST_ONLY = ("pytest", "hypothesis", "scipy", "transformers", "torch", "cocotb", "deptry")


def documented_commands() -> list[str]:
    cmds = ["specaccel run --out specaccel-out"]  # `make run`, as the README says
    for line in (REPO / "docs" / "cli.md").read_text().splitlines():
        if line.startswith("$ specaccel "):
            cmds.append(line[2:].strip())
    readme = (REPO / "README.md").read_text()
    for name in re.findall(r"^\| `specaccel ([a-z]+)", readme, flags=re.M):
        if not any(c.split()[1] == name for c in cmds):
            raise SystemExit(f"README lists `specaccel {name}` but docs/cli.md has no "
                             "example of it")
    return cmds


# Python's warnings ("file.py:12: NumbaPerformanceWarning: ...") and logging's ("... -
# distributed.worker - WARNING - ..." or "WARNING:name:...").
_STRAY = re.compile(r"^\S.*:\d+: [A-Z]\w*Warning: |(^|\W)WARNING(\W|$)")


def stray_warnings(stderr: str) -> list[str]:
    """The lines of `stderr` that are a library's warning, not specaccel's own."""
    return [ln for ln in stderr.splitlines() if _STRAY.search(ln)]


def scratch(folder: Path) -> None:
    """The files the examples read (as tests/docs/test_doc_rot.py lays them out)."""
    data = folder / "tests" / "workloads" / "data"
    data.mkdir(parents=True)
    src = REPO / "tests" / "workloads" / "data" / "spec_bench_answers.jsonl"
    (data / src.name).write_bytes(src.read_bytes())
    text = (REPO / "docs" / "config-format.md").read_text()
    spec = text.split("(`sweep.toml`, used in", 1)[1]
    (folder / "sweep.toml").write_text(spec.split("```toml\n", 1)[1].split("```", 1)[0])


def main(venv: Path) -> int:
    py = venv / "bin" / "python"
    present = [m for m in TEST_ONLY if subprocess.run(
        [str(py), "-c", f"import {m}"], capture_output=True).returncode == 0]
    if present:
        print(f"runtime environment holds test-only packages: {present}", file=sys.stderr)
        return 1
    failures = []
    with tempfile.TemporaryDirectory(prefix="specaccel-runtime-") as tmp:
        folder = Path(tmp)
        scratch(folder)
        for cmd in documented_commands():
            argv = shlex.split(cmd)
            t0 = time.monotonic()
            proc = subprocess.run([str(venv / "bin" / argv[0]), *argv[1:]], cwd=folder,
                                  capture_output=True, text=True, timeout=1200)
            took = time.monotonic() - t0
            warned = stray_warnings(proc.stderr)
            bad = (proc.returncode not in (0, 2) or "Traceback" in proc.stderr
                   or "ModuleNotFoundError" in proc.stderr or warned)
            print(f"{'FAIL' if bad else 'ok  '} exit {proc.returncode} {took:6.1f} s  {cmd}")
            if warned:
                failures.append(f"{cmd}: stray warning on stderr: {warned}")
            elif bad:
                failures.append(f"{cmd}: exit {proc.returncode}: "
                                f"{proc.stderr.strip().splitlines()[-1:]}")
    for f in failures:
        print(f, file=sys.stderr)
    n = len(documented_commands())
    print(f"runtime-only environment: {n - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]).resolve()))
