"""The 480 Spec-Bench questions as the benchmark times them: per turn, its prompt, its
answer's length and how well drafts are accepted on it.

Spec-Bench calls a method once per turn of each question and reports the mean over
questions of (tokens generated / seconds) -- prefill included -- divided by the same mean
of plain decoding.  A question with a long prompt and a short answer (a RAG passage, a
news article to summarise, a sentence to translate) spends much of its time in prefill,
and every question weighs the same whatever its length; so the published speedup is
lower than the ratio of decode step times the mean acceptance gives.

The bundled table ``specbench-turns.csv`` (made by ``tests/data/specbench_turns.py``)
holds every turn's prompt length in characters, the answer Vicuna-7B-v1.3 gives it, and
the tokens and steps of EAGLE-1 and of SpS on it.  From it:

* `chars_per_token`: characters per Vicuna token, per category, measured on the answers
  of that category (2.65 in extraction to 4.44 in humanities).  Prompts are converted to
  tokens with their category's figure; the translation prompts are German, which the
  Llama tokenizer splits more finely than the English answers the figure comes from, so
  their token counts are low (they are short: a median of 82 tokens, the template's
  system prompt included).
* `turn_acceptance`: per turn, the tokens a step commits for a method whose pooled τ
  (tokens over steps, all turns) is given: a measured profile's per-turn accepted
  drafts scaled by one factor.  EAGLE-1 and SpS take their own (`acceptance_profile`);
  every other method takes EAGLE-1's, a measured profile of which questions are easy to
  draft for, but EAGLE's: a method that copies from the prompt (prompt lookup, REST)
  finds summarisation easier than EAGLE does.  Carried to SpS, EAGLE's profile gives
  the unweighted mean of the per-question τ -- what the benchmark's mean over
  questions sees -- within 0.5 % of SpS's own, though the two differ task by task
  (`tests/workloads/test_specbench_questions.py`).  A turn commits at most what a step of
  the method can (`turn_acceptance`'s ``most``): the longest path of its trees, or its
  own profile's largest turn.  The profiles are Vicuna-7B's: the 13B and 33B rows
  take the same spread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from specaccel.models.cost.characterisation_csv import load_bundled_table
from specaccel.schema.errors import InputError

TURNS_TABLE = "specbench-turns.csv"
#: Spec-Bench's speedup on each task of the methods whose acceptance the turns measure.
TASKS_TABLE = "specbench-tasks.csv"
#: The tasks of Spec-Bench's speed.py; the eight MT-Bench categories are one task.
TASKS = ("mt_bench", "translation", "summarization", "qa", "math_reasoning", "rag")
#: The benchmark's ``--max-new-tokens`` (Spec-Bench's inference scripts and EAGLE's):
#: an answer this long was cut, not ended by the end-of-sequence token.
MAX_NEW_TOKENS = 1024
MT_BENCH_CATEGORIES = frozenset({"writing", "roleplay", "reasoning", "math", "coding",
                                 "extraction", "stem", "humanities"})
#: The table's columns.
COLUMNS = ("question_id", "category", "turn", "prompt_chars", "output_tokens", "output_chars",
           "eagle_tokens", "eagle_steps", "sps_tokens", "sps_steps")


@dataclass(frozen=True)
class _Row:
    question_id: int
    category: str
    turn: int
    prompt_chars: int
    output_tokens: int
    output_chars: int
    eagle_tokens: int
    eagle_steps: int
    sps_tokens: int
    sps_steps: int


@dataclass(frozen=True)
class SpecBenchTurns:
    """Every turn of the Spec-Bench questions, as arrays over turns.

    ``question`` is the index of the turn's question (0..479) and ``prompt_tokens`` its
    prompt in Vicuna tokens; ``output_tokens`` the tokens of the baseline's answer (the
    first comes from the prefill, the rest from decode steps); ``eagle_tau`` and
    ``sps_tau`` the tokens per decoding step EAGLE-1 and SpS took on the turn.
    """

    question: np.ndarray
    category: tuple[str, ...]
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    eagle_tau: np.ndarray
    sps_tau: np.ndarray

    @property
    def n_questions(self) -> int:
        return int(self.question.max()) + 1

    @property
    def task(self) -> np.ndarray:
        """The Spec-Bench task of each question (`TASKS`)."""
        out = np.empty(self.n_questions, dtype=object)
        for q, c in zip(self.question.tolist(), self.category, strict=True):
            out[q] = "mt_bench" if c in MT_BENCH_CATEGORIES else c
        return out

    def subset(self, tasks: tuple[str, ...]) -> SpecBenchTurns:
        """The turns of the questions of `tasks`, their questions numbered again from 0."""
        keep_q = np.isin(self.task, list(tasks))
        if not keep_q.any():
            raise InputError(f"no question belongs to the tasks {list(tasks)}",
                             field="timed_tasks")
        keep = keep_q[self.question]
        _, renumbered = np.unique(self.question[keep], return_inverse=True)
        return SpecBenchTurns(
            question=renumbered.astype(np.int64),
            category=tuple(c for c, k in zip(self.category, keep.tolist(), strict=True) if k),
            prompt_tokens=self.prompt_tokens[keep], output_tokens=self.output_tokens[keep],
            eagle_tau=self.eagle_tau[keep], sps_tau=self.sps_tau[keep])

    @property
    def baseline_counted_tokens(self) -> np.ndarray:
        """The baseline's tokens of each turn as the benchmark's ``speed.py`` counts them:
        its answer's text tokenised again less the start token, so without the
        end-of-sequence token that ``new_tokens`` (and the method's count) includes --
        one fewer, unless the answer was cut at `MAX_NEW_TOKENS`."""
        ended = self.output_tokens < MAX_NEW_TOKENS
        return self.output_tokens - ended.astype(np.float64)

    @property
    def decode_tokens(self) -> np.ndarray:
        """Tokens of each turn's answer that decode steps generate (all but the first)."""
        return np.maximum(self.output_tokens - 1.0, 0.0)


def chars_per_token(rows: list[_Row]) -> dict[str, float]:
    """Characters per Vicuna token of each category's answers."""
    chars: dict[str, int] = {}
    tokens: dict[str, int] = {}
    for r in rows:
        chars[r.category] = chars.get(r.category, 0) + r.output_chars
        tokens[r.category] = tokens.get(r.category, 0) + r.output_tokens
    return {c: chars[c] / tokens[c] for c in chars}


def _turns_from(rows: list[_Row]) -> SpecBenchTurns:
    if not rows:
        raise InputError("the table has no rows", file=TURNS_TABLE, field="question_id")
    ratio = chars_per_token(rows)
    ids = {q: i for i, q in enumerate(dict.fromkeys(r.question_id for r in rows))}
    for r in rows:
        for name in ("eagle_steps", "sps_steps", "output_tokens"):
            if getattr(r, name) < 1:
                raise InputError(f"question {r.question_id} turn {r.turn}: must be >= 1, "
                                 f"not {getattr(r, name)}", file=TURNS_TABLE, field=name)
    return SpecBenchTurns(
        question=np.array([ids[r.question_id] for r in rows], dtype=np.int64),
        category=tuple(r.category for r in rows),
        prompt_tokens=np.array([round(r.prompt_chars / ratio[r.category]) for r in rows],
                               dtype=np.float64),
        output_tokens=np.array([r.output_tokens for r in rows], dtype=np.float64),
        eagle_tau=np.array([r.eagle_tokens / r.eagle_steps for r in rows]),
        sps_tau=np.array([r.sps_tokens / r.sps_steps for r in rows]))


@cache
def specbench_turns() -> SpecBenchTurns:
    """The bundled turns (`SpecBenchTurns`)."""
    ints = [c for c in COLUMNS if c != "category"]
    return _turns_from(load_bundled_table(TURNS_TABLE, _Row, columns=COLUMNS, ints=ints,
                                          floats=()))


def pooled_tau(turn_tau: np.ndarray, decode_tokens: np.ndarray) -> float:
    """Tokens per step over all turns: decode tokens over the steps they take."""
    return float(decode_tokens.sum() / (decode_tokens / turn_tau).sum())


#: Bisection of `turn_acceptance`'s scale stops at this width.
_SCALE_RESOLUTION = 1e-9


#: Methods whose own per-turn acceptance the table holds, and its column: every other
#: method takes EAGLE-1's profile.
MEASURED_PROFILES = {"eagle": "eagle_tau", "speculative-sampling": "sps_tau"}


def acceptance_profile(method: str, turns: SpecBenchTurns | None = None) -> np.ndarray:
    """The per-turn τ whose shape `method`'s acceptance takes on the benchmark: its own
    when the table holds it (`MEASURED_PROFILES`), else EAGLE-1's."""
    t = turns or specbench_turns()
    return getattr(t, MEASURED_PROFILES.get(method, "eagle_tau"))


def turn_acceptance(tau: float, turns: SpecBenchTurns | None = None,
                    profile: np.ndarray | None = None, most: float = math.inf
                    ) -> np.ndarray:
    """Tokens per step on each turn for a method of pooled τ `tau`: ``1 + k x (profile -
    1)``, at most `most` (the most a step can commit: the longest path of the method's
    trees, root included), with `profile` EAGLE-1's per-turn τ by default and ``k`` such
    that the pooled τ (`pooled_tau`) is `tau`."""
    t = turns or specbench_turns()
    prof = t.eagle_tau if profile is None else np.asarray(profile, dtype=np.float64)
    if not np.isfinite(tau) or tau < 1.0:
        raise InputError(f"must be a number >= 1, not {tau!r}", field="tau")
    if not tau < most:
        if tau == 1.0 == most:
            return np.ones_like(prof)
        raise InputError(f"tau {tau} is not below the most a step commits, {most}",
                         field="tau")

    def spread(k: float) -> np.ndarray:
        return np.minimum(1.0 + k * (prof - 1.0), most)

    lo, hi = 0.0, 1.0
    while pooled_tau(spread(hi), t.decode_tokens) < tau:
        hi *= 2.0
        if hi > 1e6:
            raise InputError(f"no acceptance profile reaches tau {tau}", field="tau")
    while hi - lo > _SCALE_RESOLUTION:
        mid = 0.5 * (lo + hi)
        if pooled_tau(spread(mid), t.decode_tokens) < tau:
            lo = mid
        else:
            hi = mid
    return spread(0.5 * (lo + hi))


@dataclass(frozen=True)
class TaskSpeedup:
    """A published speedup of one preset's method on one Spec-Bench task."""

    preset: str
    task: str
    speedup: float


def published_task_speedups() -> list[TaskSpeedup]:
    """The bundled per-task speedups (``specbench-tasks.csv``), each task one of `TASKS`."""
    rows = load_bundled_table(TASKS_TABLE, TaskSpeedup, columns=("preset", "task", "speedup"),
                              ints=(), floats=("speedup",))
    for r in rows:
        if r.task not in TASKS:
            raise InputError(f"unknown task {r.task!r}; choose one of {', '.join(TASKS)}",
                             file=TASKS_TABLE, field="task")
    if not rows:
        raise InputError("the table has no rows", file=TASKS_TABLE, field="preset")
    return rows
