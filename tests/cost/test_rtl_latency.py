"""Latency laws: the formula, its text form in the characterisation table, and its parser."""

import pytest

from specaccel.models.cost.rtl_latency import LatencyLaw, log2_levels


def test_levels_are_the_doubling_stages_of_a_chain():
    assert [log2_levels(n) for n in (1, 2, 3, 4, 5, 8, 9, 16, 17, 64, 65, 128)] == \
        [1, 1, 1, 2, 2, 3, 3, 4, 4, 6, 6, 7]


@pytest.mark.parametrize("law, text, cycles_at_16_of_5", [
    (LatencyLaw(per_level=1, constant=3), "levels(N) + 3", 7),
    (LatencyLaw(per_node=1, constant=3), "n + 3", 8),
    (LatencyLaw(per_node=1), "n", 5),
    (LatencyLaw(constant=1), "1", 1),
    (LatencyLaw(), "0", 0),
])
def test_text_round_trips_and_cycles(law, text, cycles_at_16_of_5):
    assert law.text() == text and LatencyLaw.parse(text) == law
    assert law.cycles(nodes=16, n=5) == cycles_at_16_of_5
    assert law.node_serial == (law.per_node == 1)


@pytest.mark.parametrize("bad", ["n * 2", "log(N)", "n + n", "", "3 +", "-1"])
def test_parse_rejects_anything_else(bad):
    with pytest.raises(ValueError):
        LatencyLaw.parse(bad)
