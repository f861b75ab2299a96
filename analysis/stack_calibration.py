"""Calibrating the software stacks against public measurements, and predicting the rest.

The rows live in ``specaccel/data/stack-measurements.csv`` (every row with its source).
A row's ``role`` says what it is used for:

* ``calibration`` -- fits one named stack parameter (column ``fits``); it is reported
  beside the fit but never counted as agreement;
* ``prediction`` -- predicted with the fitted stacks; median and worst error are over
  these rows only;
* ``reference`` -- a microbenchmark figure a stack constant is taken from (not
  predicted; listed so that every number has its source in one place).

Row kinds the predictor understands (column ``kind``):

``medusa-log``
    A Medusa-1 MT-bench answer log (``specaccel/data/mtbench-medusa-turns.csv``, the
    per-turn totals of the logs in FasterDecoding/Medusa): every turn is priced as the
    prefill of its prompt plus ``idxs + 1`` tree steps of 64 tokens on the row's stack,
    and tokens/s is the log's new tokens over the summed predicted time.  The repository
    holds three timing runs of the same decode per size
    (``specaccel/data/mtbench-medusa-runs.csv``); the row's measured figure is their mean
    and their range is reported beside it: the run-to-run spread is the measurement's own
    uncertainty.
``ar-decode``
    Plain decoding of the row's model at batch 1 on the row's stack and placement
    (tokens/s, at the row's context or `DEFAULT_CONTEXT`).
``ar-generate``
    A timed generation of ``batch`` requests (default 1) arriving together on the row's
    stack, run by the simulator's serving loop (`predict_generate_s`): the prompts
    (``context`` tokens each) prefilled in one pass, which yields the first tokens and
    starts the requests (the stack's host time per request), then ``output - 1`` plain
    decoding steps of the batch.  Measured as time per output token, as output tokens/s,
    or as prompt tokens/s (a serving engine's prefill benchmark: one output token, the
    prompts' tokens over the call's time).
``preset-speedup``
    The published speedup of the preset named in ``model``, simulated as the end-to-end
    section of ``specaccel validate`` simulates it (its trace, on its source's hardware
    and stacks, against its baseline stack).  A ratio of two stacks measured on one
    machine: it fits the host time of one stack relative to the other's.

Re-run the calibration and print the report::

    python -m specaccel.analysis.stack_calibration

The rows are fitted in the order of the table, each with the values fitted before it.
The fitted values are what :mod:`specaccel.models.cost.software_stack` carries
(``HF_HOST_OP_S``, ``HF_GENERATE_HOST_OP_S``, ``VLLM_REQUEST_HOST_S``);
`tests/analysis/test_stack_calibration.py` holds them equal.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from specaccel.models.cost import get_hardware, get_model, software_stack
from specaccel.models.cost.deployment import Deployment
from specaccel.models.cost.placement import Placement
from specaccel.models.cost.software_stack import HOST_TERMS, STACKS, SoftwareStack, get_stack
from specaccel.models.cost.step_stages import step_stages
from specaccel.schema.errors import InputError
from specaccel.schema.trace import DraftTree, Trace
from specaccel.sim import simulate
from specaccel.sim.options import ServingConfig
from specaccel.sim.serving_costs import MAX_BATCH

MEASUREMENTS = "stack-measurements.csv"
MEDUSA_TURNS = "mtbench-medusa-turns.csv"
MEDUSA_RUNS = "mtbench-medusa-runs.csv"
#: The log files of one model size: the first timing run, then its two repeats (the same
#: decode, timed again: same tokens and steps, other wall times).
MEDUSA_RUN_FILES = ("", "-1", "-2")
ROLES = ("calibration", "prediction", "reference")
#: Units of the measured figures: rates of runs (output tokens, or prompt tokens of a
#: prefill benchmark), a speedup, seconds per token of a slow (offloaded) decode, and the
#: host and kernel microbenchmarks of reference rows.
UNITS = ("tokens/s", "prompt tokens/s", "x", "s/token", "ms/token", "us/op", "us/kernel")
#: The columns of the file.
COLUMNS = ("id", "kind", "role", "stack", "hardware", "model", "tp", "pp", "offload",
           "batch", "context", "output", "measured", "unit", "fits", "source", "note")
#: The units each kind of row may be measured in.
KIND_UNITS: dict[str, tuple[str, ...]] = {
    "medusa-log": ("tokens/s",), "preset-speedup": ("x",),
    "ar-decode": ("tokens/s", "s/token"),
    "ar-generate": ("s/token", "ms/token", "tokens/s", "prompt tokens/s"),
    "reference": UNITS,
}
#: Tokens assumed per MT-bench question asked (the importer's assumption: the logs hold
#: text, not token counts); a turn's prompt is the earlier turns' new tokens plus this
#: for every question asked so far.
QUESTION_TOKENS = 128
#: Nodes of Medusa-1's verify pass: the 63-node sparse tree ``mc_sim_7b_63`` and its root.
MEDUSA_TREE_TOKENS = 64
#: Context of a plain-decoding row that names none: the benchmarks generate a few hundred
#: tokens from a short prompt.
DEFAULT_CONTEXT = 256


@dataclass(frozen=True)
class StackRow:
    """One row of ``stack-measurements.csv`` and, once predicted, our figure."""

    id: str
    kind: str
    role: str
    stack: str
    hardware: str
    model: str
    tp: int
    pp: int
    offload: bool
    batch: int
    context: int | None
    output: int | None
    measured: float
    unit: str
    fits: str
    source: str
    note: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _csv_text(name: str) -> str:
    return resources.files("specaccel.data").joinpath(name).read_text()


def _csv_rows(name: str) -> list[dict[str, str]]:
    return [row for _, row in _csv_rows_with_lines(name)]


def _csv_rows_with_lines(name: str) -> list[tuple[int, dict[str, str]]]:
    """The rows of a bundled table (``#`` lines are notes) with the line each ends on."""
    reader = csv.reader(io.StringIO(_csv_text(name)))
    header: list[str] | None = None
    out = []
    for cells in reader:
        if not cells or not "".join(cells).strip() or cells[0].startswith("#"):
            continue
        if header is None:
            header = cells
            continue
        out.append((reader.line_num, dict(zip(header, cells, strict=False))))
    return out


def _int_cell(r: dict[str, str], name: str, where: str, minimum: int) -> int | None:
    """The integer in column `name` (None when blank): InputError when it is not one or is
    below `minimum`."""
    text = (r.get(name) or "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"must be an integer, not {text!r}", file=where, field=name) from None
    if value < minimum:
        raise InputError(f"must be >= {minimum}, not {value}", file=where, field=name)
    return value


def load_rows() -> list[StackRow]:
    """The rows of ``stack-measurements.csv``, checked (each error names the row's line
    in the file and the column)."""
    out = []
    rows = _csv_rows_with_lines(MEASUREMENTS)
    missing = [c for c in COLUMNS if rows and c not in rows[0][1]]
    if missing:
        raise InputError(f"the header lacks the columns {', '.join(missing)}",
                         file=MEASUREMENTS, field=missing[0])
    for line, r in rows:
        where = f"{MEASUREMENTS} line {line}"
        if r["role"] not in ROLES:
            raise InputError(f"unknown role {r['role']!r}", file=where, field="role")
        if r["kind"] not in KIND_UNITS:
            raise InputError(f"unknown kind {r['kind']!r}; choose one of "
                             f"{', '.join(KIND_UNITS)}", file=where, field="kind")
        if r["unit"] not in KIND_UNITS[r["kind"]]:
            raise InputError(f"a {r['kind']} row is measured in "
                             f"{' or '.join(KIND_UNITS[r['kind']])}, not {r['unit']!r}",
                             file=where, field="unit")
        ctx = _int_cell(r, "context", where, 1 if r["kind"] == "ar-generate" else 0)
        output = _int_cell(r, "output", where, 1)
        batch = _int_cell(r, "batch", where, 1) or 1
        if batch > 1 and r["kind"] != "ar-generate":
            raise InputError("only a generate row runs a batch of requests", file=where,
                             field="batch")
        if batch > MAX_BATCH:
            raise InputError(f"must be at most {MAX_BATCH}, not {batch}", file=where,
                             field="batch")
        if batch > 1 and r["unit"] not in ("tokens/s", "prompt tokens/s"):
            raise InputError("a batch of requests is measured as a rate (tokens/s or "
                             f"prompt tokens/s), not in {r['unit']!r}", file=where,
                             field="unit")
        if (r["kind"] == "ar-generate") != (output is not None) or \
                (r["kind"] == "ar-generate" and ctx is None):
            raise InputError("a generate row, and only a generate row, names its output "
                             "tokens; it names its prompt in context", file=where,
                             field="output")
        offload = (r.get("offload") or "").strip()
        if offload not in ("", "0", "1"):
            raise InputError(f"must be 1, 0 or blank, not {offload!r}", file=where,
                             field="offload")
        try:
            measured = float(r["measured"])
        except ValueError:
            measured = math.nan
        if not (math.isfinite(measured) and measured > 0):
            raise InputError(f"must be a positive number, not {r['measured']!r}", file=where,
                             field="measured")
        fits = (r.get("fits") or "").strip()
        stack_name, _, param = fits.partition(".")
        if fits and (stack_name not in STACKS or param not in HOST_TERMS):
            raise InputError(f"must name a stack's fitted host term (stack.term, e.g. "
                             f"hf-eager.host_op_s), not {fits!r}", file=where, field="fits")
        out.append(StackRow(
            id=r["id"], kind=r["kind"], role=r["role"], stack=r["stack"],
            hardware=r["hardware"], model=r["model"],
            tp=_int_cell(r, "tp", where, 1) or 1, pp=_int_cell(r, "pp", where, 1) or 1,
            offload=offload == "1", batch=batch, context=ctx, output=output,
            measured=measured, unit=r["unit"], fits=fits,
            source=r["source"], note=r.get("note", "")))
    return out


# -- Medusa-1 answer logs --------------------------------------------------------------------
def summarise_mtbench_logs(log_dir: Path) -> list[dict[str, Any]]:
    """Per-turn totals of the Medusa-1 MT-bench answer logs in `log_dir` (the rows of
    ``mtbench-medusa-turns.csv``): model, question, turn, idxs, new_tokens, wall_time_s."""
    rows = []
    for size in ("7b", "13b", "33b"):
        path = Path(log_dir) / f"medusa-vicuna-{size}-v1.3-temperature-0.0.jsonl"
        for line in path.read_text().splitlines():
            d = json.loads(line)
            c = d["choices"][0]
            for t, (i, n, w) in enumerate(zip(c["idxs"], c["new_tokens"], c["wall_time"],
                                              strict=True)):
                rows.append({"model": f"vicuna-{size}", "question_id": d["question_id"],
                             "turn": t, "idxs": i, "new_tokens": n, "wall_time_s": w})
    return rows


def summarise_mtbench_runs(log_dir: Path) -> list[dict[str, Any]]:
    """Per-run totals of the Medusa-1 MT-bench answer logs in `log_dir` (the rows of
    ``mtbench-medusa-runs.csv``): model, run, new_tokens, steps, wall_time_s."""
    rows = []
    for size in ("7b", "13b", "33b"):
        for run, suffix in enumerate(MEDUSA_RUN_FILES):
            path = Path(log_dir) / (f"medusa-vicuna-{size}-v1.3{suffix}-temperature-0.0-"
                                    "posterior_threshold-0.09-posterior_alpha-0.3.jsonl")
            new = steps = 0
            wall = 0.0
            for line in path.read_text().splitlines():
                c = json.loads(line)["choices"][0]
                new += sum(c["new_tokens"])
                steps += sum(i + 1 for i in c["idxs"])
                wall += sum(c["wall_time"])
            rows.append({"model": f"vicuna-{size}", "run": run, "new_tokens": new,
                         "steps": steps, "wall_time_s": round(wall, 6)})
    return rows


def write_runs_csv(rows: list[dict[str, Any]], path: Path) -> None:
    buf = io.StringIO()
    buf.write("# per-run totals of FasterDecoding/Medusa (commit 4681013) llm_judge/data/mt_bench/"
              "model_answer/medusa-vicuna-{7b,13b,33b}-v1.3{,-1,-2}-temperature-0.0-"
              "posterior_threshold-0.09-posterior_alpha-0.3.jsonl (Apache-2.0): run 0 is the "
              "file without a suffix, runs 1 and 2 the same decode timed again; written by "
              "specaccel.analysis.stack_calibration.summarise_mtbench_runs\n")
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    Path(path).write_text(buf.getvalue())


def medusa_runs(model: str) -> list[float]:
    """Tokens/s of each bundled timing run of `model`'s Medusa-1 log."""
    runs = [float(r["new_tokens"]) / float(r["wall_time_s"])
            for r in _csv_rows(MEDUSA_RUNS) if r["model"] == model]
    if not runs:
        raise InputError(f"no Medusa-1 timing runs for {model!r}", file=MEDUSA_RUNS,
                         field="model")
    return runs


def write_turns_csv(rows: list[dict[str, Any]], path: Path) -> None:
    buf = io.StringIO()
    buf.write("# per-turn totals of FasterDecoding/Medusa llm_judge/data/mt_bench/model_answer/"
              "medusa-vicuna-{7b,13b,33b}-v1.3-temperature-0.0-posterior_threshold-0.09-"
              "posterior_alpha-0.3.jsonl (Apache-2.0): one A100, Hugging Face eager stack; "
              "written by specaccel.analysis.stack_calibration.summarise_mtbench_logs\n")
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    Path(path).write_text(buf.getvalue())


def medusa_turns(model: str) -> list[dict[str, Any]]:
    """The bundled per-turn totals of `model`'s Medusa-1 log."""
    rows = [r for r in _csv_rows(MEDUSA_TURNS) if r["model"] == model]
    if not rows:
        raise InputError(f"no Medusa-1 log turns for {model!r}", file=MEDUSA_TURNS,
                         field="model")
    return [{"question_id": int(r["question_id"]), "turn": int(r["turn"]),
             "idxs": int(r["idxs"]), "new_tokens": int(r["new_tokens"]),
             "wall_time_s": float(r["wall_time_s"])} for r in rows]


def _medusa_log_turns(model_name: str, dep: Deployment) -> dict[str, np.ndarray]:
    """Every turn of `model_name`'s Medusa-1 log priced on `dep`: per turn its steps,
    mean context, simulated step time (summed), simulated prefill and logged wall time."""
    turns = medusa_turns(model_name)
    target = get_model(model_name)
    heads = get_model(f"medusa-{model_name}")
    history: dict[int, int] = {}
    steps, ctx_all, acc_all, prompts, turn_of = [], [], [], [], []
    for k, t in enumerate(turns):
        prompt = history.get(t["question_id"], 0) + QUESTION_TOKENS * (t["turn"] + 1)
        history[t["question_id"]] = history.get(t["question_id"], 0) + t["new_tokens"]
        s = t["idxs"] + 1  # the loop index of the last step, plus one
        per = t["new_tokens"] / s
        ctx_all.append(prompt + per * np.arange(s))
        acc_all.append(np.full(s, max(per - 1.0, 0.0)))
        steps.append(s)
        prompts.append(prompt)
        turn_of.append(np.full(s, k))
    ctx = np.concatenate(ctx_all)
    n = ctx.shape[0]
    stages = step_stages(dep, target=target, draft=heads, speculative=True,
                         n_nodes=np.full(n, MEDUSA_TREE_TOKENS),
                         target_tokens=np.full(n, MEDUSA_TREE_TOKENS), context=ctx,
                         accepted=np.concatenate(acc_all),
                         draft_step_of=np.arange(n), draft_tokens=np.ones(n),
                         draft_context=ctx)
    step_s = stages["draft_s"] + stages["tree_s"] + stages["target_s"] + stages["verify_s"]
    pr = np.asarray(prompts, dtype=np.float64)
    prefill = dep.pass_costs(target, role="target", tokens=pr, context=np.zeros_like(pr),
                             phase="prefill")["latency_s"]
    which = np.concatenate(turn_of)
    return {"steps": np.asarray(steps, dtype=np.float64),
            "mean_context": np.array([c.mean() for c in ctx_all]),
            "step_s": np.bincount(which, weights=step_s, minlength=len(turns)),
            "prefill_s": np.asarray(prefill, dtype=np.float64),
            "wall_s": np.array([t["wall_time_s"] for t in turns]),
            "new_tokens": np.array([t["new_tokens"] for t in turns], dtype=np.float64)}


def predict_medusa_log(model_name: str, dep: Deployment) -> dict[str, float]:
    """Predicted vs logged tokens/s of the Medusa-1 log of `model_name` on `dep`."""
    t = _medusa_log_turns(model_name, dep)
    runs = medusa_runs(model_name)
    return {"measured": statistics.fmean(runs), "runs": runs,
            "predicted": float(t["new_tokens"].sum() / (t["step_s"] + t["prefill_s"]).sum()),
            "step_ms": float(t["step_s"].sum() / t["steps"].sum() * 1e3),
            "turns": len(t["steps"])}


def medusa_log_context_fit(model_name: str, dep: Deployment) -> dict[str, float]:
    """Time per step against context, measured and simulated, over the turns of
    `model_name`'s Medusa-1 log: a least-squares line ``a + b x context`` through each
    turn's time per step at its mean context.  The measured time per step is the turn's
    wall time less the simulated prefill of its prompt, over its steps.

    The slopes test the terms that grow with the context (attention over the tree, KV
    reads) apart from the constant ones (weights, kernels, host).  Returns
    ``measured_ms``, ``measured_us_per_token``, ``simulated_ms``,
    ``simulated_us_per_token``.
    """
    t = _medusa_log_turns(model_name, dep)
    x = t["mean_context"]
    design = np.vstack([np.ones_like(x), x]).T
    measured = (t["wall_s"] - t["prefill_s"]) / t["steps"]
    simulated = t["step_s"] / t["steps"]
    (ma, mb), (sa, sb) = (np.linalg.lstsq(design, y, rcond=None)[0]
                          for y in (measured, simulated))
    return {"measured_ms": float(ma * 1e3), "measured_us_per_token": float(mb * 1e6),
            "simulated_ms": float(sa * 1e3), "simulated_us_per_token": float(sb * 1e6)}


def _ar_steps_s(model_name: str, dep: Deployment, context: np.ndarray) -> np.ndarray:
    """Seconds of one plain decoding step at batch 1 on `dep` at each `context`."""
    n = context.shape[0]
    st = step_stages(dep, target=get_model(model_name), draft=None, speculative=False,
                     n_nodes=np.ones(n, dtype=np.int64), target_tokens=np.ones(n),
                     context=context.astype(np.float64), accepted=np.zeros(n))
    return st["tree_s"] + st["target_s"] + st["verify_s"]


def predict_ar(model_name: str, dep: Deployment, context: int) -> float:
    """Tokens/s of plain decoding at batch 1 on `dep` at `context`."""
    return 1.0 / float(_ar_steps_s(model_name, dep, np.array([float(context)]))[0])


def plain_trace(requests: int, prompt: int, steps: int) -> Trace:
    """`requests` plain-decoding requests arriving together, each a `prompt`-token prompt
    and `steps` decode steps (root-only trees: one token a step)."""
    def step(i: int) -> DraftTree:
        return DraftTree.build([-1], [5 + i % 1000], [5 + (i + 1) % 1000])

    return Trace.from_trees([(f"request-{r}", prompt, [step(r * steps + s)
                                                       for s in range(steps)])
                             for r in range(requests)], metadata={"drafting": "none"})


def predict_generate_s(model_name: str, dep: Deployment, prompt: int, output: int,
                       batch: int = 1) -> float:
    """Seconds per output token of a timed generation of `batch` requests arriving
    together on `dep`: the simulator's serving loop (at most `batch` rows, prefill on)
    prefills the prompts in one pass, which yields each request's first token, then runs
    ``output - 1`` decode steps of the batch; the run's makespan over its output tokens.
    One output token is the prefill pass alone."""
    model = get_model(model_name)
    if output == 1:
        first = dep.pass_costs(model, role="target", tokens=np.array([float(prompt)]),
                               context=np.zeros(1), batch=np.array([float(batch)]),
                               phase="prefill", requests=np.array([float(batch)]))
        return float(first["latency_s"][0]) / batch
    run = simulate(plain_trace(batch, prompt, output - 1), hw=dep.hw, target=model,
                   draft=None, deployment=dep, baseline=False, engine="event",
                   serving=ServingConfig(max_batch=batch, prefill=True))
    return run.makespan_s / (batch * output)


_HARDWARE = {"A100-80GB": "a100-80gb", "A100-80GB-PCIe": "a100-80gb-pcie",
             "A100-40GB": "a100-40gb", "H100-SXM": "h100-sxm", "RTX-2080-Ti": "rtx-2080-ti",
             "RTX-4090": "rtx-4090"}


def deployment_for(row: StackRow, stacks: dict[str, SoftwareStack] | None = None
                   ) -> Deployment:
    stack = (stacks or {}).get(row.stack) or get_stack(row.stack)
    hw = get_hardware(_HARDWARE.get(row.hardware, row.hardware))
    return Deployment(hw, stack, Placement(tp=row.tp, pp=row.pp, offload=row.offload))


@contextmanager
def registered_stacks(stacks: dict[str, SoftwareStack] | None) -> Iterator[None]:
    """The stack registry holding `stacks` for the duration (a simulation resolves its
    stacks by name); restored afterwards."""
    saved = dict(software_stack.STACKS)
    software_stack.STACKS.update(stacks or {})
    try:
        yield
    finally:
        software_stack.STACKS.clear()
        software_stack.STACKS.update(saved)


def predict_preset_speedup(preset: str, stacks: dict[str, SoftwareStack] | None = None
                           ) -> float:
    """The end-to-end speedup of `preset` as ``specaccel validate`` simulates it, with
    `stacks` in place of the registered ones."""
    from specaccel.analysis.validation_report import end_to_end_rows

    with registered_stacks(stacks):
        rows = end_to_end_rows((preset,))
    if not rows:
        raise InputError(f"preset {preset!r} has no published speedup", file=MEASUREMENTS,
                         field="model")
    return float(rows[0]["predicted"])


def predict_row(row: StackRow, stacks: dict[str, SoftwareStack] | None = None
                ) -> float | None:
    """Our figure for `row` (``None`` for a reference row)."""
    if row.role == "reference":
        return None
    if row.kind == "preset-speedup":
        return predict_preset_speedup(row.model, stacks)
    dep = deployment_for(row, stacks)
    if row.kind == "medusa-log":
        return predict_medusa_log(row.model, dep)["predicted"]
    if row.kind == "ar-decode":
        rate = predict_ar(row.model, dep, row.context or DEFAULT_CONTEXT)
        return 1.0 / rate if row.unit == "s/token" else rate
    if row.kind == "ar-generate":
        prompt, output = row.context or 1, row.output or 1
        seconds = predict_generate_s(row.model, dep, prompt, output, row.batch)
        if row.unit == "tokens/s":
            return 1.0 / seconds
        if row.unit == "prompt tokens/s":
            return prompt / (seconds * output)
        return seconds * {"s/token": 1.0, "ms/token": 1e3}[row.unit]
    raise InputError(f"unknown kind {row.kind!r}", file=MEASUREMENTS, field="kind")


#: Bisection of a fit stops when its bracket is this narrow (seconds: 1 ns of host or
#: device time, far below the figures' own uncertainty).
FIT_RESOLUTION_S = 1e-9
#: Upper end of a fit's bracket (seconds): 1 ms for a time per operation, 100 ms for a
#: time per request.
FIT_UPPER_S = {"request_host_s": 0.1}
DEFAULT_FIT_UPPER_S = 1e-3


def fit_parameter(row: StackRow, stacks: dict[str, SoftwareStack]) -> tuple[str, float]:
    """Fit the stack parameter named in `row.fits` (``stack.field``) so that `row` is
    reproduced: bisection on the field over [0, `FIT_UPPER_S`] (1 ms unless named).
    Every prediction here is monotonic in a host or device time (tokens/s fall as the
    stack's own time grows; a speedup grows as its baseline stack's time grows); the
    direction is read from the bracket's ends."""
    stack_name, _, field_name = row.fits.partition(".")
    base = stacks[stack_name]

    def predicted(value: float) -> float:
        trial = dict(stacks)
        trial[stack_name] = base.with_values(**{field_name: value})
        return float(predict_row(row, trial))

    lo, hi = 0.0, FIT_UPPER_S.get(field_name, DEFAULT_FIT_UPPER_S)
    rising = predicted(hi) > predicted(lo)
    while hi - lo > FIT_RESOLUTION_S:
        mid = 0.5 * (lo + hi)
        if (predicted(mid) > row.measured) != rising:
            lo = mid
        else:
            hi = mid
    return row.fits, 0.5 * (lo + hi)


def shared_fit_targets(fits: str) -> list[str]:
    """Stacks that share the fitted field of `fits`'s stack: the fitted value is one
    physical figure (the Hugging Face host time per op) for every stack that carries the
    field in its ``fitted`` list with the same value."""
    stack_name, _, field_name = fits.partition(".")
    value = getattr(STACKS[stack_name], field_name)
    return [s.name for s in STACKS.values()
            if field_name in s.fitted and getattr(s, field_name) == value]


def calibrate() -> dict[str, Any]:
    """Fit every calibration row, then predict every prediction row with the fits."""
    rows = load_rows()
    stacks = dict(STACKS)
    fitted: dict[str, float] = {}
    for row in rows:
        if row.role != "calibration":
            continue
        key, value = fit_parameter(row, stacks)
        fitted[key] = value
        field_name = key.partition(".")[2]
        for name in shared_fit_targets(key):
            stacks[name] = stacks[name].with_values(**{field_name: value})
    results = []
    for row in rows:
        pred = predict_row(row, stacks)
        err = None if pred is None else (pred - row.measured) / row.measured
        runs = medusa_runs(row.model) if row.kind == "medusa-log" else []
        results.append({**row.to_dict(), "predicted": pred, "error": err, "runs": runs})
    errs = [abs(r["error"]) for r in results if r["role"] == "prediction"]
    return {
        "fitted": fitted,
        "rows": results,
        "median_abs_error": statistics.median(errs) if errs else None,
        "worst_abs_error": max(errs) if errs else None,
    }


def _print(report: dict[str, Any]) -> None:
    for key, value in report["fitted"].items():
        print(f"fitted {key} = {value:.4g}")
    for r in report["rows"]:
        pred = "" if r["predicted"] is None else f"{r['predicted']:.4g}"
        err = "" if r["error"] is None else f"{r['error'] * 100:+.1f}%"
        print(f"{r['role']:<11} {r['id']:<36} {r['stack']:<14} measured {r['measured']:<9.4g} "
              f"{r['unit']:<9} predicted {pred:<9} {err}")
    if report["median_abs_error"] is not None:
        print(f"prediction rows: median |error| {report['median_abs_error'] * 100:.1f}%, "
              f"worst {report['worst_abs_error'] * 100:.1f}%")


if __name__ == "__main__":  # pragma: no cover - exercised by the test of `calibrate`
    if len(sys.argv) == 3 and sys.argv[1] == "--write-turns":
        write_turns_csv(summarise_mtbench_logs(Path(sys.argv[2])),
                        Path(str(resources.files("specaccel.data").joinpath(MEDUSA_TURNS))))
    elif len(sys.argv) == 3 and sys.argv[1] == "--write-runs":
        write_runs_csv(summarise_mtbench_runs(Path(sys.argv[2])),
                       Path(str(resources.files("specaccel.data").joinpath(MEDUSA_RUNS))))
    else:
        _print(calibrate())
