"""validate_trace: every class of bad input gives one InputError at the first bad place."""

import copy

import numpy as np
import pytest

from specaccel.schema.errors import InputError
from specaccel.workloads import generate_trace, validate_trace


@pytest.fixture(scope="module")
def greedy():
    return generate_trace("eagle-vicuna-7b-mtbench", n_requests=3, steps_per_request=4, seed=1)


@pytest.fixture(scope="module")
def stochastic():
    return generate_trace("eagle-vicuna-7b-mtbench-t1", n_requests=3, steps_per_request=4, seed=1)


def _node(trace, r, k, i):
    """Flat index of node i of step k of request r."""
    s = int(trace.request_step_offsets[r]) + k
    return int(trace.step_node_offsets[s]) + i


def _error(trace, file="t.parquet"):
    with pytest.raises(InputError) as exc:
        validate_trace(trace, file=file)
    return exc.value


def test_generated_traces_are_valid(greedy, stochastic):
    """The generators' output passes, and it really has the properties validate checks
    (read off the columns here, not through the validator)."""
    for trace in (greedy, stochastic):
        validate_trace(trace)
        off = trace.step_node_offsets
        for s in range(trace.n_steps):
            parent = trace.nodes["parent"][off[s]:off[s + 1]]
            assert parent[0] == -1
            assert np.all((parent[1:] >= 0) & (parent[1:] < np.arange(1, parent.size)))
        for col in ("draft_prob", "target_prob"):
            v = trace.nodes[col]
            assert np.all((v >= 0) & (v <= 1)), col
    u = stochastic.nodes["uniform"]
    roots = stochastic.nodes["parent"] < 0
    assert np.all(np.isnan(u[roots])) and np.all((u[~roots] >= 0) & (u[~roots] < 1))
    assert np.all(np.isnan(greedy.nodes["uniform"]))
    assert np.all(stochastic.nodes["draft_prob"][~roots] > 0)  # u * q < p needs q > 0


@pytest.mark.parametrize("field, index, value, text", [
    ("parent", 0, 0, "parent[0] must be -1"),
    ("parent", 5, 5, "parent[5] must be in [0, 5), not 5"),
    ("parent", 7, 9, "parent[7] must be in [0, 7), not 9"),
    ("parent", 3, -2, "parent[3] must be in [0, 3), not -2"),
    ("draft_prob", 4, -0.1, "draft_prob[4] = -0.1 is not a probability"),
    ("target_prob", 2, 1.5, "target_prob[2] = 1.5 is not a probability"),
    ("draft_prob", 6, np.nan, "draft_prob[6] is NaN"),
    ("uniform", 6, 1.0, "uniform[6] = 1.0 is not in [0, 1)"),
    ("token", 3, -7, "token[3] = -7 is not a token id"),
    ("target_token", 0, -1, "target_token[0] = -1 is not a token id"),
])
def test_node_errors_name_request_step_field(greedy, field, index, value, text):
    bad = copy.deepcopy(greedy)
    bad.nodes[field][_node(bad, 1, 2, index)] = value
    err = _error(bad)
    assert err.where == ("request r00001", "step 2")
    assert err.field == field
    assert text in err.reason
    assert err.message.startswith("t.parquet: request r00001: step 2: field")
    assert "\n" not in err.message


def test_stochastic_needs_uniforms_and_positive_q(greedy, stochastic):
    bad = copy.deepcopy(stochastic)
    bad.nodes["uniform"][_node(bad, 2, 3, 4)] = np.nan
    err = _error(bad)
    assert (err.where, err.field) == (("request r00002", "step 3"), "uniform")
    assert "missing" in err.reason
    bad = copy.deepcopy(stochastic)
    bad.nodes["draft_prob"][_node(bad, 0, 1, 9)] = 0.0
    err = _error(bad)
    assert (err.where, err.field) == (("request r00000", "step 1"), "draft_prob")
    assert "q > 0" in err.reason
    # greedy traces need neither
    relaxed = copy.deepcopy(greedy)
    relaxed.nodes["draft_prob"][_node(relaxed, 0, 1, 9)] = 0.0
    validate_trace(relaxed)


def test_first_bad_location_wins(greedy):
    bad = copy.deepcopy(greedy)
    bad.nodes["target_prob"][_node(bad, 2, 0, 3)] = 2.0  # later
    bad.nodes["parent"][_node(bad, 1, 1, 8)] = 8  # earlier, checked earlier in the list too
    bad.nodes["uniform"][_node(bad, 1, 1, 2)] = -1.0  # earliest
    err = _error(bad)
    assert (err.where, err.field) == (("request r00001", "step 1"), "uniform")


def test_structural_errors(greedy):
    bad = copy.deepcopy(greedy)
    bad.nodes["token"] = bad.nodes["token"][:-1]
    assert _error(bad).field == "token"

    bad = copy.deepcopy(greedy)
    bad.step_node_offsets = bad.step_node_offsets.copy()
    bad.step_node_offsets[3] = bad.step_node_offsets[5]
    err = _error(bad)
    assert err.field == "step_node_offsets" and "must not decrease" in err.reason

    bad = copy.deepcopy(greedy)
    bad.step_node_offsets = bad.step_node_offsets.copy()
    bad.step_node_offsets[6] = bad.step_node_offsets[5]
    err = _error(bad)
    assert err.where == ("request r00001", "step 1") and "no nodes" in err.reason

    bad = copy.deepcopy(greedy)
    bad.prompt_len[2] = 0
    err = _error(bad)
    assert (err.where, err.field) == (("request r00002",), "prompt_len")

    bad = copy.deepcopy(greedy)
    bad.verification = "typical"
    err = _error(bad)
    assert err.field == "verification" and "typical" in err.reason

    bad = copy.deepcopy(greedy)
    bad.schema_version = 99
    assert _error(bad).field == "schema_version"

    bad = copy.deepcopy(greedy)
    bad.request_id[2] = bad.request_id[0]
    assert _error(bad).field == "request_id"

    bad = copy.deepcopy(greedy)
    bad.recorded_accepted[4] = 26
    err = _error(bad)
    assert (err.where, err.field) == (("request r00001", "step 0"), "recorded_accepted")

    bad = copy.deepcopy(greedy)
    bad.arrival_s[1] = np.nan
    assert _error(bad).field == "arrival_s"

    # finite, but so late that the simulator's float64 clock cannot resolve a latency
    bad = copy.deepcopy(greedy)
    bad.arrival_s[2] = 1e300
    err = _error(bad)
    assert (err.where, err.field) == (("request r00002",), "arrival_s")
    assert "must be <= 1e+09 s" in err.reason
    bad.arrival_s[2] = 1e9                     # the limit itself is a valid arrival
    validate_trace(bad)


def test_million_node_trace_finds_an_error_in_the_last_step():
    big = generate_trace("eagle-vicuna-7b-mtbench", n_requests=400, steps_per_request=100, seed=0)
    assert big.n_nodes > 1_000_000
    validate_trace(big)
    big.nodes["parent"][-1] = 30
    err = _error(big)
    assert err.where == ("request r00399", "step 99") and err.field == "parent"


@pytest.mark.parametrize("edit, field, text", [
    (lambda m: m.update(bogus=1), "metadata.bogus", "unknown key"),
    (lambda m: m["tree"].update(bogus=1), "metadata.tree.bogus", "unknown key"),
    (lambda m: m["tree"].update(nodes=3), "metadata.tree.nodes",
     "is 3, but the trace's largest tree has 26 nodes"),
    (lambda m: m["tree"].update(draft_tokens=7), "metadata.tree.draft_tokens", "drafts 25"),
    (lambda m: m["tree"].update(level_sizes=[1, 4, 8]), "metadata.tree.level_sizes",
     "add up to 13"),
    (lambda m: m["tree"].update(depth=2), "metadata.tree.level_sizes", "has 6 levels"),
    (lambda m: m.update(published_tau="abc"), "metadata.published_tau",
     "must be a number or null, not 'abc'"),
    (lambda m: m.update(published_tau=0.5), "metadata.published_tau", "must be >= 1"),
    (lambda m: m.update(seed=-1), "metadata.seed", "must be >= 0"),
    (lambda m: m.update(seed=True), "metadata.seed", "must be an integer"),
    (lambda m: m.update(drafting=3), "metadata.drafting", "must be a string"),
    (lambda m: m.update(calibration_scale=float("nan")), "metadata.calibration_scale",
     "finite"),
])
def test_metadata_keys_are_a_closed_set_of_checked_values(greedy, edit, field, text):
    bad = copy.deepcopy(greedy)
    edit(bad.metadata)
    err = _error(bad)
    assert err.field == field and text in err.reason
    assert err.message.startswith(f"t.parquet: field '{field}'")


def test_metadata_that_is_not_an_object_is_an_error(greedy):
    bad = copy.deepcopy(greedy)
    bad.metadata = [1, 2]
    assert _error(bad).field == "metadata"
