"""``tree_verify``: pipelined tree verification, one whole tree per cycle."""

from specaccel.hdl.units import RtlUnit
from specaccel.hdl.units.verify_parameters import VERIFY_PARAMETERS
from specaccel.models.cost.rtl_latency import LatencyLaw

UNIT = RtlUnit(
    name="tree_verify",
    summary="verify a draft tree per cycle (greedy or stochastic), log-depth pipeline",
    role="verify",
    gateware="TreeVerifyUnit",
    latency_law=lambda p: LatencyLaw(per_level=1, constant=3),
    parameters=VERIFY_PARAMETERS,
)
