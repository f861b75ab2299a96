"""`specaccel cost --pass diffusion-block`: the diffusion LM's block pass on the CLI."""

from __future__ import annotations

import json

import pytest

from specaccel.cli import main
from specaccel.models.cost import get_hardware, get_model
from specaccel.models.cost.diffusion_block_pass import block_pass_costs


def _run(capsys, argv):
    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.mark.parametrize("cache", ["dual", "prefix", "none"])
def test_json_is_the_cost_models_block_pass(capsys, cache):
    code, out, err = _run(capsys, ["cost", "--model", "llada-8b", "--hw", "h100-sxm",
                                   "--pass", "diffusion-block", "--block-size", "32",
                                   "--context", "192", "--suffix", "160", "--cache", cache,
                                   "--json"])
    assert code == 0 and err == ""
    r = json.loads(out)
    want = block_pass_costs(get_model("llada-8b"), get_hardware("h100-sxm"), block_size=32,
                            prefix=192, suffix=160, cache=cache)
    for key in ("latency_s", "energy_j", "flops", "bytes"):
        assert r[key] == pytest.approx(float(want[key][0]), rel=1e-9)
    assert (r["pass"], r["block_size"], r["prefix"], r["suffix"], r["cache"]) == (
        "diffusion-block", 32, 192, 160, cache)
    assert r["phase"] == "verify" and r["tree"] is False
    tokens = {"dual": 32, "prefix": 32 + 160, "none": 192 + 32 + 160}[cache]
    assert r["tokens"] == tokens and any(e["name"] == "attention" for e in r["breakdown"])


def test_human_output_names_the_block_and_defaults(capsys):
    code, out, _ = _run(capsys, ["cost", "--model", "llada-8b", "--pass", "diffusion-block",
                                 "--block-size", "64"])
    assert code == 0
    first = out.splitlines()[0]
    assert first == ("diffusion block pass: block 64, prefix 1024, suffix 0, dual cache "
                     "(bidirectional, no mask)")
    assert "verify, tokens 64, context 1024" in out


def test_forward_pass_reports_its_kind(capsys):
    code, out, _ = _run(capsys, ["cost", "--json"])
    r = json.loads(out)
    assert code == 0 and r["pass"] == "forward" and r["phase"] == "decode"


@pytest.mark.parametrize("argv, flag", [
    (["--pass", "diffusion-block"], "--block-size"),
    (["--pass", "diffusion-block", "--block-size", "0"], "--block-size"),
    (["--pass", "diffusion-block", "--block-size", "8", "--suffix", "-1"], "--suffix"),
    (["--pass", "diffusion-block", "--block-size", "8", "--context", "1,2"], "--context"),
    (["--pass", "diffusion-block", "--block-size", "8", "--tokens", "3"], "--tokens"),
    (["--pass", "diffusion-block", "--block-size", "8", "--phase", "prefill"], "--phase"),
    (["--pass", "diffusion-block", "--block-size", "8", "--no-tree"], "--no-tree"),
    (["--block-size", "8"], "--block-size"),
    (["--cache", "none"], "--cache"),
    (["--suffix", "3", "--json"], "--suffix"),
])
def test_bad_input_is_one_line_naming_the_option(capsys, argv, flag):
    code, out, err = _run(capsys, ["cost", *argv])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and flag in err and "Traceback" not in err


def test_help_describes_the_block_pass(capsys):
    with pytest.raises(SystemExit) as done:
        main(["cost", "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    assert "--pass {forward,diffusion-block}" in out and "--block-size B" in out
    assert "bidirectional" in out and "llada-8b" in out
