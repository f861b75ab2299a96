"""``kv_compact``: accepted path -> KV-cache gather indices, one path per cycle."""

from specaccel.hdl.units import RtlUnit, UnitParameter
from specaccel.models.cost.rtl_latency import LatencyLaw

UNIT = RtlUnit(
    name="kv_compact",
    summary="KV-cache gather indices of an accepted path, one path per cycle",
    role="compaction",
    takes=("nodes",),  # no token ids or probabilities pass through it
    gateware="KVCompactUnit",
    latency_law=lambda p: LatencyLaw(constant=1),
    parameters=(UnitParameter("slot_width", 16, "bits of a KV-cache slot index",
                              bounds=(1, 32)),),
)
