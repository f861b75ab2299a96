"""Measure the TreeVerifyUnit's latency and initiation interval per N (Amaranth simulator).

Usage: python benchmarks/bench_tree_verify_cycles.py [N ...]   (default 4 8 16 32 64 128)

For every N a burst of full-size random trees goes in without back-pressure; the script
prints the measured latency (cycles from request transfer to response transfer), the
measured interval between accepted requests, the issue's bound ceil(log2 N) + 3, and
whether every response equalled the golden model's.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from specaccel.hdl.amaranth_stream_driver import run_stream
from specaccel.hdl.units.tree_verify.gateware import TreeVerifyUnit
from specaccel.hdl.units.tree_verify.model import VerifyVectorModel


def measure(nodes: int, trees: int = 24) -> dict:
    rng = np.random.default_rng(nodes)
    model = VerifyVectorModel(nodes=nodes, token_width=16)
    vectors = [model.random_tree_vector(rng, n=nodes) for _ in range(trees)]
    t0 = time.perf_counter()
    run = run_stream(TreeVerifyUnit(nodes=nodes, token_width=16), [v.request for v in vectors])
    lat = np.subtract(run.received_cycles, run.sent_cycles)
    return {
        "nodes": nodes, "latency_min": int(lat.min()), "latency_max": int(lat.max()),
        "ii": float(np.mean(np.diff(run.sent_cycles))),
        "bound": math.ceil(math.log2(nodes)) + 3,
        "golden_equal": run.responses == [v.response for v in vectors],
        "seconds": time.perf_counter() - t0,
    }


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [4, 8, 16, 32, 64, 128]
    print("N  latency  II     bound  golden  sim_s")
    for n in sizes:
        r = measure(n)
        print(f"{r['nodes']:<3} {r['latency_min']}..{r['latency_max']:<4} {r['ii']:.3f}  "
              f"{r['bound']:<6} {'ok' if r['golden_equal'] else 'MISMATCH'}  "
              f"{r['seconds']:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
