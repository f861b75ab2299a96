"""A time series of bounded size: samples are thinned as the run grows.

The serving simulator samples the KV-cache occupancy after every batch step; a 100,000
step run must not keep 100,000 samples.  :class:`BoundedSeries` keeps at most
``max_points`` samples: when full it drops every other sample and from then on keeps
only every second offered sample (then every fourth, ...), so the retained points stay
evenly spread over the whole run and memory stays flat.
"""

from __future__ import annotations


class BoundedSeries:
    """At most `max_points` ``(t, value)`` samples, evenly thinned.

    Parameters
    ----------
    max_points:
        Upper bound on the retained samples (even, >= 2).
    """

    def __init__(self, max_points: int = 1024) -> None:
        if max_points < 2 or max_points % 2:
            raise ValueError(f"max_points must be an even number >= 2, not {max_points}")
        self.max_points = max_points
        self.t: list[float] = []
        self.v: list[float] = []
        self.stride = 1
        self.offered = 0

    def offer(self, t: float, value: float) -> None:
        """Offer a sample; the ``i``-th offered one is kept when ``i`` is a multiple of
        the current stride (so thinning keeps exactly the multiples of the new one)."""
        i = self.offered
        self.offered += 1
        if i % self.stride:
            return
        self.t.append(t)
        self.v.append(value)
        if len(self.t) >= self.max_points:
            del self.t[1::2]
            del self.v[1::2]
            self.stride *= 2

    def to_dict(self) -> dict[str, list[float]]:
        return {"t_s": list(self.t), "value": list(self.v)}
