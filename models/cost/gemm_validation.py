"""The GPU GEMM model against measured linear layers (``gemm-measurements.csv``).

The table holds one public measurement per (layer shape, tokens): the time of one fp16
``torch.nn.functional.linear`` (one cuBLAS GEMM) on an A100, for the projection shapes of
Llama-family models from 7B to 70B at 1 to 8192 tokens.  `gemm_validation_rows` prices
each with `gpu_kernels.gemm_time` on the ``a100-80gb`` preset as it is; nothing was
fitted to the table.

Two kinds of row cannot test the kernel model, and are shown as ``excluded`` with their
reason instead of being counted:

* ``host-bound`` -- the measured time is below `HOST_BOUND_S`.  The benchmark times a
  Python loop of layer calls, so a row can be no faster than the host issues them: the
  layers with 1024 outputs take 19-23 us a call from 4 to 64 tokens whatever their input
  width, 4096 to 8192 (8 to 17 MB of weights).  The kernel time is hidden below it.
* ``compute-bound on zeros`` -- the GEMM's arithmetic intensity (FLOPs over DRAM bytes)
  lies above the device's ridge point (peak FLOP/s over peak bytes/s), so its time is the
  tensor cores' rate.  The benchmark multiplies inputs of zeros: the multipliers do not
  toggle, the board stays below its power limit and the clock stays at its boost.  Its
  largest GEMMs reach 290 TFLOP/s, above the 271 TFLOP/s the A100 sustains on random
  data (stas00/ml-engineering's maximum achievable matmul FLOPs), and the model's
  compute rate is that of real data.

The remaining rows -- memory-bound GEMMs of decode, verify and short prefill passes (up to
128 tokens), timed on the GPU -- are predictions.
"""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .gpu_kernels import gemm_time
from .hardware_presets import get_hardware

TABLE = "gemm-measurements.csv"
#: The device the table was measured on (its header says why the 80 GB part).
HARDWARE = "a100-80gb"
#: Bytes per fp16 element (weights, input and output rows).
FP16_BYTES = 2.0
#: Below this measured time a call is bound by the host loop that issues it (1.5 x the
#: 20 us the 1024-output layers take whatever their weight; module docstring).
HOST_BOUND_S = 30e-6
ROLES = ("prediction", "excluded")


@dataclass(frozen=True)
class GemmMeasurement:
    """One row of the table: ``tokens = batch_size x seq_len`` rows times the weight."""

    in_features: int
    out_features: int
    batch_size: int
    seq_len: int
    tokens_per_s: float

    @property
    def tokens(self) -> int:
        return self.batch_size * self.seq_len

    @property
    def seconds(self) -> float:
        """Measured time of one call."""
        return self.tokens / self.tokens_per_s

    @property
    def nbytes(self) -> float:
        """DRAM traffic of the GEMM: the weight, the input rows and the output rows."""
        m, k, n = self.tokens, self.in_features, self.out_features
        return FP16_BYTES * (k * n + m * k + m * n)

    @property
    def flops(self) -> float:
        return 2.0 * self.tokens * self.in_features * self.out_features


def load_measurements() -> list[GemmMeasurement]:
    """The stored table (lines starting with ``#`` are its source notes)."""
    text = resources.files("specaccel.data").joinpath(TABLE).read_text()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return [GemmMeasurement(int(r["in_features"]), int(r["out_features"]),
                            int(r["batch_size"]), int(r["seq_len"]), float(r["tokens_per_s"]))
            for r in csv.DictReader(io.StringIO(body))]


def exclusion(row: GemmMeasurement, ridge_flops_per_byte: float) -> str:
    """Why `row` cannot test the kernel model ("" when it can; module docstring)."""
    if row.seconds < HOST_BOUND_S:
        return "host-bound"
    if row.flops / row.nbytes > ridge_flops_per_byte:
        return "compute-bound on zeros"
    return ""


def gemm_validation_rows() -> list[dict[str, Any]]:
    """One row per measurement: ``label``, ``m``/``n``/``k``, ``setting`` (a decode batch
    or a prefill length), ``measured_s``, ``predicted_s``, ``error`` (signed, relative to
    the measurement), ``role`` and ``reason`` (why an excluded row is excluded)."""
    hw = get_hardware(HARDWARE)
    ridge = hw.peak_flops / hw.mem_bw_bytes_s
    out = []
    for r in load_measurements():
        m, n, k = r.tokens, r.out_features, r.in_features
        t = gemm_time(hw.peak_flops, hw.mem_bw_bytes_s, hw.gpu, m, n, k, 1.0, r.nbytes)
        reason = exclusion(r, ridge)
        setting = (f"decode batch {r.batch_size}" if r.seq_len == 1
                   else f"prefill {r.seq_len} tokens")
        out.append({
            "label": f"{k}x{n} M={m} ({setting})", "m": m, "n": n, "k": k,
            "setting": setting, "measured_s": r.seconds, "predicted_s": t.seconds,
            "error": (t.seconds - r.seconds) / r.seconds,
            "role": "excluded" if reason else "prediction", "reason": reason,
        })
    return out


def gemm_validation_summary(rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Median and worst |error| of the prediction rows; the excluded rows by reason."""
    rows = gemm_validation_rows() if rows is None else rows
    pred = [r for r in rows if r["role"] == "prediction"]
    errs = [abs(r["error"]) for r in pred]
    reasons: dict[str, int] = {}
    for r in rows:
        if r["reason"]:
            reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    return {"prediction_rows": len(pred),
            "median_abs_error": statistics.median(errs) if errs else None,
            "worst_abs_error": max(errs) if errs else None, "excluded": reasons}
