"""``tree_mask``: tree-attention mask rows and position ids, one node per cycle."""

from specaccel.hdl.units import RtlUnit, UnitParameter
from specaccel.models.cost.rtl_latency import LatencyLaw

UNIT = RtlUnit(
    name="tree_mask",
    summary="ancestor mask rows and position ids of a tree, one node per cycle",
    role="mask",
    takes=("nodes",),  # no token ids or probabilities pass through it
    gateware="TreeMaskUnit",
    latency_law=lambda p: LatencyLaw(per_node=1),
    parameters=(UnitParameter("position_width", 16, "bits of a position id", bounds=(1, 32)),),
)
