"""`specaccel hdl generate|synth|characterise` and the characterisation table API."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from specaccel.hdl.characterisation import (
    COLUMNS,
    fit_lut_exponent,
    load_characterisation,
    write_csv,
)

REPO = Path(__file__).resolve().parents[2]


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "specaccel.cli", "hdl", *args],
                          capture_output=True, text=True, cwd=cwd)


def test_generate_is_reproducible_and_path_free(tmp_path):
    a, b = tmp_path / "a.v", tmp_path / "b.v"
    for out in (a, b):
        r = _cli("generate", "--unit", "argmax_sample", "--nodes", "8", "-o", str(out))
        assert r.returncode == 0, r.stderr
    text = a.read_bytes()
    assert text == b.read_bytes()
    assert b"module argmax_sample" in text
    for bad in (str(REPO).encode(), b"/tmp", str(tmp_path).encode(), b"/home", b"/root"):
        assert bad not in text


@pytest.mark.parametrize("args, text", [
    (("generate", "--unit", "nope", "--nodes", "4"), "--unit"),
    (("generate", "--unit", "tree_verify", "--nodes", "0"), "--nodes"),
    (("generate", "--unit", "tree_verify", "--nodes", "100000"), "--nodes"),
    (("synth", "--unit", "argmax_sample", "--nodes", "4", "--device", "gowin"), "gowin"),
    (("characterise", "--units", "tree_verify,bogus", "--nodes", "4"), "bogus"),
    (("characterise", "--nodes", "4,x"), "--nodes"),
])
def test_bad_usage_exits_2_with_one_line(args, text):
    r = _cli(*args)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert text in lines[-1] and "Traceback" not in r.stderr
    assert len([ln for ln in lines if ln.startswith("specaccel")]) == 1


def test_synth_json_generic_device(tmp_path):
    # (the place-and-route path with Fmax is run by tests/hdl/test_synthesis.py)
    r = _cli("synth", "--unit", "argmax_sample", "--nodes", "4", "--token-width", "8",
             "--prob-width", "6", "--device", "ecp5", "--json",
             "--build-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["unit"] == "argmax_sample" and d["device"] == "ecp5" and d["io"] == 5
    assert d["luts"] > 50 and d["carry"] > 0 and d["fmax_mhz"] is None
    assert (tmp_path / "yosys.log").exists() and not (tmp_path / "nextpnr.log").exists()
    assert "synthesising" in r.stderr


def test_characterise_writes_table_and_fits_exponent(tmp_path):
    out = tmp_path / "c.csv"
    r = _cli("characterise", "--units", "kv_compact", "--nodes", "2,4", "--device", "ecp5",
             "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert [row["nodes"] for row in d["rows"]] == [2, 4]
    assert all(row["latency_cycles"] >= 1 and row["ii_cycles"] >= 1 for row in d["rows"])
    assert "kv_compact N=4" in r.stderr  # progress on stderr
    rows = load_characterisation(out)
    assert [r_["luts"] for r_ in rows] == [r_["luts"] for r_ in d["rows"]]
    assert out.read_text().startswith("# produced by: specaccel hdl characterise")
    assert d["lut_exponent"]["kv_compact"] == pytest.approx(fit_lut_exponent(rows,
                                                                             "kv_compact"))


def _rows():
    base = {"token_width": 16, "prob_width": 12, "ii_cycles": 1.0, "ffs": 1, "carry": 0,
            "brams": 0, "device": "ice40-hx8k", "tool_versions": "t", "role": "verify",
            "latency_law": "levels(N) + 3"}
    return [
        {**base, "unit": "tree_verify", "nodes": 4, "latency_cycles": 5, "fmax_mhz": 120.0,
         "luts": 100},
        {**base, "unit": "tree_verify", "nodes": 16, "latency_cycles": 7, "fmax_mhz": 100.0,
         "luts": 800},
        {**base, "unit": "tree_verify", "nodes": 64, "latency_cycles": 9, "fmax_mhz": 80.0,
         "luts": 6400},
    ]


def test_request_cycles_follow_the_rows_and_the_law(tmp_path):
    from specaccel.models.cost.rtl_table import request_cycles

    path = tmp_path / "t.csv"
    write_csv(_rows(), path)
    rows = load_characterisation(path)
    assert fit_lut_exponent(rows, "tree_verify") == pytest.approx(1.5)
    # a pipelined unit: the latency measured on the smallest unit that takes the tree
    assert [request_cycles("tree_verify", n, rows) for n in (2, 4, 5, 16, 17, 64)] == \
        [5, 5, 7, 7, 9, 9]
    # beyond the table the law continues from the last row: levels(128) - levels(64) = 1
    assert request_cycles("tree_verify", 128, rows) == 10
    serial = [{**r, "unit": "s", "latency_law": "n + 3", "latency_cycles": r["nodes"] + 3}
              for r in rows]
    assert [request_cycles("s", n, serial) for n in (1, 5, 64, 100)] == [4, 8, 67, 103]
    with pytest.raises(LookupError):
        request_cycles("tree_mask", 8, rows)


def test_load_rejects_bad_table(tmp_path):
    from specaccel.schema.errors import InputError

    bad = tmp_path / "bad.csv"
    bad.write_text("unit,nodes\nx,1\n")
    with pytest.raises(InputError, match="missing columns"):
        load_characterisation(bad)
    text = write_csv(_rows()).replace("6400", "many")
    bad.write_text(text)
    with pytest.raises(InputError, match="field 'luts'"):
        load_characterisation(bad)
    assert list(COLUMNS)[:3] == ["unit", "role", "nodes"]


def test_bundled_table_is_real_and_matches_the_declared_units():
    from importlib import resources

    from specaccel.hdl.units import registry
    from specaccel.models.cost.rtl_table import request_cycles

    text = resources.files("specaccel.data").joinpath("rtl-characterisation.csv").read_text()
    assert text.startswith("# produced by: specaccel hdl characterise")
    rows = load_characterisation()
    assert {r["unit"] for r in rows} == set(registry())
    for r in rows:
        unit = registry()[r["unit"]]
        assert r["role"] == unit.role and r["latency_law"] == unit.law().text()
        assert r["latency_cycles"] == unit.law().cycles(nodes=r["nodes"])
        assert r["device"] == "ice40-hx8k" and r["luts"] > 0 and r["ffs"] > 0
        assert r["ii_cycles"] >= 1 and r["tool_versions"]
        assert r["fmax_mhz"] is None or 10 < r["fmax_mhz"] < 500
        assert request_cycles(r["unit"], r["nodes"]) == r["latency_cycles"]
    argmax = [r for r in rows if r["unit"] == "argmax_sample"]
    assert all(r["fmax_mhz"] >= 100 for r in argmax if r["nodes"] <= 16)
    assert all(r["fmax_mhz"] >= 80 for r in argmax)
