"""Sweep benchmarks (issue 7 "Numbers"); prints its figures, asserts nothing.

1. Throughput: design points per minute on 2 local worker processes with the fast path,
   every point replaying a 1,000-step trace (10 requests x 100 steps, EAGLE tree,
   baseline included).  Printed as measured wall-clock rate, and as the rate implied by
   the CPU time the workers spent per point (the machine is shared, so the wall rate is
   a lower bound).
2. Local processes vs a 2-worker Dask LocalCluster: the two results tables compared bit
   for bit.
3. Kill/resume: a real ``specaccel sweep`` SIGKILLed at N random moments, then resumed;
   counts lost and duplicated points and compares the values with an uninterrupted run.

Usage: ``python benchmarks/bench_sweep.py [--points 2000] [--kills 20] [--skip-dask]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from specaccel.analysis.results_store import frames_bit_identical, load_results
from specaccel.analysis.sweep_runner import run_sweep
from specaccel.analysis.sweep_spec import parse_spec, point_key

THROUGHPUT_SPEC = """
[sweep]
name = "throughput"
batch_size = 512

[axes]
array_rows = {{ start = 16, stop = 256, step = 16 }}
sram_mib = [80, 96, 128, 160, 192]
clock_hz = {{ low = 0.8e9, high = 1.6e9, samples = {clocks} }}

[[workloads]]
preset = "eagle-vicuna-7b-mtbench"
requests = 10
steps = 100
"""

KILL_SPEC = """
[sweep]
name = "kill"
batch_size = 3
metrics = ["tokens_per_s", "energy_per_token_j", "area_mm2", "accepted_histogram"]

[axes]
array_rows = [16, 24, 32, 48, 64, 96, 128, 192, 256, 384]
sram_mib = [80, 96, 128, 160]
clock_hz = [1.0e9, 1.1e9, 1.2e9, 1.3e9, 1.4e9]

[[workloads]]
preset = "eagle-vicuna-7b-chain5-mtbench"
requests = 1
steps = 6
"""


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def bench_throughput(points: int, tmp: Path) -> dict:
    clocks = max(1, round(points / (16 * 5)))
    spec = parse_spec(THROUGHPUT_SPEC.format(clocks=clocks), "throughput.toml")
    n = len(spec.points())
    # Warm the workers' Numba caches outside the timed run (a one-off per process).
    warm = parse_spec(THROUGHPUT_SPEC.format(clocks=1).replace(
        "stop = 256", "stop = 64"), "warm.toml")
    run_sweep(warm, tmp / "warm", workers=2)
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    s = run_sweep(spec, tmp / "throughput", workers=2, progress=True)
    wall = time.perf_counter() - t0
    cpu = _children_cpu() - cpu0
    res = load_results(tmp / "throughput")
    return {
        "points": n, "evaluated": s.evaluated, "evaluators": s.evaluators,
        "trace_steps_per_point": 1000, "wall_s": wall,
        "points_per_minute_wall": 60.0 * s.evaluated / wall,
        "worker_cpu_ms_per_point": None if cpu <= 0 else 1e3 * cpu / s.evaluated,
        "points_per_minute_2_dedicated_cores": None if cpu <= 0 else
        2 * 60.0 * s.evaluated / cpu,
        "load_average_1min": os.getloadavg()[0],
        "stored": len(res.frame), "duplicates_dropped": res.duplicates_dropped,
    }


def bench_dask(tmp: Path) -> dict:
    from distributed import LocalCluster

    spec = parse_spec(THROUGHPUT_SPEC.format(clocks=2).replace(
        'sram_mib = [80, 96, 128, 160, 192]', 'sram_mib = [96, 128]'), "dask.toml")
    local = run_sweep(spec, tmp / "local", workers=2)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        t0 = time.perf_counter()
        remote = run_sweep(spec, tmp / "dask", scheduler=cluster.scheduler_address)
        wall = time.perf_counter() - t0
    a, b = load_results(tmp / "local").frame, load_results(tmp / "dask").frame
    return {"points": local.evaluated, "dask_points": remote.evaluated,
            "dask_points_per_minute_wall": 60.0 * remote.evaluated / wall,
            "bit_identical": frames_bit_identical(a, b)}


def _committed(out: Path) -> int:
    try:
        m = json.loads((out / "manifest.json").read_text())
    except FileNotFoundError:
        return 0
    return sum(len(p["keys"]) for p in m["parts"])


def bench_kill_resume(kills: int, tmp: Path, seed: int = 2026) -> dict:
    spec_path = tmp / "kill.toml"
    spec_path.write_text(KILL_SPEC)
    spec = parse_spec(KILL_SPEC, str(spec_path))
    expected = {point_key(p, spec.settings) for p in spec.points()}
    out = tmp / "killed"
    cmd = [sys.executable, "-m", "specaccel.cli", "sweep", str(spec_path), "--out", str(out),
           "--resume", "--workers", "1", "--chunk-size", "1", "--json"]
    rng = np.random.default_rng(seed)
    targets = np.sort(rng.integers(1, len(expected) - 1, size=kills))
    landed = []
    for target in targets:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        while _committed(out) < target and proc.poll() is None:
            time.sleep(0.002)
        time.sleep(float(rng.uniform(0.0, 0.05)))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            landed.append(_committed(out))
        proc.wait()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    res = load_results(out)
    keys = list(res.frame["key"])
    run_sweep(spec, tmp / "reference", workers=1)
    return {
        "points": len(expected), "kills": len(landed),
        "committed_at_kills": landed,
        "lost": len(expected - set(keys)),
        "duplicated": res.duplicates_dropped + (len(keys) - len(set(keys))),
        "extra": len(set(keys) - expected),
        "temp_files_left": sum(n.startswith(".tmp-") for n in os.listdir(out / "parts")),
        "bit_identical_to_uninterrupted": frames_bit_identical(res.frame,
                                                    load_results(tmp / "reference").frame),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--skip-dask", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        out = {"throughput": bench_throughput(args.points, tmp)}
        print(json.dumps(out["throughput"], indent=1), flush=True)
        if not args.skip_dask:
            out["dask"] = bench_dask(tmp)
            print(json.dumps(out["dask"], indent=1), flush=True)
        out["kill_resume"] = bench_kill_resume(args.kills, tmp)
        print(json.dumps(out["kill_resume"], indent=1), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
