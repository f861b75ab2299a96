"""Make ``specaccel/data/allreduce-profiles.csv`` from a checkout of microsoft/vidur.

Vidur (Agrawal et al., MLSys 2024) profiles NCCL's all-reduce on its GPU nodes and
commits the results: ``data/profiling/network/<node>/all_reduce.csv``, one row per
(workers, workers per node, message size) with the min/max/mean/median/std, in ms, over
its profiling windows of each window's median NCCL kernel time. This script keeps the
single-node rows (all workers on one node) of three nodes at every MiB from 16 MiB to 64
MiB -- sizes where the time grows with the bytes as a line -- as their median times in
microseconds. Where a (workers, size) pair appears twice in Vidur's file, the first row
is kept.

    python tests/data/vidur_allreduce_profiles.py VIDUR > specaccel/data/allreduce-profiles.csv

``VIDUR`` is a checkout of the repository: a bare git directory (the files are read
with ``git show``) or a work tree.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from vidur_operator_profiles import _read, table_writer

#: Vidur's node directory -> (specaccel preset of its GPUs, workers kept).  Vidur's
#: docs/profiling.md: ``a100_dgx`` is an A100 DGX with 8 80 GB A100s, ``h100_dgx`` an
#: H100 DGX with 8 H100s (all GPUs of each on NVSwitch), ``a100_pair_nvlink`` (the
#: directory ``a100_pairwise_nvlink``, the name Vidur's configs use) an Azure
#: Standard_NC96ads_A100_v4 with 4 80 GB A100 PCIe cards joined in pairs by NVLink
#: bridges; its 4-worker all-reduce crosses PCIe between the pairs, its 2-worker one
#: runs over a bridge (the presets do not model the bridges) and is not kept.
#: ``h100_pairwise_nvlink`` (H100 NVL cards) has no preset and is not kept.
NODES = {
    "a100_dgx": ("a100-80gb", (2, 4, 8)),
    "h100_dgx": ("h100-sxm", (2, 4, 8)),
    "a100_pairwise_nvlink": ("a100-80gb-pcie", (4,)),
}
SIZES = tuple(mib << 20 for mib in range(16, 65))
HEADER = """\
# GPU time of NCCL's all-reduce within one node, profiled by Vidur (microsoft/vidur,
# commit {commit}, data/profiling/network/<node>/all_reduce.csv; Agrawal et al., "Vidur:
# A Large-Scale Simulation Framework for LLM Inference", MLSys 2024).  Vidur runs
# torch.distributed.all_reduce on an fp16 buffer of size_bytes on every worker (NCCL
# backend, no CUDA graph): after a barrier, 11 back-to-back calls in one torch.profiler
# window, the window giving the median of its NCCL kernels' durations; median_us is the
# median of 3 such windows, as rank 0 saw them.  node is Vidur's directory for the
# machine: a100_dgx an A100 DGX (8 x 80 GB A100 SXM, NVSwitch), h100_dgx an H100 DGX
# (8 x H100 SXM, NVSwitch), a100_pairwise_nvlink the Azure NC96ads A100 v4 its
# docs/profiling.md calls a100_pair_nvlink (4 x 80 GB A100 PCIe, NVLink bridges in
# pairs, PCIe between the pairs: its 4-device rows cross PCIe).  hardware names the
# specaccel preset the row is priced on.  Made by tests/data/vidur_allreduce_profiles.py.
"""


def main(repo: Path) -> None:
    out, w = table_writer(repo, HEADER, ["node", "hardware", "devices", "size_bytes",
                                         "median_us"])
    for node, (preset, workers) in NODES.items():
        text = _read(repo, f"data/profiling/network/{node}/all_reduce.csv")
        seen: dict[tuple[int, int], dict[str, str]] = {}
        for row in csv.DictReader(io.StringIO(text)):
            if row["num_workers"] != row["devices_per_node"]:
                continue
            seen.setdefault((int(row["num_workers"]), int(row["size"])), row)
        for n in workers:
            for size in SIZES:
                us = float(seen[(n, size)]["time_stats.all_reduce.median"]) * 1e3
                w.writerow([node, preset, n, size, f"{us:.4g}"])
    sys.stdout.write(out.getvalue())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: vidur_allreduce_profiles.py VIDUR_CHECKOUT")
    main(Path(sys.argv[1]))
