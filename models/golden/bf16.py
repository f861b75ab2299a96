"""bfloat16 as the sampling hardware reads it: bit patterns, their order, their fixed point.

Logits reach the sampling unit as raw bf16 bit patterns (``uint16``: 1 sign bit, 8 exponent
bits, 7 mantissa bits).  This module defines, on those bits, the three things the token
selection rule of :mod:`.token_selection` needs; the RTL computes the same functions.

**Order** -- :func:`order_key` maps a pattern to an unsigned 16-bit key whose integer order is
the order of the values:

* ``+0`` and ``-0`` get the same key (they are equal numbers, so they tie);
* ``-inf`` is below every finite value, ``+inf`` above;
* subnormals keep their value (no flush to zero);
* **NaN** (exponent all ones, mantissa non-zero, either sign) gets key 0, *below* ``-inf``:
  a NaN is chosen only when nothing else is left (the unit also reports that a NaN was
  seen, so the host can tell).

Positive patterns ``b`` map to ``b | 0x8000``, negative ones to ``~b & 0xFFFF`` (a sign flip
for positives, a full inversion for negatives: the usual monotone map of sign-magnitude
to unsigned); ``-0`` is first rewritten to ``+0``; the negative NaNs would map to
``0x0000 .. 0x007E``, a range no number uses, so NaN -> 0 keeps every number's key.

**Fixed point** -- :func:`to_fixed` is the value as a signed ``FIXED_WIDTH``-bit integer in
units of ``2**-FIXED_FRAC`` (Q8.8), rounded toward minus infinity and saturated:
``+inf`` -> ``FIXED_MAX``, ``-inf`` and NaN -> ``FIXED_MIN``.  It is monotone in
:func:`order_key` (a larger key never has a smaller fixed value), which is what makes
every logit difference the sampler forms non-negative.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "FIXED_FRAC", "FIXED_MAX", "FIXED_MIN", "FIXED_WIDTH", "NAN_KEY", "from_float",
    "is_nan", "order_key", "to_fixed", "to_float",
]

#: fraction bits of the fixed-point form of a logit
FIXED_FRAC = 8
#: bits of the fixed-point form (signed)
FIXED_WIDTH = 16
FIXED_MIN = -(1 << (FIXED_WIDTH - 1))
FIXED_MAX = (1 << (FIXED_WIDTH - 1)) - 1
#: the order key of every NaN (below -inf, whose key is 0x007F)
NAN_KEY = 0

_EXP_MASK = 0x7F80
_MANT_MASK = 0x007F


def _bits(values) -> np.ndarray:
    arr = np.asarray(values)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"bf16 patterns must be integers, not {arr.dtype!r}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() > 0xFFFF):
        raise ValueError("bf16 patterns must be in [0, 0xFFFF]")
    return arr


def from_float(values) -> np.ndarray:
    """bf16 patterns (``uint16``) of float `values`, rounded to nearest even (NaN -> 0x7FC0)."""
    f = np.ascontiguousarray(np.asarray(values, dtype=np.float32))
    u = f.view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    out = rounded.astype(np.uint16)
    out[np.isnan(f)] = 0x7FC0
    return out


def to_float(bits) -> np.ndarray:
    """float32 values of bf16 patterns (exact)."""
    b = _bits(bits).astype(np.uint32)
    return (b << 16).view(np.float32) if b.ndim else np.float32((b << 16).view(np.float32))


def is_nan(bits) -> np.ndarray:
    """True where a pattern is a NaN."""
    b = _bits(bits)
    return ((b & _EXP_MASK) == _EXP_MASK) & ((b & _MANT_MASK) != 0)


def order_key(bits) -> np.ndarray:
    """The unsigned order key of each pattern (see the module docstring)."""
    b = _bits(bits)
    b = np.where(b == 0x8000, 0, b)  # -0 is +0
    key = np.where(b & 0x8000, ~b & 0xFFFF, b | 0x8000)
    return np.where(is_nan(b), NAN_KEY, key).astype(np.int64)


def to_fixed(bits) -> np.ndarray:
    """Each pattern's value as a saturated Q8.8 integer, rounded toward minus infinity."""
    b = _bits(bits)
    sign = (b >> 15) & 1
    exp = (b >> 7) & 0xFF
    mant = b & _MANT_MASK
    # value = (-1)**sign * sig * 2**(exp - 134) with sig = mant | 0x80 (normal), or
    # mant * 2**(1 - 134) (subnormal): in Q8.8 units, sig * 2**(exp - 126)
    sig = np.where(exp == 0, mant, mant | 0x80)
    shift = np.where(exp == 0, 1, exp) - (127 + 7 - FIXED_FRAC)
    # saturation: |value| >= 2**7 (exp >= 134) does not fit; exp 255 is inf or NaN
    big = exp >= 127 + (FIXED_WIDTH - 1 - FIXED_FRAC)
    left = np.left_shift(sig, np.clip(shift, 0, 31))
    mag_floor = np.right_shift(sig, np.clip(-shift, 0, 63))        # floor(|v|)
    exact = np.left_shift(mag_floor, np.clip(-shift, 0, 63)) == sig  # nothing dropped
    pos = np.where(shift >= 0, left, mag_floor)
    neg = np.where(shift >= 0, -left, -(mag_floor + np.where(exact, 0, 1)))
    val = np.where(sign == 1, neg, pos)
    val = np.where(big, np.where(sign == 1, FIXED_MIN, FIXED_MAX), val)
    val = np.where(is_nan(b), FIXED_MIN, val)
    return np.clip(val, FIXED_MIN, FIXED_MAX).astype(np.int64)
