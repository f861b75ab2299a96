"""Make ``specaccel/data/specbench-turns.csv``: every turn of the 480 Spec-Bench questions
with its prompt, the answer Vicuna-7B-v1.3 gives it, and the steps EAGLE and SpS took.

Spec-Bench (hemingkx/Spec-Bench) times each method by calling it once per turn of each
question -- the prompt prefilled, then decoded to the answer's end -- and divides the mean
over questions of (tokens / seconds) by the same mean of its plain decoding baseline.  So
the published speedup depends on each question's prompt, answer length and acceptance,
not only on the mean acceptance.  The questions are in the benchmark's repository; the
answers are not (the maintainers did not commit theirs).  A public fork that ran the
benchmark's own scripts, yukiki-jc/Spec-Bench at commit `ANSWERS_COMMIT`, committed
three answer files of Vicuna-7B-v1.3 in fp16, greedy: the plain baseline, EAGLE-1 and
SpS with the 68M draft.  Their GPU is not recorded, so no wall time is kept here: only
counts that do not depend on the machine (tokens and steps, greedy decoding).

Per turn: ``prompt_chars`` is the length of the prompt the benchmark builds with
FastChat's ``vicuna_v1.1`` template (system prompt, the question's earlier turns and the
baseline's answers to them, this turn's question); ``output_tokens`` and
``output_chars`` are the baseline's answer (``new_tokens``, and its text); ``eagle_*``
and ``sps_*`` are the tokens each method generated and the decoding steps it took.

    python tests/data/specbench_turns.py SPEC_BENCH FORK > specaccel/data/specbench-turns.csv

``SPEC_BENCH`` is a checkout of hemingkx/Spec-Bench and ``FORK`` one of
yukiki-jc/Spec-Bench (bare git directories or work trees; the fork's files are read at
`ANSWERS_COMMIT`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from vidur_operator_profiles import _read, table_writer

ANSWERS_COMMIT = "3b73a28cde526f453b6fb9fe5ca91bc9f0731853"
ANSWERS = "data/spec_bench/model_answer/vicuna-7b-v1.3-{}.jsonl"
FILES = {"baseline": "vanilla-float16-temp-0.0", "eagle": "eagle-float16-temperature-0.0",
         "sps": "sps-68m-float16-temp-0.0"}
#: FastChat's ``vicuna_v1.1`` conversation template (``SeparatorStyle.ADD_COLON_TWO``,
#: separators " " and "</s>"), which Spec-Bench's evaluation/eval.py builds every prompt
#: with.
SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
          "The assistant gives helpful, detailed, and polite answers to the user's questions.")
HEADER = """\
# Every turn of the 480 Spec-Bench questions (hemingkx/Spec-Bench, commit {commit},
# data/spec_bench/question.jsonl) with the answer Vicuna-7B-v1.3 gives it (fp16, greedy)
# and the steps EAGLE-1 and SpS (68M draft) took, from the answer files a public fork ran
# with the benchmark's scripts (yukiki-jc/Spec-Bench, commit 3b73a28,
# data/spec_bench/model_answer/vicuna-7b-v1.3-{{vanilla,eagle,sps-68m}}-*.jsonl; its GPU
# is not recorded, so no wall time is kept).  prompt_chars: the prompt Spec-Bench
# builds (FastChat's vicuna_v1.1 template: system prompt, earlier turns with the
# baseline's answers, this question); output_tokens, output_chars: the baseline's
# answer; *_tokens, *_steps: tokens generated and decoding steps of each method.
# Made by tests/data/specbench_turns.py.
"""


def prompt_text(turns: list[str], answers: list[str], j: int) -> str:
    """The prompt of turn `j`: the template over turns ``0..j`` and the answers before."""
    text = SYSTEM + " "
    for i in range(j):
        text += f"USER: {turns[i]} ASSISTANT: {answers[i]}</s>"
    return text + f"USER: {turns[j]} ASSISTANT:"


def _answers(fork: Path, name: str) -> dict[int, dict]:
    text = subprocess.run(["git", "-C", str(fork), "show",
                           f"{ANSWERS_COMMIT}:{ANSWERS.format(FILES[name])}"],
                          check=True, capture_output=True, text=True).stdout
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return {r["question_id"]: r["choices"][0] for r in rows}


def main(spec_bench: Path, fork: Path) -> None:
    questions = [json.loads(line) for line in
                 _read(spec_bench, "data/spec_bench/question.jsonl").splitlines()
                 if line.strip()]
    runs = {name: _answers(fork, name) for name in FILES}
    out, w = table_writer(spec_bench, HEADER, [
        "question_id", "category", "turn", "prompt_chars", "output_tokens", "output_chars",
        "eagle_tokens", "eagle_steps", "sps_tokens", "sps_steps"], short=True)
    for q in questions:
        qid = q["question_id"]
        base = runs["baseline"][qid]
        for j in range(len(q["turns"])):
            prompt = prompt_text(q["turns"], base["turns"], j)
            w.writerow([qid, q["category"], j, len(prompt), base["new_tokens"][j],
                        len(base["turns"][j]),
                        runs["eagle"][qid]["new_tokens"][j],
                        runs["eagle"][qid]["decoding_steps"][j],
                        runs["sps"][qid]["new_tokens"][j],
                        runs["sps"][qid]["decoding_steps"][j]])
    sys.stdout.write(out.getvalue())


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: specbench_turns.py SPEC_BENCH_CHECKOUT FORK_CHECKOUT")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
