"""Presets: calibrated to the published tau of their named source, with the right metadata."""

import csv
from importlib import resources

import pytest

from specaccel.models.cost import list_models
from specaccel.models.cost.drafting import DRAFTING_MODES
from specaccel.models.golden import verify_trace
from specaccel.schema.errors import InputError
from specaccel.workloads import (
    DEFAULT_PRESET,
    AcceptanceModel,
    generate_trace,
    get_preset,
    list_presets,
)
from specaccel.workloads.presets import top_reach_tree

REQUIRED = {
    "eagle-vicuna-7b-mtbench": 3.94,
    "eagle-vicuna-7b-chain5-mtbench": 3.20,
    "specinfer-llama2-7b-c4": 3.96,
    "speculative-sampling-vicuna-7b-68m-specbench": 2.28,
    "eagle2-vicuna-7b-6task": 4.68,
    "eagle2-vicuna-7b-mtbench": 4.98,
    "eagle2-vicuna-7b-specbench": 4.34,
    "eagle2-vicuna-13b-6task": 4.65,
    "eagle3-vicuna-13b-specbench": 5.71,
    "medusa2-vicuna-7b-mtbench": 3.47,
    "medusa1-vicuna-7b-specbench": 2.31,
    "hydra-vicuna-7b-specbench": 3.26,
    "token-recycling-vicuna-7b-specbench": 2.73,
    "lookahead-vicuna-7b-specbench": 1.64,
    "prompt-lookup-vicuna-7b-specbench": 1.75,
    "rest-vicuna-7b-specbench": 1.82,
    "sequoia-llama2-7b-128n-d10-c4": 5.08,
    "sequoia-llama2-13b-64n-d9-c4": 4.20,
    "sequoia-llama2-7b-128n-d7-c4-t06": 3.92,
    # the Spec-Bench leaderboard's Vicuna-13B rows (Preset.for_target of the 7B presets)
    "speculative-sampling-vicuna-13b-68m-specbench": 2.19,
    "medusa1-vicuna-13b-specbench": 2.39,
    "hydra-vicuna-13b-specbench": 3.35,
    "eagle2-vicuna-13b-specbench": 4.43,
    "token-recycling-vicuna-13b-specbench": 2.73,
    "lookahead-vicuna-13b-specbench": 1.63,
    "prompt-lookup-vicuna-13b-specbench": 1.67,
    "rest-vicuna-13b-specbench": 1.82,
    # and its Vicuna-33B rows
    "speculative-sampling-vicuna-33b-68m-specbench": 2.01,
    "medusa1-vicuna-33b-specbench": 2.33,
    "hydra-vicuna-33b-specbench": 3.24,
    "eagle2-vicuna-33b-specbench": 4.05,
    # EAGLE-1 on the same leaderboard, at all three sizes
    "eagle-vicuna-7b-specbench": 3.58,
    "eagle-vicuna-13b-specbench": 3.64,
    "eagle-vicuna-33b-specbench": 3.39,
    "token-recycling-vicuna-33b-specbench": 2.62,
    "lookahead-vicuna-33b-specbench": 1.61,
    "prompt-lookup-vicuna-33b-specbench": 1.54,
    "rest-vicuna-33b-specbench": 1.80,
}
MODEL_NAMES = {"vicuna-7b", "vicuna-13b", "llama-2-7b", "llama-2-13b", "eagle-head-vicuna-7b",
               "eagle-head-vicuna-13b", "medusa-vicuna-7b", "medusa-vicuna-13b", "vicuna-68m",
               "llama-68m", "vicuna-33b", "eagle-head-vicuna-33b", "medusa-vicuna-33b"}


def test_required_presets_exist_with_published_tau():
    assert DEFAULT_PRESET == "eagle-vicuna-7b-mtbench"
    for name, tau in REQUIRED.items():
        assert name in list_presets()
        assert get_preset(name).published_tau == tau


def test_published_tau_comes_from_the_bundled_csv_row():
    rows = list(csv.DictReader(
        resources.files("specaccel.data").joinpath("acceptance.csv").read_text().splitlines()))
    for name in list_presets():
        p = get_preset(name)
        key = (r_key := p.source_row)[:5]
        row = next(r for r in rows if (r["method"], r["target"], r["draft_or_tree"],
                                       r["benchmark"], r["temperature"]) == key
                   and (len(r_key) == 5 or r["hardware"] == r_key[5]))
        assert float(row["tau"]) == p.published_tau


@pytest.mark.parametrize("name", sorted(list_presets()))
def test_generated_tau_within_5_percent_of_published(name):
    p = get_preset(name)
    tr = generate_trace(name, n_requests=40, steps_per_request=500, seed=2024)
    tau = verify_trace(tr).committed.mean()
    assert abs(tau / p.published_tau - 1) < 0.05
    assert p.model().expected_committed(p.shape) == pytest.approx(p.published_tau, rel=1e-6)


def test_metadata_and_defaults():
    tr = generate_trace(DEFAULT_PRESET, n_requests=3, steps_per_request=4, seed=9)
    p = get_preset(DEFAULT_PRESET)
    assert tr.n_requests == 3 and tr.n_steps == 12 and tr.n_nodes == 12 * 26
    for key in ("preset", "target_model", "draft_model", "drafting", "seed"):
        assert key in tr.metadata
    assert tr.metadata["preset"] == DEFAULT_PRESET and tr.metadata["seed"] == 9
    for name in list_presets():
        other = get_preset(name)
        assert other.target_model in MODEL_NAMES
        # a draft model exactly when the drafting mode runs one
        assert other.drafting in DRAFTING_MODES and other.drafting != "none"
        runs_draft = DRAFTING_MODES[other.drafting].runs_draft_model
        assert (other.draft_model is not None) == runs_draft, name
        assert other.draft_model is None or other.draft_model in MODEL_NAMES
        assert other.n_requests > 0 and other.steps_per_request > 0
    full = generate_trace(DEFAULT_PRESET)
    assert full.n_requests == p.n_requests
    assert full.n_steps == p.n_requests * p.steps_per_request


def test_eagle_calibration_keeps_the_published_profile_near_scale_one():
    p = get_preset(DEFAULT_PRESET)
    assert p.start_alpha() == (0.79, 0.74, 0.72, 0.73, 0.67)
    assert 0.9 < p.calibration_scale() < 1.1


def test_model_names_are_known_to_the_cost_model():
    known = set(list_models())
    for name in list_presets():
        p = get_preset(name)
        assert {p.target_model, p.draft_model} - {None} <= known, name


def test_shapes_match_the_published_method():
    # EAGLE-2: 60 draft tokens, depth 6; Sequoia: the stated node budget (root included)
    # and depth; Medusa-2: the 64-node mc_sim_7b_63 tree.
    for name, nodes, depth in (("eagle2-vicuna-7b-6task", 61, 6),
                               ("eagle2-vicuna-13b-6task", 51, 6),
                               ("sequoia-llama2-7b-128n-d10-c4", 128, 10),
                               ("sequoia-llama2-13b-64n-d9-c4", 64, 9),
                               ("sequoia-llama2-7b-128n-d7-c4-t06", 128, 7),
                               ("medusa2-vicuna-7b-mtbench", 64, 4),
                               ("prompt-lookup-vicuna-7b-specbench", 11, 10)):
        shape = get_preset(name).shape
        assert (shape.n_nodes, shape.max_depth) == (nodes, depth), name
    assert get_preset("sequoia-llama2-7b-128n-d7-c4-t06").verification == "stochastic"


def test_top_reach_tree_keeps_the_most_probable_nodes():
    # Every kept node is at least as probable as every dropped candidate (its children
    # and untaken siblings within the depth and top-k bounds).
    model = AcceptanceModel((0.7,))
    shape = top_reach_tree(20, 4, 5, name="t")
    reach = model.reach_probability(shape)
    assert shape.n_draft_tokens == 20 and shape.max_depth <= 4
    kept_min = reach[1:].min()
    children = shape.n_children()
    for i in range(shape.n_nodes):
        if shape.depth[i] < 4:
            taken = set(shape.rank[shape.parent == i].tolist())
            free = min(set(range(5)) - taken, default=None)
            if free is not None:
                p = reach[i] * model.choice_probability(int(shape.depth[i]) + 1, free)
                assert p <= kept_min + 1e-12
    assert children[0] >= 1


def test_unknown_preset_lists_choices():
    with pytest.raises(InputError) as exc:
        get_preset("gpt-5")
    assert exc.value.field == "preset"
    for name in list_presets():
        assert name in str(exc.value)


def test_bad_sizes_are_input_errors():
    with pytest.raises(InputError, match="requests"):
        generate_trace(DEFAULT_PRESET, n_requests=0)
    with pytest.raises(InputError, match="steps"):
        generate_trace(DEFAULT_PRESET, steps_per_request=-1)


def test_for_target_moves_a_preset_to_the_same_sources_row_for_another_target():
    seven = get_preset("medusa1-vicuna-7b-specbench")
    moved = seven.for_target("Vicuna-13B", "vicuna-13b", "medusa-vicuna-13b")
    assert moved.name == "medusa1-vicuna-13b-specbench"
    assert moved.source_row == ("medusa-1", "Vicuna-13B", "63-node sparse tree",
                                "Spec-Bench", "0", "A100")
    assert moved.published_tau == 2.39 and moved.source["speedup"] == "1.80"
    assert "Vicuna-13B" in moved.description and "(tau 2.39)" in moved.description
    assert moved.shape.n_nodes == seven.shape.n_nodes  # same method and tree
    # a target the source never measured is an error naming the table
    with pytest.raises(InputError, match="acceptance.csv"):
        seven.for_target("Vicuna-70B", "llama-2-70b", "medusa-vicuna-13b")


def test_for_hardware_moves_a_preset_to_the_same_sources_row_on_another_machine():
    a100 = get_preset("medusa1-vicuna-7b-specbench")
    rtx = get_preset("medusa1-vicuna-7b-specbench-rtx-3090")
    assert rtx == a100.for_hardware("RTX 3090")
    assert rtx.source_row == ("medusa-1", "Vicuna-7B", "63-node sparse tree", "Spec-Bench",
                              "0", "RTX 3090")
    assert (rtx.published_tau, rtx.source["speedup"]) == (2.32, "1.44")
    assert (a100.published_tau, a100.source["speedup"]) == (2.31, "1.71")
    assert rtx.trace_metadata(0)["hardware"] == "rtx-3090"
    assert a100.trace_metadata(0)["hardware"] == "a100-80gb"
    assert "(tau 2.32)" in rtx.description and rtx.description.endswith("RTX 3090")
    assert rtx.shape.n_nodes == a100.shape.n_nodes


def test_a_setting_measured_on_two_machines_needs_its_hardware_in_the_key():
    from specaccel.schema.errors import InputError
    from specaccel.workloads.published import published_row

    five = ("medusa-1", "Vicuna-7B", "63-node sparse tree", "Spec-Bench", "0")
    with pytest.raises(InputError, match="measured on A100, RTX 3090: add the hardware"):
        published_row(five)
    assert published_row((*five, "RTX 3090"))["speedup"] == "1.44"
    with pytest.raises(InputError, match="measured on A100, RTX 3090 only"):
        published_row((*five, "H100"))
    # a setting measured once keeps its five-part key, and its six-part one works too
    thirteen = ("medusa-1", "Vicuna-13B", "63-node sparse tree", "Spec-Bench", "0")
    assert published_row(thirteen) is published_row((*thirteen, "A100"))
    with pytest.raises(InputError, match="no row .* 'TPUv4'"):
        get_preset("medusa1-vicuna-7b-specbench").for_hardware("TPUv4")


def test_every_row_of_the_table_is_indexed_once_by_its_own_key():
    from specaccel.schema.errors import InputError
    from specaccel.workloads.published import KEY_COLUMNS, index_rows, published_rows

    rows = list(csv.DictReader(resources.files("specaccel.data").joinpath(
        "acceptance.csv").read_text().splitlines()))
    index = published_rows()
    assert len(index) == len(rows)
    for r in rows:
        assert index[(*(r[c] for c in KEY_COLUMNS), r["hardware"])] is not None
    with pytest.raises(InputError, match="two rows for"):
        index_rows([rows[0], dict(rows[0])])


def test_a_machine_without_a_hardware_preset_is_refused(monkeypatch):
    from specaccel.schema.errors import InputError
    from specaccel.workloads.published import HARDWARE_PRESETS

    monkeypatch.delitem(HARDWARE_PRESETS, "RTX 3090")
    with pytest.raises(InputError, match="no hardware preset for 'RTX 3090'"):
        get_preset("medusa1-vicuna-7b-specbench").for_hardware("RTX 3090")
