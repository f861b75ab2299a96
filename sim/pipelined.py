"""Pipelined speculation: draft the next tree while the target verifies the current one.

With a **separate draft engine**, a request can pre-draft step ``s + 1`` while the
target runs step ``s``'s verify pass (PEARL-style post-verify overlap).  The pre-draft
assumes the draft's own most likely path — the first child at every level of tree
``s`` (the trace orders siblings by draft rank) — is accepted to its leaf, and that its
guess of the bonus token is right.  Whether that happened is decided by the golden
outcome (:func:`pipeline_hits`): a **hit** when the accepted path *is* the first-child
chain to its leaf; the draft's bonus-token guess is taken as right then (the trace does
not record it), so the hit rate is an upper bound.

* On a hit, step ``s + 1`` starts with its tree unit as soon as the verify of step ``s``
  and the pre-draft have both finished: the draft time is hidden.
* On a miss, the pre-draft is aborted when the verify unit reports (wasted draft-engine
  time, energy and HBM traffic in proportion to the progress made) and step ``s + 1``
  drafts after the verify as usual: the **cost of mis-speculated overlap**.

**HBM contention.**  While the target's verify pass and the pre-draft run together they
share the HBM bandwidth ``B = mem_bw · bw_efficiency``.  Each pass alone streams its
bytes at its own average rate ``r = hbm_bytes / latency``; together both progress at
``1 / f`` of their solo speed with ``f = max(1, (r_target + r_draft) / B)`` (fluid
proportional sharing) until one ends, the other then continues alone
(:func:`contended_pair`).  Two memory-bound passes thus gain little from overlap, which
is the point of modelling it.

The replay is batch 1 (one request process owns the machine, requests in arrival
order); each step is at most four SimPy timeouts.  Unit busy time and the timeline are
recorded from the computed times.

**Only with a draft model.**  A ``"draft-free"`` trace (prompt lookup, REST, lookahead,
token recycling) builds its tree by a lookup that runs no model: there is no draft pass
to pre-run and nothing to hide, so :func:`~.simulation.simulate` replays it as usual
when asked for pipelined speculation (the answer is the plain replay's), and
:func:`pipelined_replay` itself rejects it, as it rejects ``"none"``.
"""

from __future__ import annotations

import numba
import numpy as np
import simpy

from specaccel.models.golden import TraceOutcome
from specaccel.schema.errors import InputError
from specaccel.sim.accelerator_model import (
    ROLES,
    SEPARATE_DRAFT_ENGINE,
    KvStats,
    shared_bandwidth_bps,
)
from specaccel.sim.log import LogBuilder, ReplayLog
from specaccel.sim.step_input import StepInput

__all__ = ["SEPARATE_DRAFT_ENGINE", "contended_pair", "draft_progress", "pipeline_hits",
           "pipelined_replay"]


@numba.njit(cache=True, nogil=True)
def _hits(step_off, parent, accepted, path_flat, out):  # pragma: no cover - compiled
    for s in range(step_off.shape[0] - 1):
        a = step_off[s]
        n = step_off[s + 1] - a
        first = np.full(n, -1, dtype=np.int64)
        for i in range(n - 1, 0, -1):
            first[parent[a + i]] = i
        cur = 0
        k = 0
        hit = True
        while first[cur] >= 0:
            cur = first[cur]
            k += 1
            if k > accepted[s] or path_flat[a + k] != cur:
                hit = False
                break
        out[s] = hit and k == accepted[s]


def pipeline_hits(trace, outcome: TraceOutcome) -> np.ndarray:
    """Per step, whether a pre-draft made during it for the next step is valid: the
    accepted path is the first-child chain of the tree down to its leaf."""
    off = np.ascontiguousarray(trace.step_node_offsets, dtype=np.int64)
    out = np.zeros(off.shape[0] - 1, dtype=np.bool_)
    if out.shape[0]:
        _hits(off, np.ascontiguousarray(trace.nodes["parent"], dtype=np.int64),
              np.ascontiguousarray(outcome.accepted, dtype=np.int64),
              np.ascontiguousarray(outcome.path_flat, dtype=np.int64), out)
    return out


def contended_pair(t_solo: float, t_bytes: float, d_solo: float, d_bytes: float,
                   bandwidth: float) -> tuple[float, float, float]:
    """End times (from a common start) of a target pass and a draft pass sharing HBM.

    Returns ``(target_end, draft_end, f)``: both progress at ``1/f`` of their solo
    speed while both run, ``f = max(1, (t_bytes/t_solo + d_bytes/d_solo) / bandwidth)``.
    """
    if d_solo <= 0.0:
        return t_solo, 0.0, 1.0
    if t_solo <= 0.0:
        return 0.0, d_solo, 1.0
    demand = t_bytes / t_solo + d_bytes / d_solo
    f = max(1.0, demand / bandwidth) if bandwidth > 0 else 1.0
    if d_solo <= t_solo:
        d_end = d_solo * f
        return d_end + (t_solo - d_solo), d_end, f
    t_end = t_solo * f
    return t_end, t_end + (d_solo - t_solo), f


def draft_progress(at: float, t_end: float, f: float, d_solo: float, d_end: float) -> float:
    """Fraction of a pre-draft (started with the target pass at time 0) done by `at`."""
    if at >= d_end:
        return 1.0
    shared = min(at, t_end)
    done = shared / f + max(0.0, at - t_end)
    return min(1.0, done / d_solo) if d_solo > 0 else 1.0


class PipelinedReplay:
    """Batch-1 replay with pre-drafting overlapped with verification, block by block."""

    def __init__(self, inp: StepInput) -> None:
        self.inp = inp
        self.env = simpy.Environment()
        self.unit_map = inp.unit_map
        self.bandwidth = shared_bandwidth_bps(inp.hw)
        self.busy = {name: 0.0 for name in dict.fromkeys(self.unit_map[r] for r in ROLES)}
        self.jobs = dict.fromkeys(self.busy, 0)
        self.out = LogBuilder(inp)
        self.wasted_s = 0.0
        self.hidden_steps = 0
        self.overlaps = 0
        self.stretch_s = 0.0
        self.hits = 0
        self.steps = 0
        self.kv_peak = 0
        self.kv_integral = 0.0
        self.kv_written = 0
        self.kv_rolled_back = 0

    def _stage(self, role: str, r: int, s: int, a: float, b: float) -> None:
        if b <= a:
            return
        unit = self.unit_map[role]
        self.busy[unit] += b - a
        self.jobs[unit] += 1
        self.out.stage(role, unit, r, s, a, b)

    def run(self):
        """SimPy process body: every request, steps pipelined, a block at a time."""
        env = self.env
        arrival = np.asarray(self.inp.arrival_s, dtype=np.float64).tolist()
        step0 = 0
        for block in self.inp.blocks():
            c = block.costs
            lists = _StepLists(c, pipeline_hits(block.trace, block.outcome))
            off = c.request_step_offsets.tolist()
            for r in range(c.n_requests):
                g = block.first + r
                if arrival[g] > env.now:
                    yield env.timeout(arrival[g] - env.now)
                self.out.request_start_s[g] = env.now
                yield from self._request(lists, g, int(c.prompt_len[r]), off[r], off[r + 1],
                                         step0)
                self.out.request_end_s[g] = env.now
            self.out.hbm_bytes["target"] += float(c.target_hbm_bytes.sum())
            self.out.energy_j["target"] += float(c.target_j.sum())
            self.kv_written += int(c.prompt_len.sum() + c.n_nodes.sum())
            self.kv_rolled_back += int((c.n_nodes - c.committed).sum())
            self.hits += int(np.count_nonzero(lists.hit_array))
            self.steps += c.n_steps
            step0 += c.n_steps

    def _request(self, k: _StepLists, g: int, prompt: int, a: int, b: int, step0: int):
        """One request's steps ``a..b`` (block-local; `step0` + s is the run's step)."""
        env = self.env
        energy, hbm = self.out.energy_j, self.out.hbm_bytes
        D, Tr, T, V, DJ, DB, TB = k.D, k.Tr, k.T, k.V, k.DJ, k.DB, k.TB
        kv = prompt
        self.kv_peak = max(self.kv_peak, kv)
        predrafted = False
        for s in range(a, b):
            t = env.now
            if not predrafted:
                self._stage("draft", g, step0 + s, t, t + D[s])
                energy["draft"] += DJ[s]
                hbm["draft"] += DB[s]
                t += D[s]
            else:
                self.hidden_steps += 1
            self._stage("tree", g, step0 + s, t, t + Tr[s])
            t += Tr[s]
            kv_pre_s = t - env.now
            nxt = s + 1 if s + 1 < b else -1
            if nxt >= 0:
                t_end, d_end, f = contended_pair(T[s], TB[s], D[nxt], DB[nxt], self.bandwidth)
                self.overlaps += 1
                self.stretch_s += t_end - T[s]
            else:
                t_end, d_end, f = T[s], 0.0, 1.0
            self._stage("target", g, step0 + s, t, t + t_end)
            v_end = t_end + V[s]
            self._stage("verify", g, step0 + s, t + t_end, t + v_end)
            if nxt >= 0:
                hit = k.hits[s]
                stop = d_end if hit else min(d_end, v_end)
                frac = 1.0 if hit else draft_progress(stop, t_end, f, D[nxt], d_end)
                self._stage("draft", g, step0 + nxt, t, t + stop)
                energy["draft"] += DJ[nxt] * frac
                hbm["draft"] += DB[nxt] * frac
                if not hit:
                    self.wasted_s += stop
                predrafted = bool(hit)
                step_end = t + (max(v_end, d_end) if predrafted else v_end)
            else:
                step_end = t + v_end
            # KV: kv before the target pass, + the tree's nodes until the verify
            # reports, then + the kept tokens (waiting for a pre-draft to finish)
            self.kv_integral += (kv * kv_pre_s + (kv + k.nodes[s]) * v_end
                                 + (kv + k.kept[s]) * (step_end - t - v_end))
            self.kv_peak = max(self.kv_peak, kv + k.nodes[s])
            kv += k.kept[s]
            yield env.timeout(step_end - env.now)

    def log(self) -> ReplayLog:
        now = float(self.env.now)
        kv = KvStats(peak_tokens=int(self.kv_peak),
                     mean_tokens=self.kv_integral / now if now > 0 else 0.0,
                     written_tokens=self.kv_written, rolled_back_tokens=self.kv_rolled_back)
        return self.out.build(
            engine="simpy-pipelined", makespan_s=now, kv=kv,
            unit_busy_s=dict(self.busy), unit_jobs=dict(self.jobs),
            pipeline={
                "hit_rate": self.hits / self.steps if self.steps else 0.0,
                "hidden_draft_steps": self.hidden_steps,
                "overlapped_steps": self.overlaps,
                "wasted_draft_s": self.wasted_s,
                "contention_stretch_s": self.stretch_s,
                "hbm_bandwidth_effective_bps": self.bandwidth,
            })


class _StepLists:
    """A block's per-step figures as Python lists (cheap to index in the hot loop)."""

    def __init__(self, c, hits: np.ndarray) -> None:
        self.D, self.Tr = c.draft_s.tolist(), c.tree_s.tolist()
        self.T, self.V = c.target_s.tolist(), c.verify_s.tolist()
        self.DJ, self.DB = c.draft_j.tolist(), c.draft_hbm_bytes.tolist()
        self.TB = c.target_hbm_bytes.tolist()
        self.nodes, self.kept = c.n_nodes.tolist(), c.committed.tolist()
        self.hit_array = hits
        self.hits = hits.tolist()


def pipelined_replay(inp: StepInput) -> ReplayLog:
    """Batch-1 replay of `inp` with pipelined speculation (see the module docstring).

    The unit map must put the draft on its own engine (an accelerator's input gets
    :data:`SEPARATE_DRAFT_ENGINE` when built for pipelined speculation).
    """
    mode = inp.pricer.drafting
    if not mode.runs_draft_model:
        raise InputError(f"pipelined speculation needs a draft model to pre-draft with; "
                         f"drafting {mode.name!r} has none", field="pipelined")
    if inp.unit_map["draft"] == inp.unit_map["target"]:
        raise InputError("pipelined speculation needs a separate draft engine (the draft "
                         f"and the target share {inp.unit_map['target']!r})",
                         field="pipelined")
    rep = PipelinedReplay(inp)
    rep.env.process(rep.run())
    rep.env.run()
    return rep.log()
