"""The hardware as SimPy resources: compute engines, verify and tree units, memory system.

A :class:`Unit` is one piece of hardware that serves one pass at a time (a SimPy
``Resource`` of capacity 1) and counts its busy time.  An :class:`Accelerator` maps the
four *roles* of speculative decoding onto units:

============  ===========================  =====================================
role          GPU preset (``kind="gpu"``)   accelerator (``kind="accelerator"``)
============  ===========================  =====================================
draft         ``gpu`` (time-shared)         ``array`` (the PE array)
target        ``gpu``                       ``array``
tree          ``gpu`` (a mask kernel)       ``tree_unit`` (beside the array)
verify        ``gpu`` (a sampling kernel)   ``verify_unit`` (beside the array)
============  ===========================  =====================================

The :class:`MemorySystem` accounts HBM traffic per role (the pass latencies from the cost
model already include memory time, so HBM is accounted rather than contended in this
batch-1 version) and the KV-cache occupancy over time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import simpy

from specaccel.sim.step_costs import STAGES

ROLES = STAGES
"""The roles of speculative decoding: the stages of one decode step, in order."""

UNIT_MAPS: dict[str, dict[str, str]] = {
    "gpu": {"draft": "gpu", "tree": "gpu", "target": "gpu", "verify": "gpu"},
    "accelerator": {"draft": "array", "tree": "tree_unit", "target": "array",
                    "verify": "verify_unit"},
}
"""Which physical unit serves each role, by hardware kind."""

SEPARATE_DRAFT_ENGINE = {"draft": "draft_engine", "tree": "tree_unit", "target": "array",
                         "verify": "verify_unit"}
"""The accelerator's unit map with the draft on its own engine (pipelined speculation,
overlapped micro-batches)."""


def unit_map_for(hw: Any, *, separate_draft_engine: bool = False) -> dict[str, str]:
    """The role → unit map of `hw` by its ``kind``; on an accelerator with
    `separate_draft_engine`, :data:`SEPARATE_DRAFT_ENGINE`."""
    kind = str(getattr(hw, "kind", "accelerator"))
    if kind not in UNIT_MAPS:
        raise ValueError(f"hardware kind must be one of {sorted(UNIT_MAPS)}, not {kind!r}")
    if separate_draft_engine and kind == "accelerator":
        return SEPARATE_DRAFT_ENGINE
    return UNIT_MAPS[kind]


class Unit:
    """One hardware unit: serves one pass at a time and counts its busy time.

    Parameters
    ----------
    env:
        The SimPy environment.
    name:
        Unit name (``"gpu"``, ``"array"``, ``"verify_unit"``, ...).
    """

    def __init__(self, env: simpy.Environment, name: str) -> None:
        self.env = env
        self.name = name
        self.resource = simpy.Resource(env, capacity=1)
        self.busy_s = 0.0
        self.jobs = 0

    def serve(self, duration: float):
        """SimPy process body: acquire the unit, hold it for `duration`, release it."""
        req = self.resource.request()
        yield req
        yield self.env.timeout(duration)
        self.resource.release(req)
        self.busy_s += duration
        self.jobs += 1


class ComputeEngine(Unit):
    """A matrix engine that runs forward passes: a GPU, or the accelerator's PE array."""


class TreeUnit(Unit):
    """The unit that builds the tree attention mask and position ids."""


class VerifyUnit(Unit):
    """The unit that walks the draft tree and picks the accepted path."""


UNIT_CLASSES: dict[str, type[Unit]] = {
    "gpu": ComputeEngine, "array": ComputeEngine, "draft_engine": ComputeEngine,
    "tree_unit": TreeUnit, "verify_unit": VerifyUnit,
}
"""The class of each named unit (unknown names get a plain :class:`Unit`)."""


@dataclass(frozen=True)
class KvStats:
    """KV-cache occupancy and traffic over a run, in tokens."""

    peak_tokens: int
    mean_tokens: float
    written_tokens: int
    rolled_back_tokens: int


class MemorySystem:
    """HBM accounting: bytes moved per role and KV-cache occupancy over time.

    Parameters
    ----------
    env:
        The SimPy environment.
    kv_bytes_per_token:
        Target KV bytes per cached token.
    bandwidth_bps:
        HBM bandwidth in bytes/s (for the bandwidth utilisation; ``None`` if unknown).
    """

    def __init__(self, env: simpy.Environment, kv_bytes_per_token: float,
                 bandwidth_bps: float | None) -> None:
        self.env = env
        self.kv_bytes_per_token = float(kv_bytes_per_token)
        self.bandwidth_bps = bandwidth_bps
        self.bytes_by_role: dict[str, float] = {r: 0.0 for r in ROLES}
        self.kv_tokens = 0
        self.kv_peak_tokens = 0
        self.kv_written_tokens = 0
        self.kv_rolled_back_tokens = 0
        self._kv_integral = 0.0      # token-seconds
        self._kv_since = 0.0

    def move(self, role: str, nbytes: float) -> None:
        """Account `nbytes` of HBM traffic caused by `role`."""
        self.bytes_by_role[role] += nbytes

    def _settle(self) -> None:
        now = self.env.now
        self._kv_integral += self.kv_tokens * (now - self._kv_since)
        self._kv_since = now

    def kv_allocate(self, tokens: int) -> None:
        """Tokens whose KV enters the cache (a prompt, or the verify pass's tree nodes)."""
        self._settle()
        self.kv_tokens += tokens
        self.kv_written_tokens += tokens
        if self.kv_tokens > self.kv_peak_tokens:
            self.kv_peak_tokens = self.kv_tokens

    def kv_release(self, tokens: int, *, rollback: bool = False) -> None:
        """Tokens whose KV leaves the cache (rejected tree nodes, or a finished request)."""
        self._settle()
        self.kv_tokens -= tokens
        if rollback:
            self.kv_rolled_back_tokens += tokens

    def kv_mean_tokens(self) -> float:
        """Time-weighted mean KV occupancy in tokens, up to now."""
        self._settle()
        return self._kv_integral / self.env.now if self.env.now > 0 else 0.0

    def kv_stats(self) -> KvStats:
        """:class:`KvStats` up to now."""
        return KvStats(self.kv_peak_tokens, self.kv_mean_tokens(), self.kv_written_tokens,
                       self.kv_rolled_back_tokens)

    @property
    def total_bytes(self) -> float:
        return float(sum(self.bytes_by_role.values()))


def hbm_bandwidth_bps(hw: Any) -> float | None:
    """HBM bandwidth of a hardware spec in bytes/s (``mem_bw_bytes_s`` of
    :class:`specaccel.models.cost.hardware_spec.HardwareSpec`), or ``None`` if it has none."""
    for name in ("mem_bw_bytes_s", "hbm_bandwidth_bps"):
        value = getattr(hw, name, None)
        if value is not None:
            return float(value)
    return None


def shared_bandwidth_bps(hw: Any) -> float:
    """The HBM bandwidth two overlapping passes share: ``mem_bw · bw_efficiency`` (0 when
    the spec gives none: no contention is modelled)."""
    return (hbm_bandwidth_bps(hw) or 0.0) * float(getattr(hw, "bw_efficiency", 1.0))


@dataclass
class Accelerator:
    """The simulated machine: units by name, roles mapped onto units, and memory."""

    env: simpy.Environment
    units: dict[str, Unit]
    role_unit: dict[str, Unit]
    memory: MemorySystem

    @classmethod
    def build(cls, env: simpy.Environment, hw: Any, kv_bytes_per_token: float,
              unit_map: dict[str, str] | None = None) -> Accelerator:
        """Units and role mapping for `hw` (by ``hw.kind``, or an explicit `unit_map`)."""
        if unit_map is None:
            unit_map = unit_map_for(hw)
        missing = [r for r in ROLES if r not in unit_map]
        if missing:
            raise ValueError(f"unit map has no unit for roles {missing}")
        units: dict[str, Unit] = {}
        for role in ROLES:
            name = unit_map[role]
            if name not in units:
                units[name] = UNIT_CLASSES.get(name, Unit)(env, name)
        role_unit = {role: units[unit_map[role]] for role in ROLES}
        memory = MemorySystem(env, kv_bytes_per_token, hbm_bandwidth_bps(hw))
        return cls(env=env, units=units, role_unit=role_unit, memory=memory)

    @property
    def draft_engine(self) -> Unit:
        """The unit that runs the draft passes."""
        return self.role_unit["draft"]

    @property
    def target_engine(self) -> Unit:
        """The unit that runs the target's verify passes (the same as the draft engine on
        a GPU and on the default accelerator: time-shared)."""
        return self.role_unit["target"]

    @property
    def tree_unit(self) -> Unit:
        return self.role_unit["tree"]

    @property
    def verify_unit(self) -> Unit:
        return self.role_unit["verify"]
