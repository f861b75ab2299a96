"""Progress bars: drawn with an ETA on a terminal's stderr, never in --json output or when
stderr is not a terminal; fed by the library through specaccel.schema.progress."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from specaccel.workloads import generate_trace, write_trace


def _run_on_tty(argv: list[str], timeout: float = 300,
                cwd: Path | None = None) -> tuple[int, str, str, float]:
    """Run the CLI (in `cwd`) with stderr on a pseudo-terminal (120 columns); stdout on a
    pipe.  Returns (exit code, stdout, stderr as seen on the terminal, seconds to first
    stderr)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "SPECACCEL_PROGRESS"}
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "specaccel.cli", *argv],
                            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
                            env=env, cwd=cwd)
    os.close(slave)
    chunks, first = [], None
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        if first is None:
            first = time.monotonic() - t0
        chunks.append(chunk)
    out = proc.stdout.read().decode()
    code = proc.wait(timeout=timeout)
    os.close(master)
    return code, out, b"".join(chunks).decode(errors="replace"), first or 0.0


@pytest.fixture(scope="module")
def trace_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("progress") / "t.parquet"
    write_trace(generate_trace(n_requests=6, steps_per_request=8, seed=0), path)
    return path


def test_simulate_draws_a_bar_with_rate_on_a_terminal(trace_file):
    code, out, err, _ = _run_on_tty(["simulate", "--trace", str(trace_file), "--hw",
                                     "a100-80gb", "--baseline"])
    assert code == 0, err
    assert "simulating: 100%" in err and "12/12" in err  # 6 requests, twice (baseline)
    assert "req/s" in err
    assert "simulating:" not in out and "%|" not in out


def test_no_bar_with_json_even_on_a_terminal(trace_file):
    code, out, err, _ = _run_on_tty(["simulate", "--trace", str(trace_file), "--hw",
                                     "a100-80gb", "--json"])
    assert code == 0, err
    assert "%|" not in err
    json.loads(out)  # stdout is exactly one JSON object


def test_no_bar_when_stderr_is_not_a_terminal(trace_file):
    env = {k: v for k, v in os.environ.items() if k != "SPECACCEL_PROGRESS"}
    proc = subprocess.run([sys.executable, "-m", "specaccel.cli", "simulate", "--trace",
                           str(trace_file), "--hw", "a100-80gb"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "%|" not in proc.stderr and "req/s" not in proc.stderr


def test_sweep_shows_its_point_check_with_total_and_eta(tmp_path):
    """The spec check of a big sweep has a bar with the total from its first update; the
    evaluation never starts here (--out already holds results, found after the check)."""
    from specaccel.analysis.results_store import ResultsStore

    ResultsStore(tmp_path / "o", columns=["key", "x"]).append([{"key": "a", "x": 1.0}])
    spec = tmp_path / "big.toml"
    spec.write_text('[sweep]\nname = "big"\n[fixed]\nhardware = "specaccel-default"\n'
                    '[axes]\narray_rows = { start = 8, stop = 207, step = 1 }\n'
                    "clock_hz = { start = 500000000, stop = 599000000, step = 1000000 }\n"
                    '[[workloads]]\npreset = "eagle-vicuna-7b-mtbench"\nrequests = 1\n'
                    "steps = 2\n")
    # relative paths: the bar's description holds the spec's path, and a long one (a
    # deep base temp, e.g. an xdist worker's) would push the total past the 120 columns
    code, out, err, _ = _run_on_tty(["sweep", spec.name, "--out", "o", "--workers", "1"],
                                    cwd=tmp_path)
    assert code == 2 and "already holds sweep results" in err
    assert "checking points" in err
    assert "/20000" in err  # the total: 200 x 100 points


def test_library_progress_reaches_the_listener():
    from specaccel.schema import progress

    seen = []
    progress.advance(5)  # nobody listens: nothing happens
    with progress.listening(lambda n, stage: seen.append((n, stage))):
        progress.expect(10)
        progress.stage("yosys")
        progress.advance(3)
    progress.advance(1)
    assert seen == [(0, "total=10"), (0, "yosys"), (3, None)]


def test_within_names_the_unit_of_inner_stages():
    from specaccel.schema import progress

    seen = []
    with progress.listening(lambda n, stage: seen.append((n, stage))):
        progress.expect(2)
        with progress.within("tree_mask N=4"):
            progress.expect(7)      # the inner work's own total: not the outer's
            progress.stage("yosys")
            progress.advance(3)     # the inner work's own units: not designs
        progress.advance()
    with progress.within("nobody listens"):
        progress.stage("yosys")
    assert seen == [(0, "total=2"), (0, "tree_mask N=4: yosys"), (1, None)]


def test_hdl_characterise_draws_a_bar_per_design_with_stage_and_eta(tmp_path):
    code, out, err, _ = _run_on_tty(["hdl", "characterise", "--units", "kv_compact",
                                     "--nodes", "2,4", "--devices", "ice40-hx8k",
                                     "--seeds", "2", "-o", str(tmp_path / "c.csv")])
    assert code == 0, err
    # one bar over the designs (unit, N) of both passes (area, then place and route) with
    # the current design's stage and device
    assert "characterise: kv_compact N=4: simulating" in err
    for stage in ("verilog", "yosys", "nextpnr seed 2"):
        assert f"characterise: kv_compact N=4 ice40-hx8k: {stage}" in err, stage
    assert re.search(r"1/4 \[\d\d:\d\d<\d\d:\d\d, ", err)  # an ETA after the first design
    assert "4/4" in err and "s/design" in err
    # each finished design's result line is printed above the bar
    assert re.search(r"characterise kv_compact N=2 ice40-hx8k: unit alone \d+ LUTs", err)
    assert "%|" not in out and "kv_compact  4" in out


def test_the_switches_take_1_or_0_and_json_never_draws(monkeypatch, capsys):
    """SPECACCEL_PROGRESS=1 used to draw a bar even with --json; 'yes' was read as unset
    and SPECACCEL_DEBUG=0 as on.  Anything but 1 or 0 is now refused by name."""
    from specaccel.analysis.progress_bar import wanted
    from specaccel.cli import main

    monkeypatch.setenv("SPECACCEL_PROGRESS", "1")
    assert wanted(False) and not wanted(True)
    monkeypatch.setenv("SPECACCEL_PROGRESS", "0")
    assert not wanted(False)
    for name in ("SPECACCEL_PROGRESS", "SPECACCEL_DEBUG"):
        monkeypatch.setenv(name, "yes")
        assert main(["theory", "--alpha", "0.8", "--gamma", "4", "--cost-ratio", "0.1"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"field '{name}'" in err and "not 'yes'" in err
        monkeypatch.delenv(name)
