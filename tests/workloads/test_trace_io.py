"""Parquet and JSONL trace files: exact round trips, self-description, clear errors."""

import copy
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from specaccel.schema.errors import InputError
from specaccel.workloads import DraftTree, Trace, generate_trace, read_trace, write_trace

SUFFIXES = [".parquet", ".jsonl"]


def _mixed_trace():
    """Variable tree sizes, recorded outcomes, arrivals, partly-NaN uniforms, odd ids."""
    rng = np.random.default_rng(0)
    requests = []
    for r, n_steps in enumerate([3, 1, 2]):
        trees = []
        for _ in range(n_steps):
            n = int(rng.integers(1, 9))
            parent = [-1] + [int(rng.integers(0, i)) for i in range(1, n)]
            uniform = rng.random(n)
            uniform[0] = np.nan
            trees.append(DraftTree.build(
                parent, rng.integers(0, 50, n), rng.integers(0, 50, n),
                draft_prob=rng.uniform(0.01, 1, n), target_prob=rng.random(n), uniform=uniform,
                recorded_accepted=int(rng.integers(-1, 1))))
        requests.append((f"q{r}-ü/{r}", int(rng.integers(1, 500)), trees))
    return Trace.from_trees(requests, verification="stochastic", arrival_s=[0.0, 0.125, 1e-9],
                            metadata={"source": "hand", "policy": {"a": [1, 2.5, None]}})


@pytest.fixture(scope="module")
def traces():
    return [
        generate_trace("eagle-vicuna-7b-mtbench", n_requests=4, steps_per_request=7, seed=3),
        generate_trace("eagle-vicuna-7b-mtbench-t1", n_requests=4, steps_per_request=7, seed=3),
        _mixed_trace(),
    ]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_round_trip_is_exact(tmp_path, traces, suffix):
    for k, trace in enumerate(traces):
        path = tmp_path / f"t{k}{suffix}"
        write_trace(trace, path)
        back = read_trace(path)
        assert back.equals(trace)
        assert back.metadata == trace.metadata
        assert np.isnan(back.nodes["uniform"]).sum() == np.isnan(trace.nodes["uniform"]).sum()
        for f in trace.nodes:
            assert back.nodes[f].dtype == trace.nodes[f].dtype


def test_convert_parquet_jsonl_parquet(tmp_path, traces):
    write_trace(traces[2], tmp_path / "a.parquet")
    write_trace(read_trace(tmp_path / "a.parquet"), tmp_path / "b.jsonl")
    write_trace(read_trace(tmp_path / "b.jsonl"), tmp_path / "c.parquet")
    assert read_trace(tmp_path / "c.parquet").equals(traces[2])


def test_parquet_is_self_describing(tmp_path, traces):
    write_trace(traces[1], tmp_path / "t.parquet")
    table = pq.read_table(tmp_path / "t.parquet")
    meta = table.schema.metadata
    assert meta[b"specaccel.schema_version"] == b"1"
    assert meta[b"specaccel.verification"] == b"stochastic"
    assert json.loads(meta[b"specaccel.metadata"])["preset"] == "eagle-vicuna-7b-mtbench-t1"
    assert table.num_rows == traces[1].n_steps  # one row per step
    assert pa.types.is_large_list(table.schema.field("parent").type)


def _rewrite_parquet(src, dst, *, meta=None, columns=None):
    table = pq.read_table(src)
    for name, array in (columns or {}).items():
        table = table.set_column(table.schema.get_field_index(name), name, array)
    if meta is not None:
        table = table.replace_schema_metadata(meta)
    pq.write_table(table, dst)


def test_unknown_schema_version_names_file_and_field(tmp_path, traces):
    write_trace(traces[0], tmp_path / "t.parquet")
    meta = dict(pq.read_table(tmp_path / "t.parquet").schema.metadata)
    meta[b"specaccel.schema_version"] = b"7"
    _rewrite_parquet(tmp_path / "t.parquet", tmp_path / "v7.parquet", meta=meta)
    with pytest.raises(InputError) as exc:
        read_trace(tmp_path / "v7.parquet")
    assert exc.value.file.endswith("v7.parquet") and exc.value.field == "schema_version"
    assert "'7'" in exc.value.reason

    write_trace(traces[0], tmp_path / "t.jsonl")
    lines = (tmp_path / "t.jsonl").read_text().splitlines()
    header = json.loads(lines[0])
    header["schema_version"] = 2
    (tmp_path / "v2.jsonl").write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    with pytest.raises(InputError) as exc:
        read_trace(tmp_path / "v2.jsonl")
    assert exc.value.field == "schema_version" and exc.value.where == ("line 1",)


def test_parquet_without_specaccel_metadata_or_corrupt(tmp_path):
    pq.write_table(pa.table({"x": [1, 2]}), tmp_path / "plain.parquet")
    with pytest.raises(InputError, match="no schema version"):
        read_trace(tmp_path / "plain.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_trace(tmp_path / "junk.parquet")


def test_parquet_list_lengths_that_disagree(tmp_path, traces):
    write_trace(traces[0], tmp_path / "t.parquet")
    rows = pq.read_table(tmp_path / "t.parquet").column("token").to_pylist()
    rows[9] = rows[9][:-1]  # request r00001, step 2
    _rewrite_parquet(tmp_path / "t.parquet", tmp_path / "bad.parquet",
                     columns={"token": pa.array(rows, pa.large_list(pa.int64()))})
    with pytest.raises(InputError) as exc:
        read_trace(tmp_path / "bad.parquet")
    assert exc.value.field == "token"
    assert exc.value.where == ("request r00001", "step 2")


def test_reader_validates(tmp_path, traces):
    write_trace(traces[0], tmp_path / "t.parquet")
    rows = pq.read_table(tmp_path / "t.parquet").column("parent").to_pylist()
    rows[3][4] = 4
    _rewrite_parquet(tmp_path / "t.parquet", tmp_path / "bad.parquet",
                     columns={"parent": pa.array(rows, pa.large_list(pa.int32()))})
    with pytest.raises(InputError) as exc:
        read_trace(tmp_path / "bad.parquet")
    assert str(exc.value).startswith(str(tmp_path / "bad.parquet") + ": request r00000: step 3")


def test_jsonl_errors_name_line_request_step(tmp_path, traces):
    write_trace(traces[0], tmp_path / "t.jsonl")
    lines = (tmp_path / "t.jsonl").read_text().splitlines()
    req = json.loads(lines[2])
    req["steps"][5]["draft_prob"].pop()
    (tmp_path / "len.jsonl").write_text("\n".join([*lines[:2], json.dumps(req), *lines[3:]]))
    with pytest.raises(InputError) as exc:
        read_trace(tmp_path / "len.jsonl")
    assert exc.value.where == ("line 3", "request r00001", "step 5")
    assert exc.value.field == "draft_prob"

    (tmp_path / "broken.jsonl").write_text("\n".join([*lines[:3], "{not json", *lines[4:]]))
    with pytest.raises(InputError) as exc:
        read_trace(tmp_path / "broken.jsonl")
    assert exc.value.where == ("line 4",) and "invalid JSON" in exc.value.reason

    (tmp_path / "short.jsonl").write_text("\n".join(lines[:3]))
    with pytest.raises(InputError, match="truncated"):
        read_trace(tmp_path / "short.jsonl")

    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(InputError, match="empty file"):
        read_trace(tmp_path / "empty.jsonl")

    (tmp_path / "blank.jsonl").write_text("\n".join([*lines[:2], "  ", *lines[2:]]) + "\n")
    with pytest.raises(InputError) as exc:
        read_trace(tmp_path / "blank.jsonl")
    assert exc.value.where == ("line 3",) and "blank line" in exc.value.reason


def test_paths_and_suffixes(tmp_path, traces):
    with pytest.raises(InputError, match="no such file"):
        read_trace(tmp_path / "missing.parquet")
    with pytest.raises(InputError, match="unknown trace file type '.csv'"):
        write_trace(traces[0], tmp_path / "t.csv")
    with pytest.raises(InputError, match="is a directory"):
        read_trace(tmp_path / "d.jsonl" if (tmp_path / "d.jsonl").mkdir() is None else "")


def test_invalid_trace_is_not_written(tmp_path, traces):
    bad = copy.deepcopy(traces[0])
    bad.nodes["target_prob"][3] = 7.0
    with pytest.raises(InputError, match="target_prob"):
        write_trace(bad, tmp_path / "bad.parquet")
    assert not (tmp_path / "bad.parquet").exists()


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_numpy_metadata_is_written_as_plain_json_by_both_formats(tmp_path, suffix):
    """NumPy scalars/arrays in metadata become JSON numbers/lists (one shared encoder);
    anything else JSON cannot hold is refused, in both formats."""
    trace = generate_trace("eagle-vicuna-7b-mtbench", n_requests=1, steps_per_request=2, seed=0)
    trace.metadata = {"seed": np.int32(7), "alpha": np.float64(0.25),
                      "draft_passes": np.arange(3)}
    write_trace(trace, tmp_path / f"t{suffix}")
    assert read_trace(tmp_path / f"t{suffix}").metadata == {
        "seed": 7, "alpha": 0.25, "draft_passes": [0, 1, 2]}
    trace.metadata = {"policy": {"bad": object()}}
    with pytest.raises(TypeError, match="metadata value of type object"):
        write_trace(trace, tmp_path / f"u{suffix}")
