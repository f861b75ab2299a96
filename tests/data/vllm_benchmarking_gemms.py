"""Make ``specaccel/data/gemm-measurements.csv`` from a checkout of
robertgshaw2-neuralmagic/vllm-benchmarking.

Its ``layer_benchmarking/benchmark_layer.py`` times one fp16 linear layer (vLLM's
QKVParallelLinear or ColumnParallelLinear) on zero inputs, many calls together, and
commits the throughput per device: ``layer_benchmarking/results_<gpu>/results.csv``, one
row per (in_features, out_features, weight type, batch, sequence length).  This script
keeps the fp16 rows of the A100 and the A10 tables, in the order of the files.

    python tests/data/vllm_benchmarking_gemms.py CHECKOUT > specaccel/data/gemm-measurements.csv

``CHECKOUT`` is a checkout of the repository: a bare git directory (the files are read
with ``git show``) or a work tree.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from vidur_operator_profiles import _read, table_writer

#: The repository's device directory -> the specaccel preset its rows are priced on.
DEVICES = {"a100": "a100-80gb", "a10": "a10"}
HEADER = """\
# Measured time of one fp16 linear layer (one cuBLAS GEMM through torch.nn.functional.linear)
# on an A100 and on an A10, from robertgshaw2-neuralmagic/vllm-benchmarking,
# layer_benchmarking/results_<gpu>/results.csv at commit {commit} (both tables measured
# 2024-01-21), made by its layer_benchmarking/benchmark_layer.py: vLLM's QKVParallelLinear
# or ColumnParallelLinear (no bias, fp16), an input of batch_size x seq_len x in_features
# zeros, 10,000 calls (seq_len 1) or 1,000 calls (longer inputs) timed together with
# time.perf_counter and one torch.cuda.synchronize; tokens_per_s = calls x tokens / time.
# Their fp16 rows only (the quantised kernels' rows are left out).  hardware names the
# specaccel preset a row is priced on.  The repository does not name the A100's memory: a
# 7168 x 9216 layer at one token streams its 132 MB of weights at 1.55 TB/s, the whole
# peak of an A100-40GB, so it is taken as the A100-80GB.  Made by
# tests/data/vllm_benchmarking_gemms.py.
"""


def main(repo: Path) -> None:
    out, w = table_writer(repo, HEADER, ["hardware", "in_features", "out_features",
                                         "batch_size", "seq_len", "tokens_per_s"],
                          short=True)
    for gpu, preset in DEVICES.items():
        text = _read(repo, f"layer_benchmarking/results_{gpu}/results.csv")
        for row in csv.DictReader(io.StringIO(text)):
            if row["weight_type"] == "fp16":
                w.writerow([preset, row["infeatures"], row["outfeatures"], row["batch_size"],
                            row["seq_len"], row["tput"]])
    sys.stdout.write(out.getvalue())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: vllm_benchmarking_gemms.py CHECKOUT")
    main(Path(sys.argv[1]))
