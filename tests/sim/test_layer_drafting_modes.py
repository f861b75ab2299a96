"""Self-drafting (LayerSkip, DEL), early exit (CALM) and block diffusion (LLaDA with a
block cache) priced through the step-cost door: each simulates from the command line, and
each step's cost is what the method physically runs."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from specaccel.cli import main
from specaccel.models.cost import get_hardware, get_model, pass_costs
from specaccel.models.cost.diffusion_block_pass import diffusion_decode_costs
from specaccel.models.cost.drafting import drafting_mode
from specaccel.models.cost.early_exit_pass import early_exit_token_costs
from specaccel.schema.errors import InputError
from specaccel.schema.trace import metadata_of_steps
from specaccel.sim import simulate, simulate_named
from specaccel.sim.engines import run_engine
from specaccel.sim.options import ServingConfig
from specaccel.sim.result import build_result
from specaccel.sim.step_input import StepInput
from specaccel.workloads import get_method, get_preset
from specaccel.workloads.method_calm import calm_trace, sample_calm
from specaccel.workloads.method_diffusion import DiffusionDecoder, diffusion_trace

A100 = get_hardware("a100-80gb")
LAYERSKIP = get_model("layerskip-llama2-1.5b")
MODES = {"self-speculation": "self-draft", "del": "self-draft", "calm": "early-exit",
         "diffusion-llm": "block-diffusion"}


def _costs(trace, hw=A100, target=LAYERSKIP):
    """The batch-1 step costs of `trace` from the door (one block)."""
    inp = StepInput.of(trace, hw=hw, target=target, draft=None)
    return next(inp.blocks()).costs


@pytest.mark.parametrize("method", sorted(MODES))
def test_each_method_simulates_from_the_command_line(method, tmp_path, capsys):
    preset = get_method(method).default_preset()
    path = tmp_path / "t.parquet"
    argv = ["trace", "gen", "--method", method, "--requests", "2", "-o", str(path)]
    assert main(argv + (["--steps", "16"] if preset.sized_by_steps else [])) == 0
    capsys.readouterr()
    assert main(["simulate", "--trace", str(path), "--hw", "a100-80gb", "--baseline",
                 "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["drafting"] == MODES[method]
    assert got["draft"] in ("none", got["target"])   # no separate draft model
    assert got["tokens_per_s"] > got["baseline"]["tokens_per_s"] > 0
    # a serving run of these steps is refused (batching their rows is not modelled)
    assert main(["simulate", "--trace", str(path), "--hw", "a100-80gb", "--arrivals",
                 "poisson:5"]) == 2
    assert "batch-1 replay only" in capsys.readouterr().err


SWEEP = """
[sweep]
metrics = ["tokens_per_s", "speedup", "mean_committed_per_step"]

[axes]
hardware = ["a100-80gb", "specaccel-default"]

[[workloads]]
method = "self-speculation"
requests = 2
steps = 8

[[workloads]]
method = "del"
requests = 2
steps = 8

[[workloads]]
method = "calm"
requests = 2
steps = 8

[[workloads]]
method = "diffusion-llm"
requests = 1
"""


def test_each_method_is_a_sweep_workload():
    from specaccel.analysis import design_point as dp
    from specaccel.analysis.sweep_spec import parse_spec

    spec = parse_spec(SWEEP, "m.toml")
    points = spec.points()
    assert len(points) == 8
    for p in points:
        got = dp.evaluate_point(p, spec.settings)
        assert got["tokens_per_s"] > 0 and got["speedup"] > 1.0, (p, got)
        calm = p["preset"].startswith("calm")
        assert (got["mean_committed_per_step"] == 1.0) == calm


def test_run_takes_a_formerly_unpriced_method(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["run", "--out", str(out), "--method", "calm", "--requests", "2",
                 "--steps", "8"]) == 0
    assert "tokens/s" in capsys.readouterr().out


# --------------------------------------------------------------------- self-drafting
def _self_spec(exit_layer: int | None = None, kept: list[int] | None = None,
               kv_reuse: bool | None = None):
    trace = get_preset("layerskip-e6").generate(n_requests=2, steps_per_request=12, seed=1)
    meta = trace.metadata
    if exit_layer is not None:
        meta["draft_layers"] = list(range(exit_layer))
        meta["kv_reuse"] = True
    if kept is not None:
        meta["draft_layers"] = kept
        meta["kv_reuse"] = False
    if kv_reuse is not None:
        meta["kv_reuse"] = kv_reuse
    return trace


def test_more_draft_layers_make_a_longer_draft_stage():
    draft = [_costs(_self_spec(e)).draft_s.sum() for e in (3, 6, 12, 18)]
    assert np.all(np.diff(draft) > 0)


def test_a_self_draft_pass_is_the_target_over_the_kept_layers():
    trace = _self_spec(6)
    c = _costs(trace)
    s = int(np.argmax(c.draft_passes))                  # a step with drafts
    gamma = int(c.draft_passes[s])
    ctx = c.context[s] + np.arange(gamma)
    want = pass_costs(LAYERSKIP, A100, tokens=np.ones(gamma), context=ctx, layers=6)
    assert c.draft_s[s] == pytest.approx(want["latency_s"].sum(), rel=1e-9)
    # verification reuses the draft's KV: the upper 18 layers over the chain, and the
    # lower 6 layers (no LM head) over the last draft token
    n = int(c.n_nodes[s])
    upper = pass_costs(LAYERSKIP, A100, tokens=n, context=c.context[s], layers=18)
    lower = [pass_costs(LAYERSKIP, A100, tokens=1, context=c.context[s] + n - 1,
                        layers=k)["latency_s"][0] for k in (6, 0)]
    assert c.target_s[s] == pytest.approx(upper["latency_s"][0] + lower[0] - lower[1],
                                          rel=1e-9)


def test_kv_reuse_saves_the_lower_layers_of_the_chain():
    reuse, no_reuse = (_costs(_self_spec(6, kv_reuse=r)) for r in (True, False))
    full = pass_costs(LAYERSKIP, A100, tokens=no_reuse.n_nodes, context=no_reuse.context)
    assert np.allclose(no_reuse.target_s, full["latency_s"], rtol=1e-9)
    drafted = reuse.n_nodes > 1
    assert np.all(reuse.target_flops[drafted] < no_reuse.target_flops[drafted])
    assert np.array_equal(reuse.draft_s, no_reuse.draft_s)


def test_a_skip_set_drafts_through_as_many_layers_as_it_keeps():
    prefix = _costs(_self_spec(12))
    middle = _costs(_self_spec(kept=[*range(6), *range(18, 24)]))
    assert middle.draft_s.sum() == pytest.approx(prefix.draft_s.sum(), rel=1e-9)
    with pytest.raises(InputError, match="kv_reuse"):
        _costs(_self_spec(kept=[0, 5, 9], kv_reuse=True))


def test_del_steps_that_exit_later_draft_longer():
    trace = get_preset("del-layerskip-1.5b").generate(n_requests=2, steps_per_request=48)
    c = _costs(trace)
    exits = np.array(trace.metadata["exit_layer"])
    per_pass = c.draft_s / np.maximum(c.draft_passes, 1)
    means = [per_pass[exits == e].mean() for e in np.unique(exits)]
    assert len(means) > 1 and np.all(np.diff(means) > 0)
    # the same numbers as DEL's own schedule model (its context is a fixed 256 tokens)
    step_s = np.array(trace.metadata["step_seconds"])
    total = c.draft_s + c.target_s
    assert total.sum() == pytest.approx(step_s.sum(), rel=0.05)


def test_blocks_keep_each_steps_exit_layer():
    trace = get_preset("del-layerskip-1.5b").generate(n_requests=4, steps_per_request=8)
    got = []
    for block in (10**6, 8):
        inp = StepInput.of(trace, hw=A100, target=LAYERSKIP, draft=None, block_steps=block)
        got.append(build_result(inp, run_engine(inp, "event")).makespan_s)
    assert got[0] == pytest.approx(got[1], rel=1e-12)
    part = trace.select_requests([2, 3])
    assert part.metadata["exit_layer"] == trace.metadata["exit_layer"][16:]
    assert metadata_of_steps({"seed": 1}, np.arange(2), 4) == {"seed": 1}


# --------------------------------------------------------------------- early exit
def _calm(threshold: float, n: int = 64):
    tokens = sample_calm(n, threshold, np.random.default_rng(4))
    trace = calm_trace(tokens, n_requests=2, threshold=threshold)
    trace.metadata.update(drafting="early-exit", target_model=LAYERSKIP.name)
    return trace


def test_an_early_exit_step_is_the_exit_pass_plus_the_state_propagation():
    trace = _calm(0.8)
    c = _costs(trace)
    exits = np.array(trace.metadata["exit_layer"])
    assert np.all(c.committed == 1)                     # the exit token alone, unverified
    for s in (0, 17, 40):
        want = early_exit_token_costs(LAYERSKIP, A100, int(exits[s]), context=c.context[s])
        assert c.target_s[s] == pytest.approx(want["latency_s"][0], rel=1e-9)
    full = pass_costs(LAYERSKIP, A100, tokens=1, context=c.context)["latency_s"]
    assert np.all(c.target_s[exits < 24] < full[exits < 24])
    assert np.allclose(c.target_s[exits == 24], full[exits == 24], rtol=1e-9)


def test_a_lower_threshold_exits_earlier_and_decodes_faster():
    res = {t: simulate(_calm(t, 256), hw=A100, target=LAYERSKIP, draft=None)
           for t in (1.0, 0.95, 0.6)}
    rates = [res[t].tokens_per_s for t in (1.0, 0.95, 0.6)]
    assert np.all(np.diff(rates) > 0)
    assert res[1.0].speedup == pytest.approx(1.0, rel=1e-9)  # every token the full model
    assert all(r.tokens == 256 for r in res.values())


# --------------------------------------------------------------------- block diffusion
def _diffusion(cache: str, block_size: int = 32):
    dec = DiffusionDecoder("fast-dllm", 0.9, block_size=block_size, gen_len=128)
    trace = diffusion_trace(dec, n_requests=2, seed=3, cache=cache)
    trace.metadata["drafting"] = "block-diffusion"
    return trace


@pytest.mark.parametrize("cache", ["dual", "prefix", "none"])
def test_diffusion_steps_cost_what_the_block_pass_model_says(cache):
    trace = _diffusion(cache)
    llada = get_model("llada-8b")
    c = _costs(trace, target=llada)
    want = diffusion_decode_costs(llada, A100, prompt_len=trace.prompt_len, gen_len=128,
                                  block_size=32, cache=cache,
                                  steps_per_block=np.array(trace.metadata["steps_per_block"]))
    per_req = np.add.reduceat(c.target_s, trace.request_step_offsets[:-1])
    assert np.allclose(per_req, want["latency_s"], rtol=1e-9)


def test_less_cache_costs_more_and_a_block_starts_with_a_full_pass():
    llada = get_model("llada-8b")
    totals = {k: _costs(_diffusion(k), target=llada).target_s.sum()
              for k in ("dual", "prefix", "none")}
    assert totals["dual"] < totals["prefix"] < totals["none"]
    trace = _diffusion("dual")
    c = _costs(trace, target=llada)
    starts = np.concatenate([[0], np.cumsum(trace.metadata["steps_per_block"])[:-1]])
    first = np.zeros(trace.n_steps, bool)
    first[starts] = True
    assert c.target_s[first].min() > c.target_s[~first].max()


def test_bad_mode_metadata_is_an_input_error():
    trace = _diffusion("dual")
    trace.metadata["block_size"] = 48                   # steps straddle its blocks
    with pytest.raises(InputError, match="block_size"):
        _costs(trace, target=get_model("llada-8b"))
    calm = _calm(0.9)
    calm.metadata["exit_layer"] = calm.metadata["exit_layer"][:-1]
    with pytest.raises(InputError, match="exit_layer"):
        _costs(calm)
    spec = _self_spec()
    del spec.metadata["draft_layers"]
    with pytest.raises(InputError, match="draft_layers"):
        _costs(spec)


def test_serving_and_software_stacks_are_refused_not_mispriced():
    trace = _calm(0.9)
    with pytest.raises(InputError, match="batch-1 replay only") as exc:
        simulate(trace, hw=A100, target=LAYERSKIP, draft=None,
                 serving=ServingConfig(max_batch=4))
    assert exc.value.field == "serving"
    from specaccel.models.cost.deployment_config import DeploymentConfig

    with pytest.raises(InputError, match="kernels alone"):
        simulate_named(trace, "a100-80gb", deployment=DeploymentConfig(stack="hf-eager"))
    assert not drafting_mode("early-exit").standard_steps
    assert replace(drafting_mode("self-draft"), name="x").self_drafts
