"""The kernels/passes validation table: our passes against ``decode-measurements.csv``.

Every row of the CSV is a published measurement of one pass (or a run of passes) on a
GPU, and is evaluated with the device preset as it is (never a per-row factor).  Its
``role`` says what it is for:

* ``calibration`` -- the row a device parameter is fitted to (`CALIBRATION` names which;
  `fit_calibration` re-fits it, and the preset carries the fitted figure).  It is shown,
  but never counted as agreement;
* ``prediction`` -- everything else measured: the median and worst |error| are over these;
* ``reference`` -- a figure that is not a measurement (the pure roofline of LLM-Viewer),
  evaluated on ``hw.roofline()``.

How a row maps to passes:

* hardware ``"Nx A100-80GB ..."`` is tensor parallel over N devices (``tp=N``); a bare
  ``"A100"`` is the A100-80GB SXM preset; a power cap note is ignored;
* ``"Llama-7B"``/``"Llama-70B"`` (TensorRT-LLM's names for Llama-2) have the Llama-2
  shapes of the same size; ``precision`` ``int8`` is int8 weight-only (bf16 compute);
* ``decode``: one step at the row's context (`DEFAULT_DECODE_CONTEXT` when the source
  gives none: the benchmarks generate a few hundred tokens from a short prompt);
  ``tokens/s`` is ``batch / latency``, ``ms/step`` the latency;
* ``lm_head`` ``replicated``: under tensor parallelism every device holds the whole LM
  head (gpt-fast shards only attention and MLP), else it is split over the vocabulary;
* ``prefill``: one pass over the prompt at context 0, in ms;
* ``generate``: a static batch -- one prefill of ``batch`` prompts, then ``output - 1``
  decode steps as the context grows (the prefill gives the first token), reported as
  output tokens per second.
"""

from __future__ import annotations

import csv
import io
import re
import statistics
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

import numpy as np

from .hardware_presets import get_hardware
from .hardware_spec import HardwareSpec
from .model_presets import get_model
from .model_spec import ModelSpec
from .pass_evaluator import pass_costs
from .reference_evaluator import reference_pass_cost

DEFAULT_DECODE_CONTEXT = 256
ROLES = ("calibration", "prediction", "reference")
#: Tolerance on |signed error| by role: a fitted row must be reproduced (1 %), the pure
#: roofline reference within 3 %.  Predictions are held to 35 %, a regression bound: the
#: goal of issue 11 (median 3 %, worst 10 %) is not met by every row -- weight-only int8
#: decode and short TensorRT-LLM prefills are faster in the model than measured (see
#: docs/cost-model.md).
TOLERANCE = {"calibration": 0.01, "reference": 0.03, "prediction": 0.35}
#: Which parameter each calibration row fits: (setup, hardware, model, precision) ->
#: (preset, parameter) (the prompt length is added to the key where the rest is not
#: unique).  `fit_calibration` re-derives them.
CALIBRATION: dict[tuple[str, ...], tuple[str, str]] = {
    ("gpt-fast", "A100-80GB (330 W cap)", "Llama-2-7B", "bf16"):
        ("a100-80gb", "kernel_latency_s"),
    ("gpt-fast", "8x A100-80GB tensor parallel", "Llama-2-7B", "bf16"):
        ("a100-80gb", "link_oneshot_latency_s"),
    ("TensorRT-LLM", "A100", "Llama-7B", "fp16", "2048"):
        ("a100-80gb", "mma_efficiency"),
    ("gpt-fast", "2x A100-80GB tensor parallel", "Llama-2-70B", "bf16"):
        ("a100-80gb", "dram_efficiency"),
    ("gpt-fast", "A100-80GB (330 W cap)", "Llama-2-7B", "int8"):
        ("a100-80gb", "dequant_fma_slots"),
    ("torchao", "H100", "Llama-3-8B", "bf16"):
        ("h100-sxm", "launch_gap_s"),
}
#: Fitting order and bisection bounds (each fit holds the others at their current value;
#: the sequence runs `_ROUNDS` times, which settles every figure to <0.5 %).
_FITS = (("dram_efficiency", 0.5, 1.0), ("kernel_latency_s", 0.0, 20e-6),
         ("launch_gap_s", 0.0, 20e-6),
         ("link_oneshot_latency_s", 0.0, 100e-6), ("mma_efficiency", 0.3, 1.0),
         ("dequant_fma_slots", 1.0, 20.0))
_ROUNDS = 8
#: Parameters whose growth makes a pass faster (the others -- latencies, dequantisation
#: work -- slow it).
_SPEEDS = ("mma_efficiency", "dram_efficiency")

_MODEL_NAMES = {"llama-7b": "llama-2-7b", "llama-13b": "llama-2-13b",
                "llama-70b": "llama-2-70b"}
_WEIGHT_DTYPES = {"bf16": None, "fp16": None, "int8": "int8"}
_TP_RE = re.compile(r"^(\d+)\s*x\s*", re.IGNORECASE)


@dataclass(frozen=True)
class ValidationRow:
    """One measured (or reference) figure and our prediction of it."""

    setup: str
    hardware: str
    model: str
    precision: str
    phase: str
    batch: int
    context: int
    output: int
    tp: int
    unit: str
    role: str
    measured: float
    predicted: float
    source: str

    @property
    def tolerance(self) -> float:
        return TOLERANCE[self.role]

    @property
    def error(self) -> float:
        """Signed relative error (predicted - measured) / measured."""
        return (self.predicted - self.measured) / self.measured

    @property
    def ok(self) -> bool:
        return abs(self.error) <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        return {
            "setup": self.setup, "hardware": self.hardware, "model": self.model,
            "precision": self.precision, "phase": self.phase, "batch": self.batch,
            "context": self.context, "output": self.output, "tp": self.tp,
            "unit": self.unit, "role": self.role, "measured": self.measured,
            "predicted": self.predicted, "error": self.error, "tolerance": self.tolerance,
            "ok": self.ok, "source": self.source,
        }


def _hardware_of(text: str) -> tuple[str, int]:
    m = _TP_RE.match(text.strip())
    tp = int(m.group(1)) if m else 1
    rest = text[m.end():] if m else text
    key = rest.split("(")[0].strip().lower()
    if key.startswith("a100-40gb"):
        return "a100-40gb", tp
    if key.startswith("a100"):
        return "a100-80gb", tp
    for name in ("h100-sxm", "h200", "l40", "l4", "tpuv4"):
        if key.startswith(name.split("-")[0]):
            return name, tp
    raise ValueError(f"no hardware preset for {text!r}")


def measurement_rows() -> list[dict[str, str]]:
    """The bundled measurements CSV as dictionaries."""
    text = resources.files("specaccel.data").joinpath("decode-measurements.csv").read_text()
    return list(csv.DictReader(io.StringIO(text)))


def _model_of(row: dict[str, str]) -> ModelSpec:
    key = row["model"].strip().lower()
    return get_model(_MODEL_NAMES.get(key, key),
                     weight_dtype=_WEIGHT_DTYPES[row["precision"].strip().lower()])


def _row_seconds(row: dict[str, str], model: ModelSpec, hw: HardwareSpec, tp: int) -> float:
    """Seconds of what the row measured: one step, one prefill, or a whole static batch."""
    batch = int(row["batch"])
    placement = row["lm_head"].strip()
    if placement not in ("", "replicated"):
        raise ValueError(f"unknown lm_head placement {placement!r}")
    vp = placement != "replicated"
    phase = row["phase"].strip()
    ctx_text = row["context_or_prompt"].strip()
    if phase == "prefill":
        return reference_pass_cost(model, hw, tokens=int(ctx_text), context=0, batch=batch,
                                   tp=tp, phase="prefill", vocab_parallel=vp).latency_s
    if phase == "decode":
        context = int(ctx_text) if ctx_text else DEFAULT_DECODE_CONTEXT
        return reference_pass_cost(model, hw, tokens=1, context=context, batch=batch,
                                   tp=tp, vocab_parallel=vp).latency_s
    if phase == "generate":
        prompt, output = int(ctx_text), int(row["output"])
        first = reference_pass_cost(model, hw, tokens=prompt, context=0, batch=batch, tp=tp,
                                    phase="prefill", vocab_parallel=vp).latency_s
        steps = pass_costs(model, hw, tokens=1, context=prompt + np.arange(1, output),
                           batch=batch, tp=tp, vocab_parallel=vp)["latency_s"]
        return first + float(steps.sum())
    raise ValueError(f"unknown phase {phase!r}")


def predict_row(row: dict[str, str], hw: HardwareSpec | None = None) -> ValidationRow:
    """Our prediction of one CSV row (on `hw` instead of the preset when given)."""
    hw_name, tp = _hardware_of(row["hardware"])
    role = row["role"].strip()
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if hw is None:
        hw = get_hardware(hw_name)
        if role == "reference":
            hw = hw.roofline()
    model = _model_of(row)
    seconds = _row_seconds(row, model, hw, tp)
    batch, unit = int(row["batch"]), row["unit"].strip()
    output = int(row["output"]) if row["output"].strip() else 0
    if unit == "tokens/s":
        predicted = batch * (output or 1) / seconds
    elif unit in ("ms", "ms/step"):
        predicted = seconds * 1e3
    else:
        raise ValueError(f"unknown unit {unit!r}")
    ctx = row["context_or_prompt"].strip()
    return ValidationRow(row["setup"], row["hardware"], row["model"], row["precision"],
                         row["phase"], batch, int(ctx) if ctx else DEFAULT_DECODE_CONTEXT,
                         output, tp, unit, role, float(row["measured"]), predicted,
                         row["source"])


def validation_table() -> dict[str, Any]:
    """All rows with predictions; median and worst |error| over the prediction rows."""
    rows = [predict_row(r) for r in measurement_rows()]
    pred = [abs(r.error) for r in rows if r.role == "prediction"]
    return {
        "rows": [r.to_dict() for r in rows],
        "prediction_rows": len(pred),
        "median_abs_error": statistics.median(pred),
        "worst_abs_error": max(pred),
        "all_within_tolerance": all(r.ok for r in rows),
        "calibration": fit_calibration(),
    }


def _row_key(r: dict[str, str]) -> tuple[str, ...]:
    key = (r["setup"], r["hardware"], r["model"], r["precision"])
    return key if key in CALIBRATION else (*key, r["context_or_prompt"])


def _calibration_row(preset: str, parameter: str) -> dict[str, str]:
    for r in measurement_rows():
        if r["role"] == "calibration" and CALIBRATION.get(_row_key(r)) == (preset, parameter):
            return r
    raise KeyError((preset, parameter))


def _with_parameter(hw: HardwareSpec, parameter: str, value: float) -> HardwareSpec:
    if parameter == "link_oneshot_latency_s":
        return replace(hw, link_oneshot_latency_s=value)
    assert hw.gpu is not None
    return replace(hw, gpu=replace(hw.gpu, **{parameter: value}))


def _fit(row: dict[str, str], hw: HardwareSpec, parameter: str, lo: float,
         hi: float) -> float:
    """The value of `parameter` in [lo, hi] at which `row` is reproduced (bisection; the
    predicted time grows with a latency and falls with an efficiency)."""
    target = float(row["measured"])
    rate = row["unit"].strip() == "tokens/s"
    slower_up = parameter not in _SPEEDS
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        got = predict_row(row, _with_parameter(hw, parameter, mid)).predicted
        too_slow = got < target if rate else got > target
        lo, hi = (lo, mid) if too_slow == slower_up else (mid, hi)
    return 0.5 * (lo + hi)


def fit_calibration() -> dict[str, dict[str, Any]]:
    """Re-fit every calibrated parameter from its row, preset by preset (`_FITS` order,
    `_ROUNDS` times).  Returns ``name -> {preset, row, fitted, preset_value}``, where the
    name is the parameter for the A100 (whose fits the other presets' derived figures
    start from) and ``"<preset> <parameter>"`` for another preset's own fit; the presets
    carry the fitted figures rounded."""
    out: dict[str, dict[str, Any]] = {}
    presets = list(dict.fromkeys(p for p, _ in CALIBRATION.values()))
    for preset_name in presets:
        preset = get_hardware(preset_name)
        hw = preset
        fits = [f for f in _FITS if (preset_name, f[0]) in CALIBRATION.values()]
        for _ in range(_ROUNDS if len(fits) > 1 else 1):
            for parameter, lo, hi in fits:
                row = _calibration_row(preset_name, parameter)
                fitted = _fit(row, hw, parameter, lo, hi)
                preset_value = (preset.link_oneshot_latency_s
                                if parameter == "link_oneshot_latency_s"
                                else getattr(preset.gpu, parameter))
                name = parameter if preset_name == "a100-80gb" else f"{preset_name} {parameter}"
                out[name] = {"preset": preset.name,
                             "row": f"{row['setup']}, {row['hardware']}, {row['model']} "
                                    f"{row['precision']} {row['phase']} "
                                    f"{row['context_or_prompt']}",
                             "fitted": fitted, "preset_value": preset_value}
                hw = _with_parameter(hw, parameter, fitted)
    return out
