"""``spec_decode_core``: the tree units connected (mask | verify -> compaction)."""

from specaccel.hdl.units import RtlUnit, UnitParameter
from specaccel.hdl.units.verify_parameters import VERIFY_PARAMETERS
from specaccel.models.cost.rtl_latency import LatencyLaw

UNIT = RtlUnit(
    name="spec_decode_core",
    summary="mask | verify -> compaction of one decode step per request",
    role="core",
    gateware="SpecDecodeCore",
    # the commit output: the verify pipeline, then the compaction register and its join
    latency_law=lambda p: LatencyLaw(per_level=1, constant=5),
    parameters=VERIFY_PARAMETERS + (
        UnitParameter("position_width", 16, "bits of a position id", bounds=(1, 32)),
        UnitParameter("slot_width", 16, "bits of a KV-cache slot index", bounds=(1, 32))),
    # N = 64 is not swept: the parallel core alone is 101,101 LUTs on the ECP5-85F and
    # 64,789 on Xilinx 7 (yosys, seeds irrelevant), larger than every placed device, and
    # its iCE40 synthesis takes over half an hour; the streaming core is the N = 64 core
    sweep_nodes=(4, 8, 16, 32),
)
