"""docs/dask-cluster.md, done as written: a scheduler, two worker processes and
``specaccel sweep --scheduler`` on one machine; the stored table is bit-identical to the
same sweep on local processes.

The commands and the spec are read from the page (between its ``local-cluster`` markers)
and run as programs of this virtual environment; only the ports change (free ones instead
of 8786/8787, so the test never meets another cluster on a shared machine).  With
``SPECACCEL_DASK_SCHEDULER=tcp://HOST:PORT`` the sweep runs on that cluster instead, and
nothing is started.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from specaccel.analysis.results_store import frames_bit_identical, load_results
from specaccel.analysis.sweep_runner import run_sweep
from specaccel.analysis.sweep_spec import load_spec

DOC = Path(__file__).resolve().parents[2] / "docs" / "dask-cluster.md"
BIN = Path(sys.executable).parent
START_TIMEOUT_S = 180  # two worker processes importing numpy/numba on a loaded machine


def documented(marker: str) -> str:
    """The fenced block between ``<!-- marker -->`` and ``<!-- /marker -->``."""
    block = DOC.read_text().split(f"<!-- {marker} -->", 1)[1].split(f"<!-- /{marker} -->")[0]
    return block.strip().split("\n", 1)[1].rsplit("```", 1)[0]  # without the fences


def documented_commands() -> dict[str, list[str]]:
    """The page's three commands by program ("scheduler", "worker", "sweep")."""
    cmds = {}
    for line in documented("local-cluster").strip().splitlines():
        argv = shlex.split(line)
        cmds[argv[1]] = argv  # dask scheduler, dask worker, specaccel sweep
    assert set(cmds) == {"scheduler", "worker", "sweep"}, cmds
    return cmds


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _on_ports(argv: list[str], ports: dict[str, int]) -> list[str]:
    return [re.sub(r"\b(8786|8787)\b", lambda m: str(ports[m.group(1)]), a) for a in argv]


def _wait_for_workers(address: str, n: int, procs: list[subprocess.Popen]) -> None:
    from distributed import Client

    deadline = time.monotonic() + START_TIMEOUT_S
    while True:  # the scheduler may not listen yet
        dead = [p.args for p in procs if p.poll() is not None]
        assert not dead, f"exited early: {dead}"
        try:
            with Client(address, timeout="5s") as client:
                client.wait_for_workers(n, timeout=max(1.0, deadline - time.monotonic()))
                return
        except (OSError, TimeoutError):
            if time.monotonic() > deadline:
                raise


def test_the_documented_local_cluster_runs_a_sweep_bit_identical_to_local_processes(
        tmp_path):
    cmds = documented_commands()
    (tmp_path / "sweep.toml").write_text(documented("local-cluster-spec"))
    existing = os.environ.get("SPECACCEL_DASK_SCHEDULER")
    procs: list[subprocess.Popen] = []
    logs = []
    try:
        if existing:
            address = existing
            sweep = [a.replace("tcp://127.0.0.1:8786", existing) for a in cmds["sweep"]]
        else:
            ports = {"8786": _free_port(), "8787": _free_port()}
            address = f"tcp://127.0.0.1:{ports['8786']}"
            for name in ("scheduler", "worker"):  # as the page says, in its order
                argv = _on_ports(cmds[name], ports)
                log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed below
                logs.append(log)
                procs.append(subprocess.Popen([str(BIN / argv[0]), *argv[1:]],
                                              cwd=tmp_path, stdout=log, stderr=log,
                                              stdin=subprocess.DEVNULL))
            assert address in " ".join(_on_ports(cmds["worker"], ports))
            sweep = _on_ports(cmds["sweep"], ports)
            _wait_for_workers(address, 2, procs)
        assert sweep[sweep.index("--scheduler") + 1] == address
        proc = subprocess.run([str(BIN / sweep[0]), *sweep[1:]], cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)
    finally:
        # the workers first, each gone before the scheduler is stopped (workers whose
        # scheduler went away first spend ~8 s trying to reach it before they exit)
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in logs:
            log.close()
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr.lower(), proc.stderr  # no stray dask/numba warnings
    assert re.search(rf"^backend\s+dask {re.escape(address)}\s*$", proc.stdout, re.M), \
        proc.stdout
    assert re.search(r"^evaluated now\s+36\s*$", proc.stdout, re.M), proc.stdout
    if not existing:  # the scheduler and both worker processes really took part
        sched = (tmp_path / "scheduler.log").read_text()
        assert re.search(rf"Scheduler at:\s+{re.escape(address)}$", sched, re.M), sched
        assert len(re.findall(r"Register worker addr", sched)) == 2, sched

    spec = load_spec(tmp_path / "sweep.toml")
    local = run_sweep(spec, tmp_path / "local", workers=2)
    assert local.evaluated == 36 and local.evaluators == {"fast": 36}
    a, b = load_results(tmp_path / "local"), load_results(tmp_path / "sweep-out")
    assert a.duplicates_dropped == b.duplicates_dropped == 0
    assert frames_bit_identical(a.frame, b.frame)
    assert a.frame["tokens_per_s"].nunique() > 10      # the points really differ


def test_a_scheduler_that_is_not_there_is_a_clean_exit_2(tmp_path):
    (tmp_path / "sweep.toml").write_text(documented("local-cluster-spec"))
    port = _free_port()  # nothing listens on it
    proc = subprocess.run([str(BIN / "specaccel"), "sweep", "sweep.toml", "--out", "o",
                           "--scheduler", f"tcp://127.0.0.1:{port}"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("specaccel: error: field 'scheduler': cannot connect "
                                  "to the Dask scheduler")
    assert "Traceback" not in proc.stderr and not (tmp_path / "o").exists()


def test_an_address_that_does_not_answer_is_said_after_the_wait():
    from specaccel.analysis.sweep_runner import _refused_at_once

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        # the one connection the queue holds: the next one is left unanswered
        with socket.create_connection(server.getsockname(), timeout=5):
            with pytest.raises(TimeoutError, match=f"no answer from {address} within 0.5 s"):
                _refused_at_once(address, timeout_s=0.5)
    with pytest.raises(ConnectionRefusedError, match="nothing listens at"):
        _refused_at_once(address)  # closed now


@pytest.mark.parametrize("program", ["dask", "specaccel"])
def test_the_documented_programs_are_in_this_environment(program):
    # the page says `dask` is in the same virtual environment as `specaccel`
    assert (BIN / program).exists()
