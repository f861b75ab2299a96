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
the autoregressive baseline is the same process with one stage per step.  In the batch-1
closed loop a request owns the machine: it acquires its units once and a step costs two
timeouts (draft + tree, then target + verify); requests that share the machine acquire
a unit per stage (one acquire + one timeout each).

In this first version requests replay one after another (batch 1, a closed loop that
also honours arrival times); each request is its own generator so that a serving loop
can later run many of them concurrently on the same resources.
"""

from __future__ import annotations

import numpy as np
import simpy

from specaccel.schema import progress
from specaccel.sim.accelerator_model import ROLES, Accelerator
from specaccel.sim.log import LogBuilder, ReplayLog
from specaccel.sim.step_input import StepInput


class TraceReplay:
    """Replays the steps of a :class:`~.step_input.StepInput` on an :class:`Accelerator`.

    Parameters
    ----------
    inp:
        The run's step-cost input (per-step costs, arrivals, timeline or not).
    accelerator:
        The machine (its ``env`` runs the replay).
    """

    def __init__(self, inp: StepInput, accelerator: Accelerator) -> None:
        costs = inp.costs
        self.costs = costs
        self.acc = accelerator
        self.env = accelerator.env
        self.arrival_s = np.asarray(inp.arrival_s, dtype=np.float64)
        self.out = LogBuilder(inp)
        # Plain Python lists: indexing them in the hot loop is far cheaper than NumPy.
        self._stage_s = [costs.draft_s.tolist(), costs.tree_s.tolist(),
                         costs.target_s.tolist(), costs.verify_s.tolist()]
        self._stage_bytes = [costs.draft_hbm_bytes.tolist(), [0.0] * costs.n_steps,
                             costs.target_hbm_bytes.tolist(), [0.0] * costs.n_steps]
        self._n_nodes = costs.n_nodes.tolist()
        self._committed = costs.committed.tolist()
    def request(self, r: int, exclusive: bool = False):
        """SimPy process body of request `r`: its decode steps, one after the other.

        With `exclusive` the request owns the machine (the batch-1 closed loop): it
        acquires each unit once and advances each step with two timeouts (draft + tree,
        then target + verify, between which the tree's KV is written), recording every
        stage's interval from the latencies.  Otherwise each stage acquires its unit
        (one acquire + one timeout per stage), for requests sharing the machine.
        """
        env = self.env
        mem = self.acc.memory
        units = [self.acc.role_unit[role] for role in ROLES]
        a = int(self.costs.request_step_offsets[r])
        b = int(self.costs.request_step_offsets[r + 1])
        self.out.request_start_s[r] = env.now
        mem.kv_allocate(int(self.costs.prompt_len[r]))
        if exclusive:
            owned = list({id(u.resource): u.resource for u in units}.values())
            reqs = [res.request() for res in owned]
            for req in reqs:
                yield req
            self.out.request_start_s[r] = env.now
            kept = yield from self._steps_exclusive(r, a, b, units)
            for res, req in zip(owned, reqs, strict=True):
                res.release(req)
        else:
            kept = yield from self._steps_shared(r, a, b, units)
        mem.kv_release(int(self.costs.prompt_len[r]) + kept)   # done: free its cache
        self.out.request_end_s[r] = env.now

    def _steps_exclusive(self, r: int, a: int, b: int, units):
        env = self.env
        mem = self.acc.memory
        d_s, tr_s, t_s, v_s = self._stage_s
        d_b, t_b = self._stage_bytes[0], self._stage_bytes[2]
        n_nodes = self._n_nodes
        committed = self._committed
        busy = [0.0, 0.0, 0.0, 0.0]
        jobs = [0, 0, 0, 0]
        hbm_d = hbm_t = 0.0
        timeline = self.out.timeline
        kept = 0
        for s in range(a, b):
            d, tr, t, v = d_s[s], tr_s[s], t_s[s], v_s[s]
            start = env.now
            if d > 0.0 or tr > 0.0:
                yield env.timeout(d + tr)
            if t > 0.0:                          # the verify pass writes the tree's KV
                mem.kv_allocate(n_nodes[s])
            mid = env.now
            if t > 0.0 or v > 0.0:
                yield env.timeout(t + v)
            if t > 0.0:                          # commit: roll back the rejected nodes
                mem.kv_release(n_nodes[s] - committed[s], rollback=True)
                kept += committed[s]
            hbm_d += d_b[s]
            hbm_t += t_b[s]
            for k, dur in ((0, d), (1, tr), (2, t), (3, v)):
                if dur > 0.0:
                    busy[k] += dur
                    jobs[k] += 1
            if timeline is not None:
                for k, a_, b_ in ((0, start, start + d), (1, start + d, mid),
                                  (2, mid, mid + t), (3, mid + t, env.now)):
                    if b_ > a_:
                        timeline.append((ROLES[k], units[k].name, r, s, a_, b_))
        for k in range(4):
            units[k].busy_s += busy[k]
            units[k].jobs += jobs[k]
            self.out.role_busy_s[ROLES[k]] += busy[k]
            self.out.role_jobs[ROLES[k]] += jobs[k]
        mem.bytes_by_role["draft"] += hbm_d
        mem.bytes_by_role["target"] += hbm_t
        return kept

    def _steps_shared(self, r: int, a: int, b: int, units):
        env = self.env
        mem = self.acc.memory
        resources = [u.resource for u in units]
        stage_s = self._stage_s
        stage_bytes = self._stage_bytes
        n_nodes = self._n_nodes
        committed = self._committed
        role_busy = [0.0, 0.0, 0.0, 0.0]
        role_jobs = [0, 0, 0, 0]
        timeline = self.out.timeline
        kept = 0
        for s in range(a, b):
            for k in range(4):
                d = stage_s[k][s]
                if d <= 0.0:
                    continue
                res = resources[k]
                req = res.request()
                yield req
                if k == 2:                      # the verify pass writes the tree's KV
                    mem.kv_allocate(n_nodes[s])
                start = env.now
                yield env.timeout(d)
                res.release(req)
                unit = units[k]
                unit.busy_s += d
                unit.jobs += 1
                role_busy[k] += d
                role_jobs[k] += 1
                mem.bytes_by_role[ROLES[k]] += stage_bytes[k][s]
                if timeline is not None:
                    timeline.append((ROLES[k], unit.name, r, s, start, env.now))
            # commit: roll back the KV of the rejected nodes
            if stage_s[2][s] > 0.0:
                mem.kv_release(n_nodes[s] - committed[s], rollback=True)
                kept += committed[s]
        for k, role in enumerate(ROLES):
            self.out.role_busy_s[role] += role_busy[k]
            self.out.role_jobs[role] += role_jobs[k]
        return kept

    def closed_loop(self):
        """SimPy process body: the requests one after another, each not before its arrival."""
        env = self.env
        arrival = self.arrival_s.tolist()
        for r in range(self.costs.n_requests):
            if arrival[r] > env.now:
                yield env.timeout(arrival[r] - env.now)
            yield from self.request(r, exclusive=True)
            progress.advance()

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


def replay(inp: StepInput) -> ReplayLog:
    """Replay every step of `inp` on a fresh SimPy model of its hardware: the batch-1
    closed loop, requests one after another, each not before its arrival."""
    env = simpy.Environment()
    acc = Accelerator.build(env, inp.hw, inp.pricer.kv_bytes_per_token, inp.unit_map)
    rep = TraceReplay(inp, acc)
    env.process(rep.closed_loop())
    env.run()
    return rep.log()
