"""Unit parameters shared by the units that verify a tree (declaration side: no Amaranth)."""

from __future__ import annotations

from specaccel.hdl.uniform_lfsr import DEFAULT_SEED
from specaccel.hdl.units import UnitParameter
from specaccel.schema.trace import VERIFICATION_MODES

#: Verification modes of the verify units.
MODES = VERIFICATION_MODES
#: Where a stochastic verify unit takes its uniforms from.
UNIFORM_SOURCES = ("request", "lfsr")

VERIFY_PARAMETERS = (
    UnitParameter("mode", "greedy", "greedy (token match) or stochastic (u*q < p)",
                  choices=MODES),
    UnitParameter("uniform_source", "request",
                  "stochastic mode: uniforms in the request, or drawn by the unit's LFSR",
                  choices=UNIFORM_SOURCES, only_with=("mode", "stochastic")),
    UnitParameter("lfsr_seed", DEFAULT_SEED, "reset state of the uniform LFSR",
                  bounds=(1, (1 << 64) - 1), only_with=("uniform_source", "lfsr")),
)
