"""`specaccel validate`: every check of the cost model and the simulator against published
or independently simulated numbers, in eight sections.

================  ==========================================================================
section           what is compared
================  ==========================================================================
``kernels``       passes of the kernel model against published decode/prefill measurements
                  (:func:`specaccel.models.cost.validation_table.validation_table`)
``gemm``          the GPU GEMM model against measured fp16 linear layers on an A100 and an
                  A10, shape by shape (:mod:`specaccel.models.cost.gemm_validation`)
``operators``     the GPU GEMM model against Vidur's profiled kernel times of the linear
                  layers of 7B to 70B models on an A100, an H100 and an A40, 1 to 4096 tokens
                  (:mod:`specaccel.models.cost.operator_validation`)
``collectives``   the links' all-reduce bus bandwidth against Vidur's NCCL profiles on an
                  A100 DGX, an H100 DGX and four A100 PCIe cards
                  (:mod:`specaccel.models.cost.collective_validation`)
``stacks``        software stacks and placements against measured runs: the Medusa-1
                  MT-bench logs, plain-decoding baselines, vLLM's generate() calls
                  (:mod:`specaccel.analysis.stack_calibration`)
``end-to-end``    every calibrated preset with a published speedup, simulated on the
                  hardware and the software stacks its source ran on, against that speedup
                  (a speedup a stack parameter is fitted to is a calibration row);
                  Spec-Bench's rows replayed as the benchmark times them
                  (:mod:`specaccel.analysis.specbench_protocol`)
``tasks``         Spec-Bench's speedup on each of its six tasks, for the methods whose
                  acceptance per question is measured (EAGLE-1, SpS), replayed as the
                  benchmark times them
``array``         the accelerator's systolic array against SCALE-Sim's cycles
                  (:mod:`specaccel.models.cost.array_validation`)
================  ==========================================================================

Every row says its ``role``: ``calibration`` (a measurement a parameter was fitted to:
shown, never counted as agreement), ``prediction``, ``reference`` (a figure that is
not a measurement) or ``excluded`` (a measurement that cannot test the model, with its
reason; not counted).  Each section reports the median and worst |error| over its
prediction rows.  `report_markdown` is what docs/validation.md carries.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

from specaccel.analysis.source_spread import load_remeasured, spread, spread_line

SECTIONS = ("kernels", "gemm", "operators", "collectives", "stacks", "end-to-end", "tasks",
            "array")
TITLES = {
    "kernels": "Kernels and passes: published decode and prefill measurements",
    "gemm": "GEMMs: measured fp16 linear layers on an A100 and an A10, shape by shape",
    "operators": "GEMMs: Vidur's profiled linear layers on the A100, the H100 and the A40",
    "collectives": "All-reduce: the links' bus bandwidth against Vidur's NCCL profiles",
    "stacks": "Software stacks: measured runs on a stack",
    "end-to-end": "End to end: preset speedups on their papers' stacks and hardware",
    "tasks": "Spec-Bench by task: the methods whose acceptance per question is measured",
    "array": "The systolic array against SCALE-Sim",
}
#: The trace each end-to-end row simulates: requests x steps per request, seed.  τ is an
#: input of these rows (the published one), so the trace must realise it: the committed
#: tokens per step of a random trace scatter about the calibrated mean, by up to 9 % over
#: 8 x 64 steps (prompt lookup's 1.90 against its 1.75) and within 1 % over 256 x 64.
E2E_REQUESTS, E2E_STEPS, E2E_SEED = 256, 64, 0
#: How far a row's trace τ may lie from the published τ (`tau_off_rows`).
E2E_TAU_TOLERANCE = 0.015
#: The hardware of a preset whose source names none.
E2E_DEFAULT_HARDWARE = "a100-80gb"


def _row(section: str, rid: str, role: str, measured: float, predicted: float | None,
         unit: str, **detail: Any) -> dict[str, Any]:
    err = (None if predicted is None or not measured
           else (predicted - measured) / measured)
    return {"section": section, "id": rid, "role": role, "measured": measured,
            "predicted": predicted, "error": err, "unit": unit, **detail}


def kernels_section() -> list[dict[str, Any]]:
    return _kernels()[0]


def _kernels() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The kernel rows and the re-fitted device parameters
    (:func:`~specaccel.models.cost.validation_table.validation_table`)."""
    from specaccel.models.cost.validation_table import validation_table

    table = validation_table()
    out = []
    for r in table["rows"]:
        rid = (f"{r['setup']} {r['hardware']} {r['model']} {r.get('precision', '')} "
               f"{r['phase']} b{r['batch']}").replace("  ", " ")
        out.append(_row("kernels", rid, r["role"], float(r["measured"]), float(r["predicted"]),
                        r["unit"], context=r["context"], tolerance=r["tolerance"]))
    return out, table["calibration"]


def gemm_section() -> list[dict[str, Any]]:
    from specaccel.models.cost.gemm_validation import gemm_validation_rows

    # a calibration row gives a figure the model derives from it (a fraction of its rate),
    # not a row the model must reproduce: the figure is checked (`validation_report`)
    return [_row("gemm", r["label"], r["role"], r["measured_s"] * 1e6, r["predicted_s"] * 1e6,
                 "us", m=r["m"], hardware=r["hardware"], reason=r["reason"], fits=r["fits"],
                 group_fit=bool(r["fits"]))
            for r in gemm_validation_rows()]


def operators_section() -> list[dict[str, Any]]:
    from specaccel.models.cost.operator_validation import operator_validation_rows

    # a calibration row here serves a fit over a group of rows (a line through them, a
    # median): the group's fit, not each row, must be reproduced (`validation_report`)
    return [_row("operators", r["label"], r["role"], r["measured_s"] * 1e6,
                 r["predicted_s"] * 1e6, "us", m=r["m"], hardware=r["hardware"],
                 bound=r["bound"], fits=r["fits"], group_fit=bool(r["fits"]))
            for r in operator_validation_rows()]


def collectives_section() -> list[dict[str, Any]]:
    from specaccel.models.cost.collective_validation import collective_validation_rows

    return [_row("collectives", r["label"], r["role"], r["measured_bw"] / 1e9,
                 r["predicted_bw"] / 1e9, "GB/s", hardware=r["hardware"],
                 devices=r["devices"], intercept_us=r["intercept_s"] * 1e6,
                 model_intercept_us=r["model_intercept_s"] * 1e6)
            for r in collective_validation_rows()]


def stacks_section() -> list[dict[str, Any]]:
    from specaccel.analysis.stack_calibration import calibrate

    rep = calibrate()
    out = []
    for r in rep["rows"]:
        if r["role"] == "reference":
            continue  # a microbenchmark a constant is taken from, not a run to predict
        runs = (f"{min(r['runs']):.2f}–{max(r['runs']):.2f} ({len(r['runs'])} runs)"
                if r["runs"] else "")
        out.append(_row("stacks", r["id"], r["role"], r["measured"], r["predicted"],
                        r["unit"], stack=r["stack"], fits=r["fits"], source=r["source"],
                        runs=runs))
    return out


def implied_step_s(published_speedup: float, tokens_per_step: float,
                   baseline_tokens_per_s: float) -> float:
    """The speculative step time a published speedup implies, on the simulated baseline:
    ``tokens per step / speedup`` baseline steps.  Against the simulated step it turns a
    speedup error into time per step: the cost the model lacks (positive) or has too
    much of (negative), if its baseline is right."""
    return tokens_per_step / published_speedup / baseline_tokens_per_s


def tau_off_rows(rows: list[dict[str, Any]]) -> list[str]:
    """End-to-end rows whose trace does not commit the published τ within
    `E2E_TAU_TOLERANCE` (their speedup error would be the trace's sampling error), as
    ``"id (trace τ vs published)"``."""
    return [f"{r['id']} (trace {r['tau']:.3f} vs published {r['published_tau']})"
            for r in rows if r.get("published_tau")
            and abs(r["tau"] / r["published_tau"] - 1.0) > E2E_TAU_TOLERANCE]


def calibration_presets() -> dict[str, str]:
    """Presets whose published speedup fits a stack parameter (the ``preset-speedup``
    calibration rows of ``stack-measurements.csv``): name -> the parameter fitted."""
    from specaccel.analysis.stack_calibration import load_rows

    return {r.model: r.fits for r in load_rows()
            if r.kind == "preset-speedup" and r.role == "calibration"}


def gpu_share(trace: Any, hw: str, config: Any, step_s: float) -> float:
    """The share of a simulated step its GPU sets: the mean step of `trace` on `hw` with
    the deployment of `config` issued by an infinitely fast host
    (:meth:`~specaccel.models.cost.deployment.Deployment.without_host`), over `step_s`,
    the mean step with the real host.  1 when the host hides entirely behind the GPU
    (or the stack has no host time); the host-bound part of the step is what is
    missing from 1.  A synchronisation's round trip counts as host time here (the
    stack's ``sync_s``, a few of about 10 µs in a step of tens of milliseconds)."""
    from specaccel.sim import simulate
    from specaccel.sim.simulation import resolve_deployments, resolve_specs

    hw_spec, target, draft, drafting = resolve_specs(trace, hw)
    dep, base = resolve_deployments(trace, hw_spec, config)
    sim = simulate(trace, hw=hw_spec, target=target, draft=draft, drafting=drafting,
                   deployment=dep.without_host(), baseline_deployment=base.without_host(),
                   engine="fast")
    return sim.makespan_s / sim.n_steps / step_s


#: Replays of Spec-Bench presets over all the benchmark's questions, by preset: what
#: `end_to_end_rows` computed and `tasks_section` reads again, ``(times, hardware)``.
Replays = dict[str, tuple[Any, str]]


def end_to_end_rows(names: tuple[str, ...] | None = None, *, replays: Replays | None = None
                    ) -> list[dict[str, Any]]:
    """Every calibrated preset with a published speedup (or those of `names`), simulated
    on its source's hardware and stacks (fast engine, `E2E_REQUESTS` x `E2E_STEPS`, seed
    `E2E_SEED`), with the share of its step the GPU sets (`gpu_share`, on that trace).

    A benchmark that times each question (``Benchmark.timed_tasks``: Spec-Bench, and
    MT-Bench as EAGLE's scripts time it) is replayed as it measures: the turns of its
    questions, each with its prompt's prefill, priced with
    the trace's steps (:mod:`~specaccel.analysis.specbench_protocol`); the row's
    ``step_ms`` is then the mean decode step of those turns, ``implied_step_ms`` the one
    that gives the published speedup with the same prefills and baseline, and
    ``prefill_share`` the share of the method's time in prefill; ``gpu_share`` stays the
    synthetic trace's (its steps, not the replay's: what the GPU sets of a decode step,
    which the replay's turns share)."""
    from specaccel.analysis.specbench_protocol import protocol_times
    from specaccel.models.cost.deployment_config import DeploymentConfig
    from specaccel.models.golden import verify_trace
    from specaccel.sim import simulate_named
    from specaccel.workloads import generate_trace, get_preset, list_presets
    from specaccel.workloads.specbench_questions import TASKS, specbench_turns

    out = []
    fitted = calibration_presets()
    for name in names if names is not None else list_presets():
        preset = get_preset(name)
        raw = preset.source.get("speedup", "")
        if raw in ("", None):
            continue
        trace = generate_trace(name, n_requests=E2E_REQUESTS, steps_per_request=E2E_STEPS,
                               seed=E2E_SEED)
        hw = trace.metadata.get("hardware", E2E_DEFAULT_HARDWARE)
        config = DeploymentConfig()
        tau = float(verify_trace(trace).committed.mean())
        sim = simulate_named(trace, hw, engine="fast", deployment=config)
        trace_step_s = sim.makespan_s / sim.n_steps
        timed = preset.benchmark.timed_tasks
        if timed:
            times = protocol_times(trace, hw, config, tau=tau,
                                   turns=specbench_turns().subset(timed))
            if replays is not None and set(timed) == set(TASKS):
                replays[name] = (times, hw)
            predicted, step_s = times.speedup(), times.step_s
            implied = times.implied_step_s(float(raw))
            prefill = times.prefill_share
        else:
            predicted, step_s = float(sim.speedup), trace_step_s
            implied = implied_step_s(float(raw), sim.tokens / sim.n_steps,
                                     sim.baseline.tokens_per_s)
            prefill = None
        role = "calibration" if name in fitted else "prediction"
        out.append(_row("end-to-end", name, role, float(raw), predicted, "x",
                        fits=fitted.get(name, ""),
                        step_ms=step_s * 1e3,
                        implied_step_ms=None if implied is None else implied * 1e3,
                        prefill_share=prefill,
                        gpu_share=gpu_share(trace, hw, config, trace_step_s),
                        hardware=hw, stack=trace.metadata.get("stack", "ideal"),
                        draft_stack=trace.metadata.get("draft_stack", ""),
                        baseline_stack=trace.metadata.get("baseline_stack",
                                                          trace.metadata.get("stack",
                                                                             "ideal")),
                        source=preset.source.get("source", ""),
                        published_tau=preset.published_tau, tau=tau))
    return out


def tasks_section(*, replays: Replays | None = None) -> list[dict[str, Any]]:
    """Spec-Bench's published speedup of each task (``specbench-tasks.csv``) against the
    replay of the task's questions (:meth:`~.specbench_protocol.ProtocolTimes.speedup` over
    them), each preset replayed once with the end-to-end section's trace.  The rows are
    the methods whose per-question acceptance the turns measure, so a task's acceptance
    is the method's own, not EAGLE-1's carried over.  `replays`: the end-to-end section's
    replays of the same presets, reused (and added to)."""
    from specaccel.analysis.specbench_protocol import protocol_times
    from specaccel.models.cost.deployment_config import DeploymentConfig
    from specaccel.workloads import generate_trace
    from specaccel.workloads.specbench_questions import published_task_speedups, specbench_turns

    task_of = specbench_turns().task
    replays = {} if replays is None else replays
    out = []
    for r in published_task_speedups():
        if r.preset not in replays:
            trace = generate_trace(r.preset, n_requests=E2E_REQUESTS,
                                   steps_per_request=E2E_STEPS, seed=E2E_SEED)
            hw = trace.metadata.get("hardware", E2E_DEFAULT_HARDWARE)
            replays[r.preset] = (protocol_times(trace, hw, DeploymentConfig()), hw)
        times, hw = replays[r.preset]
        out.append(_row("tasks", f"{r.preset} {r.task}", "prediction", r.speedup,
                        times.speedup(questions=task_of == r.task), "x", preset=r.preset,
                        task=r.task, hardware=hw))
    return out


def array_section() -> list[dict[str, Any]]:
    from specaccel.models.cost.array_validation import array_validation_rows

    return [_row("array", f"{r['label']} {r['m']}x{r['n']}x{r['k']} {r['rows']}x{r['cols']} "
                 f"{r['dataflow']}", r["kind"], r["scalesim_cycles"], r["specaccel_cycles"],
                 "cycles", run=r["run"]) for r in array_validation_rows()]


BUILDERS: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "kernels": kernels_section, "gemm": gemm_section, "operators": operators_section,
    "collectives": collectives_section, "stacks": stacks_section,
    "end-to-end": end_to_end_rows,
    "tasks": tasks_section,
    "array": array_section,
}


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts by role; median and worst |error| over the prediction rows."""
    pred = [abs(r["error"]) for r in rows if r["role"] == "prediction"
            and r["error"] is not None and math.isfinite(r["error"])]
    worst = max(((abs(r["error"]), r["id"]) for r in rows if r["role"] == "prediction"
                 and r["error"] is not None), default=(None, None))
    return {"prediction_rows": len(pred),
            "calibration_rows": sum(r["role"] == "calibration" for r in rows),
            "reference_rows": sum(r["role"] == "reference" for r in rows),
            "excluded_rows": sum(r["role"] == "excluded" for r in rows),
            "median_abs_error": statistics.median(pred) if pred else None,
            "worst_abs_error": worst[0], "worst_row": worst[1]}


def validation_report(sections: tuple[str, ...] = SECTIONS) -> dict[str, Any]:
    """The sections asked for, each with its rows and summary."""
    out = []
    replays: Replays = {}  # the end-to-end replays the tasks section reads again
    for name in sections:
        fits = None
        if name == "kernels":  # its calibrated parameters, re-fitted, go with it
            rows, fits = _kernels()
        elif name in ("end-to-end", "tasks"):
            rows = BUILDERS[name](replays=replays)
        else:
            rows = BUILDERS[name]()
        if name == "operators":
            from specaccel.models.cost.operator_validation import fit_operator_calibration

            fits = fit_operator_calibration()
        if name == "gemm":
            from specaccel.models.cost.gemm_validation import fit_gemm_calibration

            fits = fit_gemm_calibration()
        sec = {"name": name, "title": TITLES[name], "rows": rows, "summary": summarise(rows)}
        if fits is not None:
            sec["fits"] = fits
        if name == "end-to-end":
            sec["by_source"] = [{"source": k, "rows": n, "median_abs_error": med,
                                 "worst_abs_error": worst}
                                for k, n, med, worst in by_source(rows)]
            sec["by_regime"] = [{"regime": k, "rows": n, "median_abs_error": med,
                                 "worst_abs_error": worst, "median_error": signed}
                                for k, n, med, worst, signed in by_regime(rows)]
            sec["source_spread"] = spread(load_remeasured())
        out.append(sec)
    return {"sections": out}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.1f}%"


def _num(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.4g}"


def summary_line(section: dict[str, Any]) -> str:
    s = section["summary"]
    worst = "" if s["worst_row"] is None else f" (`{s['worst_row']}`)"
    return (f"{s['prediction_rows']} prediction rows: median |error| "
            f"{_pct(s['median_abs_error'])}, worst {_pct(s['worst_abs_error'])}{worst}; "
            f"{s['calibration_rows']} calibration rows, {s['reference_rows']} reference rows"
            + (f", {s['excluded_rows']} excluded rows" if s["excluded_rows"] else ""))


_COLUMNS = {
    "kernels": ("id", "context", "unit", "role", "measured", "predicted", "error"),
    "gemm": ("id", "unit", "role", "measured", "predicted", "error"),
    "collectives": ("id", "unit", "role", "measured", "predicted", "error", "intercept_us",
                    "model_intercept_us"),
    "stacks": ("id", "stack", "unit", "role", "measured", "runs", "predicted", "error",
               "fits"),
    "end-to-end": ("id", "hardware", "stack", "baseline_stack", "source", "role",
                   "published_tau", "tau", "measured", "predicted", "error", "step_ms",
                   "implied_step_ms", "prefill_share", "gpu_share"),
    "tasks": ("id", "hardware", "task", "role", "measured", "predicted", "error"),
}
_HEADS = {"measured": "measured", "predicted": "specaccel", "error": "error",
          "published_tau": "τ published", "tau": "τ", "baseline_stack": "baseline stack",
          "id": "row", "runs": "timing runs",
          "step_ms": "step ms", "implied_step_ms": "step ms implied",
          "prefill_share": "prefill share", "gpu_share": "GPU share",
          "intercept_us": "µs per call (line)",
          "model_intercept_us": "µs per call (model)"}


_SECTION_HEADS = {"end-to-end": {"measured": "speedup published",
                                 "predicted": "speedup simulated"},
                  "tasks": {"measured": "speedup published", "predicted": "speedup simulated"}}


def _cell(key: str, value: Any) -> str:
    if key == "error":
        return "–" if value is None else f"{value * 100:+.1f}%"
    if isinstance(value, float):
        return _num(value)
    if key == "id":
        return f"`{value}`"
    return "" if value in (None, "") else str(value)


def by_dataflow(rows: list[dict[str, Any]]) -> list[tuple[str, int, float, float]]:
    """``(dataflow, rows, median |error|, worst |error|)`` of the array section."""
    groups: dict[str, list[float]] = {}
    for r in rows:
        groups.setdefault(r["id"].rsplit(" ", 1)[1], []).append(abs(r["error"]))
    return [(df, len(e), statistics.median(e), max(e)) for df, e in sorted(groups.items())]


#: Token ranges of the GEMM and operators sections' groups: decode and verify passes,
#: short prefills and large batches, long prefills.
TOKEN_RANGES = ((1, 64, "1-64"), (65, 256, "65-256"), (257, 1 << 30, "257-4096"))


def by_device_and_tokens(rows: list[dict[str, Any]]
                      ) -> list[tuple[str, str, int, float, float, float]]:
    """``(hardware, tokens, rows, median |error|, worst |error|, median signed error)`` of
    a section's prediction rows (GEMM, operators), by device and `TOKEN_RANGES`."""
    out = []
    pred = [r for r in rows if r["role"] == "prediction"]
    for hw in sorted({r["hardware"] for r in pred}):
        for lo, hi, label in TOKEN_RANGES:
            e = [r["error"] for r in pred if r["hardware"] == hw and lo <= r["m"] <= hi]
            if e:
                out.append((hw, label, len(e), statistics.median(map(abs, e)),
                            max(map(abs, e)), statistics.median(e)))
    return out


def grouped_table(section: dict[str, Any]) -> tuple[list[str], list[list[str]]] | None:
    """``(headers, rows)`` of a section shown by groups, not row by row (its rows are
    hundreds): the array by dataflow, the GEMMs and the operators by device and tokens;
    ``None`` for the other sections."""
    if section["name"] == "array":
        return (["dataflow", "rows", "median abs error", "worst abs error"],
                [[df, str(n), _pct(med), _pct(worst)]
                 for df, n, med, worst in by_dataflow(section["rows"])])
    if section["name"] in ("operators", "gemm"):
        return (["hardware", "tokens", "prediction rows", "median abs error", "worst abs error",
                 "median signed error (+: model slower)"],
                [[hw, tokens, str(n), _pct(med), _pct(worst), f"{signed * 100:+.1f}%"]
                 for hw, tokens, n, med, worst, signed in by_device_and_tokens(section["rows"])])
    return None


#: The end-to-end rows' two kinds of source: the leaderboard that ran every method on one
#: machine against Hugging Face's generate(), and each method's own paper or repository.
SPEC_BENCH_SOURCE = "Spec-Bench leaderboard"


def by_source(rows: list[dict[str, Any]]) -> list[tuple[str, int, float, float]]:
    """``(source, rows, median |error|, worst |error|)`` of the end-to-end prediction
    rows: each Spec-Bench table (its A100 table, its RTX 3090 table) apart from the
    methods' own papers."""
    groups: dict[str, list[float]] = {}
    for r in rows:
        if r["role"] != "prediction" or r["error"] is None:
            continue
        key = "the methods' own papers"
        if str(r.get("source", "")).startswith(SPEC_BENCH_SOURCE):
            hw = r.get("hardware") or E2E_DEFAULT_HARDWARE
            key = SPEC_BENCH_SOURCE + ("" if hw == E2E_DEFAULT_HARDWARE else f" on {hw}")
        groups.setdefault(key, []).append(abs(r["error"]))
    return [(k, len(e), statistics.median(e), max(e)) for k, e in sorted(groups.items())]


#: A step whose GPU sets at least this share of it (`gpu_share`) is GPU-bound: a faster
#: host would shorten it by a tenth at most.
GPU_BOUND_SHARE = 0.9


def by_regime(rows: list[dict[str, Any]]) -> list[tuple[str, int, float, float, float]]:
    """``(regime, rows, median |error|, worst |error|, median signed error)`` of the
    end-to-end prediction rows, by what sets their simulated step: ``GPU-bound`` (the
    GPU sets at least `GPU_BOUND_SHARE` of it) or ``host-bound``."""
    groups: dict[str, list[float]] = {}
    for r in rows:
        if r["role"] != "prediction" or r["error"] is None or r.get("gpu_share") is None:
            continue
        key = "GPU-bound" if r["gpu_share"] >= GPU_BOUND_SHARE else "host-bound"
        groups.setdefault(key, []).append(r["error"])
    return [(k, len(e), statistics.median(map(abs, e)), max(map(abs, e)),
             statistics.median(e)) for k, e in sorted(groups.items())]


def by_reason(rows: list[dict[str, Any]]) -> list[tuple[str, int, float]]:
    """``(reason, rows, median signed error)`` of a section's excluded rows (by device
    and reason when the section's rows span several devices)."""
    devices = {r.get("hardware") for r in rows}
    groups: dict[str, list[float]] = {}
    for r in rows:
        if r["role"] == "excluded":
            reason = r.get("reason") or "unstated"
            key = f"{r['hardware']}, {reason}" if len(devices) > 1 else reason
            groups.setdefault(key, []).append(r["error"])
    return [(k, len(e), statistics.median(e)) for k, e in sorted(groups.items())]


def excluded_lines(section: dict[str, Any]) -> list[str]:
    """One line per reason a row of the section is excluded."""
    return [f"excluded, {reason}: {n} rows (the model {_pct(abs(med))} "
            f"{'slower' if med > 0 else 'faster'} at the median; not counted)"
            for reason, n, med in by_reason(section["rows"])]


def by_source_lines(section: dict[str, Any]) -> list[str]:
    """One line per source group of the end-to-end section (none for other sections),
    and the spread of Spec-Bench's own re-measurement when the section carries it."""
    if section["name"] != "end-to-end":
        return []
    lines = [f"{name}: {n} rows, median |error| {_pct(med)}, worst {_pct(worst)}"
             for name, n, med, worst in by_source(section["rows"])]
    share = f"{GPU_BOUND_SHARE * 100:.0f}%"
    lines += [f"{name} steps (the GPU sets {'at least' if name == 'GPU-bound' else 'less than'}"
              f" {share} of the simulated step): {n} rows, median |error| {_pct(med)}, "
              f"worst {_pct(worst)}, median signed error {signed * 100:+.1f}%"
              for name, n, med, worst, signed in by_regime(section["rows"])]
    if section.get("source_spread"):
        lines.append(spread_line(section["source_spread"]))
    return lines


def section_markdown(section: dict[str, Any]) -> str:
    """A section's table (Markdown; a section of hundreds of rows by its groups,
    `grouped_table`) and its summary line."""
    grouped = grouped_table(section)
    if grouped is not None:
        heads, body = grouped
        lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        reasons = "".join(f"\n* {line}" for line in excluded_lines(section))
        return ("\n".join(lines) + "\n\n" + summary_line(section) + "\n"
                + (reasons[1:] + "\n" if reasons else ""))
    cols = _COLUMNS[section["name"]]
    heads = {**_HEADS, **_SECTION_HEADS.get(section["name"], {})}
    lines = ["| " + " | ".join(heads.get(c, c) for c in cols) + " |",
             "|" + "---|" * len(cols)]
    for r in section["rows"]:
        if r["role"] == "excluded":  # counted by reason below the table
            continue
        lines.append("| " + " | ".join(_cell(c, r.get(c)) for c in cols) + " |")
    groups = "".join(f"\n* {line}" for line in by_source_lines(section)
                     + excluded_lines(section))
    return ("\n".join(lines) + "\n\n" + summary_line(section) + "\n"
            + (groups[1:] + "\n" if groups else ""))


def report_markdown(report: dict[str, Any]) -> str:
    """The sections as docs/validation.md carries them (between its generated markers)."""
    parts = []
    for sec in report["sections"]:
        parts.append(f"### {sec['title']}\n\n" + section_markdown(sec))
    return "\n".join(parts)
