"""Synthetic trace generation speed (target: >= 100,000 decode steps/s for trees <= 64 nodes).

Prints generated decode steps per second (best of --repeat runs) for the default preset
through the public `generate_trace`, and for 64-node trees through the sampler, in greedy
and stochastic mode; plus the Parquet write/read rate of the default-preset trace.

    .venv/bin/python benchmarks/bench_trace_gen.py [--steps 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from specaccel.workloads import (
    DEFAULT_PRESET,
    from_parents,
    generate_trace,
    get_preset,
    k_ary,
    k_by_depth,
    medusa_default_tree,
    read_trace,
    write_trace,
)
from specaccel.workloads.synthetic import sample_steps


def best_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100_000, help="decode steps per run")
    ap.add_argument("--repeat", type=int, default=3, help="runs per case (best is reported)")
    args = ap.parse_args()

    preset = get_preset(DEFAULT_PRESET)
    n_req = 100
    spr = max(1, args.steps // n_req)
    t = best_time(lambda: generate_trace(preset, n_requests=n_req, steps_per_request=spr,
                                         seed=1), args.repeat)
    steps = n_req * spr
    print(f"{'case':48s} {'nodes':>5s} {'steps/s':>12s} {'nodes/s':>12s}")
    print(f"{'generate_trace ' + DEFAULT_PRESET:48s} {preset.shape.n_nodes:5d} "
          f"{steps / t:12,.0f} {steps * preset.shape.n_nodes / t:12,.0f}")

    model = preset.model()
    rng = np.random.default_rng(0)
    random64 = from_parents([-1] + [int(rng.integers(0, i)) for i in range(1, 64)],
                            name="random-64")
    for shape in (medusa_default_tree(), k_by_depth(7, 9), k_ary(2, 5), random64):
        for mode in ("greedy", "stochastic"):
            gen = np.random.default_rng(2)
            t = best_time(lambda shape=shape, mode=mode, gen=gen: sample_steps(
                shape, model, args.steps, gen, verification=mode), args.repeat)
            print(f"{'sample_steps ' + shape.name + ' ' + mode:48s} {shape.n_nodes:5d} "
                  f"{args.steps / t:12,.0f} {args.steps * shape.n_nodes / t:12,.0f}")

    trace = generate_trace(preset, n_requests=n_req, steps_per_request=spr, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.parquet"
        tw = best_time(lambda: write_trace(trace, path), args.repeat)
        tr = best_time(lambda: read_trace(path), args.repeat)
        size = path.stat().st_size
    print(f"parquet write {trace.n_steps / tw:,.0f} steps/s, read+validate "
          f"{trace.n_steps / tr:,.0f} steps/s, {size / trace.n_nodes:.1f} bytes/node")


if __name__ == "__main__":
    main()
