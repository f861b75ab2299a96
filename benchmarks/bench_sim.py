"""Speed and memory of the simulator: every figure of docs/simulator.md "Speed and memory".

Costs every step of the default workload once (vectorised cost model, not timed), then
times:

1. the SimPy batch-1 replay (:func:`specaccel.sim.simpy_replay.replay`): decode steps/s, target
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


class Bench:
    """The workload, hardware and door every section uses."""

    def __init__(self, quick: bool, repeat: int) -> None:
        from specaccel.models.cost import get_hardware, get_model
        from specaccel.sim import StepPricer
        from specaccel.workloads import DEFAULT_PRESET, generate_trace

        self.repeat = repeat
        self.quick = quick
        self.n_req, self.n_steps = (10, 64) if quick else (40, 128)
        self.preset = DEFAULT_PRESET
        self.base = generate_trace(DEFAULT_PRESET, n_requests=self.n_req,
                                   steps_per_request=self.n_steps, seed=0)
        self.target = get_model(self.base.metadata["target_model"])
        self.draft = get_model(self.base.metadata["draft_model"])
        self.hw = get_hardware("specaccel-default")
        self.pricer = StepPricer.build(self.hw, self.target, self.draft,
                                       self.base.metadata["drafting"])

    def input(self, n_requests: int | None = None, **options):
        """The step-cost input of `n_requests` requests of the workload (all: None), priced
        as one block and kept, so that the engines are timed on precomputed costs."""
        from specaccel.sim import StepInput
        from specaccel.sim.request_sampling import take_requests

        trace = self.base if n_requests is None else take_requests(self.base, n_requests)
        return StepInput.build(trace, self.pricer, block_steps=1 << 40, **options)


def simpy_replay(b: Bench) -> None:
    from specaccel.sim import replay

    spec_in, ar_in = b.input(), b.input(baseline=True)
    for inp in (spec_in, ar_in):
        inp.stream.whole()                                      # priced before timing
    print(f"workload {b.preset}: {b.base.n_requests} requests, {b.base.n_steps} "
          f"speculative steps, {ar_in.costs.n_steps} autoregressive steps; hardware "
          f"{b.hw.name}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for label, inp in (("speculative", spec_in), ("autoregressive", ar_in)):
        t = best_of(lambda inp=inp: replay(inp), b.repeat)
        n = inp.costs.n_steps
        print(f"[1] SimPy replay, batch 1, {label:14s} {n:7d} steps {t:7.3f} s "
              f"{n / t:12,.0f} steps/s   (target >= 20,000)")


def fast_paths(b: Bench) -> None:
    import numpy as np

    from specaccel.sim.fast_path import closed_loop_makespans, fast_replay
    from specaccel.sim.serving import ServingConfig, serve
    from specaccel.sim.static_batch import static_batch_replay

    big_in = b.input(10 * b.n_req)
    big = big_in.costs
    fast_replay(big_in)                                         # compile / load caches
    t = best_of(lambda: fast_replay(big_in), b.repeat)
    print(f"[2] fast path fast_replay          {big.n_steps:7d} steps {t:9.5f} s "
          f"{big.n_steps / t:12,.0f} steps/s   (target >= 2,000,000)")
    configs = np.stack([big.step_time_s() * k for k in np.linspace(0.5, 2.0, 64)])
    off, arr = big.request_step_offsets, big.arrival_s
    closed_loop_makespans(configs[:1], off, arr)
    t = best_of(lambda: closed_loop_makespans(configs, off, arr), b.repeat)
    print(f"[2] fast path, 64 configurations   {configs.size:7d} steps {t:9.5f} s "
          f"{configs.size / t:12,.0f} steps/s")
    # a static batch (32 requests at time 0, batch 32), batched costs included
    static_in = b.input(32, serving=ServingConfig(max_batch=32, prefill=False))
    n = static_in.costs.n_steps
    static_batch_replay(static_in)
    t = best_of(lambda: static_batch_replay(static_in), b.repeat)
    t_ev = best_of(lambda: serve(static_in), 1)
    print(f"[2] fast path, static batch of 32  {n:7d} request-steps {t:7.4f} s "
          f"{n / t:12,.0f} request-steps/s (SimPy serving loop: {n / t_ev:,.0f})")


SERVING = dict(max_batch=32, arrivals="poisson", rate_per_s=1000.0, seed=0)
"""A batch that stays full: arrivals far faster than service."""


def serving_speed(b: Bench) -> None:
    from specaccel.sim.serving import ServingConfig, serve

    srv_in = b.input(4 * b.n_req, serving=ServingConfig(**SERVING))
    n = srv_in.costs.n_steps
    logs = []
    t = best_of(lambda: logs.append(serve(srv_in)), max(1, b.repeat - 1))
    s = logs[-1].serving
    print(f"[3] serving, batch <= 32           {n:7d} request-steps {t:7.3f} s "
          f"{n / t:10,.0f} request-steps/s   (target >= 5,000); mean batch "
          f"{s['mean_batch_rows']:.1f}, {s['batch_steps']} batch steps, "
          f"{s['batch_steps'] / t:,.0f} batch steps/s")


def poisson_run(b: Bench) -> None:
    from specaccel.sim import simulate
    from specaccel.sim.serving import ServingConfig

    n_big = 200 if b.quick else 1000
    cfg = ServingConfig(max_batch=32, arrivals="poisson", rate_per_s=4.0, seed=1)
    for with_baseline in (False, True):
        t0 = time.perf_counter()
        res = simulate(b.base, hw=b.hw, target=b.target, draft=b.draft, serving=cfg,
                       baseline=with_baseline, requests=n_big)
        t = time.perf_counter() - t0
        extra = f", speedup {res.speedup:.2f}" if with_baseline else ""
        # offered load: arrivals x tokens per request; above the served rate the queue
        # grows for the whole run (TTFT of minutes is queueing, not a slow step)
        offered = cfg.rate_per_s * res.tokens / n_big
        print(f"[4] {n_big}-request Poisson 4/s run, batch <= 32, "
              f"{'with' if with_baseline else 'no'} baseline: {t:6.1f} s wall   "
              f"(target < 60 s); {res.n_steps} steps, {res.tokens_per_s:.0f} "
              f"tokens/s served of {offered:.0f} offered, TTFT P99 "
              f"{res.serving['ttft_s']['p99']:.2f} s, TPOT P50 "
              f"{res.serving['tpot_s']['p50'] * 1e3:.1f} ms{extra}")


def serving_memory(b: Bench) -> None:
    from specaccel.sim.serving import ServingConfig, serve

    for k in (2, 8):
        inp = b.input(k * b.n_req, serving=ServingConfig(**SERVING))
        n_steps = inp.stream.whole().costs.n_steps   # priced before measuring
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        log = serve(inp)
        held = tracemalloc.get_traced_memory()[0] - before
        peak = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()
        del log
        n = inp.n_requests
        print(f"[5] serving {n:5d} requests ({n_steps} steps): log holds "
              f"{held / n:7.0f} B/request, run peak {peak / 1e6:6.2f} MB "
              f"({peak / n:7.0f} B/request)")


def serving_heap_is_flat(b: Bench) -> None:
    import simpy

    from specaccel.sim.accelerator_model import Accelerator
    from specaccel.sim.serving import ServingConfig, ServingSimulation

    steps_target = 20_000 if b.quick else 100_000
    inp = b.input(-(-steps_target // b.n_steps),
                  serving=ServingConfig(max_batch=1, prefill=False))
    env = simpy.Environment()
    sim = ServingSimulation(inp, Accelerator.build(env, b.hw, inp.pricer.kv_bytes_per_token))
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
    first, mid, last = samples[len(samples) // 10], samples[len(samples) // 2], samples[-1]
    print(f"[5] heap during a {inp.costs.n_steps}-step serving run (batch 1): "
          + ", ".join(f"{s_:,} steps {m / 1e6:.2f} MB" for s_, m in (first, mid, last))
          + f"; growth from 10 % to the end {(last[1] - first[1]) / 1e3:+.1f} kB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    args = ap.parse_args()
    b = Bench(args.quick, args.repeat)
    for section in (simpy_replay, fast_paths, serving_speed, poisson_run, serving_memory,
                    serving_heap_is_flat):
        section(b)


if __name__ == "__main__":
    main()
