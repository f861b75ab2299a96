"""Results store: atomic parts + manifest, crash recovery, defensive loading."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from specaccel.analysis.results_store import ResultsStore, load_results
from specaccel.schema.errors import InputError

COLS = ["key", "a", "m", "evaluator"]


def _recs(keys, scale=1.0):
    return [{"key": k, "a": i, "m": scale * i, "evaluator": "toy"} for i, k in enumerate(keys)]


def test_append_load_sorted_and_never_twice(tmp_path):
    s = ResultsStore(tmp_path, columns=COLS)
    s.append(_recs(["k3", "k1"]))
    s.append(_recs(["k1", "k2", "k2"]))          # k1 stored already, k2 twice in the batch
    assert s.done_keys() == {"k1", "k2", "k3"}
    assert s.append(_recs(["k2"])) is None
    res = load_results(tmp_path)
    assert list(res.frame["key"]) == ["k1", "k2", "k3"]
    assert res.duplicates_dropped == 0 and res.parts == 2
    # plain pandas reads the same rows without help
    raw = pd.read_parquet(tmp_path / "parts")
    assert sorted(raw["key"]) == ["k1", "k2", "k3"]
    with pytest.raises(ValueError, match="not in the store"):
        s.append([{"key": "k9", "zzz": 1}])


def test_recovery_removes_temp_and_adopts_a_complete_unlisted_part(tmp_path):
    s = ResultsStore(tmp_path, columns=COLS)
    s.append(_recs(["a1", "a2"]))
    part = s.append(_recs(["b1", "b2"]))
    # Simulate a kill after the part's rename but before the manifest update,
    # plus a half-written temp file from the next batch.
    m = json.loads((tmp_path / "manifest.json").read_text())
    m["parts"] = m["parts"][:1]
    (tmp_path / "manifest.json").write_text(json.dumps(m))
    (tmp_path / "parts" / ".tmp-999-part-000003.parquet").write_bytes(b"PAR1 half")
    s2 = ResultsStore(tmp_path)
    assert s2.recovery.parts_adopted == 1 and s2.recovery.temp_files_removed == 1
    assert s2.done_keys() == {"a1", "a2", "b1", "b2"}
    assert part.exists()
    assert not any(p.name.startswith(".tmp-") for p in (tmp_path / "parts").iterdir())
    assert load_results(tmp_path).frame.shape[0] == 4


def test_recovery_discards_unreadable_or_overlapping_parts(tmp_path):
    s = ResultsStore(tmp_path, columns=COLS)
    s.append(_recs(["a1", "a2"]))
    (tmp_path / "parts" / "part-000007.parquet").write_bytes(b"not parquet")
    pq.write_table(pq.read_table(s.part_files[0]), tmp_path / "parts" / "part-000008.parquet")
    s2 = ResultsStore(tmp_path)
    assert s2.recovery.parts_discarded == 2 and s2.recovery.parts_adopted == 0
    res = load_results(tmp_path)
    assert res.duplicates_dropped == 0 and list(res.frame["key"]) == ["a1", "a2"]


def test_loader_drops_duplicates_defensively(tmp_path):
    s = ResultsStore(tmp_path, columns=COLS)
    s.append(_recs(["x", "y"]))
    # A manifest that lists the same part twice (never written by the store).
    m = json.loads((tmp_path / "manifest.json").read_text())
    m["parts"].append(m["parts"][0])
    (tmp_path / "manifest.json").write_text(json.dumps(m))
    res = load_results(tmp_path)
    assert res.duplicates_dropped == 2 and list(res.frame["key"]) == ["x", "y"]


def test_not_a_results_dir(tmp_path):
    with pytest.raises(InputError, match="no manifest"):
        load_results(tmp_path)
    with pytest.raises(InputError, match="no manifest"):
        ResultsStore(tmp_path)


def test_frames_bit_identical_compares_float_bits_and_list_cells():
    import pandas as pd

    from specaccel.analysis.results_store import frames_bit_identical

    a = pd.DataFrame({"x": [0.0, 1.5], "tree": [[0, 0, 1], [0]]})
    assert frames_bit_identical(a, a.copy())
    assert not frames_bit_identical(a, pd.DataFrame({"x": [-0.0, 1.5], "tree": [[0, 0, 1], [0]]}))
    assert not frames_bit_identical(a, pd.DataFrame({"x": [0.0, 1.5], "tree": [[0, 0, 2], [0]]}))
    assert not frames_bit_identical(a, a[["tree", "x"]])
    assert not frames_bit_identical(a, a.iloc[:1])
    assert not frames_bit_identical(a, a.astype({"x": "float32"}))


def _edit_manifest(root, edit):
    m = json.loads((root / "manifest.json").read_text())
    edit(m)
    (root / "manifest.json").write_text(json.dumps(m))


@pytest.mark.parametrize(("edit", "field"), [
    (lambda m: m.update(bogus=1), "bogus"),                       # a key the store never writes
    (lambda m: m["columns"].remove("key"), "columns"),            # every point has a key
    (lambda m: m["columns"].append("a"), "columns"),              # a column twice
    (lambda m: m["parts"][0].update(rows=2), "parts"),            # an unknown part entry key
])
def test_a_manifest_the_store_never_writes_is_refused(tmp_path, edit, field):
    ResultsStore(tmp_path, columns=COLS).append(_recs(["x", "y"]))
    _edit_manifest(tmp_path, edit)
    with pytest.raises(InputError) as e:
        load_results(tmp_path)
    assert e.value.field == field and e.value.file.endswith("manifest.json")


def test_a_part_that_disagrees_with_the_manifest_names_itself(tmp_path):
    """Columns or keys other than the manifest lists: the part is not this store's."""
    ResultsStore(tmp_path, columns=COLS).append(_recs(["x", "y"]))
    _edit_manifest(tmp_path, lambda m: m["parts"][0].update(keys=["x", "z"]))
    with pytest.raises(InputError) as e:
        load_results(tmp_path)
    assert e.value.field == "keys" and e.value.file.endswith(".parquet")
    _edit_manifest(tmp_path, lambda m: (m["parts"][0].update(keys=["x", "y"]),
                                        m["columns"].append("extra")))
    with pytest.raises(InputError, match="missing: extra") as e:
        load_results(tmp_path)
    assert e.value.field == "columns"
