"""Synthesis figures of one unit and the time the flow takes.

Prints, for each N and device: the unit alone (LUTs, FFs, carry cells, BRAMs), the placed
design in the harness (LUTs, Fmax median and range over the seeds; iCE40 HX8K and ECP5),
and the wall time of each run.  Targets from the issue for the argmax unit: Fmax >= 100 MHz
at N = 16 and >= 80 MHz at N = 64 on iCE40 HX8K (median over the seeds).

    .venv/bin/python benchmarks/bench_synthesis.py [--unit argmax_sample] [--nodes 16,64]
                                                   [--seeds 1,2,3,4,5]
"""

from __future__ import annotations

import argparse
import time

from specaccel.hdl.synthesis import DEVICES, synthesise_unit

TARGETS = {16: 100.0, 64: 80.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--unit", default="argmax_sample")
    ap.add_argument("--nodes", default="16,64")
    ap.add_argument("--seeds", default="1,2,3,4,5")
    args = ap.parse_args()
    seeds = tuple(int(s) for s in args.seeds.split(","))
    print(f"{'unit':14} {'N':>3} {'device':11} {'LUTs':>6} {'FFs':>6} {'carry':>6} "
          f"{'BRAMs':>5} {'placed LUTs':>11} {'Fmax MHz (range)':>22} {'target':>7} "
          f"{'time s':>7}")
    for n in (int(v) for v in args.nodes.split(",")):
        for device in DEVICES:
            t0 = time.perf_counter()
            r = synthesise_unit(args.unit, nodes=n, device=device, seeds=seeds)
            dt = time.perf_counter() - t0
            fmax = "-" if r["fmax_median_mhz"] is None else (
                f"{r['fmax_median_mhz']:.1f} ({r['fmax_min_mhz']:.1f}-"
                f"{r['fmax_max_mhz']:.1f})")
            target = TARGETS.get(n) if device == "ice40-hx8k" else None
            verdict = "-" if target is None or r["fmax_median_mhz"] is None else (
                "met" if r["fmax_median_mhz"] >= target else "MISSED")
            placed = "-" if r["harness_luts"] is None else r["harness_luts"]
            print(f"{args.unit:14} {n:>3} {device:11} {r['bare_luts']:>6} {r['bare_ffs']:>6} "
                  f"{r['bare_carry']:>6} {r['bare_brams']:>5} {placed:>11} {fmax:>22} "
                  f"{verdict:>7} {dt:>7.1f}")


if __name__ == "__main__":
    main()
