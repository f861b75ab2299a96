"""The links' all-reduce bandwidth against Vidur's NCCL profiles (``allreduce-profiles.csv``).

Vidur profiled NCCL's all-reduce on an A100 DGX, an H100 DGX and four A100 PCIe cards
(the table's header gives the source and how it timed them).  The table keeps each
node's single-node rows from 16 MiB to 64 MiB, every MiB.  Over that range each series
is close to a straight line in the message size (the residuals' standard deviation is
1 to 8 us on the NVSwitch nodes but the A100 DGX's eight GPUs, 18 us there, where the
series jumps 62 us from 48 to 49 MiB, and 38 us over PCIe, on times of 74 us
to 4.3 ms): its slope is what one more byte costs, the link's bandwidth as the
all-reduce uses it, and its intercept a time per call.

One row per node and device count compares the **bus bandwidth** -- ``2 (n-1) / n``
bytes per message byte over the slope, NCCL's own measure, which a ring (or the model's
two-shot all-reduce) runs at the per-direction bandwidth of its link whatever ``n`` --
of the least-squares line (`fit_line`) with the one the model gives
(`collectives.allreduce_s` on the preset's link, the algorithm the model picks at those
sizes -- the ring, or two-shot for eight GPUs on NVLink --, differenced over the same
range, `model_line`).  No figure is fitted here: the NVLink3 bandwidth is nccl-tests'
point-to-point figure, the PCIe 4.0 one a host-device copy (`hardware_presets.LINKS`),
the NVLink4 one an estimate, so every row is a prediction.  Where a series is not a
line the slope depends on the range: the A100 DGX's eight GPUs give 219 GB/s over 16-64
MiB and 198 GB/s over 32-64 MiB.  The intercepts are shown beside them and not
compared: the model's per-call time is a few ring steps of a few microseconds (two
one-shot latencies for two-shot), these lines 17 to 144 us a call; and below 1 MiB,
where that time would dominate, the profiles scatter (on the H100 DGX's two GPUs the
tenth percentile of those sizes is 11 us and their median 39 us), so the slope over
large messages is what they can test.  The bandwidth is all a row compares: in absolute
time over the same range the model prices the A100 DGX's all-reduces 8 to 38 % faster
than measured, and the H100 DGX's 18 % faster to 31 % slower (slowest for its eight
GPUs at 64 MiB).  Whether NCCL ran a ring on the H100 DGX is not recorded: a bus
bandwidth that grows with the GPU count (297, 333, 390 GB/s) is not a ring's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .characterisation_csv import load_bundled_table
from .collectives import allreduce_s
from .hardware_presets import get_hardware

TABLE = "allreduce-profiles.csv"
_INTS = ("devices", "size_bytes")
_COLUMNS = ("node", "hardware", *_INTS, "median_us")

@dataclass(frozen=True)
class AllreduceProfile:
    """One row: the median time of one NCCL all-reduce of `size_bytes` over `devices`."""

    node: str
    hardware: str
    devices: int
    size_bytes: int
    median_us: float

    @property
    def seconds(self) -> float:
        return self.median_us * 1e-6


def load_profiles() -> list[AllreduceProfile]:
    """The stored table (lines starting with ``#`` are its source notes)."""
    return load_bundled_table(TABLE, AllreduceProfile, columns=_COLUMNS, ints=_INTS,
                              floats=("median_us",))


def bus_factor(devices: int) -> float:
    """Bytes each device sends per message byte in a ring all-reduce: ``2 (n-1) / n``."""
    return 2.0 * (devices - 1) / devices


def fit_line(rows: list[AllreduceProfile]) -> tuple[float, float]:
    """``(intercept_s, bus_bw_bytes_s)``: the least-squares line of the rows' times
    against their sizes (one node, one device count), its intercept and its slope as a
    bus bandwidth."""
    n = {r.devices for r in rows}
    if len(n) != 1 or len(rows) < 2:
        raise ValueError("a line is fitted over two or more rows of one device count")
    slope, intercept = np.polyfit([r.size_bytes for r in rows],
                                  [r.seconds for r in rows], 1)
    return float(intercept), bus_factor(n.pop()) / float(slope)


def model_line(hardware: str, devices: int, lo_bytes: float, hi_bytes: float
               ) -> tuple[float, float]:
    """``(intercept_s, bus_bw_bytes_s)`` of the model's all-reduce on `hardware`'s link
    (`collectives.allreduce_s`: the fastest of ring, one-shot and two-shot; one
    algorithm over the range for these sizes), from its times at `lo_bytes` and
    `hi_bytes`."""
    hw = get_hardware(hardware)

    def priced(nbytes: float) -> float:
        return allreduce_s(hw.link_bw_bytes_s, hw.link_step_latency_s,
                           hw.link_oneshot_latency_s, nbytes, float(devices))

    slope = (priced(hi_bytes) - priced(lo_bytes)) / (hi_bytes - lo_bytes)
    return priced(lo_bytes) - slope * lo_bytes, bus_factor(devices) / slope


def collective_validation_rows() -> list[dict[str, Any]]:
    """One row per (node, device count): ``label``, ``hardware``, ``devices``, the
    measured and modelled bus bandwidths (bytes/s), ``error`` (signed, relative to the
    measurement: + = the model's link faster), the two intercepts (s), the size range and
    ``role`` (``prediction``)."""
    groups: dict[tuple[str, int], list[AllreduceProfile]] = {}
    for r in load_profiles():
        groups.setdefault((r.node, r.devices), []).append(r)
    out = []
    for (node, devices), rows in groups.items():
        hardware = rows[0].hardware
        if any(r.hardware != hardware for r in rows):
            raise ValueError(f"{TABLE}: node {node} is priced on two presets")
        lo, hi = min(r.size_bytes for r in rows), max(r.size_bytes for r in rows)
        intercept, bw = fit_line(rows)
        m_intercept, m_bw = model_line(hardware, devices, lo, hi)
        out.append({
            "label": f"{node} {devices} GPUs ({hardware})", "node": node,
            "hardware": hardware, "devices": devices, "measured_bw": bw,
            "predicted_bw": m_bw, "error": (m_bw - bw) / bw, "intercept_s": intercept,
            "model_intercept_s": m_intercept, "sizes": (lo, hi), "points": len(rows),
            "role": "prediction"})
    return out
