"""Speed and memory of the simulator: every figure of docs/simulator.md "Speed and memory".

Costs every step of the default workload once (vectorised cost model, not timed), then
times:

1. the SimPy batch-1 replay (:func:`specaccel.sim.replay`): decode steps/s, target
   >= 20,000 (speculative, four stages per step);
2. the Numba fast path (:func:`specaccel.sim.fast_replay`): decode steps/s, target
   >= 2,000,000, :func:`~specaccel.sim.fast_path.closed_loop_makespans` over many
   configurations at once, and the static-batch fast path (costs included);
3. the serving loop with continuous batching at batch 32 (Poisson arrivals fast enough
   to keep the batch full): request-steps/s, target >= 5,000;
4. a 1,000-request Poisson serving run with batching end to end (``simulate``, costs
   included, with and without the autoregressive baseline): target < 60 s;
5. memory: Python heap held by a serving run per simulated request, and the heap
   sampled during a 100,000-step run (it must stay flat: no per-event growth).

Run: ``.venv/bin/python benchmarks/bench_sim.py [--repeat K] [--quick]``
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # one core, as the targets say


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    args = ap.parse_args()

    import numpy as np
    import simpy

    from specaccel.models.cost import get_hardware, get_model
    from specaccel.models.golden import verify_trace
    from specaccel.sim import StepInput, StepPricer, autoregressive_trace, simulate
    from specaccel.sim.accelerator_model import Accelerator
    from specaccel.sim.fast_path import closed_loop_makespans, fast_replay
    from specaccel.sim.replay import replay
    from specaccel.sim.request_sampling import take_requests
    from specaccel.sim.serving import ServingConfig, ServingSimulation, serve
    from specaccel.workloads import DEFAULT_PRESET, generate_trace

    n_req, n_steps = (10, 64) if args.quick else (40, 128)
    base = generate_trace(DEFAULT_PRESET, n_requests=n_req, steps_per_request=n_steps,
                          seed=0)
    target = get_model(base.metadata["target_model"])
    draft = get_model(base.metadata["draft_model"])
    hw = get_hardware("specaccel-default")
    outcome = verify_trace(base)
    pricer = StepPricer.build(hw, target, draft, base.metadata["drafting"])

    def step_input(trace_, **options):
        return StepInput.build(trace_, pricer, **options)

    spec_in = step_input(base, outcome=outcome)
    ar = autoregressive_trace(base, outcome)
    ar_in = StepInput.build(ar, pricer.baseline())
    print(f"workload {DEFAULT_PRESET}: {base.n_requests} requests, {base.n_steps} "
          f"speculative steps, {ar.n_steps} autoregressive steps; hardware {hw.name}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    # 1. SimPy batch-1 replay
    for label, inp in (("speculative", spec_in), ("autoregressive", ar_in)):
        t = best_of(lambda inp=inp: replay(inp), args.repeat)
        n = inp.costs.n_steps
        print(f"[1] SimPy replay, batch 1, {label:14s} {n:7d} steps {t:7.3f} s "
              f"{n / t:12,.0f} steps/s   (target >= 20,000)")

    # 2. fast path
    big_in = step_input(take_requests(base, 10 * n_req))
    big_costs = big_in.costs
    fast_replay(big_in)                                         # compile / load cache
    t = best_of(lambda: fast_replay(big_in), args.repeat)
    print(f"[2] fast path fast_replay          {big_costs.n_steps:7d} steps {t:9.5f} s "
          f"{big_costs.n_steps / t:12,.0f} steps/s   (target >= 2,000,000)")
    configs = np.stack([big_costs.step_time_s() * k for k in np.linspace(0.5, 2.0, 64)])
    off, arr = big_costs.request_step_offsets, big_costs.arrival_s
    closed_loop_makespans(configs[:1], off, arr)
    t = best_of(lambda: closed_loop_makespans(configs, off, arr), args.repeat)
    print(f"[2] fast path, 64 configurations   {configs.size:7d} steps {t:9.5f} s "
          f"{configs.size / t:12,.0f} steps/s")

    # 2b. fast path for a static batch (32 requests at time 0, batch 32), costs included
    from specaccel.sim.static_batch import static_batch_replay

    static_in = step_input(take_requests(base, 32),
                           serving=ServingConfig(max_batch=32, prefill=False))
    static_costs = static_in.costs
    static_batch_replay(static_in)
    t = best_of(lambda: static_batch_replay(static_in), args.repeat)
    t_ev = best_of(lambda: serve(static_in), 1)
    print(f"[2] fast path, static batch of 32  {static_costs.n_steps:7d} request-steps "
          f"{t:7.4f} s {static_costs.n_steps / t:12,.0f} request-steps/s (SimPy serving "
          f"loop: {static_costs.n_steps / t_ev:,.0f})")

    # 3. serving at batch 32 (the batch stays full: arrivals far faster than service)
    cfg = ServingConfig(max_batch=32, arrivals="poisson", rate_per_s=1000.0, seed=0)
    srv_in = step_input(take_requests(base, 4 * n_req), serving=cfg)
    srv_costs = srv_in.costs
    log = None

    def run_serving():
        nonlocal log
        log = serve(srv_in)

    t = best_of(run_serving, max(1, args.repeat - 1))
    s = log.serving
    print(f"[3] serving, batch <= 32           {srv_costs.n_steps:7d} request-steps "
          f"{t:7.3f} s {srv_costs.n_steps / t:10,.0f} request-steps/s   (target >= 5,000); "
          f"mean batch {s['mean_batch_rows']:.1f}, {s['batch_steps']} batch steps, "
          f"{s['batch_steps'] / t:,.0f} batch steps/s")

    # 4. a 1,000-request Poisson serving run, end to end
    n_big = 200 if args.quick else 1000
    thousand = take_requests(base, n_big)
    cfg4 = ServingConfig(max_batch=32, arrivals="poisson", rate_per_s=4.0, seed=1)
    for with_baseline in (False, True):
        t0 = time.perf_counter()
        res = simulate(thousand, hw=hw, target=target, draft=draft, serving=cfg4,
                       baseline=with_baseline)
        t = time.perf_counter() - t0
        extra = f", speedup {res.speedup:.2f}" if with_baseline else ""
        print(f"[4] {n_big}-request Poisson 4/s run, batch <= 32, "
              f"{'with' if with_baseline else 'no'} baseline: {t:6.1f} s wall   "
              f"(target < 60 s); {thousand.n_steps} steps, {res.tokens_per_s:.0f} "
              f"tokens/s, TTFT P99 {res.serving['ttft_s']['p99']:.2f} s, TPOT P50 "
              f"{res.serving['tpot_s']['p50'] * 1e3:.1f} ms{extra}")

    # 5. memory: per request, and flat over a 100,000-step run
    def heap_of_serving(inp):
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        lg = serve(inp)
        held = tracemalloc.get_traced_memory()[0] - before
        peak = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()
        del lg
        return held, peak

    for k in (2, 8):
        tr = take_requests(base, k * n_req)
        held, peak = heap_of_serving(step_input(tr, serving=cfg))
        print(f"[5] serving {tr.n_requests:5d} requests ({tr.n_steps} steps): log holds "
              f"{held / tr.n_requests:7.0f} B/request, run peak {peak / 1e6:6.2f} MB "
              f"({peak / tr.n_requests:7.0f} B/request)")

    steps_target = 20_000 if args.quick else 100_000
    long_in = step_input(take_requests(base, -(-steps_target // n_steps)),
                         serving=ServingConfig(max_batch=1, prefill=False))
    long_costs = long_in.costs
    env = simpy.Environment()
    acc = Accelerator.build(env, hw, long_costs.kv_bytes_per_token)
    sim = ServingSimulation(long_in, acc)
    samples: list[tuple[int, int]] = []
    proc = env.process(sim.run())

    def monitor():
        while proc.is_alive:
            samples.append((sim.batch_steps, tracemalloc.get_traced_memory()[0]))
            yield env.timeout(2.0)

    tracemalloc.start()
    env.process(monitor())
    env.run()
    tracemalloc.stop()
    first = samples[len(samples) // 10]
    mid = samples[len(samples) // 2]
    last = samples[-1]
    print(f"[5] heap during a {long_costs.n_steps}-step serving run (batch 1): "
          + ", ".join(f"{s_:,} steps {m / 1e6:.2f} MB" for s_, m in (first, mid, last))
          + f"; growth from 10 % to the end {(last[1] - first[1]) / 1e3:+.1f} kB")


if __name__ == "__main__":
    main()
