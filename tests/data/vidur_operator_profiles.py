"""Make ``specaccel/data/operator-profiles.csv`` from a checkout of microsoft/vidur.

Vidur (Agrawal et al., MLSys 2024) profiles every operator of a decoder layer on its
GPUs and commits the results: ``data/profiling/compute/<gpu>/<model>/mlp.csv``, one row
per (tokens, tensor-parallel degree) with the min/max/mean/median/std GPU time in ms of
each operator over its profiling runs.  This script keeps the four linear layers (the
fused QKV projection, the attention output projection, the fused gate-and-up projection,
the down projection) of three models on the A100, the H100 and the A40, at a fixed set of token
counts and tensor-parallel degrees, as their median times in microseconds.  Where a
(tokens, degree) pair appears twice in Vidur's file, the first row is kept.

    python tests/data/vidur_operator_profiles.py VIDUR > specaccel/data/operator-profiles.csv

``VIDUR`` is a checkout of the repository: a bare git directory (the files are read
with ``git show``) or a work tree.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

#: Vidur's GPU directory -> specaccel preset (Vidur's device configs: A100 80 GB, 312
#: TFLOP/s; H100 80 GB, 1000 TFLOP/s; A40, 150 TFLOP/s).  Its docs/profiling.md uses one
#: set of A100 compute data for its A100 PCIe and its DGX nodes, so the form factor is
#: not recorded; the SXM presets are taken.
GPUS = {"a100": "a100-80gb", "h100": "h100-sxm", "a40": "a40"}
#: Vidur's model directory -> (name in the table, tensor-parallel degrees kept).
MODELS = {
    "meta-llama/Llama-2-7b-hf": ("llama-2-7b", (1,)),
    "codellama/CodeLlama-34b-Instruct-hf": ("codellama-34b", (1, 2)),
    "meta-llama/Llama-2-70b-hf": ("llama-2-70b", (4, 8)),
}
TOKENS = (1, 4, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096)
OPERATORS = ("attn_pre_proj", "attn_post_proj", "mlp_up_proj", "mlp_down_proj")
HEADER = """\
# GPU time of the linear layers of a decoder layer, profiled by Vidur (microsoft/vidur,
# commit {commit}, data/profiling/compute/<gpu>/<model>/mlp.csv; Agrawal et al., "Vidur:
# A Large-Scale Simulation Framework for LLM Inference", MLSys 2024).  Vidur builds each
# layer from Sarathi-Serve's tensor-parallel linear layers with dummy weights (uniform,
# initialize_dummy_weights) in fp16, feeds it the embeddings of random token ids, and
# takes each operator's kernel time from a torch.profiler trace (its default
# record_function method).  median_us is the median over its profiling runs.
# Operators: attn_pre_proj = the fused QKV projection, attn_post_proj = the attention
# output projection, mlp_up_proj = the fused gate and up projection, mlp_down_proj = the
# down projection; in_features x out_features are the shapes one tensor-parallel rank
# holds.  hardware names the specaccel preset the row is priced on (Vidur's A100 80 GB
# and H100 80 GB -- it does not record the form factor: the SXM presets are taken -- and
# its A40).  Made by tests/data/vidur_operator_profiles.py.
"""


def _read(repo: Path, rel: str) -> str:
    if (repo / rel).exists():
        return (repo / rel).read_text()
    return subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{rel}"], check=True,
                          capture_output=True, text=True).stdout


def _shapes(row: dict[str, str], tp: int) -> dict[str, tuple[int, int]]:
    d, ff = int(row["n_embd"]), int(row["n_expanded_embd"])
    heads, kv_heads = int(row["n_head"]), int(row["n_kv_head"])
    head_dim = d // heads
    qkv = (heads + 2 * kv_heads) * head_dim
    return {"attn_pre_proj": (d, qkv // tp), "attn_post_proj": (heads * head_dim // tp, d),
            "mlp_up_proj": (d, 2 * ff // tp), "mlp_down_proj": (ff // tp, d)}


def table_writer(repo: Path, header: str, columns: list[str], *, short: bool = False
                 ) -> tuple[io.StringIO, Any]:
    """A CSV being written: `header` (its ``{commit}`` the checkout's head, abbreviated
    when `short`), then the column row.  Shared by the generators of this folder."""
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", *(["--short"] * short),
                             "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    out = io.StringIO()
    out.write(header.format(commit=commit))
    w = csv.writer(out, lineterminator="\n")
    w.writerow(columns)
    return out, w


def main(repo: Path) -> None:
    out, w = table_writer(repo, HEADER, ["hardware", "model", "tp", "tokens", "operator",
                                         "in_features", "out_features", "median_us"])
    for gpu, preset in GPUS.items():
        for path, (model, degrees) in MODELS.items():
            text = _read(repo, f"data/profiling/compute/{gpu}/{path}/mlp.csv")
            seen: dict[tuple[int, int], dict[str, str]] = {}
            for row in csv.DictReader(io.StringIO(text)):
                key = (int(row["num_tensor_parallel_workers"]), int(row["num_tokens"]))
                seen.setdefault(key, row)
            for tp in degrees:
                for tokens in TOKENS:
                    row = seen[(tp, tokens)]
                    for op, (k, n) in _shapes(row, tp).items():
                        us = float(row[f"time_stats.{op}.median"]) * 1e3
                        w.writerow([preset, model, tp, tokens, op, k, n, f"{us:.4g}"])
    sys.stdout.write(out.getvalue())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: vidur_operator_profiles.py VIDUR_CHECKOUT")
    main(Path(sys.argv[1]))
