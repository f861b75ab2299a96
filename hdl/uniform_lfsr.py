"""The in-unit uniform source of the stochastic verify unit: a 64-bit Fibonacci LFSR.

The LFSR produces one bit per step: the output bit is ``state & 1``, the new bit
``s0 ^ s1 ^ s3 ^ s4`` enters at bit 63 (``state = state >> 1 | new << 63``), the reciprocal
of the primitive polynomial x^64 + x^63 + x^61 + x^60 + 1, so the period is 2^64 - 1.
A request to a unit with N nodes and probability width w consumes ``N * w`` bits: node i's
uniform is bits ``i*w .. i*w + w - 1`` of that stretch, the first bit the least significant.

:class:`UniformLFSR` is the bit-serial software reference (what testbenches use to know the
uniforms the hardware drew); :func:`lfsr_advance_masks` gives the same stretch of bits as
GF(2) linear functions of the state, which is how the hardware draws all of them in one cycle.
"""

from __future__ import annotations

LFSR_WIDTH = 64
LFSR_TAPS = (0, 1, 3, 4)
DEFAULT_SEED = 0x5EED_CAFE_F00D_1234


def check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 < seed < 1 << LFSR_WIDTH:
        raise TypeError(f"lfsr_seed must be an integer in [1, 2**64 - 1], not {seed!r}")
    return seed


class UniformLFSR:
    """Bit-serial reference model of the LFSR.

    Parameters
    ----------
    seed:
        Non-zero 64-bit reset state.
    """

    def __init__(self, seed: int = DEFAULT_SEED) -> None:
        self.state = check_seed(seed)

    def bit(self) -> int:
        """Advance one step and return the output bit."""
        s = self.state
        out = s & 1
        new = 0
        for t in LFSR_TAPS:
            new ^= (s >> t) & 1
        self.state = (s >> 1) | (new << (LFSR_WIDTH - 1))
        return out

    def uniforms(self, count: int, width: int) -> list[int]:
        """Draw `count` unsigned `width`-bit integers (one request's uniforms)."""
        values = []
        for _ in range(count):
            v = 0
            for b in range(width):
                v |= self.bit() << b
            values.append(v)
        return values


def lfsr_advance_masks(steps: int) -> tuple[list[int], list[int]]:
    """GF(2) form of `steps` LFSR steps.

    Returns
    -------
    outputs:
        ``outputs[t]`` is a 64-bit mask: output bit t is the XOR of the state bits it selects.
    next_state:
        ``next_state[j]``: the mask giving bit j of the state after `steps` steps.
    """
    sym = [1 << j for j in range(LFSR_WIDTH)]
    outputs = []
    for _ in range(steps):
        outputs.append(sym[0])
        new = 0
        for t in LFSR_TAPS:
            new ^= sym[t]
        sym = sym[1:] + [new]
    return outputs, sym
