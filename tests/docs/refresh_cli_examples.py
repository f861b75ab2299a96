"""Re-run the replayed examples of docs/cli.md and paste their real output into the page.

tests/docs/test_doc_rot.py fails when a documented example no longer prints what the page
shows (a cost-model change, a re-measured RTL characterisation table, ...).  After checking
that the change is intended, refresh the page with::

    .venv/bin/python tests/docs/refresh_cli_examples.py

It runs the same commands, in the same order and scratch folder set-up as the test, and
replaces each example's output lines (up to the next ``$`` line or the end of its fenced
block).  Examples the test does not replay (cut or timing-dependent output) are left alone.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import shlex
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CLI_DOC = REPO / "docs" / "cli.md"


def _doc_rot():
    spec = importlib.util.spec_from_file_location("doc_rot", HERE / "test_doc_rot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scratch(tmp: Path) -> None:
    """The files the replayed examples read, as the test lays them out."""
    data = tmp / "tests" / "workloads" / "data"
    data.mkdir(parents=True)
    src = REPO / "tests" / "workloads" / "data" / "spec_bench_answers.jsonl"
    (data / src.name).write_bytes(src.read_bytes())
    spec = (REPO / "docs" / "config-format.md").read_text().split("(`sweep.toml`, used in", 1)[1]
    (tmp / "sweep.toml").write_text(spec.split("```toml\n", 1)[1].split("```", 1)[0])


def _run(command: str) -> list[str]:
    from specaccel.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(shlex.split(command)[1:])
        except SystemExit:
            pass
    # progress and logs (stderr) come first on a terminal; keep stdout's blank lines,
    # which the test ignores but a reader needs
    err_lines = [ln.rstrip() for ln in err.getvalue().splitlines()
                 if ln.strip() and "%|" not in ln]
    out_lines = [ln.rstrip() for ln in out.getvalue().strip("\n").splitlines()]
    return err_lines + (out_lines if out.getvalue().strip() else [])


def refresh(doc_path: Path = CLI_DOC) -> int:
    """Rewrite `doc_path` in place; return how many examples changed."""
    rot = _doc_rot()
    lines = doc_path.read_text().splitlines()
    changed = 0
    old_cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        _scratch(Path(tmp))
        os.chdir(tmp)
        os.environ["COLUMNS"] = "100"
        try:
            out: list[str] = []
            i, fenced = 0, False
            while i < len(lines):
                line = lines[i]
                out.append(line)
                i += 1
                if line.startswith("```"):
                    fenced = not fenced
                    continue
                if not (fenced and line.startswith("$ ")):
                    continue
                command = line[2:].split("  #", 1)[0].strip()
                j = i
                while j < len(lines) and not lines[j].startswith(("$ ", "```")):
                    j += 1
                if not command.startswith(rot.REPLAYED):
                    continue
                new = _run(command)
                old = [ln for ln in lines[i:j] if ln.strip() and not rot.is_progress_bar(ln)]
                new_cmp = [ln for ln in new if ln.strip()]
                if sorted(map(rot.normalise, old)) != sorted(map(rot.normalise, new_cmp)):
                    changed += 1
                    print(f"refreshed: {command}", file=sys.stderr)
                    out.extend(new)
                    trailing_blank = j > i and not lines[j - 1].strip()
                    if trailing_blank and lines[j].startswith("$ "):
                        out.append("")
                    i = j
        finally:
            os.chdir(old_cwd)
    doc_path.write_text("\n".join(out) + "\n")
    return changed


if __name__ == "__main__":
    print(f"{refresh()} example(s) refreshed in {CLI_DOC.relative_to(REPO)}")
