"""Synthesis figures of the argmax/sampling unit and the time the flow takes.

Prints, for N = 16 and 64 on iCE40 HX8K (place and route) and Xilinx 7 / ECP5 (yosys
only): LUTs, FFs, carry cells, BRAMs, Fmax, and the wall time of each run.  Targets from
the issue: Fmax >= 100 MHz at N = 16 and >= 80 MHz at N = 64 on iCE40 HX8K.

    .venv/bin/python benchmarks/bench_synthesis.py [--unit argmax_sample] [--nodes 16,64]
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
    args = ap.parse_args()
    print(f"{'unit':14} {'N':>3} {'device':11} {'LUTs':>6} {'FFs':>6} {'carry':>6} "
          f"{'BRAMs':>5} {'Fmax MHz':>9} {'target':>7} {'time s':>7}")
    for n in (int(v) for v in args.nodes.split(",")):
        for device in DEVICES:
            t0 = time.perf_counter()
            r = synthesise_unit(args.unit, nodes=n, device=device)
            dt = time.perf_counter() - t0
            fmax = "-" if r["fmax_mhz"] is None else f"{r['fmax_mhz']:.1f}"
            target = TARGETS.get(n) if device == "ice40-hx8k" else None
            verdict = "-" if target is None or r["fmax_mhz"] is None else (
                "met" if r["fmax_mhz"] >= target else "MISSED")
            print(f"{args.unit:14} {n:>3} {device:11} {r['luts']:>6} {r['ffs']:>6} "
                  f"{r['carry']:>6} {r['brams']:>5} {fmax:>9} {verdict:>7} {dt:>7.1f}")


if __name__ == "__main__":
    main()
