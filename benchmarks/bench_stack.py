"""Speed with software stacks and multi-device placements on, against the kernels alone.

Measured side by side in one run, on one core:

1. the batched Numba pass path: Llama-2-70B passes on the A100 (mixed tokens and
   contexts) through ``pass_costs`` (the kernel model alone) and through
   ``Deployment.pass_costs`` on ``hf-eager`` with ``--tp 4 --pp 2`` (kernels at the
   shard, stack terms, pipeline hops); target >= 1,000,000 passes/s with the stack on;
2. the step costs of a trace through the step-cost door, kernels alone vs the
   ``hf-static-kv`` stack (stages with host/GPU overlap, selection tail, loop ops);
3. the SimPy batch-1 replay of those step costs (the replay does not depend on where its
   costs came from); target >= 300,000 steps/s with the stack on -- and the fast path.

Usage: ``python benchmarks/bench_stack.py [--passes N] [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")


def best_of(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passes", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    args = ap.parse_args()

    import numpy as np

    from specaccel.models.cost import get_hardware, get_model, pass_costs
    from specaccel.models.cost.deployment import Deployment
    from specaccel.models.cost.placement import Placement
    from specaccel.models.cost.software_stack import get_stack
    from specaccel.models.golden import verify_trace
    from specaccel.sim import StepInput, StepPricer, replay
    from specaccel.sim.deployment_pricing import deployment_pricer
    from specaccel.sim.fast_path import fast_replay
    from specaccel.workloads import generate_trace

    n = 50_000 if args.quick else args.passes
    hw = get_hardware("a100-80gb")
    l70 = get_model("llama-2-70b")
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 128, n).astype(float)
    context = rng.integers(0, 4096, n).astype(float)
    dep = Deployment(hw, get_stack("hf-eager"), Placement(tp=4, pp=2))
    pass_costs(l70, hw, tokens=tokens[:8], context=context[:8], tp=4)   # compile / load
    dep.pass_costs(l70, role="target", tokens=tokens[:8], context=context[:8])
    t_kernel = best_of(lambda: pass_costs(l70, hw, tokens=tokens, context=context, tp=4))
    t_stack = best_of(lambda: dep.pass_costs(l70, role="target", tokens=tokens,
                                             context=context))
    print(f"passes   kernels alone          {n / t_kernel:12,.0f} passes/s")
    print(f"passes   hf-eager, tp 4, pp 2   {n / t_stack:12,.0f} passes/s   "
          f"(target >= 1,000,000; {t_kernel / t_stack:.2f} of the kernels' rate)")

    steps = 64 if args.quick else 512
    trace = generate_trace("eagle-vicuna-7b-mtbench", n_requests=64,
                           steps_per_request=steps, seed=0)
    outcome = verify_trace(trace)
    v7, head = get_model("vicuna-7b"), get_model("eagle-head-vicuna-7b")
    plain = StepPricer.build(hw, v7, head, "per-level")
    stacked = deployment_pricer(Deployment(hw, get_stack("hf-static-kv")), v7, head,
                                "per-level")
    plain.step_costs(trace, outcome)
    stacked.step_costs(trace, outcome)
    t_plain = best_of(lambda: plain.step_costs(trace, outcome))
    t_stacked = best_of(lambda: stacked.step_costs(trace, outcome))
    print(f"steps    costs, kernels alone   {trace.n_steps / t_plain:12,.0f} steps/s")
    print(f"steps    costs, hf-static-kv    {trace.n_steps / t_stacked:12,.0f} steps/s   "
          f"({t_plain / t_stacked:.2f} of the kernels' rate)")

    for name, pricer in (("kernels alone", plain), ("hf-static-kv", stacked)):
        inp = StepInput.build(trace, pricer, block_steps=1 << 40)
        inp.stream.whole()                                      # priced before timing
        t_replay = best_of(lambda inp=inp: replay(inp), repeat=1 if args.quick else 2)
        t_fast = best_of(lambda inp=inp: fast_replay(inp))
        print(f"replay   SimPy, {name:<15} {trace.n_steps / t_replay:12,.0f} steps/s"
              + ("   (target >= 300,000)" if name == "hf-static-kv" else ""))
        print(f"replay   fast,  {name:<15} {trace.n_steps / t_fast:12,.0f} steps/s")


if __name__ == "__main__":
    main()
