"""Streaming step costs: memory per step, a large replay's peak RSS, and the SimPy replay
against bare SimPy, each measured in this run.

1. **Bytes per step held at once.**  ``tracemalloc`` peak of ``simulate`` (speculative run
   and baseline, costs included) on a ~100,000-step workload whose trace the caller
   already holds, divided by its steps: the batch-1 replay (event and fast engines, which
   read the step costs a block at a time) and a serving run (which holds every step's
   costs at once).  Goal <= 500 B/step.
2. **A large replay's peak RSS.**  ``simulate(trace, requests=N)`` (event engine, with its
   baseline) in a fresh process for two sizes; peak RSS minus the RSS of the same process
   before the run, and the straight line through the two extrapolated to 10 M steps.
   Goal < 8 GB at 10 M steps.  ``--steps 10000000`` runs that size itself.
3. **The SimPy replay against bare SimPy.**  In one process, alternating: a bare SimPy
   process yielding timeouts (events/s), and the batch-1 replay of an already-priced
   workload (its events/s: a timeout per step plus a few per request).  Ratio goal >= 0.7.
4. **The fast path** on the same workload (steps/s).

Run: ``.venv/bin/python benchmarks/bench_streaming.py [--quick] [--steps N]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

PRESET = "eagle-vicuna-7b-mtbench"
HW = "specaccel-default"


def _workload(n_requests: int, steps: int = 128):
    from specaccel.workloads import generate_trace

    return generate_trace(PRESET, n_requests=n_requests, steps_per_request=steps, seed=0)


def bytes_per_step(n_requests: int) -> None:
    from specaccel.sim import ServingConfig, simulate_named
    from specaccel.sim.request_sampling import take_requests

    base = _workload(40)
    simulate_named(base, HW, engine="fast")                   # compile / load caches
    trace = take_requests(base, n_requests)
    runs = {"batch-1, event": dict(engine="event"), "batch-1, fast": dict(engine="fast"),
            "serving, batch <= 32": dict(serving=ServingConfig(max_batch=32,
                                                               arrivals="poisson",
                                                               rate_per_s=50.0))}
    for label, kw in runs.items():
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        simulate_named(trace, HW, **kw)
        peak = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()
        print(f"[1] {label:22s} {trace.n_steps:9,d} steps: peak {peak / 1e6:7.1f} MB = "
              f"{peak / trace.n_steps:6.0f} B/step held at once   (goal <= 500)")


def _child(steps: int) -> dict:
    """Peak RSS of one large replay, in this (fresh) process."""
    import gc

    from specaccel.sim import simulate_named

    base = _workload(40)
    simulate_named(base, HW, engine="fast")                   # compile / load caches
    gc.collect()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    n = -(-steps // 128)
    t0 = time.perf_counter()
    res = simulate_named(base, HW, engine="event", requests=n)
    wall = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"steps": res.n_steps, "baseline_steps": res.baseline.n_steps, "wall_s": wall,
            "rss_before": rss0, "rss_peak": rss1, "tokens_per_s": res.tokens_per_s}


def large_replay(sizes: list[int]) -> None:
    got = []
    for steps in sizes:
        out = subprocess.run([sys.executable, __file__, "--child", str(steps)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        got.append((r["steps"], r["rss_peak"]))
        print(f"[2] replay of {r['steps']:11,d} steps (+ {r['baseline_steps']:,d} baseline "
              f"steps), event engine: {r['wall_s']:6.1f} s, process peak RSS "
              f"{r['rss_peak'] / 1e9:5.2f} GB (after imports and warm-up: "
              f"{r['rss_before'] / 1e9:5.2f} GB)")
    if len(got) >= 2:
        (s0, m0), (s1, m1) = got[0], got[-1]
        slope = max(0.0, (m1 - m0) / (s1 - s0))
        at = m1 + slope * (10_000_000 - s1)
        print(f"[2] peak RSS extrapolated to 10,000,000 steps: {at / 1e9:5.2f} GB "
              f"({slope:.1f} B per extra step between the two runs; goal < 8 GB)")


def simpy_ratio(repeat: int, n_requests: int) -> None:
    import simpy

    from specaccel.models.cost import get_hardware, get_model
    from specaccel.sim import StepInput, StepPricer, fast_replay, replay

    trace = _workload(n_requests)
    hw = get_hardware(HW)
    pricer = StepPricer.build(hw, get_model("vicuna-7b"), get_model("eagle-head-vicuna-7b"),
                              trace.metadata["drafting"])
    inp = StepInput.build(trace, pricer)
    replay(inp)                                               # prices (and keeps) its block
    n_steps = inp.costs.n_steps
    events = n_steps + 2 * trace.n_requests   # a timeout per step; units + arrival per request

    def bare() -> None:
        env = simpy.Environment()

        def p():
            for _ in range(events):
                yield env.timeout(1e-3)
        env.process(p())
        env.run()

    best_bare = best_rep = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        bare()
        best_bare = min(best_bare, time.perf_counter() - t0)
        t0 = time.perf_counter()
        replay(inp)
        best_rep = min(best_rep, time.perf_counter() - t0)
    bare_rate, rep_rate = events / best_bare, events / best_rep
    print(f"[3] bare SimPy: {bare_rate:12,.0f} events/s; SimPy replay: "
          f"{n_steps / best_rep:10,.0f} steps/s = {rep_rate:10,.0f} events/s; ratio "
          f"{rep_rate / bare_rate:.2f}   (goal >= 0.70; load {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores)")
    fast_replay(inp)
    t0 = time.perf_counter()
    for _ in range(repeat):
        fast_replay(inp)
    t = (time.perf_counter() - t0) / repeat
    print(f"[4] fast path on the same {n_steps:,d} steps: {n_steps / t:14,.0f} steps/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    ap.add_argument("--steps", type=int, action="append",
                    help="replay sizes for [2] (default 500,000 and 2,000,000)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args.child)))
        return
    print(f"workload {PRESET} on {HW}; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    simpy_ratio(args.repeat, 10 if args.quick else 40)
    bytes_per_step(80 if args.quick else 800)
    large_replay(args.steps or ([50_000, 200_000] if args.quick else [500_000, 2_000_000]))


if __name__ == "__main__":
    main()
