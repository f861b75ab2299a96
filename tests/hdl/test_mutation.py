"""The mutation score: every fixed mutant of :mod:`specaccel.hdl.mutation` is killed by its
unit's tests.  The default run applies four representative mutants (an arithmetic width
that only a boundary case or a proof sees, a handshake that only the stream monitors see, a
tie-break, a sampling comparison); ``pytest -m slow`` runs the whole set."""

from pathlib import Path

import pytest

from specaccel.hdl.mutation import MUTANTS, get_mutant, mutated_source, run_mutant

TESTS = Path(__file__).resolve().parents[1]
REPRESENTATIVE = ("kv-overflow-msb", "tvs-handshake", "tv-tie-break", "argmax-lane-tie")


def test_every_mutant_applies_exactly_once():
    """Its text occurs once in its unit's gateware (else ValueError), and changes it."""
    from importlib.util import find_spec

    assert len({m.id for m in MUTANTS}) == len(MUTANTS) >= 20
    for mutant in MUTANTS:
        assert mutated_source(mutant) != Path(find_spec(mutant.module).origin).read_text()


@pytest.mark.parametrize("mutant_id", REPRESENTATIVE)
def test_representative_mutant_is_killed(mutant_id):
    result = run_mutant(get_mutant(mutant_id), TESTS)
    assert result.killed, f"{mutant_id} survived its kill stages"


@pytest.mark.slow
@pytest.mark.parametrize("mutant", [m for m in MUTANTS if m.id not in REPRESENTATIVE],
                         ids=lambda m: m.id)
def test_mutant_is_killed(mutant):
    result = run_mutant(mutant, TESTS)
    assert result.killed, f"{mutant.id} survived its kill stages"
