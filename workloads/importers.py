"""Importers of real speculative-decoding logs into :class:`~.trace.Trace` objects.

Two answer-file formats (JSON Lines, one question per line) are read:

``mtbench-answers`` — FastChat/Medusa ``llm_judge`` answer files (e.g. the bundled Medusa-1
    Vicuna logs).  Per choice and turn they hold only totals: ``idxs`` (draft-and-verify
    steps), ``new_tokens`` and ``wall_time``.  Per-step accepted lengths are **not** in the
    log, so the importer does not pretend to know them: every step is a chain whose
    accepted length is the turn's total ``new_tokens − steps`` *spread* evenly and
    deterministically over its steps (step k gets ``⌊(k+1)T/S⌋ − ⌊kT/S⌋``), its
    ``recorded_accepted`` is −1 (unknown), and ``metadata["per_step"] == "spread"``.
    The exact per-turn totals are kept in ``metadata["turns"]``, so the per-turn mean
    accepted length τ = new_tokens / steps is reproduced exactly (also by verifying the
    trace: the spread chains commit exactly ``new_tokens`` per turn).

``spec-bench`` — Spec-Bench answer files (``evaluation/eval.py``): per choice ``turns``,
    ``decoding_steps`` (or ``idxs``), ``new_tokens``, ``wall_time`` and ``accept_lengths``,
    the tokens committed by every step (accepted drafts + the bonus token), concatenated
    over the turns.  These are real per-step outcomes: each step becomes a chain of
    ``accept_length − 1`` accepted nodes and ``recorded_accepted = accept_length − 1``
    (``metadata["per_step"] == "recorded"``).  Turns are split by their step counts when
    those add up to the number of accept lengths (``steps`` or ``steps + 1`` per turn —
    loop-index conventions differ between methods); otherwise a choice's turns stay one
    request (``metadata["turns_merged"]``).

In both, the logs hold text, not token ids: node tokens are placeholders (0) whose
greedy verification accepts exactly the recorded/spread length and probabilities are 1.
Prompt lengths are not in the logs either; they are *estimated* as the tokens of the
earlier turns of the same conversation (their ``new_tokens``, exact) plus
``question_tokens`` per turn asked so far (an assumption, default 128, recorded in
``metadata["prompt_len"]``), so the simulator sees growing multi-turn contexts.
Bad input raises :class:`~specaccel.schema.errors.InputError` naming the file, the line and
the field.

Step counting in Medusa's ``idxs``: Medusa's ``medusa_forward`` returns the 0-based index
of its last loop iteration, so the number of verify passes is ``idxs + 1``; the bundled
README (and this importer's default, ``steps_from="idxs"``) treat ``idxs`` as the step
count.  Pass ``steps_from="idxs+1"`` for the code's count.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from specaccel.schema.errors import InputError
from specaccel.schema.trace import NODE_DTYPES, NODE_FIELDS, Trace

FORMATS = ("mtbench-answers", "spec-bench")
STEPS_FROM = ("idxs", "idxs+1")


@dataclass(frozen=True)
class TurnRecord:
    """One imported request (a turn, or a choice's merged turns)."""

    request_id: str
    steps: int
    new_tokens: int
    wall_time_s: float
    accepted: np.ndarray  # per step accepted drafts (spread or recorded)
    history_tokens: int = 0  # new_tokens of the earlier turns of the conversation
    turn: int = 0  # 0-based turn index (merged turns: 0)


def _read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", file=str(path)) from None
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON ({exc.msg})", file=str(path),
                             where=(f"line {n}",)) from None
        if not isinstance(obj, dict):
            raise InputError("each line must be a JSON object", file=str(path),
                             where=(f"line {n}",))
        rows.append((n, obj))
    if not rows:
        raise InputError("no answers in file", file=str(path))
    return rows


class _Ctx:
    """Where we are in the file, for error messages."""

    def __init__(self, path: Path, line: int) -> None:
        self.path, self.line = path, line

    def error(self, reason: str, field: str) -> InputError:
        return InputError(reason, file=str(self.path), where=(f"line {self.line}",), field=field)

    def get(self, obj: dict[str, Any], key: str, field: str | None = None) -> Any:
        if key not in obj:
            raise self.error("missing", field or key)
        return obj[key]

    def int_list(self, obj: dict[str, Any], key: str, field: str, minimum: int) -> list[int]:
        v = self.get(obj, key, field)
        if not isinstance(v, list) or not all(
            isinstance(x, int) and not isinstance(x, bool) for x in v
        ):
            raise self.error("must be a list of integers", field)
        bad = [x for x in v if x < minimum]
        if bad:
            raise self.error(f"values must be >= {minimum}, found {bad[0]}", field)
        return v

    def num_list(self, obj: dict[str, Any], key: str, field: str) -> list[float]:
        v = self.get(obj, key, field)
        if not isinstance(v, list) or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in v
        ):
            raise self.error("must be a list of numbers", field)
        bad = next((x for x in v if not (math.isfinite(x) and x >= 0)), None)
        if bad is not None:  # NaN/Infinity parse as JSON numbers in Python
            raise self.error(f"values must be finite and >= 0, found {bad!r}", field)
        return [float(x) for x in v]


#: Largest assumed tokens per question (2**20: far above any chat turn; larger values
#: only make impossible prompt lengths).
MAX_QUESTION_TOKENS = 1 << 20


def _spread(total: int, steps: int) -> np.ndarray:
    k = np.arange(steps + 1, dtype=np.int64)
    return np.diff((k * total) // steps)


def _choices(ctx: _Ctx, obj: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    qid = ctx.get(obj, "question_id")
    if not isinstance(qid, (int, str)) or isinstance(qid, bool):
        raise ctx.error("must be an integer or a string", "question_id")
    choices = ctx.get(obj, "choices")
    if not isinstance(choices, list) or not choices or not all(isinstance(c, dict)
                                                               for c in choices):
        raise ctx.error("must be a non-empty list of objects", "choices")
    return qid, choices


def _turn_columns(ctx: _Ctx, ch: dict[str, Any], pre: str, steps_key: str,
                  steps_field: str) -> tuple[list[int], list[int], list[float]]:
    """A choice's per-turn steps (under `steps_key`), new_tokens and wall_time, checked
    to be lists of one length (the turns)."""
    steps = ctx.int_list(ch, steps_key, steps_field, 0)
    new = ctx.int_list(ch, "new_tokens", pre + "new_tokens", 0)
    wall = ctx.num_list(ch, "wall_time", pre + "wall_time")
    if not len(steps) == len(new) == len(wall):
        raise ctx.error(f"{steps_key}, new_tokens and wall_time have different lengths "
                        f"({len(steps)}, {len(new)}, {len(wall)})", pre + "new_tokens")
    return steps, new, wall


def _mtbench_turns(path: Path, steps_from: str) -> tuple[list[TurnRecord], dict[str, Any]]:
    records: list[TurnRecord] = []
    model_ids: set[str] = set()
    for line, obj in _read_jsonl(path):
        ctx = _Ctx(path, line)
        qid, choices = _choices(ctx, obj)
        if isinstance(obj.get("model_id"), str):
            model_ids.add(obj["model_id"])
        for c_i, ch in enumerate(choices):
            pre = f"choices[{c_i}]."
            idxs, new, wall = _turn_columns(ctx, ch, pre, "idxs", pre + "idxs")
            index = ch.get("index", c_i)
            history = 0
            for t, (i, n, w) in enumerate(zip(idxs, new, wall, strict=True)):
                steps = i + 1 if steps_from == "idxs+1" else i
                if steps < 1:
                    raise ctx.error(f"turn {t}: a turn needs at least one step, found {i}",
                                    pre + "idxs")
                if n < steps:
                    raise ctx.error(f"turn {t}: new_tokens {n} < steps {steps} (every step "
                                    "commits at least one token)", pre + "new_tokens")
                records.append(TurnRecord(f"{qid}/c{index}/t{t}", steps, n, w,
                                          _spread(n - steps, steps), history, t))
                history += n
    return records, {"per_step": "spread", "steps_from": steps_from,
                     "model_id": sorted(model_ids)}


def _specbench_turns(path: Path) -> tuple[list[TurnRecord], dict[str, Any]]:
    records: list[TurnRecord] = []
    model_ids: set[str] = set()
    merged = mismatched = 0
    for line, obj in _read_jsonl(path):
        ctx = _Ctx(path, line)
        qid, choices = _choices(ctx, obj)
        if isinstance(obj.get("model_id"), str):
            model_ids.add(obj["model_id"])
        for c_i, ch in enumerate(choices):
            pre = f"choices[{c_i}]."
            key = "decoding_steps" if "decoding_steps" in ch else "idxs"
            steps, new, wall = _turn_columns(ctx, ch, pre, key, pre + "decoding_steps")
            acc = ctx.int_list(ch, "accept_lengths", pre + "accept_lengths", 1)
            if not acc:
                raise ctx.error("is empty", pre + "accept_lengths")
            index = ch.get("index", c_i)
            a = np.asarray(acc, dtype=np.int64) - 1
            for per_turn in (steps, [s + 1 for s in steps]):
                if sum(per_turn) == len(acc) and min(per_turn) >= 1:
                    bounds = np.cumsum([0] + per_turn)
                    history = 0
                    for t in range(len(per_turn)):
                        part = a[bounds[t]:bounds[t + 1]]
                        n_tok = int(part.sum() + part.shape[0])
                        records.append(TurnRecord(f"{qid}/c{index}/t{t}", int(part.shape[0]),
                                                  n_tok, wall[t], part, history, t))
                        history += n_tok
                        mismatched += int(n_tok != new[t])
                    break
            else:
                merged += 1
                mismatched += int(int(a.sum() + a.shape[0]) != sum(new))
                records.append(TurnRecord(f"{qid}/c{index}", int(a.shape[0]),
                                          int(a.sum() + a.shape[0]), float(sum(wall)), a))
    return records, {"per_step": "recorded", "model_id": sorted(model_ids),
                     "turns_merged": merged, "new_tokens_mismatch": mismatched}


def _records_to_trace(records: list[TurnRecord], meta: dict[str, Any],
                      question_tokens: int) -> Trace:
    accepted = np.concatenate([r.accepted for r in records]).astype(np.int64)
    sizes = accepted + 1  # root + accepted chain nodes
    step_off = np.zeros(sizes.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes, out=step_off[1:])
    n = int(step_off[-1])
    local = np.arange(n, dtype=np.int64) - np.repeat(step_off[:-1], sizes)
    nodes = {f: np.zeros(n, dtype=NODE_DTYPES[f]) for f in NODE_FIELDS}
    nodes["parent"] = (local - 1).astype(NODE_DTYPES["parent"])
    nodes["draft_prob"][:] = 1.0
    nodes["target_prob"][:] = 1.0
    nodes["uniform"][:] = np.nan
    req_off = np.zeros(len(records) + 1, dtype=np.int64)
    np.cumsum([r.accepted.shape[0] for r in records], out=req_off[1:])
    recorded = (accepted if meta["per_step"] == "recorded"
                else np.full(accepted.shape[0], -1)).astype(np.int32)
    meta = dict(meta)
    meta["turns"] = {
        "request_id": [r.request_id for r in records],
        "steps": [r.steps for r in records],
        "new_tokens": [r.new_tokens for r in records],
        "wall_time_s": [r.wall_time_s for r in records],
    }
    return Trace(
        request_id=[r.request_id for r in records],
        prompt_len=np.array([r.history_tokens + (r.turn + 1) * question_tokens
                             for r in records], dtype=np.int64),
        arrival_s=np.zeros(len(records)),
        request_step_offsets=req_off,
        step_node_offsets=step_off,
        nodes=nodes,
        recorded_accepted=recorded,
        verification="greedy",
        metadata=meta,
    )


def import_answers(path: str | Path, fmt: str, *, steps_from: str = "idxs",
                   question_tokens: int = 128, target_model: str | None = None,
                   draft_model: str | None = None, drafting: str | None = None) -> Trace:
    """Import an answer file of format `fmt` (one of :data:`FORMATS`) as a trace.

    Parameters
    ----------
    path:
        The JSON Lines answer file.
    fmt:
        ``"mtbench-answers"`` or ``"spec-bench"``.
    steps_from:
        MT-bench only: ``"idxs"`` (steps = idxs, the README's reading) or ``"idxs+1"``
        (Medusa's loop index + 1).
    question_tokens:
        Assumed tokens per user question (with the chat template) for the prompt-length
        estimate; must be >= 1.
    target_model, draft_model, drafting:
        The models and drafting mode the log was recorded with, written to the metadata
        keys of those names when given: the logs do not name them in a form the cost
        model reads, and the simulator needs them (``specaccel trace import`` requires
        ``--target`` to write a trace).

    Raises
    ------
    InputError
        Unknown format, unreadable file, or a bad line/field (named in the message).
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise InputError(f"must be one of {', '.join(FORMATS)}, not {fmt!r}", field="format")
    if steps_from not in STEPS_FROM:
        raise InputError(f"must be one of {', '.join(STEPS_FROM)}, not {steps_from!r}",
                         field="steps_from")
    if isinstance(question_tokens, bool) or not isinstance(question_tokens, int) \
            or not 1 <= question_tokens <= MAX_QUESTION_TOKENS:
        raise InputError(f"must be an integer in [1, {MAX_QUESTION_TOKENS}], not "
                         f"{question_tokens!r}", field="question_tokens")
    if fmt == "mtbench-answers":
        records, meta = _mtbench_turns(path, steps_from)
    else:
        records, meta = _specbench_turns(path)
    meta.update({"generator": "import", "format": fmt, "source": str(path),
                 "token_ids": "placeholders (logs hold text)",
                 "prompt_len": f"estimated: earlier turns' new_tokens + {question_tokens} "
                               "assumed tokens per question asked"})
    given = {"target_model": target_model, "draft_model": draft_model, "drafting": drafting}
    meta.update({k: v for k, v in given.items() if v is not None})
    return _records_to_trace(records, meta, question_tokens)


def imported_summary(trace: Trace) -> dict[str, Any]:
    """Per-request τ = new_tokens / steps (exact, from the recorded totals) and its spread.

    Returns a dict with ``per_request`` (id, steps, new_tokens, tau, wall_time_s,
    tokens_per_s), ``tau_mean`` (mean of per-request τ), ``tau_p10``/``tau_p50``/
    ``tau_p90`` (linear-interpolated percentiles), ``tau_pooled`` (Σ tokens / Σ steps) and,
    for Spec-Bench, ``tau_per_step_mean`` (the mean of all accept lengths, Spec-Bench's
    "#Mean accepted tokens").
    """
    turns = trace.metadata.get("turns")
    if not turns:
        raise InputError("trace has no imported per-turn totals (metadata 'turns')",
                         field="metadata")
    steps = np.asarray(turns["steps"], dtype=np.int64)
    new = np.asarray(turns["new_tokens"], dtype=np.int64)
    wall = np.asarray(turns["wall_time_s"], dtype=np.float64)
    tau = new / steps
    out: dict[str, Any] = {
        "format": trace.metadata.get("format"),
        "source": trace.metadata.get("source"),
        "model_id": trace.metadata.get("model_id"),
        "per_step": trace.metadata.get("per_step"),
        "n_requests": int(steps.shape[0]),
        "n_steps": int(steps.sum()),
        "new_tokens": int(new.sum()),
        "tau_mean": float(tau.mean()),
        "tau_p10": float(np.percentile(tau, 10)),
        "tau_p50": float(np.percentile(tau, 50)),
        "tau_p90": float(np.percentile(tau, 90)),
        "tau_pooled": float(new.sum() / steps.sum()),
        "tokens_per_s_mean": float(np.mean(new / np.where(wall > 0, wall, np.nan))),
    }
    if trace.metadata.get("per_step") == "recorded":
        out["tau_per_step_mean"] = float(trace.recorded_accepted.mean() + 1.0)
    out["per_request"] = [
        {"id": rid, "steps": int(s), "new_tokens": int(n), "tau": float(t),
         "wall_time_s": float(w)}
        for rid, s, n, t, w in zip(turns["request_id"], steps, new, tau, wall, strict=True)
    ]
    return out
