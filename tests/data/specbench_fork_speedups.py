"""Print the speedups of EAGLE-1 and SpS in yukiki-jc/Spec-Bench's committed answer files,
as Spec-Bench's ``evaluation/speed.py`` reports them and as total tokens over total time
(the figures docs/validation.md quotes for the size of the benchmark's averaging).

``speed.py`` takes the mean over questions of each question's tokens over its seconds
(turns summed, prefill included), the method's tokens as its ``new_tokens`` and the
baseline's as its answer tokenised again less the start token.  No Vicuna tokenizer is
at hand here, so the baseline's count is its ``new_tokens`` less the end-of-sequence
token it includes, for every answer not cut at 1024 tokens (an approximation of the
retokenised count).

    python tests/data/specbench_fork_speedups.py FORK

``FORK`` is a checkout of yukiki-jc/Spec-Bench (read at commit 3b73a28).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

COMMIT = "3b73a28cde526f453b6fb9fe5ca91bc9f0731853"
ANSWERS = "data/spec_bench/model_answer/vicuna-7b-v1.3-{}.jsonl"
FILES = {"baseline": "vanilla-float16-temp-0.0", "EAGLE-1": "eagle-float16-temperature-0.0",
         "SpS": "sps-68m-float16-temp-0.0"}
MAX_NEW_TOKENS = 1024


def _answers(fork: Path, name: str) -> dict[int, dict]:
    text = subprocess.run(["git", "-C", str(fork), "show",
                           f"{COMMIT}:{ANSWERS.format(FILES[name])}"],
                          check=True, capture_output=True, text=True).stdout
    return {r["question_id"]: r["choices"][0]
            for r in (json.loads(line) for line in text.splitlines() if line.strip())}


def _tokens(choice: dict, baseline: bool) -> int:
    return sum(n - (baseline and n < MAX_NEW_TOKENS) for n in choice["new_tokens"])


def main(fork: Path) -> None:
    runs = {name: _answers(fork, name) for name in FILES}
    base = runs["baseline"]
    qs = sorted(base)

    def mean_speed(run: dict[int, dict], baseline: bool) -> float:
        return sum(_tokens(run[q], baseline) / sum(run[q]["wall_time"]) for q in qs) / len(qs)

    def total_speed(run: dict[int, dict]) -> float:
        return (sum(sum(run[q]["new_tokens"]) for q in qs)
                / sum(sum(run[q]["wall_time"]) for q in qs))

    for name in ("EAGLE-1", "SpS"):
        run = runs[name]
        print(f"{name}: {mean_speed(run, False) / mean_speed(base, True):.3f}x as speed.py "
              f"reports it, {total_speed(run) / total_speed(base):.3f}x as total tokens over "
              "total time")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: specbench_fork_speedups.py FORK_CHECKOUT")
    main(Path(sys.argv[1]))
