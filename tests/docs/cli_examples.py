"""The command-line examples of docs/cli.md and the README: finding, running, comparing.

Shared by the doc test (tests/docs/test_doc_rot.py), which checks that every example
still prints what the page shows, and by refresh_cli_examples.py, which pastes the real
output back into the pages.

An *example* is a ``$ specaccel ...`` line in a fenced block with the lines after it (up
to the next ``$`` line or the end of the block), or one of two special blocks:

* the README's example report, which is the output of ``make run`` (``specaccel run
  --out specaccel-out``, the Makefile's command);
* a block introduced by a line ending in ``(`FILE`):`` -- the content of FILE as the
  examples before it left it in the scratch folder (e.g. the CSV ``hdl characterise``
  writes).

The examples of a page run in document order in one scratch folder, laid out by
:func:`scratch`.  What may differ between two runs and is masked (:func:`normalise`):
wall times, rates (points per minute), progress bars (stderr, timing-dependent) and the
absolute output folder; stdout and stderr are compared as multisets of lines, because
they interleave differently when captured.  An output cut with a ``...`` line is compared
piece by piece: each piece must appear, contiguous and in order, in the real output.
Synthesis numbers (LUTs, flip-flops, Fmax) depend on the yosys/nextpnr builds as well as
on the code; when the installed tools are not the ones the page names, those examples are
compared with their numbers masked (the structure still must match), and refreshing the
page records the installed tools' numbers.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
CLI_DOC = DOCS / "cli.md"
README = REPO / "README.md"
CUT = "..."

#: The README's example report is the output of `make run`, i.e. this command.
MAKE_RUN = "specaccel run --out specaccel-out"
_README_REPORT = "## Example report"
_FILE_BLOCK = re.compile(r"\(`([\w.-]+)`\):\s*$")
_SYNTHESIS = ("specaccel hdl synth", "specaccel hdl characterise")
_WALL_TIME = re.compile(r"^(done in |wall time: |\s+[\w-]+: )\d+(\.\d+)? s$")


@dataclass
class Example:
    """One documented run (or file) and where its output lines are in the page."""

    command: str | None          # None for a file block
    output: list[str]            # the documented lines (blank lines included)
    start: int                   # index of the first output line in the page's lines
    end: int                     # index one past the last output line
    file: str | None = None      # a file block: the file it shows
    line_no: int = field(default=0)

    @property
    def synthesis(self) -> bool:
        return (self.command or "").startswith(_SYNTHESIS) or (self.file or "").endswith(
            ".csv")


def examples(page: Path) -> list[Example]:
    """The examples of `page` in document order."""
    lines = page.read_text().splitlines()
    found: list[Example] = []
    fenced, current = False, None
    in_report = False
    for i, line in enumerate(lines):
        if line.startswith("#"):
            in_report = page == README and line.strip() == _README_REPORT
        if line.startswith("```"):
            if current is not None:
                current.end = i
                current = None
            fenced = not fenced
            if fenced:
                previous = next((ln for ln in reversed(lines[:i]) if ln.strip()), "")
                m = _FILE_BLOCK.search(previous)
                if m:
                    current = Example(None, [], i + 1, i + 1, file=m.group(1), line_no=i + 1)
                elif in_report:
                    current = Example(MAKE_RUN, [], i + 1, i + 1, line_no=i + 1)
                    in_report = False
                if current is not None:
                    found.append(current)
            continue
        if not fenced:
            continue
        if line.startswith("$ "):
            if current is not None:
                current.end = i
            current = None
            if line.startswith("$ specaccel"):
                current = Example(line[2:].split("  #", 1)[0].strip(), [], i + 1, i + 1,
                                  line_no=i + 1)
                found.append(current)
        elif current is not None:
            current.output.append(line.rstrip())
    for ex in found:  # trailing blank lines belong to the page, not to the output
        while ex.output and not ex.output[-1].strip():
            ex.output.pop()
        ex.end = ex.start + len(ex.output)
    return found


def scratch(folder: Path) -> None:
    """The files the examples read, laid out as the pages say they were run."""
    data = folder / "tests" / "workloads" / "data"
    data.mkdir(parents=True, exist_ok=True)
    src = REPO / "tests" / "workloads" / "data" / "spec_bench_answers.jsonl"
    (data / src.name).write_bytes(src.read_bytes())
    spec = (DOCS / "config-format.md").read_text().split("(`sweep.toml`, used in", 1)[1]
    (folder / "sweep.toml").write_text(spec.split("```toml\n", 1)[1].split("```", 1)[0])


def run(command: str) -> tuple[int, list[str]]:
    """Run `command` in-process; (exit code, stderr lines then stdout lines).

    Progress bars are dropped; stdout's inner blank lines are kept (a reader needs them).
    """
    from specaccel.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(shlex.split(command)[1:])
        except SystemExit as exc:  # argparse's --version
            code = exc.code if isinstance(exc.code, int) else 1
    err_lines = [ln.rstrip() for ln in err.getvalue().splitlines()
                 if ln.strip() and not is_progress_bar(ln)]
    text = out.getvalue().strip("\n")
    return code, err_lines + ([ln.rstrip() for ln in text.splitlines()] if text else [])


def expected_exit(example: Example) -> int:
    return 2 if any(ln.startswith("specaccel: error:") for ln in example.output) else 0


def normalise(line: str) -> str:
    """Mask what differs between runs of the same command: wall times, rates, absolute
    paths; compare table cells, not padding (a masked value can widen a column)."""
    line = _WALL_TIME.sub(r"\1<t> s", line.rstrip())
    if line.startswith("points per minute"):
        return "points per minute <rate>"
    if line.startswith("output folder: "):
        return "output folder: <dir>"
    return re.sub(r"-{2,}", "--", re.sub(r"\s+", " ", line.strip()))


def is_progress_bar(line: str) -> bool:
    """A tqdm progress-bar update (stderr; how many of them depends on timing)."""
    return "%|" in line or bool(re.search(r"\d\w* \[\d+:\d\d[<,]", line))


def installed_tools_documented(page: Path = CLI_DOC) -> bool:
    """Whether `page` names the installed yosys/nextpnr builds (see the module doc)."""
    from specaccel.hdl.synthesis import tool_versions

    return tool_versions() in page.read_text()


def _mask_numbers(line: str) -> str:
    return re.sub(r"\d+(\.\d+)?", "<n>", line)


def _pieces(lines: list[str]) -> list[list[str]]:
    pieces: list[list[str]] = [[]]
    for ln in lines:
        if ln.strip() == CUT:
            pieces.append([])
        else:
            pieces[-1].append(ln)
    return pieces


def _cut(lines: list[str]) -> bool:
    return any(ln.strip() == CUT for ln in lines)


def _comparable(lines: list[str], mask_numbers: bool) -> list[str]:
    out = [normalise(ln) for ln in lines if ln.strip() and not is_progress_bar(ln)]
    return [_mask_numbers(ln) for ln in out] if mask_numbers else out


def _find(piece: list[str], got: list[str], start: int) -> int:
    """Where `piece` occurs contiguously in `got` at or after `start` (-1: nowhere)."""
    for i in range(start, len(got) - len(piece) + 1):
        if got[i:i + len(piece)] == piece:
            return i
    return -1


def agrees(example: Example, got: list[str], *, mask_numbers: bool = False) -> bool:
    """Whether the real output `got` is what `example` documents (see the module doc)."""
    if example.file is not None:  # a file's content: line by line, in order
        return _comparable(example.output, mask_numbers) == _comparable(got, mask_numbers)
    want = _comparable(example.output, mask_numbers)
    real = _comparable(got, mask_numbers)
    if not _cut(example.output):
        return sorted(want) == sorted(real)
    pos = 0
    for piece in _pieces(example.output):
        piece = _comparable(piece, mask_numbers)
        if not piece:
            continue
        at = _find(piece, real, pos)
        if at < 0:
            return False
        pos = at + len(piece)
    return True


def _key(line: str) -> str:
    """What a line is about, without its value: a JSON key, or a table row's first cell."""
    m = re.match(r'\s*("[^"]*":|\S+)', line)
    return m.group(1) if m else ""


def refreshed(example: Example, got: list[str]) -> list[str]:
    """The lines to paste for `example` given the real output `got`.

    A line that agrees with a documented one up to the masks (a wall time, the output
    folder) keeps the page's text, so a refresh changes only what really changed.  A cut
    output keeps its cut: each piece is replaced by as many real lines, starting where the
    real output's lines are about the same things (JSON keys, row labels).
    """
    documented = {normalise(ln): ln for ln in example.output}
    got = [documented.get(normalise(ln), ln) if ln.strip() else ln for ln in got]
    if not _cut(example.output):  # the page's progress-bar lines stay, as an illustration
        return [ln for ln in example.output if is_progress_bar(ln)] + got
    cuts = iter(ln for ln in example.output if ln.strip() == CUT)
    out: list[str] = []
    pos = 0
    for n, piece in enumerate(_pieces(example.output)):
        if n:
            out.append(next(cuts))
        if not piece:
            continue
        keys = [_key(ln) for ln in piece]
        best, best_score = pos, -1
        for i in range(pos, len(got) - len(piece) + 1):
            score = sum(_key(g) == k for g, k in zip(got[i:i + len(piece)], keys, strict=True))
            if score > best_score:
                best, best_score = i, score
        out.extend(got[best:best + len(piece)])
        pos = best + len(piece)
    return out
