"""The Spec-Bench questions as the benchmark times them: prompts, answers, acceptance."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest

from specaccel.schema.errors import InputError
from specaccel.workloads import specbench_questions as sq
from specaccel.workloads.presets import SPECBENCH


def test_the_table_holds_every_turn_of_the_480_questions():
    t = sq.specbench_turns()
    assert t.n_questions == 480
    # the 80 MT-Bench questions have two turns, the 400 others one
    turns = Counter(np.bincount(t.question).tolist())
    assert turns == {2: 80, 1: 400}
    cats = Counter(t.category)
    for name in ("translation", "summarization", "qa", "math_reasoning", "rag"):
        assert cats[name] == 80


def test_prompts_are_converted_with_each_categorys_own_characters_per_token():
    rows = sq.load_bundled_table(sq.TURNS_TABLE, sq._Row, columns=sq.COLUMNS,
                                 ints=[c for c in sq.COLUMNS if c != "category"], floats=())
    ratio = sq.chars_per_token(rows)
    # Llama's tokenizer: about 4 characters a token of English prose, fewer where digits
    # (one token each) and code are common
    assert 3.8 < ratio["humanities"] < 4.6
    assert ratio["math_reasoning"] < ratio["humanities"] - 1.0
    t = sq.specbench_turns()
    first = rows[0]
    assert t.prompt_tokens[0] == round(first.prompt_chars / ratio[first.category])
    # the articles and passages to summarise or answer from are the long prompts
    cats = np.array(t.category)
    long = t.prompt_tokens[np.isin(cats, ("summarization", "rag"))]
    short = t.prompt_tokens[np.isin(cats, ("qa", "translation"))]
    assert np.median(long) > 5 * np.median(short)


def test_the_spec_bench_preset_draws_prompts_like_the_measured_ones():
    t = sq.specbench_turns()
    lengths = SPECBENCH.prompt_lengths
    assert lengths.median == pytest.approx(np.median(t.prompt_tokens), rel=0.02)
    assert lengths.sigma == pytest.approx(np.std(np.log(t.prompt_tokens)), abs=0.05)


@pytest.mark.parametrize("tau", [1.0, 1.6, 2.5, 3.5331, 5.7])
def test_turn_acceptance_realises_the_pooled_tau(tau):
    t = sq.specbench_turns()
    per_turn = sq.turn_acceptance(tau, t)
    assert sq.pooled_tau(per_turn, t.decode_tokens) == pytest.approx(tau, rel=1e-6)
    assert np.all(per_turn >= 1.0)


def test_eagles_own_profile_is_returned_at_eagles_pooled_tau():
    t = sq.specbench_turns()
    pooled = sq.pooled_tau(t.eagle_tau, t.decode_tokens)
    assert 3.4 < pooled < 3.7  # Spec-Bench's published EAGLE Vicuna-7B τ: 3.58
    assert np.allclose(sq.turn_acceptance(pooled, t), t.eagle_tau, rtol=1e-6)


def _question_mean_tau(t: sq.SpecBenchTurns, per_turn: np.ndarray) -> float:
    n = np.bincount(t.question, weights=t.decode_tokens)
    steps = np.bincount(t.question, weights=t.decode_tokens / per_turn)
    return float(np.mean(n / steps))


def test_eagles_profile_carries_to_sps_within_one_percent():
    """The assumption every other method's rows rest on, tested on the one other method
    whose steps the table holds: SpS with a 68M draft, whose per-question acceptance
    correlates with EAGLE's only loosely.  What the benchmark's mean over questions sees
    -- the unweighted mean of the per-question τ -- comes out the same."""
    t = sq.specbench_turns()
    pooled = sq.pooled_tau(t.sps_tau, t.decode_tokens)
    own = _question_mean_tau(t, t.sps_tau)
    carried = _question_mean_tau(t, sq.turn_acceptance(pooled, t))
    assert carried == pytest.approx(own, rel=0.01)
    # and both are well below the pooled τ: the effect is real
    assert own < 0.96 * pooled


def test_a_tau_below_one_is_refused():
    with pytest.raises(InputError) as e:
        sq.turn_acceptance(0.5)
    assert e.value.field == "tau"


def test_a_turn_without_steps_is_refused_naming_the_table_and_field():
    rows = sq.load_bundled_table(sq.TURNS_TABLE, sq._Row, columns=sq.COLUMNS,
                                 ints=[c for c in sq.COLUMNS if c != "category"], floats=())
    bad = [dataclasses.replace(rows[0], eagle_steps=0), *rows[1:]]
    with pytest.raises(InputError) as e:
        sq._turns_from(bad)
    assert e.value.field == "eagle_steps" and e.value.file == sq.TURNS_TABLE
    with pytest.raises(InputError):
        sq._turns_from([])


def test_each_question_belongs_to_one_of_the_six_tasks():
    task = sq.specbench_turns().task
    assert Counter(task.tolist()) == {t: 80 for t in sq.TASKS}


def test_the_published_task_speedups_name_presets_and_tasks_that_exist():
    from specaccel.workloads import get_preset

    rows = sq.published_task_speedups()
    by_preset: dict[str, set[str]] = {}
    for r in rows:
        get_preset(r.preset)  # raises on an unknown preset
        by_preset.setdefault(r.preset, set()).add(r.task)
        assert 0.9 < r.speedup < 4.0
    assert len(by_preset) == 8 and all(tasks == set(sq.TASKS) for tasks in by_preset.values())
    # one value of each of the leaderboard's four tables, where it sits in Leaderboard.md
    value = {(r.preset, r.task): r.speedup for r in rows}
    assert value[("eagle-vicuna-7b-specbench-rtx-3090", "mt_bench")] == 2.31
    assert value[("eagle-vicuna-7b-specbench", "mt_bench")] == 2.45
    assert value[("eagle-vicuna-13b-specbench", "mt_bench")] == 2.52
    assert value[("speculative-sampling-vicuna-33b-68m-specbench", "translation")] == 1.27
    # a preset's overall speedup (the mean over all questions) lies among its tasks'
    for preset in by_preset:
        tasks = [value[(preset, t)] for t in sq.TASKS]
        assert min(tasks) <= float(get_preset(preset).source["speedup"]) <= max(tasks)
    # only the methods whose own acceptance the turns measure
    assert {get_preset(p).method for p in by_preset} == set(sq.MEASURED_PROFILES)


def test_an_unknown_task_in_the_table_is_refused(monkeypatch):
    bad = [sq.TaskSpeedup("eagle-vicuna-7b-specbench", "poetry", 2.0)]
    monkeypatch.setattr(sq, "load_bundled_table", lambda *a, **k: bad)
    with pytest.raises(InputError) as e:
        sq.published_task_speedups()
    assert e.value.field == "task" and e.value.file == sq.TASKS_TABLE


def test_a_subset_keeps_the_turns_of_its_tasks_numbered_again():
    t = sq.specbench_turns()
    mt = t.subset(("mt_bench",))
    assert mt.n_questions == 80 and len(mt.category) == 160
    assert set(mt.task.tolist()) == {"mt_bench"}
    # the MT-Bench questions come first in the table: the same turns, in order
    assert np.array_equal(mt.prompt_tokens, t.prompt_tokens[:160])
    two = t.subset(("qa", "rag"))
    assert two.n_questions == 160 and set(two.task.tolist()) == {"qa", "rag"}
    with pytest.raises(InputError) as e:
        t.subset(("poetry",))
    assert e.value.field == "timed_tasks"


def test_a_benchmark_timed_on_an_unknown_task_is_refused():
    from specaccel.workloads.presets import MTBENCH

    with pytest.raises(InputError) as e:
        dataclasses.replace(MTBENCH, timed_tasks=("poetry",))
    assert e.value.field == "timed_tasks"


def test_no_turn_commits_more_than_a_step_can():
    """Spread by one factor, the easiest turns of a high-τ method would commit more than
    its trees' longest path; they are held at it, and the rest take up the τ."""
    t = sq.specbench_turns()
    free = sq.turn_acceptance(5.71, t)
    assert free.max() > 8.0
    held = sq.turn_acceptance(5.71, t, most=8.0)
    assert held.max() == 8.0
    assert sq.pooled_tau(held, t.decode_tokens) == pytest.approx(5.71, rel=1e-6)
    with pytest.raises(InputError) as e:
        sq.turn_acceptance(8.0, t, most=8.0)
    assert e.value.field == "tau"
    assert np.all(sq.turn_acceptance(1.0, t, most=1.0) == 1.0)
