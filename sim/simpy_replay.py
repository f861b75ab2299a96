"""SimPy replay of a trace's decode steps, request by request.

A request is a SimPy process that, for every decode step, goes through the stages of
speculative decoding on the :class:`~specaccel.sim.accelerator_model.Accelerator`:

1. **draft** — hold the draft engine for the step's summed draft-pass latency;
2. **tree** — the tree unit builds the attention mask and position ids;
3. **target** — hold the target engine for the verify pass; the KV of all ``N`` tree
   nodes is written to the cache;
4. **verify** — the verify unit walks the tree;
5. **commit** — the KV of the rejected nodes is rolled back (the root and the accepted
   path stay: ``committed`` entries).

A stage with zero latency (drafting off: no draft, tree or verify stage) is skipped, so
the autoregressive baseline is the same process with one stage per step.

**The batch-1 closed loop** (:func:`replay`): requests one after another, each not
before its arrival, reading the run's step costs a block of requests at a time.  A
request owns the machine — it acquires its units once — and nothing else runs, so its
stages follow each other without waiting: a step is one timeout of its four stages, and
what the stages do inside the step (the tree's KV written at the start of the target
pass, the rejected nodes rolled back at commit, busy time per unit, the stage intervals
of the timeline) follows from the step's latencies, block by block, without an event
each.  **Requests that share the machine** (:meth:`TraceReplay.request`, run
concurrently) acquire a unit per stage instead: one acquire + one timeout each, the KV
written and rolled back as events.
"""

from __future__ import annotations

import numba
import numpy as np
import simpy

from specaccel.schema import progress
from specaccel.sim.accelerator_model import ROLES, Accelerator, KvStats
from specaccel.sim.log import LogBuilder, ReplayLog
from specaccel.sim.step_costs import StepCosts
from specaccel.sim.step_input import StepInput


@numba.njit(cache=True, nogil=True)
def block_kv(off, prompt, pre, post, kept, nodes):  # pragma: no cover - compiled
    """KV token-seconds and peak of a block of batch-1 requests.

    A request holds ``prompt + kept so far`` tokens of KV before a step's target stage
    (`pre`: draft and tree) and ``+ nodes`` during target and verify (`post`); it holds
    nothing before it starts or after it ends.
    """
    integral = 0.0
    peak = 0
    for r in range(off.shape[0] - 1):
        kv = prompt[r]
        if kv > peak:
            peak = kv
        for s in range(off[r], off[r + 1]):
            during = kv + nodes[s]
            integral += kv * pre[s] + during * post[s]
            if during > peak:
                peak = during
            kv += kept[s]
    return integral, peak


class BlockSteps:
    """What the closed loop needs of a block's step costs, computed once per block.

    Attributes
    ----------
    pre, post:
        Per step, its draft + tree stages and its target + verify stages (seconds).
    kept, nodes:
        Per step, the tokens it keeps and the tree nodes whose KV it writes (0 for a
        step without a target stage).
    """

    def __init__(self, c: StepCosts) -> None:
        self.costs = c
        self.off = np.ascontiguousarray(c.request_step_offsets, dtype=np.int64)
        self.pre = c.draft_s + c.tree_s
        self.post = c.target_s + c.verify_s
        verified = c.target_s > 0
        self.kept = np.where(verified, c.committed, 0).astype(np.int64)
        self.nodes = np.where(verified, c.n_nodes, 0).astype(np.int64)
        self.prompt = np.ascontiguousarray(c.prompt_len, dtype=np.int64)

    def account(self, out: LogBuilder) -> tuple[float, int, int, int]:
        """Add the block's busy time, jobs, HBM bytes and energy per role to `out`;
        return its KV ``(token-seconds, peak, written, rolled back)``."""
        c = self.costs
        for role, seconds in zip(ROLES, (c.draft_s, c.tree_s, c.target_s, c.verify_s),
                                 strict=True):
            out.role_busy_s[role] += float(seconds.sum())
            out.role_jobs[role] += int(np.count_nonzero(seconds > 0))
        out.hbm_bytes["draft"] += float(c.draft_hbm_bytes.sum())
        out.hbm_bytes["target"] += float(c.target_hbm_bytes.sum())
        out.energy_j["draft"] += float(c.draft_j.sum())
        out.energy_j["target"] += float(c.target_j.sum())
        integral, peak = block_kv(self.off, self.prompt, self.pre, self.post, self.kept,
                                  self.nodes)
        verified = self.nodes > 0
        written = int(self.prompt.sum() + self.nodes.sum())
        rolled = int((c.n_nodes - c.committed)[verified].sum())
        return float(integral), int(peak), written, rolled

    def record(self, out: LogBuilder, unit_map: dict[str, str], first: int, step0: int,
               r: int, a: int, b: int, start: float) -> None:
        """The timeline records of request `r`'s steps ``a..b`` (block-local), the first
        starting at `start`."""
        c = self.costs
        t = start
        for s in range(a, b):
            d, tr, tg, v = (float(c.draft_s[s]), float(c.tree_s[s]), float(c.target_s[s]),
                            float(c.verify_s[s]))
            mid = t + (d + tr)
            end = t + (d + tr + (tg + v))
            for role, lo, hi in (("draft", t, t + d), ("tree", t + d, mid),
                                 ("target", mid, mid + tg), ("verify", mid + tg, end)):
                out.record(role, unit_map[role], first + r, step0 + s, lo, hi)
            t = end


def _closed_loop(inp: StepInput, acc: Accelerator, out: LogBuilder, kv: list):
    """SimPy process body of the batch-1 closed loop (module docstring)."""
    env = acc.env
    arrival = np.asarray(inp.arrival_s, dtype=np.float64).tolist()
    owned = list({id(u.resource): u.resource for u in acc.units.values()}.values())
    step0 = 0
    for block in inp.blocks():
        steps = BlockSteps(block.costs)
        step_t = (steps.pre + steps.post).tolist()
        off = steps.off.tolist()
        for r in range(len(off) - 1):
            g = block.first + r
            if arrival[g] > env.now:
                yield env.timeout(arrival[g] - env.now)
            reqs = [res.request() for res in owned]
            for req in reqs:
                yield req
            out.request_start_s[g] = env.now
            if out.timeline is not None:
                steps.record(out, inp.unit_map, block.first, step0, r, off[r], off[r + 1],
                             env.now)
            for s in range(off[r], off[r + 1]):
                yield env.timeout(step_t[s])
            out.request_end_s[g] = env.now
            for res, req in zip(owned, reqs, strict=True):
                res.release(req)
            progress.advance()
        integral, peak, written, rolled = steps.account(out)
        kv[0] += integral
        kv[1] = max(kv[1], peak)
        kv[2] += written
        kv[3] += rolled
        step0 += block.costs.n_steps


def replay(inp: StepInput) -> ReplayLog:
    """Replay every step of `inp` on a fresh SimPy model of its hardware: the batch-1
    closed loop, requests one after another, each not before its arrival."""
    env = simpy.Environment()
    acc = Accelerator.build(env, inp.hw, inp.pricer.kv_bytes_per_token, inp.unit_map)
    out = LogBuilder(inp)
    kv = [0.0, 0, 0, 0]
    env.process(_closed_loop(inp, acc, out, kv))
    env.run()
    makespan = float(env.now)
    return out.build(engine="simpy", makespan_s=makespan, kv=KvStats(
        peak_tokens=kv[1], mean_tokens=kv[0] / makespan if makespan > 0 else 0.0,
        written_tokens=kv[2], rolled_back_tokens=kv[3]))


class TraceReplay:
    """Requests of a :class:`~.step_input.StepInput` as SimPy processes that share an
    :class:`Accelerator`: every stage acquires its unit (module docstring).

    Parameters
    ----------
    inp:
        The run's step-cost input (every step at once: ``inp.costs``).
    accelerator:
        The machine (its ``env`` runs the processes).
    """

    def __init__(self, inp: StepInput, accelerator: Accelerator) -> None:
        costs = inp.costs
        self.costs = costs
        self.acc = accelerator
        self.env = accelerator.env
        self.out = LogBuilder(inp)
        # Plain Python lists: indexing them in the hot loop is far cheaper than NumPy.
        self._stage_s = [costs.draft_s.tolist(), costs.tree_s.tolist(),
                         costs.target_s.tolist(), costs.verify_s.tolist()]
        self._stage_bytes = [costs.draft_hbm_bytes.tolist(), [0.0] * costs.n_steps,
                             costs.target_hbm_bytes.tolist(), [0.0] * costs.n_steps]
        self._n_nodes = costs.n_nodes.tolist()
        self._committed = costs.committed.tolist()

    def request(self, r: int):
        """SimPy process body of request `r`: its decode steps, one after the other,
        each stage acquiring its unit."""
        env = self.env
        mem = self.acc.memory
        units = [self.acc.role_unit[role] for role in ROLES]
        a = int(self.costs.request_step_offsets[r])
        b = int(self.costs.request_step_offsets[r + 1])
        self.out.request_start_s[r] = env.now
        mem.kv_allocate(int(self.costs.prompt_len[r]))
        kept = 0
        for s in range(a, b):
            for k in range(4):
                d = self._stage_s[k][s]
                if d <= 0.0:
                    continue
                req = units[k].resource.request()
                yield req
                if k == 2:                      # the verify pass writes the tree's KV
                    mem.kv_allocate(self._n_nodes[s])
                start = env.now
                yield env.timeout(d)
                units[k].resource.release(req)
                units[k].busy_s += d
                units[k].jobs += 1
                self.out.busy(ROLES[k], d)
                mem.bytes_by_role[ROLES[k]] += self._stage_bytes[k][s]
                self.out.record(ROLES[k], units[k].name, r, s, start, env.now)
            if self._stage_s[2][s] > 0.0:       # commit: roll back the rejected nodes
                mem.kv_release(self._n_nodes[s] - self._committed[s], rollback=True)
                kept += self._committed[s]
        mem.kv_release(int(self.costs.prompt_len[r]) + kept)   # done: free its cache
        self.out.request_end_s[r] = env.now

    def log(self) -> ReplayLog:
        """The measurements so far."""
        mem = self.acc.memory
        out = self.out
        out.hbm_bytes = dict(mem.bytes_by_role)
        out.energy_j = {"draft": float(self.costs.draft_j.sum()),
                        "target": float(self.costs.target_j.sum())}
        return out.build(
            engine="simpy", makespan_s=self.env.now, kv=mem.kv_stats(),
            unit_busy_s={n: u.busy_s for n, u in self.acc.units.items()},
            unit_jobs={n: u.jobs for n, u in self.acc.units.items()})
