"""PPD, the method added to prove the registry: declared in one module, it is a preset of
`trace gen`, `specaccel methods`, `run` and sweeps, and its trace prices its prompt tokens."""

from __future__ import annotations

import json

import pytest

from specaccel.cli import main
from specaccel.models.golden import verify_trace
from specaccel.sim import simulate_named
from specaccel.workloads import PRESETS, generate_trace, get_method, get_preset
from specaccel.workloads.method_ppd import PPD_PROMPT_TOKENS_105, PPD_TREE_105


def test_ppd_is_a_draft_free_method_with_a_calibrated_preset():
    method = get_method("ppd")
    assert method.drafting.name == "draft-free" and not method.drafting.runs_draft_model
    preset = method.default_preset()
    assert preset.name == "ppd-vicuna-7b-mtbench" and preset in PRESETS.declared()
    assert preset.shape.n_nodes == len(PPD_TREE_105) + 1 == 35
    assert len(PPD_TREE_105) + PPD_PROMPT_TOKENS_105 == 105     # PPD's input length
    assert preset.published_tau == 2.39
    assert preset.model_tau() == pytest.approx(2.39, rel=1e-6)


def test_ppd_trace_matches_its_tau_and_charges_the_prompt_tokens():
    trace = generate_trace("ppd-vicuna-7b-mtbench", n_requests=8, steps_per_request=200,
                           seed=2)
    assert float(verify_trace(trace).committed.mean()) == pytest.approx(2.39, rel=0.05)
    assert trace.metadata["extra_query_tokens_per_step"] == 71
    res = simulate_named(trace, "a100-80gb", engine="fast")
    plain = dict(trace.metadata)
    del plain["extra_query_tokens_per_step"]
    trace.metadata = plain
    without = simulate_named(trace, "a100-80gb", engine="fast")
    assert res.draft == "none" and res.speedup < without.speedup   # the riders cost time


def test_ppd_reaches_the_command_line(tmp_path, capsys):
    assert main(["trace", "gen", "--method", "ppd", "--requests", "2", "--steps", "4",
                 "-o", str(tmp_path / "p.parquet"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["preset"] == get_preset(
        "ppd-vicuna-7b-mtbench").name
    assert main(["methods", "ppd", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["methods"][0]
    assert listed["presets"][0]["published_tau"] == 2.39
