"""Start-up of the command line: CPU seconds of `specaccel --help` and `specaccel cost`.

Each command runs as a fresh process, `--repeats` times, and its CPU time (user + system,
from the child's resource usage) is taken as the median; `python -c "import numpy"` is
measured the same way in the same run, and every command is printed with its ratio to
it.  The goal (issue 12/14) is <= 0.3 s of CPU for both commands.  Usage:
``python benchmarks/bench_startup.py [--repeats N] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys

COMMANDS = {
    "python -c 'import numpy'": [sys.executable, "-c", "import numpy"],
    "specaccel --help": [sys.executable, "-m", "specaccel.cli", "--help"],
    "specaccel cost": [sys.executable, "-m", "specaccel.cli", "cost", "--model", "llama-2-7b",
                       "--hw", "a100-80gb"],
    "specaccel methods": [sys.executable, "-m", "specaccel.cli", "methods", "ppd"],
}
GOAL_S = 0.3


def cpu_seconds(argv: list[str]) -> float:
    """CPU seconds (user + system) of one run of `argv` as a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7, help="runs per command (median)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for argv in COMMANDS.values():   # warm the file cache and the bytecode caches once
        cpu_seconds(argv)
    median = {name: statistics.median(cpu_seconds(argv) for _ in range(args.repeats))
              for name, argv in COMMANDS.items()}
    numpy_s = median["python -c 'import numpy'"]
    rows = {name: {"cpu_s": s, "ratio_to_numpy": s / numpy_s} for name, s in median.items()}
    if args.json:
        print(json.dumps({"goal_cpu_s": GOAL_S, "commands": rows}, indent=2))
        return
    print(f"{'command':28s} {'CPU s (median)':>15s} {'x numpy import':>15s}")
    for name, r in rows.items():
        print(f"{name:28s} {r['cpu_s']:15.3f} {r['ratio_to_numpy']:15.2f}")
    print(f"goal: <= {GOAL_S} s of CPU for 'specaccel --help' and 'specaccel cost'")


if __name__ == "__main__":
    main()
