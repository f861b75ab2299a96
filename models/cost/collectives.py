"""Collectives of tensor parallelism by message size: all-reduce and all-gather.

A link between devices is a latency and a bandwidth (`LinkSpec`).  An all-reduce of
``nbytes`` over ``n`` devices runs whichever algorithm is fastest at that size, as NCCL
and the custom all-reduce kernels of serving stacks (vLLM, TensorRT-LLM, PyTorch's
intra-node all-reduce) choose:

* **ring**: ``2 (n-1)`` steps, each ``step_latency_s`` plus a chunk of ``nbytes / n``
  over the link -- bandwidth-optimal, latency grows with ``n``;
* **one-shot**: every device writes its buffer where its peers can read it, one barrier,
  each device reads the ``n - 1`` peer buffers and reduces: ``oneshot_latency_s +
  (n-1) nbytes / bw`` -- one latency, ``n - 1`` times the bytes (small messages);
* **two-shot**: reduce-scatter then all-gather, each one-shot-like on ``nbytes / n``
  chunks: ``2 oneshot_latency_s + 2 (n-1)/n nbytes / bw`` (medium messages).

A link with ``oneshot_latency_s == 0`` (no peer-to-peer buffers, e.g. the accelerator's
link) runs only the ring.  The all-gather of vocabulary-sharded logits is one-shot or a
ring of ``n - 1`` steps.  Link figures per device are in `hardware_presets`
(`LINKS`, each with its source); `time_*` functions take plain numbers so the Numba
evaluator can mirror them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from specaccel.schema.errors import InputError

ALGORITHMS = ("ring", "one-shot", "two-shot")


@dataclass(frozen=True)
class LinkSpec:
    """A device-to-device link as the collectives see it (per device, per direction)."""

    name: str
    bw_bytes_s: float
    step_latency_s: float
    oneshot_latency_s: float
    source: str = ""

    def __post_init__(self) -> None:
        if not (self.bw_bytes_s > 0 and math.isfinite(self.bw_bytes_s)):
            raise InputError(f"must be a positive number, not {self.bw_bytes_s!r}",
                             field="bw_bytes_s")
        for name in ("step_latency_s", "oneshot_latency_s"):
            v = getattr(self, name)
            if not (v >= 0 and math.isfinite(v)):
                raise InputError(f"must be >= 0, not {v!r}", field=name)


def ring_allreduce_s(bw: float, step_latency: float, nbytes: float, n: float) -> float:
    """Ring all-reduce: ``2 (n-1)`` steps of one ``nbytes / n`` chunk each."""
    if n <= 1:
        return 0.0
    steps = 2.0 * (n - 1.0)
    return steps * (step_latency + nbytes / (n * bw))


def allreduce_s(bw: float, step_latency: float, oneshot_latency: float, nbytes: float,
                n: float) -> float:
    """The fastest all-reduce of `nbytes` over `n` devices (ring, one-shot, two-shot)."""
    if n <= 1:
        return 0.0
    t = ring_allreduce_s(bw, step_latency, nbytes, n)
    if oneshot_latency > 0.0:
        one = oneshot_latency + (n - 1.0) * nbytes / bw
        two = 2.0 * oneshot_latency + 2.0 * (n - 1.0) / n * nbytes / bw
        t = min(t, one, two)
    return t


def allgather_s(bw: float, step_latency: float, oneshot_latency: float,
                shard_bytes: float, n: float) -> float:
    """The fastest all-gather of one `shard_bytes` shard per device over `n` devices."""
    if n <= 1:
        return 0.0
    t = (n - 1.0) * (step_latency + shard_bytes / bw)
    if oneshot_latency > 0.0:
        t = min(t, oneshot_latency + (n - 1.0) * shard_bytes / bw)
    return t


def allreduce_time(link: LinkSpec, nbytes: float, n: int) -> float:
    """Seconds of an all-reduce of `nbytes` over `n` devices joined by `link`."""
    _check(nbytes, n)
    return allreduce_s(link.bw_bytes_s, link.step_latency_s, link.oneshot_latency_s,
                       float(nbytes), float(n))


def allgather_time(link: LinkSpec, shard_bytes: float, n: int) -> float:
    """Seconds of an all-gather of `shard_bytes` per device over `n` devices."""
    _check(shard_bytes, n)
    return allgather_s(link.bw_bytes_s, link.step_latency_s, link.oneshot_latency_s,
                       float(shard_bytes), float(n))


def allreduce_algorithm(link: LinkSpec, nbytes: float, n: int) -> str:
    """Which algorithm `allreduce_time` picks at this size (one of `ALGORITHMS`)."""
    _check(nbytes, n)
    ring = ring_allreduce_s(link.bw_bytes_s, link.step_latency_s, nbytes, n)
    if link.oneshot_latency_s <= 0 or n <= 1:
        return "ring"
    one = link.oneshot_latency_s + (n - 1.0) * nbytes / link.bw_bytes_s
    two = 2.0 * link.oneshot_latency_s + 2.0 * (n - 1.0) / n * nbytes / link.bw_bytes_s
    return ALGORITHMS[min(range(3), key=lambda i: (ring, one, two)[i])]


def _check(nbytes: float, n: int) -> None:
    if not (nbytes >= 0 and math.isfinite(nbytes)):
        raise InputError(f"must be >= 0, not {nbytes!r}", field="nbytes")
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise InputError(f"must be a positive integer, not {n!r}", field="devices")
