"""Sweep spec parsing: axes kinds, points, keys, and line-precise errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from sweep_helpers import TOY_SPEC, write_spec

from specaccel.analysis.sweep_spec import load_spec, point_key
from specaccel.schema.errors import InputError


def test_grid_points_are_the_cartesian_product(toy_spec):
    pts = toy_spec.points()
    assert len(pts) == 4 * 3 * 2
    combos = {(p["array_rows"], p["sram_mib"], p["clock_hz"]) for p in pts}
    assert len(combos) == 24
    assert {p["sram_mib"] for p in pts} == {96, 128, 160}
    assert all(p["preset"] == "eagle-vicuna-7b-mtbench" and p["steps"] == 10 for p in pts)
    assert [c.describe() for c in toy_spec.constraints] == ["area_mm2 <= 60"]


def test_keys_are_distinct_stable_and_cover_the_configuration(toy_spec):
    pts = toy_spec.points()
    keys = [point_key(p, toy_spec.settings) for p in pts]
    assert len(set(keys)) == len(keys)
    assert keys == [point_key(dict(reversed(list(p.items()))), toy_spec.settings) for p in pts]
    changed = dict(pts[0], steps=11)
    assert point_key(changed, toy_spec.settings) != keys[0]


def test_random_axes_are_seeded(tmp_path):
    body = TOY_SPEC.replace("clock_hz = [0.8e9, 1.2e9]",
                            "clock_hz = { low = 0.8e9, high = 1.6e9, samples = 3 }")
    a = load_spec(write_spec(tmp_path, body)).points()
    b = load_spec(write_spec(tmp_path, body, "b.toml")).points()
    assert a == b and len(a) == 36
    clocks = {p["clock_hz"] for p in a}
    assert len(clocks) == 3 and all(0.8e9 <= c <= 1.6e9 for c in clocks)
    rnd = body.replace('[constraints]', '[search]\nstrategy = "random"\nsamples = 7\n'
                       'seed = 3\n\n[constraints]')
    pts = load_spec(write_spec(tmp_path, rnd, "c.toml")).points()
    assert len(pts) == 7
    assert all(p["array_rows"] in (16, 32, 64, 128) for p in pts)


def _error(tmp_path, body: str) -> InputError:
    path = write_spec(tmp_path, body, "bad.toml")
    with pytest.raises(InputError) as ei:
        load_spec(path)
    assert ei.value.file == str(path)
    return ei.value


@pytest.mark.parametrize(("old", "new", "line", "field", "reason"), [
    ("array_rows = [16, 32, 64, 128]", "array_rows = [16, -32]", 7, "axes.array_rows",
     "must be >= 1, not -32"),
    ("array_rows = [16, 32, 64, 128]", "pe_rows = [16, 32]", 7, "axes.pe_rows",
     "unknown parameter"),
    ('metrics = ["tokens_per_s"', 'metrics = ["tokens_per_sec"', 3, "sweep.metrics",
     "unknown metric"),
    ("area_mm2 = 60", "area_mm2 = { under = 60 }", 17, "constraints.area_mm2",
     "must be a number"),
    ("steps = 10", "steps = 0", 14, "workloads[0].steps", "must be an integer >= 1"),
    ('preset = "eagle-vicuna-7b-mtbench"', 'preset = "no-such-preset"', 12,
     "workloads[0].preset", "no-such-preset"),
    ("sram_mib = { start = 96, stop = 160, step = 32 }",
     "sram_mib = { start = 160, stop = 96, step = 32 }", 8, "axes.sram_mib", "start <= stop"),
    ("clock_hz = [0.8e9, 1.2e9]", "clock_hz = { low = 1e9, high = 2e9 }", 9, "axes.clock_hz",
     "needs 'samples'"),
    ("batch_size = 5", "batch_size = 0", 4, "sweep.batch_size", ">= 1"),
    ("steps = 10", "steps = 10\nseed = -1", 15, "workloads[0].seed", ">= 0, not -1"),
    ('name = "toy"', "name = 5", 2, "sweep.name", "a non-empty string, not 5"),
])
def test_schema_errors_name_line_and_field(tmp_path, old, new, line, field, reason):
    assert old in TOY_SPEC
    err = _error(tmp_path, TOY_SPEC.replace(old, new))
    assert err.where == (f"line {line}",), err.message
    assert err.field == field
    assert reason in err.reason


def test_toml_syntax_error_has_line_and_column(tmp_path):
    err = _error(tmp_path, TOY_SPEC.replace("clock_hz = [0.8e9, 1.2e9]", "clock_hz = [0.8e9,"))
    assert err.where[0].startswith("line ") and err.where[1].startswith("column ")
    assert "invalid TOML" in err.reason


def test_structural_errors(tmp_path):
    err = _error(tmp_path, TOY_SPEC.replace("[[workloads]]", "[[workload]]"))
    assert err.field == "workload" and err.where == ("line 11",)
    no_wl = TOY_SPEC[:TOY_SPEC.index("[[workloads]]")]
    assert "[[workloads]]" in _error(tmp_path, no_wl).reason
    gpu = TOY_SPEC.replace('[axes]', '[fixed]\nhardware = "a100-80gb"\n\n[axes]')
    err = _error(tmp_path, gpu)
    assert err.field == "axes.array_rows" and "GPU preset" in err.reason
    err = _error(tmp_path, TOY_SPEC.replace('[axes]', '[fixed]\narray_rows = 8\n\n[axes]'))
    assert "both fixed and an axis" in err.reason
    err = _error(tmp_path, TOY_SPEC.replace("steps = 10", "steps = 10\ncolour = 1"))
    assert err.field == "workloads[0].colour" and err.where == ("line 15",)


def test_an_empty_workloads_array_is_blamed_on_workloads(tmp_path):
    """`workloads = []` is a spec without a workload, not an empty axis."""
    no_wl = TOY_SPEC[:TOY_SPEC.index("[[workloads]]")]
    err = _error(tmp_path, "workloads = []\n" + no_wl)
    assert err.field == "workloads" and err.where == ("line 1",)
    assert "at least one [[workloads]] entry" in err.reason


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_spec(tmp_path / "nope.toml")


def test_rules_between_parameters_are_checked_per_point(tmp_path):
    body = TOY_SPEC.replace("sram_mib = { start = 96, stop = 160, step = 32 }",
                            "sram_mib = [64, 96]")
    err = _error(tmp_path, body)
    assert err.field == "axes.weight_sram_mib" or err.field == "fixed.weight_sram_mib"
    assert "sram_mib = 64" in err.reason and "weight_sram_mib must be <= sram_mib" in err.reason


@pytest.mark.parametrize(("old", "new", "line", "field", "reason"), [
    # the fast path cannot run a serving point with prefill
    ('batch_size = 5', 'batch_size = 5\nengine = "fast"', 5, "sweep.engine",
     "(max_batch = 2, array_rows = 16, sram_mib = 96, clock_hz = 800000000.0): the fast "
     "path is not exact"),
    # the preset's 26-node tree does not fit a 4-node verify unit
    ("clock_hz = [0.8e9, 1.2e9]", "clock_hz = [0.8e9, 1.2e9]\ntree_nodes = [32, 4]", 10,
     "axes.tree_nodes", "tree_nodes = 4): the trace has a 26-node tree"),
    # a swept tree larger than the default 64-node verify unit
    ("clock_hz = [0.8e9, 1.2e9]", 'clock_hz = [0.8e9, 1.2e9]\ntree = ["chain-3", "4-ary-4"]',
     10, "axes.tree", "tree = '4-ary-4'): the trace has a 341-node tree"),
    # the preset's EAGLE head is 4096 wide, llama-2-70b 8192
    ("clock_hz = [0.8e9, 1.2e9]", 'clock_hz = [0.8e9, 1.2e9]\ntarget = ["llama-2-70b"]', 10,
     "axes.target", "target = 'llama-2-70b'): draft eagle-head-vicuna-7b is an EAGLE head"),
])
def test_what_the_simulation_checks_is_checked_per_point_up_front(tmp_path, old, new, line,
                                                                   field, reason):
    """The simulator's own up-front checks run on every point when the spec loads, and a
    failure names the spec entry and the point, not an internal field mid-sweep."""
    body = TOY_SPEC.replace(old, new)
    if "fast" in new:
        body = body.replace("[axes]", "[axes]\nmax_batch = [2]")
    err = _error(tmp_path, body)
    assert (err.field, err.where) == (field, (f"line {line}",)), err.message
    assert reason in err.reason


EXAMPLES = sorted((Path(__file__).parents[2] / "examples" / "sweeps").glob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_shipped_examples_validate(path):
    spec = load_spec(path)
    pts = spec.points()
    assert len(pts) >= 10
    assert len({point_key(p, spec.settings) for p in pts}) == len(pts)


def test_examples_exist():
    assert {p.stem for p in EXAMPLES} >= {"pe_array_grid", "tree_budget_per_hardware",
                                          "random_search", "successive_halving"}


def test_trace_file_workloads(tmp_path):
    from specaccel.workloads import generate_trace, write_trace

    write_trace(generate_trace("eagle-vicuna-7b-mtbench", n_requests=1, steps_per_request=3),
                tmp_path / "t.parquet")
    body = TOY_SPEC.replace('preset = "eagle-vicuna-7b-mtbench"\nrequests = 2\nsteps = 10',
                            'trace = "t.parquet"')
    spec = load_spec(write_spec(tmp_path, body))
    p = spec.points()[0]
    assert p["trace_file"] == str(tmp_path / "t.parquet") and p["workload"] == "t"
    key = point_key(p, spec.settings)
    write_trace(generate_trace("eagle-vicuna-7b-mtbench", n_requests=1, steps_per_request=4),
                tmp_path / "t.parquet")
    from specaccel.analysis import sweep_spec

    sweep_spec._SHA_CACHE.clear()
    assert point_key(p, spec.settings) != key           # the key follows the file content
    err = _error(tmp_path, body.replace("[axes]", "[axes]\ntree = [\"chain-2\"]"))
    assert err.field == "axes.tree" and "trace file" in err.reason
    err = _error(tmp_path, body.replace('trace = "t.parquet"', 'trace = "missing.parquet"'))
    assert err.field == "workloads[0].trace" and err.where == ("line 12",)


def test_a_workload_whose_draft_cannot_draft_for_its_target_is_refused_at_parse_time(
        tmp_path):
    """A 128k-vocabulary target under a preset whose EAGLE head has 32k tokens: refused
    before the sweep runs, on the field the user set; with a matching head it loads."""
    body = TOY_SPEC.replace('preset = "eagle-vicuna-7b-mtbench"',
                            'preset = "eagle-vicuna-7b-mtbench"\ntarget = "llama-3-8b"')
    err = _error(tmp_path, body)
    assert err.field == "workloads[0].target"
    assert "vocabulary of 32000 tokens but target llama-3-8b has 128256" in err.reason
    assert "set 'draft'" in err.reason
    err = _error(tmp_path, body.replace('target = "llama-3-8b"',
                                        'target = "llama-3-8b"\ndraft = "eagle-head-vicuna-13b"'))
    assert err.field == "workloads[0].draft" and "vocabulary" in err.reason
    ok = body.replace('target = "llama-3-8b"',
                      'target = "llama-3-8b"\ndraft = "eagle-head-llama-3-8b"')
    spec = load_spec(write_spec(tmp_path, ok, "ok.toml"))
    assert {p["draft"] for p in spec.points()} == {"eagle-head-llama-3-8b"}


DRAFT_FREE = TOY_SPEC.replace('preset = "eagle-vicuna-7b-mtbench"',
                              'preset = "prompt-lookup-vicuna-7b-specbench"')


@pytest.mark.parametrize(("old", "new", "line", "field", "reason"), [
    ("[axes]", "[axes]\noverlap_draft = [true, false]", 7, "axes.overlap_draft",
     "it drafts one micro-batch while the other verifies"),
    ("[axes]", '[axes]\ndraft = ["llama-68m", "vicuna-68m"]', 7, "axes.draft",
     "it names the draft model"),
    ("[axes]", "[fixed]\npipelined = true\n\n[axes]", 7, "fixed.pipelined",
     "it pre-drafts the next tree"),
])
def test_draft_parameters_on_draft_free_workloads_are_refused(tmp_path, old, new, line,
                                                              field, reason):
    """What simulate refuses on a draft-free trace, a sweep refuses when no workload
    runs a draft model: the entry would do nothing at any point."""
    err = _error(tmp_path, DRAFT_FREE.replace(old, new))
    assert (err.field, err.where) == (field, (f"line {line}",)), err.message
    assert reason in err.reason
    assert "the sweep's workloads (drafting 'draft-free') run no draft model" in err.reason
    # with a workload that runs a draft model too, the entry applies there
    mixed = TOY_SPEC.replace(old, new) + DRAFT_FREE[DRAFT_FREE.index("[[workloads]]"):
                                                   DRAFT_FREE.index("[constraints]")]
    assert len(load_spec(write_spec(tmp_path, mixed, "mixed.toml")).workloads) == 2


def test_a_draft_for_a_draft_free_trace_workload_is_refused(tmp_path):
    from specaccel.workloads import generate_trace, write_trace

    write_trace(generate_trace("prompt-lookup-vicuna-7b-specbench", n_requests=1,
                               steps_per_request=2), tmp_path / "pl.parquet")
    body = TOY_SPEC.replace('preset = "eagle-vicuna-7b-mtbench"\nrequests = 2\nsteps = 10',
                            'trace = "pl.parquet"\ndraft = "llama-68m"')
    err = _error(tmp_path, body)
    assert (err.field, err.where) == ("workloads[0].draft", ("line 13",)), err.message
    assert err.reason == ("it names the draft model, but the workload's drafting "
                          "'draft-free' runs no draft model")


@pytest.mark.parametrize(("old", "new", "field", "line", "other"), [
    ("[axes]", '[fixed]\ntree = "chain-3"\n\n[axes]', "fixed.tree", 7, "tree, line 18"),
    ("[axes]", "[axes]\nsteps = [5, 20]", "axes.steps", 7, "steps, line 15"),
])
def test_a_setting_given_in_a_workload_and_in_fixed_or_axes_is_refused(tmp_path, old, new,
                                                                        field, line, other):
    """[fixed] and the axes override a workload's value in every point: giving both
    would drop one silently."""
    body = TOY_SPEC.replace(old, new).replace("steps = 10", 'steps = 10\ntree = "chain-4"')
    err = _error(tmp_path, body)
    assert (err.field, err.where) == (field, (f"line {line}",)), err.message
    assert err.reason == (f"is also set by [[workloads]] entry 0 (workloads[0].{other}); "
                          "set it in one place")


RANDOM = TOY_SPEC.replace("[constraints]", '[search]\nstrategy = "random"\nsamples = 4\n\n'
                          "[constraints]")


@pytest.mark.parametrize(("body", "field", "reason"), [
    (RANDOM.replace("samples = 4", "samples = 4\neta = 3"), "search.eta",
     'is for strategy = "successive-halving" (its rungs), not \'random\''),
    (RANDOM.replace("samples = 4", "samples = 4\nmin_steps = 3"), "search.min_steps",
     'is for strategy = "successive-halving" (its rungs), not \'random\''),
    (TOY_SPEC.replace("[constraints]", "[search]\nseed = 4\n\n[constraints]"),
     "search.seed", "a grid sweep draws nothing from it"),
    (RANDOM.replace("clock_hz = [0.8e9, 1.2e9]", "clock_hz = { low = 0.8e9, high = 1.6e9, "
                    "seed = 3 }"), "axes.clock_hz", "'seed' seeds the axis's 'samples'"),
])
def test_search_settings_the_strategy_does_not_use_are_refused(tmp_path, body, field, reason):
    err = _error(tmp_path, body)
    assert err.field == field and err.where and reason in err.reason, err.message


def test_search_settings_the_strategy_uses_load(tmp_path):
    """[search] seed seeds a grid's sampled axis; `samples` on a random sweep's
    {low, high} axis draws every design's value from that many seeded values."""
    sampled = "clock_hz = { low = 0.8e9, high = 1.6e9, samples = 3 }"
    grid = TOY_SPEC.replace("clock_hz = [0.8e9, 1.2e9]", sampled).replace(
        "[constraints]", "[search]\nseed = 4\n\n[constraints]")
    assert len(load_spec(write_spec(tmp_path, grid, "g.toml")).points()) == 36
    rnd = RANDOM.replace("clock_hz = [0.8e9, 1.2e9]", sampled).replace("samples = 4",
                                                                       "samples = 30")
    assert len({p["clock_hz"] for p in load_spec(write_spec(tmp_path, rnd)).points()}) <= 3
