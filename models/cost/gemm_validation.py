"""The GPU GEMM model against measured linear layers (``gemm-measurements.csv``).

The table holds one public measurement per (device, layer shape, tokens): the time of one
fp16 ``torch.nn.functional.linear`` (one cuBLAS GEMM) on an A100 and on an A10, for the
projection shapes of Llama-family models from 7B to 70B at 1 to 8192 tokens.
`gemm_validation_rows` prices each with `gpu_kernels.gemm_time` on its row's preset as
it is.  Three rows are calibration rows (`CALIBRATION`): the A10's DRAM fraction
(`hardware_presets.GA102_DRAM`) is derived from its 4096 x 12288 layer at one token,
its MMA fraction (``A10_MMA``) from its and the A100's fastest GEMM; nothing else was
fitted to the table.

Two kinds of row cannot test the kernel model, and are shown as ``excluded`` with their
reason instead of being counted:

* ``host-bound`` -- the kernel the model prices is shorter than `HOST_FLOOR_S`, the time
  the benchmark's Python loop takes to issue one call.  A row can be no faster than the
  host issues it: the layers with 1024 outputs take 19-23 us a call from 4 to 64 tokens
  whatever their input width, 4096 to 8192 (8 to 17 MB of weights), so their kernels
  are hidden below the loop.
* ``compute-bound on zeros`` -- the GEMM's arithmetic intensity (FLOPs over DRAM bytes)
  lies above the device's ridge point (peak FLOP/s over peak bytes/s), so its time is the
  tensor cores' rate.  The benchmark multiplies inputs of zeros: the multipliers do not
  toggle, the board stays below its power limit and the clock stays at its boost.  Its
  largest GEMMs reach 290 TFLOP/s, above the 271 TFLOP/s the A100 sustains on random
  data (stas00/ml-engineering's maximum achievable matmul FLOPs), and the model's
  compute rate is that of real data.

The remaining rows -- memory-bound GEMMs of decode, verify and short prefill passes (up to
128 tokens on the A100, 256 on the A10) whose kernels outlast the loop -- are predictions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .characterisation_csv import load_bundled_table
from .gpu_kernels import gemm_time
from .hardware_presets import A100_MMA_FITTED, KERNEL_LATENCY_S, get_hardware
from .model_spec import DTYPE_BYTES

TABLE = "gemm-measurements.csv"
#: The rows a device figure is derived from: (preset, in_features, out_features, tokens)
#: -> the figure (`hardware_presets`: ``GA102_DRAM`` from the A10's one-token
#: 4096 x 12288 layer, ``A10_MMA`` from the A10's and the A100's fastest GEMM, the same
#: shape).  `fit_gemm_calibration` derives them again.
CALIBRATION: dict[tuple[str, int, int, int], str] = {
    ("a10", 4096, 12288, 1): "a10 dram_efficiency",
    ("a10", 8192, 10240, 8192): "a10 mma_efficiency",
    ("a100-80gb", 8192, 10240, 8192): "a10 mma_efficiency"}
#: Time the benchmark's loop takes to issue one layer call: the 1024-output layers take
#: 19-23 us a call from 4 to 64 tokens whatever their weight (module docstring).
HOST_FLOOR_S = 20e-6
_COLUMNS = ("hardware", "in_features", "out_features", "batch_size", "seq_len",
            "tokens_per_s")


def fp16_gemm_bytes(m: int, k: int, n: int) -> float:
    """DRAM traffic of one fp16 ``m x k`` by ``k x n`` GEMM: the weight, the input rows
    and the output rows, each read or written once."""
    return DTYPE_BYTES["fp16"] * (k * n + m * k + m * n)


@dataclass(frozen=True)
class GemmMeasurement:
    """One row of the table: ``tokens = batch_size x seq_len`` rows times the weight, on
    the preset `hardware`."""

    hardware: str
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
        """DRAM traffic of the GEMM (`fp16_gemm_bytes`)."""
        return fp16_gemm_bytes(self.tokens, self.in_features, self.out_features)

    @property
    def flops(self) -> float:
        return 2.0 * self.tokens * self.in_features * self.out_features


def load_measurements() -> list[GemmMeasurement]:
    """The stored table (lines starting with ``#`` are its source notes)."""
    return load_bundled_table(TABLE, GemmMeasurement, columns=_COLUMNS, ints=_COLUMNS[1:5],
                              floats=_COLUMNS[5:])


def exclusion(row: GemmMeasurement, kernel_s: float, ridge_flops_per_byte: float) -> str:
    """Why `row`, whose kernel the model prices at `kernel_s`, cannot test the kernel
    model ("" when it can; module docstring)."""
    if kernel_s < HOST_FLOOR_S:
        return "host-bound"
    if row.flops / row.nbytes > ridge_flops_per_byte:
        return "compute-bound on zeros"
    return ""


def gemm_validation_rows() -> list[dict[str, Any]]:
    """One row per measurement: ``label``, ``hardware``, ``m``/``n``/``k``, ``setting``
    (a decode batch or a prefill length), ``measured_s``, ``predicted_s``, ``error``
    (signed, relative to the measurement), ``role`` (``calibration`` for the rows of
    `CALIBRATION`, ``excluded`` or ``prediction``), ``fits`` (the figure a calibration
    row gives) and ``reason`` (why an excluded row is excluded)."""
    out = []
    for r in load_measurements():
        hw = get_hardware(r.hardware)
        if hw.gpu is None:
            raise ValueError(f"{TABLE}: {r.hardware} has no GPU kernel model")
        ridge = hw.peak_flops / hw.mem_bw_bytes_s
        m, n, k = r.tokens, r.out_features, r.in_features
        t = gemm_time(hw.peak_flops, hw.mem_bw_bytes_s, hw.gpu, m, n, k, 1.0, r.nbytes)
        fits = CALIBRATION.get((r.hardware, k, n, m), "")
        reason = "" if fits else exclusion(r, t.seconds, ridge)
        setting = (f"decode batch {r.batch_size}" if r.seq_len == 1
                   else f"prefill {r.seq_len} tokens")
        out.append({
            "label": f"{r.hardware} {k}x{n} M={m} ({setting})", "hardware": r.hardware,
            "m": m, "n": n, "k": k, "setting": setting, "measured_s": r.seconds,
            "predicted_s": t.seconds, "error": (t.seconds - r.seconds) / r.seconds,
            "role": "calibration" if fits else ("excluded" if reason else "prediction"),
            "fits": fits, "reason": reason,
        })
    return out


def fit_gemm_calibration() -> dict[str, dict[str, Any]]:
    """Derive the figures of `CALIBRATION` again from the table: the A10's DRAM fraction
    (its one-token 4096 x 12288 layer's bytes over its time less the kernel latency, over
    the peak bandwidth) and its MMA fraction (the A100's fitted one times the A10's
    fastest GEMM's share of its peak over the A100's).  ``"<preset> <parameter>" ->
    {preset, row, fitted, preset_value}`` as `validation_table.fit_calibration` gives."""
    table = {(r.hardware, r.in_features, r.out_features, r.tokens): r
             for r in load_measurements()}

    def best_share(device: str) -> float:
        best = max((m for m in table.values() if m.hardware == device),
                   key=lambda m: m.flops / m.seconds)
        if CALIBRATION.get((device, best.in_features, best.out_features, best.tokens)) \
                != "a10 mma_efficiency":
            raise ValueError(f"{TABLE}: {device}'s fastest GEMM is not its calibration row")
        return best.flops / best.seconds / get_hardware(device).peak_flops

    a10 = get_hardware("a10")
    assert a10.gpu is not None
    r = table[("a10", 4096, 12288, 1)]
    return {
        "a10 dram_efficiency": {
            "preset": "a10", "row": "4096x12288 at 1 token", "preset_value":
            a10.gpu.dram_efficiency,
            "fitted": r.nbytes / (r.seconds - KERNEL_LATENCY_S) / a10.mem_bw_bytes_s},
        "a10 mma_efficiency": {
            "preset": "a10", "row": "8192x10240 at 8192 tokens, A10 and A100",
            "preset_value": a10.gpu.mma_efficiency,
            "fitted": A100_MMA_FITTED * best_share("a10") / best_share("a100-80gb")},
    }
