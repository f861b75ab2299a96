"""``streaming_core``: the streaming sampling unit, the node-serial verify unit and KV
compaction behind node headers and logit beats (:mod:`.gateware`); the core that fits a
placed device at N = 64 (``spec_decode_core`` composes the parallel verify unit)."""

from specaccel.hdl.units import RtlUnit, UnitParameter
from specaccel.hdl.units.sampling import MAX_LANES
from specaccel.models.cost.rtl_latency import LatencyLaw

UNIT = RtlUnit(
    name="streaming_core",
    summary="sampling -> node-serial verify -> compaction of a step streamed node by node",
    role="core",
    gateware="StreamingSpecDecodeCore",
    # from a tree's last logit beat to its commit: the sampling unit's greedy latency
    # (levels of its W-lane merge tree + 5), the verify record, the serial unit's response,
    # the compaction and the commit join
    latency_law=lambda p: LatencyLaw(constant=(p["lanes"] - 1).bit_length() + 11),
    parameters=(
        UnitParameter("lanes", 4, "bf16 logits per beat W of the sampling unit (a power of "
                      "two)", bounds=(1, MAX_LANES)),
        UnitParameter("max_top_k", 8, "largest top_k of the sampling unit", bounds=(1, 8)),
        UnitParameter("slot_width", 16, "bits of a KV-cache slot index", bounds=(1, 32)),
    ),
    sweep_nodes=(16, 64),
    takes=("nodes", "token_width"),
)
