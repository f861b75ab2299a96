"""``tree_verify_serial``: tree verification one node record per cycle."""

from specaccel.hdl.units import RtlUnit
from specaccel.hdl.units.verify_parameters import VERIFY_PARAMETERS
from specaccel.models.cost.rtl_latency import LatencyLaw

UNIT = RtlUnit(
    name="tree_verify_serial",
    summary="verify a draft tree streamed one node per cycle (O(N log N) area)",
    role="verify",
    gateware="TreeVerifySerialUnit",
    # from a tree's first record: n records, then 4 stages (5: the two-stage multiplier)
    latency_law=lambda p: LatencyLaw(per_node=1,
                                     constant=4 if p["mode"] == "stochastic" else 3),
    parameters=VERIFY_PARAMETERS,
    sweep_nodes=(4, 8, 16, 32, 64, 128),
)
