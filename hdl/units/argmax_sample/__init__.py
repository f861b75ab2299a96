"""``argmax_sample``: a node's logits streamed in chunks -> argmax or inverse-CDF sample."""

from specaccel.hdl.units import RtlUnit, UnitParameter
from specaccel.models.cost.rtl_latency import LatencyLaw

UNIT = RtlUnit(
    name="argmax_sample",
    summary="argmax / sample of one node's logits streamed `chunk` lanes per beat",
    role="sampling",
    gateware="ArgmaxSampleUnit",
    # after a request's last beat: S1, one stage per chunk-reduction level, S3, S4, FIFO
    latency_law=lambda p: LatencyLaw(constant=4 + max(1, (p["chunk"] - 1).bit_length())),
    parameters=(UnitParameter("chunk", 4, "logit lanes per beat", bounds=(1, 64)),
                UnitParameter("logit_width", 16, "bits of a logit lane", bounds=(2, 64))),
)
