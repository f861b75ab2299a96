"""Spec-Bench's A100 table measured twice: what a new host and PyTorch moved."""

from __future__ import annotations

import pytest

from specaccel.analysis import source_spread as ss
from specaccel.analysis import validation_report as vr
from specaccel.schema.errors import InputError

HEADER = "target,method,tau_2024,speedup_2024,tau_2025,speedup_2025\n"


def test_bundled_table_is_every_method_both_tables_share():
    rows = ss.load_remeasured()
    # seven methods (EAGLE, Hydra, Lookahead, Medusa, PLD, REST, SpS) at three sizes
    assert len(rows) == 21
    assert {r.target for r in rows} == {"Vicuna-7B", "Vicuna-13B", "Vicuna-33B"}
    eagle7 = next(r for r in rows if (r.target, r.method) == ("Vicuna-7B", "EAGLE"))
    assert (eagle7.speedup_2024, eagle7.speedup_2025) == (2.29, 2.10)
    assert eagle7.change == pytest.approx(2.10 / 2.29 - 1)


def test_spread_of_the_bundled_table():
    """Counted by hand from the two Leaderboard.md versions: REST's three rows are the
    same in both, EAGLE on Vicuna-7B moved most (2.29x -> 2.10x)."""
    s = ss.spread(ss.load_remeasured())
    assert s["rows"] == 21 and s["changed"] == 18
    assert s["worst_row"] == "EAGLE on Vicuna-7B"
    assert s["worst_abs_change"] == pytest.approx(0.19 / 2.29)
    # the median of the 21 |changes| is Vicuna-33B SpS's (1.61x -> 1.57x)
    assert s["median_abs_change"] == pytest.approx(0.04 / 1.61)


def test_the_end_to_end_section_carries_the_spread_line():
    s = ss.spread(ss.parse_remeasured(HEADER + "T,M,2,1.0,2,1.1\nT,N,2,2.0,2,1.9\n"))
    assert s["median_abs_change"] == pytest.approx(0.075)
    lines = vr.by_source_lines({"name": "end-to-end", "rows": [], "source_spread": s})
    assert lines == [ss.spread_line(s)]
    assert "2 rows (2 changed), median |change| 7.5%, worst 10.0% (M on T)" in lines[0]


@pytest.mark.parametrize("text, field", [
    ("target,method,tau,speedup_2024,tau_2025,speedup_2025\nT,M,2,1,2,1\n", "header"),
    (HEADER + "T,M,2,fast,2,1.1\n", "speedup_2024"),
    (HEADER + "T,M,2,1.0,-2,1.1\n", "tau_2025"),
    (HEADER + "T,M,2,1.0,2,nan\n", "speedup_2025"),
    (HEADER, "rows"),
])
def test_a_bad_table_names_its_field(text, field):
    with pytest.raises(InputError) as e:
        ss.parse_remeasured(text, file="t.csv")
    assert e.value.field == field and "t.csv" in str(e.value)
