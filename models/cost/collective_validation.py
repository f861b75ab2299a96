"""The links' all-reduce bandwidth against Vidur's NCCL profiles (``allreduce-profiles.csv``).

Vidur profiled NCCL's all-reduce on an A100 DGX, an H100 DGX and four A100 PCIe cards
(the table's header gives the source). The table keeps each node's single-node rows from
16 MiB to 64 MiB, every MiB. Over that range the time is close to a straight line in the
message size (the residuals' standard deviation is 1 to 18 us on the NVSwitch nodes and
38 us over PCIe, on times of 74 us to 4.3 ms): its slope is what one more byte costs,
the link's bandwidth as a ring all-reduce uses it, and its intercept a time per call.

One row per node and device count compares the **bus bandwidth** -- ``2 (n-1) / n``
bytes per message byte over the slope, NCCL's own measure, which a ring runs at the
per-direction bandwidth of its slowest link whatever ``n`` -- of the least-squares line
(`fit_line`) with the one the model's NCCL path gives
(`collectives.ring_allreduce_s` on the preset's link, differenced over the same range,
`model_line`).  No figure is fitted here: the NVLink3 and PCIe 4.0 bandwidths are
measured point-to-point copies (`hardware_presets.LINKS`), the NVLink4 one an estimate,
so every row is a prediction.  The intercepts are shown beside them and not compared:
the model's ring costs ``2 (n-1)`` steps of a few microseconds, these lines 17 to 144
us a call; and below 1 MiB, where that time would dominate, the profiles scatter (on
the H100 DGX's two GPUs the tenth percentile of those sizes is 11 us and their median
39 us), so the slope over large messages is what they can test.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from .characterisation_csv import parse_characterisation_csv
from .collectives import ring_allreduce_s
from .hardware_presets import get_hardware

TABLE = "allreduce-profiles.csv"
_INTS = ("devices", "size_bytes")
_COLUMNS = ("node", "hardware", *_INTS, "median_us")
#: Vidur's node names and what they are.
NODES = {"a100_dgx": "A100 DGX (NVSwitch)", "h100_dgx": "H100 DGX (NVSwitch)",
         "a100_pairwise_nvlink": "4 A100 PCIe (PCIe between NVLink pairs)"}


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
    text = resources.files("specaccel.data").joinpath(TABLE).read_text()
    rows = parse_characterisation_csv(text, TABLE, columns=_COLUMNS, ints=_INTS,
                                      floats=("median_us",))
    return [AllreduceProfile(*(r[c] for c in _COLUMNS)) for r in rows]


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
    """``(intercept_s, bus_bw_bytes_s)`` of the model's NCCL all-reduce (the ring) on
    `hardware`'s link, from its times at `lo_bytes` and `hi_bytes`."""
    hw = get_hardware(hardware)

    def ring(nbytes: float) -> float:
        return ring_allreduce_s(hw.link_bw_bytes_s, hw.link_step_latency_s, nbytes,
                                float(devices))

    slope = (ring(hi_bytes) - ring(lo_bytes)) / (hi_bytes - lo_bytes)
    return ring(lo_bytes) - slope * lo_bytes, bus_factor(devices) / slope


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
