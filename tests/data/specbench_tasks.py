"""Make ``specaccel/data/specbench-tasks.csv``: Spec-Bench's speedup of each task, for the
methods whose acceptance per question ``specbench-turns.csv`` measures (EAGLE-1 and SpS).

Spec-Bench's ``Leaderboard.md`` gives every method's speedup on each of its six tasks
(the mean over the task's questions of tokens per second, over the baseline's) beside
the overall one, on an RTX 3090 (Vicuna-7B) and an A100 (Vicuna-7B, 13B, 33B).  This
script reads those tables and keeps the rows of the methods whose per-question
acceptance is measured, under the names of the presets that replay them.

    python tests/data/specbench_tasks.py SPEC_BENCH > specaccel/data/specbench-tasks.csv

``SPEC_BENCH`` is a checkout of hemingkx/Spec-Bench (a bare git directory or a work
tree).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from vidur_operator_profiles import _read, table_writer

#: The leaderboard's task columns, in order, by the names of Spec-Bench's speed.py.
TASKS = ("mt_bench", "translation", "summarization", "qa", "math_reasoning", "rag")
#: Leaderboard method label -> the preset name's method part and draft part.
METHODS = {"EAGLE": ("eagle", ""), "SpS": ("speculative-sampling", "-68m")}
HEADER = """\
# Spec-Bench's speedup on each of its six tasks (hemingkx/Spec-Bench, commit {commit},
# Leaderboard.md: one RTX 3090 with Vicuna-7B-v1.3, one A100-80GB with Vicuna-7B, 13B and
# 33B-v1.3; fp16, greedy, batch 1; the mean over a task's questions of tokens per
# second over the baseline's), for the methods whose acceptance per question
# specbench-turns.csv measures; preset names the preset that replays the row.  Made by
# tests/data/specbench_tasks.py.
"""


def _tables(text: str) -> list[tuple[str, str, list[str]]]:
    """``(hardware suffix, target size, table lines)`` of each leaderboard table."""
    out = []
    suffix, size = "", ""
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("## Leaderboard on 3090"):
            suffix, size = "-rtx-3090", "7b"
        elif line.startswith("## Leaderboard on A100"):
            suffix = ""
        m = re.match(r"### Vicuna-(\d+)B", line)
        if m:
            size = f"{m.group(1)}b"
        if line.startswith("|"):
            lines.append(line)
        elif lines:
            out.append((suffix, size, lines))
            lines = []
    if lines:
        out.append((suffix, size, lines))
    return out


def main(spec_bench: Path) -> None:
    out, w = table_writer(spec_bench, HEADER, ["preset", "task", "speedup"], short=True)
    for suffix, size, lines in _tables(_read(spec_bench, "Leaderboard.md")):
        for line in lines[2:]:
            cells = [c.strip() for c in line.strip("|").split("|")]
            label = re.match(r"\[([^\]]+)\]", cells[0])
            if not label or label.group(1) not in METHODS:
                continue
            method, draft = METHODS[label.group(1)]
            preset = f"{method}-vicuna-{size}{draft}-specbench{suffix}"
            for task, cell in zip(TASKS, cells[1:7], strict=True):
                w.writerow([preset, task, cell.strip("*x")])
    sys.stdout.write(out.getvalue())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: specbench_tasks.py SPEC_BENCH_CHECKOUT")
    main(Path(sys.argv[1]))
