"""The GPU GEMM model against Vidur's per-operator GPU times (``operator-profiles.csv``).

Vidur profiled every operator of a decoder layer on an A100 and an H100 (80 GB parts;
the form factor is not recorded, the rows are priced on the SXM presets) with dummy
weights and random, non-zero inputs, and committed the kernel time of each
(the table's header gives the source).  The table keeps the four linear layers --
QKV, attention output, gate-and-up, down -- of Llama-2-7B, CodeLlama-34B (also its
tensor-parallel half) and Llama-2-70B (its quarter and eighth) at 1 to 4096 tokens.
`operator_validation_rows` prices each with `gpu_kernels.gemm_time` on the preset it was
measured on, as the preset is; nothing was fitted to the table, so every row is a
prediction.  Unlike the GEMM table of `gemm_validation`, these inputs are not zeros
and the times are the kernels' own (no Python loop around them), so no row is excluded.

The kernel model's fixed time per kernel (``kernel_latency_s``) covers the launch as well
as the kernel's own start and drain, because it is fitted to passes timed end to end;
a profiler's kernel time has no launch in it.  Where a preset's fixed time is mostly
launch, its short kernels come out slow here.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

from .characterisation_csv import parse_characterisation_csv
from .gpu_kernels import gemm_time
from .hardware_presets import get_hardware
from .model_spec import DTYPE_BYTES

TABLE = "operator-profiles.csv"
_INTS = ("tp", "tokens", "in_features", "out_features")
_COLUMNS = ("hardware", "model", *_INTS[:2], "operator", *_INTS[2:], "median_us")
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
        """DRAM traffic of the GEMM: the fp16 weight, input rows and output rows."""
        m, k, n = self.tokens, self.in_features, self.out_features
        return DTYPE_BYTES["fp16"] * (k * n + m * k + m * n)

    @property
    def label(self) -> str:
        tp = f" tp{self.tp}" if self.tp > 1 else ""
        return (f"{self.hardware} {self.model}{tp} {OPERATORS[self.operator]} "
                f"{self.in_features}x{self.out_features} M={self.tokens}")


def load_profiles() -> list[OperatorProfile]:
    """The stored table (lines starting with ``#`` are its source notes)."""
    text = resources.files("specaccel.data").joinpath(TABLE).read_text()
    rows = parse_characterisation_csv(text, TABLE, columns=_COLUMNS, ints=_INTS,
                                      floats=("median_us",))
    return [OperatorProfile(*(r[c] for c in _COLUMNS)) for r in rows]


def operator_validation_rows() -> list[dict[str, Any]]:
    """One row per profile: ``label``, ``hardware``, ``m``/``n``/``k``, ``measured_s``,
    ``predicted_s``, ``error`` (signed, relative to the measurement), ``bound`` (what
    bounds the modelled kernel) and ``role`` (always ``prediction``)."""
    out = []
    for r in load_profiles():
        hw = get_hardware(r.hardware)
        m, n, k = r.tokens, r.out_features, r.in_features
        t = gemm_time(hw.peak_flops, hw.mem_bw_bytes_s, hw.gpu, m, n, k, 1.0, r.nbytes)
        out.append({
            "label": r.label, "hardware": r.hardware, "m": m, "n": n, "k": k,
            "measured_s": r.seconds, "predicted_s": t.seconds,
            "error": (t.seconds - r.seconds) / r.seconds, "bound": t.bound,
            "role": "prediction", "reason": "",
        })
    return out
