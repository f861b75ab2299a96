"""``sampling``: one node's bf16 logits streamed W lanes a cycle -> its token (greedy argmax
or a top-k sample at a temperature)."""

from specaccel.hdl.units import RtlUnit, UnitParameter
from specaccel.models.cost.rtl_latency import LatencyLaw
from specaccel.schema.trace import VERIFICATION_MODES

#: largest lane count W (a power of two)
MAX_LANES = 64
#: largest vocabulary (18-bit token indices)
MAX_VOCAB = 1 << 18
#: greedy: argmax only; stochastic: top-k sampling (the decoding modes of the traces)
MODES = VERIFICATION_MODES


def vocab_index_width(vocab: int) -> int:
    """Bits of a token index of a vocabulary of `vocab` logits (15 for 32,000, 17 for
    128,256)."""
    return max(1, (vocab - 1).bit_length())


UNIT = RtlUnit(
    name="sampling",
    summary="greedy / top-k token of one node's bf16 logits streamed W lanes per beat",
    role="sampling",
    gateware="SamplingUnit",
    # after a request's last beat: IN, KEY, one stage per lane-tree level, GLOBAL, MERGE
    # and park, the tail's decision (a top-k sample adds the tail's cycles)
    latency_law=lambda p: LatencyLaw(constant=(p["lanes"] - 1).bit_length() + 5),
    parameters=(
        UnitParameter("lanes", 4, "bf16 logits per beat W (a power of two)",
                      bounds=(1, MAX_LANES)),
        UnitParameter("vocab", MAX_VOCAB, "largest vocabulary (logits per request; token "
                      "indices of ceil(log2 VOCAB) bits)", bounds=(1, MAX_VOCAB)),
        UnitParameter("mode", "stochastic",
                      "greedy (argmax only) or stochastic (top-k at a temperature, sampled "
                      "with the request's uniform)", choices=MODES),
        UnitParameter("max_top_k", 8, "largest top_k of a stochastic sampling unit",
                      bounds=(1, 8), only_with=("mode", "stochastic")),
    ),
    takes=(),
)
