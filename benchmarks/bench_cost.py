"""Throughput of the cost model: Numba `pass_costs` vs the pure-Python reference.

Prints whole-model pass evaluations per second on one core for both paths, measured side
by side in this run, and their ratio: per wall-clock second and per CPU-second of this
process (both paths are single-threaded; CPU time is the fair figure on a shared machine).
Usage: ``python benchmarks/bench_cost.py [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from specaccel.models.cost import get_hardware, get_model, pass_cost, pass_costs


def _passes(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "tokens": rng.integers(1, 128, n),
        "context": rng.integers(0, 4096, n).astype(float),
        "batch": rng.integers(1, 32, n),
        "tp": rng.choice([1, 2, 4, 8], n),
        "phase": rng.choice(["decode", "verify", "prefill"], n),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passes", type=int, default=1_000_000, help="passes for Numba")
    parser.add_argument("--ref-passes", type=int, default=2_000, help="passes for Python")
    parser.add_argument("--hw", default="specaccel-default",
                        help="device preset (a GPU runs the kernel model)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    model, hw = get_model("llama-2-70b"), get_hardware(args.hw)

    warm = _passes(16)
    pass_costs(model, hw, **warm)  # compile or load the on-disk cache
    big = _passes(args.passes)
    best = best_cpu = float("inf")
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        out = pass_costs(model, hw, **big)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    numba_rate = args.passes / best
    numba_cpu_rate = args.passes / best_cpu

    small = _passes(args.ref_passes, seed=1)
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(args.ref_passes):
        pass_cost(model, hw, tokens=int(small["tokens"][i]), context=float(small["context"][i]),
                  batch=int(small["batch"][i]), tp=int(small["tp"][i]),
                  phase=str(small["phase"][i]))
    ref_rate = args.ref_passes / (time.perf_counter() - t0)
    ref_cpu_rate = args.ref_passes / (time.process_time() - c0)
    result = {
        "model": model.name,
        "hw": hw.name,
        "numba_passes": args.passes,
        "numba_evals_per_s": numba_rate,
        "reference_passes": args.ref_passes,
        "reference_evals_per_s": ref_rate,
        "speedup": numba_rate / ref_rate,
        "numba_evals_per_cpu_s": numba_cpu_rate,
        "reference_evals_per_cpu_s": ref_cpu_rate,
        "speedup_cpu": numba_cpu_rate / ref_cpu_rate,
        "load_average_1min": os.getloadavg()[0],
        "checksum_latency_s": float(out["latency_s"].sum()),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"numba  : {numba_rate:,.0f} pass evaluations/s wall, {numba_cpu_rate:,.0f} per "
              f"CPU-second ({args.passes:,} passes)")
        print(f"python : {ref_rate:,.0f} pass evaluations/s wall, {ref_cpu_rate:,.0f} per "
              f"CPU-second ({args.ref_passes:,} passes)")
        print(f"ratio  : {numba_rate / ref_rate:,.0f}x wall, "
              f"{numba_cpu_rate / ref_cpu_rate:,.0f}x CPU (1-min load average "
              f"{result['load_average_1min']:.1f} on this machine)")


if __name__ == "__main__":
    main()
