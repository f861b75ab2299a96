"""A real `specaccel sweep` killed with SIGKILL at random moments, then resumed.

Every point must end up stored exactly once, no temporary or corrupt file may remain,
and the values must equal those of an uninterrupted run bit for bit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow.parquet as pq
from sweep_helpers import write_spec

from specaccel.analysis.results_store import frames_bit_identical, load_results
from specaccel.analysis.sweep_runner import run_sweep
from specaccel.analysis.sweep_spec import load_spec, point_key

KILL_SPEC = """
[sweep]
name = "kill"
metrics = ["tokens_per_s", "energy_per_token_j", "area_mm2", "accepted_histogram"]
batch_size = 3

[axes]
array_rows = [16, 24, 32, 48, 64, 96, 128, 192, 256, 384]
sram_mib = [80, 96, 128]
clock_hz = [1.0e9, 1.2e9, 1.4e9]

[[workloads]]
preset = "eagle-vicuna-7b-chain5-mtbench"
requests = 1
steps = 6
"""


def _start(spec_path, out) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "specaccel.cli", "sweep", str(spec_path), "--out", str(out),
           "--resume", "--workers", "1", "--chunk-size", "1", "--json"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def _committed(out) -> int:
    try:
        manifest = json.loads((out / "manifest.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return 0
    return sum(len(p["keys"]) for p in manifest["parts"])


def test_sigkill_at_random_times_then_resume_stores_every_point_once(tmp_path):
    spec_path = write_spec(tmp_path, KILL_SPEC)
    spec = load_spec(spec_path)
    expected = {point_key(p, spec.settings) for p in spec.points()}
    assert len(expected) == 90
    out = tmp_path / "killed"
    rng = np.random.default_rng(7)
    stored_after_kill = []
    # Kill targets leave room for the points that finish during the random delay (a
    # point takes a few ms on a quiet machine), so every kill lands mid-sweep.
    for lo, hi in ((3, 20), (25, 40), (45, 60)):
        # Kill at a random moment: once a random number of points is committed, after a
        # further random delay (which lands anywhere in evaluation or a commit).
        target = int(rng.integers(lo, hi))
        proc = _start(spec_path, out)
        deadline = time.monotonic() + 60
        while _committed(out) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(float(rng.uniform(0.0, 0.05)))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        stored_after_kill.append(_committed(out))
    # The kills must have landed mid-sweep, or the test proves nothing.
    assert all(0 < n < 90 for n in stored_after_kill), stored_after_kill
    final = _start(spec_path, out)
    stdout, stderr = final.communicate(timeout=120)
    assert final.returncode == 0, stderr.decode()
    res = load_results(out)
    assert res.duplicates_dropped == 0
    assert set(res.frame["key"]) == expected and res.frame["key"].is_unique
    names = os.listdir(out / "parts")
    assert not [n for n in names if n.startswith(".tmp-")]
    for n in names:
        pq.read_table(out / "parts" / n)      # every file is complete Parquet
    reference = tmp_path / "reference"
    run_sweep(spec, reference, workers=1)
    assert frames_bit_identical(res.frame, load_results(reference).frame)
