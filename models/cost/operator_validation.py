"""The GPU GEMM model against Vidur's per-operator GPU times (``operator-profiles.csv``).

Vidur profiled every operator of a decoder layer on an A100 and an H100 (80 GB parts;
the form factor is not recorded, the rows are priced on the SXM presets) and an A40 with dummy
weights and random, non-zero inputs, and committed the kernel time of each
(the table's header gives the source).  The table keeps the four linear layers --
QKV, attention output, gate-and-up, down -- of Llama-2-7B, CodeLlama-34B (also its
tensor-parallel half) and Llama-2-70B (its quarter and eighth) at 1 to 4096 tokens.
`operator_validation_rows` prices each with `gpu_kernels.gemm_time` on the preset it was
measured on, less the preset's ``launch_gap_s`` (a profiler's kernel time has no gap
before the next kernel in it).  Unlike the GEMM table of `gemm_validation`, these
inputs are not zeros and the times are the kernels' own (no Python loop around them), so
no row is excluded.

Three of the H100's kernel parameters are fitted here, on Llama-2-7B's unsharded layers
only (`CALIBRATION`; those rows are calibration, every other row a prediction):

* its in-kernel fixed time ``kernel_latency_s`` and its ``dram_efficiency`` on the 20
  rows of 1 to 64 tokens, whose kernels stream their weights: the least-squares line of
  time against DRAM bytes, in seconds and unweighted, so the largest kernels weigh most
  (intercept, and the inverse of its slope over the peak bandwidth; `fit_streaming`);
* its ``mma_efficiency`` on the 12 rows of 1024 to 4096 tokens, whose kernels are
  compute-bound: the figure at which the model's median signed error over them is zero
  (`fit_mma`).

The gap between kernels, which these profiles cannot see, is fitted on a whole decode
pass (`validation_table.CALIBRATION`).  The A100's parameters are fitted on whole passes
only, so all of its rows are predictions.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .characterisation_csv import load_bundled_table
from .gemm_validation import fp16_gemm_bytes
from .gpu_kernels import GpuKernelSpec, KernelTime, gemm_time
from .hardware_presets import get_hardware
from .hardware_spec import HardwareSpec

TABLE = "operator-profiles.csv"
_INTS = ("tp", "tokens", "in_features", "out_features")
_COLUMNS = ("hardware", "model", *_INTS[:2], "operator", *_INTS[2:], "median_us")
#: The preset whose kernel parameters are fitted on the profiles, and the rows each fit
#: uses: (model, tensor-parallel degree, fewest tokens, most tokens).
FITTED_PRESET = "h100-sxm"
CALIBRATION: dict[str, tuple[str, int, int, int]] = {
    "streaming": ("llama-2-7b", 1, 1, 64),
    "mma_efficiency": ("llama-2-7b", 1, 1024, 4096),
}
#: Vidur's operator names and what they are.
OPERATORS = {"attn_pre_proj": "QKV", "attn_post_proj": "attention out",
             "mlp_up_proj": "gate+up", "mlp_down_proj": "down"}


@dataclass(frozen=True)
class OperatorProfile:
    """One row: the median kernel time of one linear layer of `tokens` rows."""

    hardware: str
    model: str
    tp: int
    tokens: int
    operator: str
    in_features: int
    out_features: int
    median_us: float

    @property
    def seconds(self) -> float:
        return self.median_us * 1e-6

    @property
    def nbytes(self) -> float:
        """DRAM traffic of the GEMM (`gemm_validation.fp16_gemm_bytes`)."""
        return fp16_gemm_bytes(self.tokens, self.in_features, self.out_features)

    @property
    def label(self) -> str:
        tp = f" tp{self.tp}" if self.tp > 1 else ""
        return (f"{self.hardware} {self.model}{tp} {OPERATORS[self.operator]} "
                f"{self.in_features}x{self.out_features} M={self.tokens}")


def load_profiles() -> list[OperatorProfile]:
    """The stored table (lines starting with ``#`` are its source notes)."""
    return load_bundled_table(TABLE, OperatorProfile, columns=_COLUMNS, ints=_INTS,
                              floats=("median_us",))


def calibration_fit(r: OperatorProfile) -> str:
    """The fit of `CALIBRATION` that row `r` serves ("" for a prediction row)."""
    if r.hardware != FITTED_PRESET:
        return ""
    for name, (model, tp, lo, hi) in CALIBRATION.items():
        if (r.model, r.tp) == (model, tp) and lo <= r.tokens <= hi:
            return name
    return ""


def profiled_kernel(hw: HardwareSpec, g: GpuKernelSpec, r: OperatorProfile) -> KernelTime:
    """The model's kernel of row `r` on `hw` with kernel parameters `g`, timed as a
    profiler times it: without the gap before the next kernel."""
    t = gemm_time(hw.peak_flops, hw.mem_bw_bytes_s, g, r.tokens, r.out_features,
                  r.in_features, 1.0, r.nbytes)
    return replace(t, seconds=t.seconds - g.launch_gap_s)


def kernel_seconds(hw: HardwareSpec, g: GpuKernelSpec, r: OperatorProfile) -> float:
    """Seconds of `profiled_kernel`."""
    return profiled_kernel(hw, g, r).seconds


def fit_streaming(rows: list[OperatorProfile], peak_bw: float) -> tuple[float, float]:
    """``(kernel_latency_s, dram_efficiency)``: the least-squares line of the rows'
    times against their DRAM bytes, its intercept and its bandwidth over `peak_bw`."""
    x = np.array([r.nbytes for r in rows])
    y = np.array([r.seconds for r in rows])
    slope, intercept = np.polyfit(x, y, 1)
    return float(intercept), float(1.0 / (slope * peak_bw))


def fit_mma(rows: list[OperatorProfile], hw: HardwareSpec, g: GpuKernelSpec) -> float:
    """The ``mma_efficiency`` in [0.3, 1] at which the model's median signed error over
    `rows` is zero (bisection: a larger figure makes every kernel faster)."""
    lo, hi = 0.3, 1.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        gm = replace(g, mma_efficiency=mid)
        med = statistics.median(kernel_seconds(hw, gm, r) / r.seconds - 1.0 for r in rows)
        lo, hi = (mid, hi) if med > 0 else (lo, mid)
    return 0.5 * (lo + hi)


def fit_operator_calibration() -> dict[str, dict[str, Any]]:
    """Re-fit the `FITTED_PRESET`'s parameters from their rows (`CALIBRATION`).  Returns
    ``"<preset> <parameter>" -> {preset, row, fitted, preset_value}`` as
    `validation_table.fit_calibration` does; the preset carries the figures rounded."""
    hw = get_hardware(FITTED_PRESET)
    assert hw.gpu is not None
    profiles = load_profiles()
    groups = {name: [r for r in profiles if calibration_fit(r) == name]
              for name in CALIBRATION}
    # the streaming line does not depend on the MMA figure; the MMA fit holds the line's
    latency, dram = fit_streaming(groups["streaming"], hw.mem_bw_bytes_s)
    g = replace(hw.gpu, kernel_latency_s=latency, dram_efficiency=dram)
    g = replace(g, mma_efficiency=fit_mma(groups["mma_efficiency"], hw, g))
    out = {}
    for parameter, fit in (("kernel_latency_s", "streaming"), ("dram_efficiency", "streaming"),
                           ("mma_efficiency", "mma_efficiency")):
        model, tp, lo, hi = CALIBRATION[fit]
        out[f"{FITTED_PRESET} {parameter}"] = {
            "preset": FITTED_PRESET,
            "row": f"Vidur's profiles, {model} tp{tp}, {lo}-{hi} tokens "
                   f"({len(groups[fit])} rows)",
            "fitted": getattr(g, parameter), "preset_value": getattr(hw.gpu, parameter)}
    return out


def operator_validation_rows() -> list[dict[str, Any]]:
    """One row per profile: ``label``, ``hardware``, ``m``/``n``/``k``, ``measured_s``,
    ``predicted_s``, ``error`` (signed, relative to the measurement), ``bound`` (what
    bounds the modelled kernel), ``role`` (``calibration`` for the rows of
    `CALIBRATION`, else ``prediction``) and ``fits`` (the fit a calibration row
    serves)."""
    out = []
    for r in load_profiles():
        hw = get_hardware(r.hardware)
        assert hw.gpu is not None
        t = profiled_kernel(hw, hw.gpu, r)
        fit = calibration_fit(r)
        out.append({
            "label": r.label, "hardware": r.hardware, "m": r.tokens, "n": r.out_features,
            "k": r.in_features, "measured_s": r.seconds, "predicted_s": t.seconds,
            "error": (t.seconds - r.seconds) / r.seconds, "bound": t.bound,
            "role": "calibration" if fit else "prediction", "reason": "", "fits": fit,
        })
    return out
