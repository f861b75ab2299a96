"""Speed and results of the Sequoia dynamic program.

Solves the DP for a positional acceptance vector (conditional form, converted to
Sequoia's per-rank marginal) up to several node budgets, and prints the wall time of the
solve and the best expected tokens per step for budgets 16/32/64/128 (unbounded depth
and a depth bound), plus the chain value for comparison.

Run: ``.venv/bin/python benchmarks/bench_sequoia.py [--acceptance 0.6,0.5,...] [--depth 8]``
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--acceptance", default="0.6,0.5,0.4,0.3,0.3,0.3,0.2,0.2",
                    help="conditional positional acceptance vector")
    ap.add_argument("--depth", type=int, default=8, help="depth bound for the bounded column")
    ap.add_argument("--max-nodes", type=int, nargs="+", default=[128, 256])
    args = ap.parse_args()

    from specaccel.models import theory
    from specaccel.models.golden import node_depth
    from specaccel.models.sequoia import sequoia_table

    cond = [float(x) for x in args.acceptance.split(",")]
    r = theory.marginal_from_conditional(cond)
    sequoia_table(r, 8)  # compile
    print(f"acceptance (conditional) {cond}")
    print(f"per-rank marginal r = {[round(float(x), 5) for x in r]} (sum {r.sum():.4f})")
    table = None
    for n in args.max_nodes:
        t0 = time.perf_counter()
        table = sequoia_table(r, n)
        dt = time.perf_counter() - t0
        print(f"DP solve, max_nodes={n}, unbounded depth, width {r.size}: {dt * 1e3:.1f} ms")
    assert table is not None
    print()
    print(f"{'budget':>6}  {'E tree':>8}  {'E tree d<=' + str(args.depth):>12}  "
          f"{'height':>6}  {'E chain':>8}")
    for b in (16, 32, 64, 128):
        if b > table.max_nodes:
            continue
        parent = table.tree(b)
        height = int(node_depth(parent).max())
        chain = theory.expected_tokens_per_step(cond[0], b - 1)
        print(f"{b:>6}  {table.expected_tokens(b):>8.4f}  "
              f"{table.expected_tokens(b, args.depth):>12.4f}  {height:>6}  {chain:>8.4f}")


if __name__ == "__main__":
    main()
