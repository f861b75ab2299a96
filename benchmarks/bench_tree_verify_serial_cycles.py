"""Measure TreeVerifySerialUnit's cycles per N (Amaranth simulator).

Usage: python benchmarks/bench_tree_verify_serial_cycles.py [N ...]   (default 4 8 16 32 64 128)

For every N a burst of random trees (8 full-size, then 24 of random size) goes in back to
back without back-pressure; the script prints the measured cycles from a tree's last record
to its response (min..max), from a full tree's first record to its response, records per
cycle over the burst (1.000 = one node a cycle, no bubble between trees), and whether every
response equalled the golden model's.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from specaccel.hdl.node_stream_driver import run_node_stream
from specaccel.hdl.units.tree_verify_serial.gateware import TreeVerifySerialUnit
from specaccel.hdl.units.tree_verify_serial.model import SerialVerifyVectorModel


def measure(nodes: int, full: int = 8, mixed: int = 24) -> dict:
    rng = np.random.default_rng(nodes)
    model = SerialVerifyVectorModel(nodes=nodes, token_width=16)
    vectors = [model.random_tree_vector(rng, n=nodes) for _ in range(full)]
    vectors += [model.random_tree_vector(rng) for _ in range(mixed)]
    t0 = time.perf_counter()
    run = run_node_stream(TreeVerifySerialUnit(nodes=nodes, token_width=16),
                          [v.records for v in vectors])
    after_last = np.subtract(run.received_cycles, run.last_cycles)
    full_tree = np.subtract(run.received_cycles, run.first_cycles)[:full]
    records = sum(len(v.records) for v in vectors)
    span = run.last_cycles[-1] - run.first_cycles[0] + 1
    return {
        "nodes": nodes, "after_last_min": int(after_last.min()),
        "after_last_max": int(after_last.max()), "full_tree": int(full_tree.max()),
        "records_per_cycle": records / span,
        "golden_equal": run.responses == [v.response for v in vectors],
        "seconds": time.perf_counter() - t0,
    }


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [4, 8, 16, 32, 64, 128]
    print("N    after-last  full-tree  records/cycle  golden  sim_s")
    for n in sizes:
        r = measure(n)
        print(f"{r['nodes']:<4} {r['after_last_min']}..{r['after_last_max']:<7} "
              f"{r['full_tree']:<10} {r['records_per_cycle']:<14.3f} "
              f"{'ok' if r['golden_equal'] else 'MISMATCH'}  {r['seconds']:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
