"""Speed of the SimPy replay: simulated decode steps per second on one core.

Costs every step of the default workload once (vectorised cost model, not timed), then
times :func:`specaccel.sim.replay` alone — the speculative trace (four stages per step)
on the accelerator and on the GPU preset, and the autoregressive baseline (one stage
per step).  Target: >= 10,000 speculative steps/s.

Run: ``.venv/bin/python benchmarks/bench_sim.py [--requests N] [--steps N] [--repeat K]``
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # one core, as the target says


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--steps", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from specaccel.models.cost import get_hardware, get_model
    from specaccel.models.golden import verify_trace
    from specaccel.sim import autoregressive_trace, compute_step_costs, replay
    from specaccel.workloads import DEFAULT_PRESET, generate_trace

    trace = generate_trace(DEFAULT_PRESET, n_requests=args.requests,
                           steps_per_request=args.steps, seed=0)
    target = get_model(trace.metadata["target_model"])
    draft = get_model(trace.metadata["draft_model"])
    outcome = verify_trace(trace)
    ar = autoregressive_trace(trace, outcome)
    print(f"workload {DEFAULT_PRESET}: {trace.n_requests} requests, {trace.n_steps} "
          f"speculative steps, {ar.n_steps} autoregressive steps")
    for hw_name in ("specaccel-default", "a100-80gb"):
        hw = get_hardware(hw_name)
        cases = [
            ("speculative", compute_step_costs(trace, target_model=target, draft_model=draft,
                                               hw=hw, outcome=outcome)),
            ("autoregressive", compute_step_costs(ar, target_model=target, draft_model=draft,
                                                  hw=hw, drafting="none")),
        ]
        for label, costs in cases:
            best = float("inf")
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                replay(costs, hw)
                best = min(best, time.perf_counter() - t0)
            print(f"{hw_name:18s} {label:15s} {costs.n_steps:7d} steps  {best:6.3f} s  "
                  f"{costs.n_steps / best:10,.0f} steps/s")


if __name__ == "__main__":
    main()
