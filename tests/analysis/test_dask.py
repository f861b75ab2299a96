"""The same sweep on a 2-worker Dask LocalCluster and on local processes: identical bits."""

from __future__ import annotations

from sweep_helpers import write_spec

from specaccel.analysis.results_store import frames_bit_identical, load_results
from specaccel.analysis.sweep_runner import run_sweep
from specaccel.analysis.sweep_spec import load_spec

DASK_SPEC = """
[sweep]
name = "dask"
batch_size = 4

[axes]
array_rows = [32, 64, 128]
hbm_stacks = [3, 5]
tree = ["chain-3", "2x3", "eagle-25"]

[[workloads]]
preset = "eagle-vicuna-7b-mtbench"
requests = 2
steps = 8

[[workloads]]
name = "specinfer"
preset = "specinfer-llama2-7b-c4"
requests = 1
steps = 8
"""


def test_dask_local_cluster_matches_local_processes_bit_for_bit(tmp_path):
    from distributed import LocalCluster

    spec = load_spec(write_spec(tmp_path, DASK_SPEC))
    local = run_sweep(spec, tmp_path / "local", workers=2)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        remote = run_sweep(spec, tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert remote.backend.startswith("dask tcp://127.0.0.1")
    assert local.evaluated == remote.evaluated == 36
    assert local.evaluators == remote.evaluators == {"fast": 36}
    a, b = load_results(tmp_path / "local"), load_results(tmp_path / "dask")
    assert a.duplicates_dropped == b.duplicates_dropped == 0
    assert frames_bit_identical(a.frame, b.frame)
    assert a.frame["tokens_per_s"].nunique() > 10      # the points really differ
