"""Every real-text method preset: speculative output equals plain greedy; τ ordering."""

from __future__ import annotations

import numpy as np
import pytest

from specaccel.models.golden import verify_trace
from specaccel.schema.errors import InputError
from specaccel.workloads import PRESETS, get_preset
from specaccel.workloads.method_static_tree import (
    EAGLE_TREE_25,
    MEDUSA_MC_SIM_7B_63,
    choices_to_parents,
    specinfer_choices,
)
from specaccel.workloads.real_text import heldout_prompts
from specaccel.workloads.real_text_presets import record_preset
from specaccel.workloads.recorder_ngram import (
    RecordConfig,
    greedy_decode,
    record_request,
)


@pytest.mark.parametrize("name", [n for n, p in PRESETS.items() if p.kind == "real-text"])
def test_preset_decodes_exactly_like_greedy(models, name):
    _, prompt = heldout_prompts(models.corpus, 1, 48, seed=11)[0]
    policy = get_preset(name).build(models)
    trees, generated = record_request(models.target, policy, prompt, 60)
    assert np.array_equal(generated, greedy_decode(models.target, prompt, generated.shape[0]))
    for t in trees:
        assert t.parent[0] == -1 and np.all(t.parent[1:] < np.arange(1, t.n_nodes))


def test_tree_shapes():
    assert len(EAGLE_TREE_25) == 25 and max(map(len, EAGLE_TREE_25)) == 5
    assert len(MEDUSA_MC_SIM_7B_63) == 63
    assert len(specinfer_choices(5, 8)) == 40
    _, parent = choices_to_parents([(1,), (0,), (0, 0)])
    assert parent.tolist() == [-1, 0, 0, 1]
    with pytest.raises(InputError, match="no parent"):
        choices_to_parents([(0, 1)])


def test_eagle2_keeps_best_total_tokens_and_beats_static_chain(models):
    cfg = RecordConfig(n_requests=4, prompt_len=48, max_new_tokens=80, seed=2)
    tau = {n: float(verify_trace(record_preset(models, n, cfg)).committed.mean())
           for n in ("chain-g5", "eagle2-60", "chain-adaptive")}
    t = record_preset(models, "eagle2-60", cfg)
    assert t.nodes_per_step().max() <= 61 and t.metadata["preset"] == "eagle2-60"
    assert tau["eagle2-60"] > tau["chain-g5"] > 1.0
    assert tau["chain-adaptive"] > 1.0


def test_unknown_preset():
    with pytest.raises(InputError, match="unknown preset"):
        get_preset("nope")
    with pytest.raises(InputError, match="is calibrated, not a real-text preset"):
        record_preset(None, "eagle-vicuna-7b-mtbench")


@pytest.mark.parametrize("verification", ["greedy", "stochastic"])
def test_recorded_traces_round_trip_through_trace_files(models, tmp_path, verification):
    from specaccel.workloads import read_trace, write_trace

    trace = record_preset(models, "eagle-25", RecordConfig(n_requests=2, max_new_tokens=30,
                                                           verification=verification))
    for suffix in ("parquet", "jsonl"):
        path = tmp_path / f"t.{suffix}"
        write_trace(trace, path)
        back = read_trace(path)  # validated on read
        assert back.equals(trace) and back.metadata["preset"] == "eagle-25"
        assert np.array_equal(verify_trace(back).accepted, verify_trace(trace).accepted)
