"""`specaccel sweep` and `specaccel report` end to end on the real simulator (small)."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pandas as pd
import pytest
from sweep_helpers import write_spec

from specaccel.analysis.html_report import analyse_sweep
from specaccel.analysis.pareto import pareto_mask
from specaccel.cli import main

SPEC = """
[sweep]
name = "cli"
batch_size = 4

[axes]
array_rows = [32, 128]
hbm_stacks = [3, 8]
tree = ["chain-3", "eagle-25"]

[[workloads]]
preset = "eagle-vicuna-7b-mtbench"
requests = 1
steps = 12

[constraints]
area_mm2 = 150
"""


def test_sweep_then_report(tmp_path, capsys):
    spec = write_spec(tmp_path, SPEC)
    out = tmp_path / "res"
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--json"]) == 0
    cap = capsys.readouterr()
    run = json.loads(cap.out)
    assert cap.err == ""                                   # --json: no progress bar
    assert (run["total"], run["evaluated"], run["stored"]) == (8, 8, 8)
    assert run["evaluators"] == {"fast": 8}
    # the same command again must refuse, resume must skip everything
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--json"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["sweep", str(spec), "--out", str(out), "--resume", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == 8

    assert main(["report", str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    df = pd.read_parquet(out / "parts")                    # plain pandas, no help
    import duckdb

    n, tps = duckdb.sql(f"SELECT count(*), sum(tokens_per_s) FROM "
                        f"read_parquet('{out}/parts/*.parquet')").fetchall()[0]
    assert n == 8 and tps == pytest.approx(df["tokens_per_s"].sum(), rel=1e-12)
    assert rep["points"] == len(df) == 8
    assert rep["objectives"] == {"tokens_per_s": "max", "energy_per_token_j": "min",
                                 "area_mm2": "min"}
    mask = pareto_mask(df, rep["objectives"])
    assert sorted(rep["pareto_keys"]) == sorted(df.loc[mask, "key"])
    feasible = df[df["area_mm2"] <= 150]
    assert rep["feasible_points"] == len(feasible)
    best = feasible.loc[feasible["tokens_per_s"].idxmax()]
    assert rep["best"]["key"] == best["key"]
    assert rep["best"]["tokens_per_s"] == best["tokens_per_s"]
    sens = {(r["metric"], r["axis"]): r for r in rep["sensitivity"]}
    # area depends on the hardware only, never on the draft tree
    assert sens[("area_mm2", "tree")]["first_order_index"] == pytest.approx(0.0, abs=1e-12)
    assert sens[("area_mm2", "hbm_stacks")]["first_order_index"] > 0.5
    assert sens[("mean_committed_per_step", "tree")]["first_order_index"] == pytest.approx(1.0)

    page = (out / "report.html").read_text()
    assert "http://" not in page and "https://" not in page and "<script" not in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 5
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert best["key"] in page


def test_report_with_explicit_pareto_and_errors(tmp_path, capsys):
    spec = write_spec(tmp_path, SPEC)
    out = tmp_path / "res"
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--json"]) == 0
    capsys.readouterr()
    html_path = tmp_path / "r.html"
    assert main(["report", str(out), "--out", str(html_path), "--json",
                 "--pareto", "speedup:max,power_w:min"]) == 0
    rep = json.loads(capsys.readouterr().out)
    a = analyse_sweep(out, objectives={"speedup": "max", "power_w": "min"})
    assert rep["pareto_points"] == int(a.front.sum()) >= 1 and html_path.exists()
    assert np.array_equal(a.front, pareto_mask(a.frame, {"speedup": "max", "power_w": "min"}))
    assert main(["report", str(out), "--pareto", "speedup:best,power_w"]) == 2
    assert "--pareto" in capsys.readouterr().err
    assert main(["report", str(out), "--pareto", "nope:max,power_w:min"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "no manifest" in capsys.readouterr().err


def test_bad_spec_is_exit_2_with_line(tmp_path, capsys):
    spec = write_spec(tmp_path, SPEC.replace("hbm_stacks = [3, 8]", "hbm_stacks = [3, 0]"))
    assert main(["sweep", str(spec), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "line 7" in err and "axes.hbm_stacks" in err and "must be >= 1" in err


TINY = """
[sweep]
name = "tiny"
metrics = ["tokens_per_s", "area_mm2"]

[axes]
array_rows = [32, 64]

[[workloads]]
preset = "eagle-vicuna-7b-mtbench"
requests = 1
steps = 2
"""


def test_resume_with_another_spec_is_exit_2_and_keeps_the_folder(tmp_path, capsys):
    out = tmp_path / "res"
    spec = write_spec(tmp_path, TINY)
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--json"]) == 0
    capsys.readouterr()
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    other = write_spec(tmp_path, TINY.replace("[32, 64]", "[32, 128]"), "other.toml")
    assert main(["sweep", str(other), "--out", str(out), "--resume", "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"specaccel: error: {out / 'sweep.toml'}: the spec differs")
    assert "\n" not in err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize(("text", "want"), [
    ("tokens_per_s,area_mm2", {"tokens_per_s": "max", "area_mm2": "min"}),
    ("speedup,energy_per_token_j,power_w:max",
     {"speedup": "max", "energy_per_token_j": "min", "power_w": "max"}),
])
def test_a_bare_pareto_metric_is_better_the_way_the_registry_says(text, want):
    from specaccel.analysis.html_report import parse_objectives

    assert parse_objectives(text) == want


@pytest.mark.parametrize(("text", "piece"), [
    ("tokens_per_s,mean_nodes_per_step", "not 'mean_nodes_per_step' (it is better neither"),
    ("tokens_per_s,nope", "not 'nope' (no metric 'nope' is known)"),
])
def test_a_bare_pareto_metric_without_a_direction_is_refused(text, piece):
    from specaccel.analysis.html_report import parse_objectives
    from specaccel.schema.errors import InputError

    with pytest.raises(InputError, match="expected METRIC:max or METRIC:min") as err:
        parse_objectives(text)
    assert piece in str(err.value) and err.value.field == "--pareto"


def test_report_front_over_bare_metrics_maximises_tokens_per_s(tmp_path, capsys):
    """tokens_per_s given bare was minimised: the front held the slowest designs."""
    out = tmp_path / "res"
    spec = write_spec(tmp_path, TINY)
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--json"]) == 0
    capsys.readouterr()
    assert main(["report", str(out), "--json", "--pareto", "tokens_per_s,area_mm2"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["objectives"] == {"tokens_per_s": "max", "area_mm2": "min"}
    df = analyse_sweep(out).frame
    assert sorted(rep["pareto_keys"]) == sorted(
        df.loc[pareto_mask(df, rep["objectives"]), "key"])


GPU_SPEC = """
[sweep]
name = "gpu"

[fixed]
hardware = "a100-80gb"

[axes]
tree = ["chain-3", "eagle-25"]

[[workloads]]
preset = "eagle-vicuna-7b-mtbench"
requests = 1
steps = 4
"""


def test_report_refuses_what_the_results_cannot_answer(tmp_path, capsys):
    """A front over a metric the hardware lacks (a GPU has no area), and a sweep.json
    naming an axis or key the results do not have, are errors, not empty output."""
    out = tmp_path / "res"
    assert main(["sweep", str(write_spec(tmp_path, GPU_SPEC)), "--out", str(out),
                 "--workers", "1", "--json"]) == 0
    capsys.readouterr()
    assert main(["report", str(out), "--pareto", "tokens_per_s:max,area_mm2:min"]) == 2
    err = capsys.readouterr().err
    assert "field '--pareto'" in err and "area_mm2 has no finite value" in err
    meta_path = out / "sweep.json"
    meta = json.loads(meta_path.read_text())
    for edited, field in (({**meta, "axes": ["tree", "bogus_axis"]}, "axes"),
                          ({**meta, "bogus": 1}, "bogus")):
        meta_path.write_text(json.dumps(edited))
        assert main(["report", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"sweep.json: field '{field}'" in err and err.count("\n") == 1


def test_a_point_the_simulator_refuses_stops_the_sweep_before_it_writes(tmp_path, capsys):
    """A 4-node verify unit for the preset's 26-node tree: one line naming the spec's line
    and axis, no results folder, so a later sweep to the same --out runs."""
    out = tmp_path / "res"
    bad = write_spec(tmp_path, TINY.replace("array_rows = [32, 64]", "tree_nodes = [4]"),
                     "bad.toml")
    assert main(["sweep", str(bad), "--out", str(out), "--workers", "1", "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"specaccel: error: {bad}: line 6: field 'axes.tree_nodes': invalid design "
                   "point (tree_nodes = 4): the trace has a 26-node tree but the verify unit "
                   "of specaccel-default takes at most 4 nodes; set the accelerator's "
                   "tree_nodes to at least 26")
    assert not out.exists()
    good = write_spec(tmp_path, TINY)
    assert main(["sweep", str(good), "--out", str(out), "--workers", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stored"] == 2
