"""Serving simulation: arrivals, prefill, continuous batching, KV-limited admission.

Requests arrive (the trace's ``arrival_s``, or a Poisson process at a given rate), wait
for admission, are prefilled (in chunks that share the batch step's token budget) and
then decode with **batched speculation** (BASS): every running request drafts and
verifies its own tree in the same batch step, and each one accepts a different number
of tokens (its own golden outcome), so the rows' contexts drift apart — ragged
acceptance.

One **batch step** (one set of SimPy events, not one per request):

1. *schedule* — arrived requests join the waiting queue (FIFO); waiting requests are
   admitted while the batch has room (``max_batch``) and the KV cache has room for
   their prompt plus the trees of the running rows; running decode rows are taken in
   admission order while their tree nodes fit the ``token_budget``; what budget is left
   goes to prefill chunks (Sarathi-style chunked prefill).  If the trees of this step do
   not fit the free KV cache, the most recently admitted request is **pre-empted**
   (vLLM's recompute policy: its KV is freed, it goes back to the head of the queue and
   is prefilled again over prompt + tokens generated so far).  Nothing is dropped.
2. *draft* — per draft-pass slot ``d`` of the drafting mode (per tree level, for
   ``"per-level"``), one batched draft pass over the rows that run it; rows are padded
   to the widest frontier (BASS-PAD), context = the rows' mean (the cost model depends
   on per-row contexts only through their sum).  No draft pass at all when the mode
   runs no draft model (``"draft-free"``: the trees come from a lookup; ``"none"``).
3. *tree* — the tree unit builds each row's mask (rows one after another on the
   accelerator's unit; one batched kernel sequence on a GPU).
4. *target* — one batched verify pass over all rows (padded to the largest tree), then
   the prefill chunks together, as one pass (`StepPricer.prefill`; one stage on the
   target engine; the timeline shows the prefill part as its own ``prefill`` slice, its
   energy counts as target energy); the KV of every tree node is written.
5. *verify* — the verify unit walks each row's tree (serial rows on the accelerator,
   one batched kernel sequence on a GPU).
6. *commit* — per row the KV of rejected nodes is rolled back; a finished request frees
   its cache.

Costs come from the run's step-cost door (:meth:`~.pricing.StepPricer.batch_passes`,
:meth:`~.pricing.StepPricer.prefill`, :meth:`~.pricing.StepPricer.rows_stage_s`), one
cost-model call per model per batch step (all draft slots in one array call), so a batch
step costs a few SimPy events and three vectorised cost-model calls whatever the batch
size.  With the default kernel the calls skip the cost model's per-call argument checks:
the ranges they can take are checked once before the run (:mod:`.serving_costs`).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import simpy

from specaccel.schema import progress
from specaccel.schema.errors import InputError
from specaccel.sim.accelerator_model import ROLES, Accelerator, shared_bandwidth_bps
from specaccel.sim.bounded_series import BoundedSeries
from specaccel.sim.log import LogBuilder, ReplayLog
from specaccel.sim.options import ServingConfig
from specaccel.sim.pipelined import contended_pair
from specaccel.sim.serving_costs import batch_pricer
from specaccel.sim.step_input import StepInput, poisson_arrivals

__all__ = ["ServingConfig", "ServingSimulation", "percentiles", "poisson_arrivals", "serve",
           "serving_summary"]


class ServingSimulation:
    """The serving loop on an :class:`Accelerator` (one SimPy process).

    Parameters
    ----------
    inp:
        The run's step-cost input: batch-1 step costs (tree sizes, outcomes, contexts,
        unit latencies), the step-cost door for batched passes, arrivals, the serving
        configuration and the KV-cache capacity.
    accelerator:
        The machine.
    """

    def __init__(self, inp: StepInput, accelerator: Accelerator) -> None:
        whole = inp.stream.whole()
        costs = whole.costs
        self.costs = costs
        self.cfg = inp.serving
        self.acc = accelerator
        self.env = accelerator.env
        self.mem = accelerator.memory
        self.kv_capacity = inp.kv_capacity
        self.arrival = np.asarray(inp.arrival_s, dtype=np.float64)
        self.order = np.argsort(self.arrival, kind="stable")
        self.draft_passes = whole.draft
        self.pricer = batch_pricer(inp, self.draft_passes)
        self.out = LogBuilder(inp)
        n_req = costs.n_requests
        self.next_step = costs.request_step_offsets[:-1].astype(np.int64).copy()
        self.end_step = costs.request_step_offsets[1:].astype(np.int64).copy()
        self.t_admit = np.full(n_req, np.nan)
        self.t_first = self.out.request_first_token_s
        self.t_end = np.full(n_req, np.nan)
        self.preemptions = np.zeros(n_req, dtype=np.int64)
        self.started = np.zeros(n_req, dtype=bool)  # a chunk of the request has run
        self.kv_held = np.zeros(n_req, dtype=np.int64)
        self.prefill_left = np.zeros(n_req, dtype=np.int64)
        self.kv_series = BoundedSeries(1024)
        self.batch_steps = 0
        self.batch_rows_sum = 0
        self.batch_rows_max = 0
        self.prefill_tokens = 0
        self.recomputed_tokens = 0
        self.contention_stretch_s = 0.0
        # micro-batch overlap hides draft passes behind verify passes: without a draft
        # model there is nothing to overlap, the step runs whole
        self.overlap = bool(self.cfg.overlap_draft) and inp.pricer.drafting.runs_draft_model
        self.bandwidth = shared_bandwidth_bps(inp.hw)
        if self.overlap and accelerator.draft_engine is accelerator.target_engine:
            raise InputError("overlapped drafting needs a separate draft engine (the draft "
                             f"and the target share {accelerator.target_engine.name!r})",
                             field="overlap_draft")

    # -- KV accounting ----------------------------------------------------------------
    def _fits(self, tokens: int) -> bool:
        return self.kv_capacity is None or self.mem.kv_tokens + tokens <= self.kv_capacity

    def _free(self, r: int) -> None:
        self.mem.kv_release(int(self.kv_held[r]))
        self.kv_held[r] = 0

    # -- costs of one batch step ----------------------------------------------------------
    def _pass_costs(self, rows: np.ndarray, chunks: list[tuple[int, int, int]]):
        """``(draft, target, prefill_s)`` of the rows and prefill chunks: draft and
        target as ``(seconds, dynamic J, HBM bytes)``; the prefill's seconds are part
        of the target's."""
        draft, target = self.pricer.batch_passes(self.costs, self.draft_passes, rows[None, :])
        d = (float(draft.latency_s[0]), float(draft.energy_j[0]), float(draft.hbm_bytes[0]))
        t = (float(target.latency_s[0]), float(target.energy_j[0]),
             float(target.hbm_bytes[0]))
        if not chunks:
            return d, t, 0.0
        # a request's first chunk starts it; a pre-empted request prefilled again from
        # context 0 does not start again (the engine has tokenised and admitted it)
        starts = np.array([c[2] == 0 and not self.started[c[0]] for c in chunks])
        self.started[[c[0] for c in chunks]] = True
        pl, pe, ph = self.pricer.prefill(np.array([c[1] for c in chunks], dtype=np.int64),
                                         np.array([c[2] for c in chunks], dtype=np.float64),
                                         starts).totals()
        return d, (t[0] + pl, t[1] + pe, t[2] + ph), pl

    def _unit_time(self, per_step: np.ndarray, rows: np.ndarray) -> float:
        return float(self.pricer.rows_stage_s(per_step, rows[None, :])[0])

    def _account(self, draft: tuple[float, float, float], target: tuple[float, float, float]
                 ) -> None:
        energy, hbm = self.out.energy_j, self.out.hbm_bytes
        energy["draft"] += draft[1]
        energy["target"] += target[1]
        hbm["draft"] += draft[2]
        hbm["target"] += target[2]

    # -- the serving loop -----------------------------------------------------------------
    def run(self):
        """SimPy process body: batch steps until every request has finished."""
        env = self.env
        n_req = self.costs.n_requests
        arrivals = self.arrival.tolist()
        order = self.order.tolist()
        units = [self.acc.role_unit[r] for r in ROLES]
        waiting: deque[int] = deque()
        running: list[int] = []
        nxt = 0          # next request (in arrival order) not yet arrived
        done = 0
        while done < n_req:
            now = env.now
            while nxt < n_req and arrivals[order[nxt]] <= now:
                waiting.append(order[nxt])
                nxt += 1
            self._admit(waiting, running, now)
            rows, chunks = self._select(running)
            preempted = self._preempt(rows, chunks, running, waiting)
            # requests that are admitted with nothing left to do finish now
            idle = [r for r in running if self.prefill_left[r] == 0
                    and self.next_step[r] >= self.end_step[r]]
            for r in idle:
                self._finish(r, running)
                done += 1
            if not rows and not chunks:
                if done >= n_req:
                    break
                if preempted or idle:  # freed cache / batch room admits the queue next
                    continue
                if nxt < n_req:
                    yield env.timeout(arrivals[order[nxt]] - now)
                    continue
                raise RuntimeError("serving deadlock: requests wait but none can run "
                                   "(a request larger than the KV cache?)")
            steps = self.next_step[np.array(rows, dtype=np.int64)]
            if self.overlap and steps.size >= 2:
                yield from self._overlapped_step(steps, chunks, units)
            else:
                yield from self._batch_step(steps, chunks, units)
            self.batch_steps += 1
            self.batch_rows_sum += len(rows)
            self.batch_rows_max = max(self.batch_rows_max, len(rows))
            done += self._commit(rows, chunks, running)
            self.kv_series.offer(env.now, self.mem.kv_tokens)

    def _admit(self, waiting: deque[int], running: list[int], now: float) -> None:
        """Admit waiting requests while the batch and the KV cache (prompt, or context
        after a pre-emption, plus the running rows' trees and its own) have room."""
        c = self.costs
        n_nodes = c.n_nodes
        reserve = sum(int(n_nodes[self.next_step[r]]) for r in running
                      if self.next_step[r] < self.end_step[r])
        while waiting and len(running) < self.cfg.max_batch:
            r = waiting[0]
            s = self.next_step[r]
            decoding = s < self.end_step[r]
            need = int(c.context[s]) if decoding else int(c.prompt_len[r])
            own_tree = int(n_nodes[s]) if decoding else 0
            if not self._fits(need + reserve + own_tree):
                break
            waiting.popleft()
            running.append(r)
            if np.isnan(self.t_admit[r]):
                self.t_admit[r] = now
            self.kv_held[r] = need
            self.mem.kv_allocate(need)
            if self.cfg.prefill:
                self.prefill_left[r] = need
                if self.preemptions[r]:
                    self.recomputed_tokens += need
            reserve += own_tree

    def _select(self, running: list[int]) -> tuple[list[int], list[tuple[int, int, int]]]:
        """Decode rows within the token budget, in admission order, then prefill chunks
        ``(request, tokens, context)`` with what budget is left."""
        n_nodes = self.costs.n_nodes
        budget = self.cfg.token_budget
        rows: list[int] = []
        chunks: list[tuple[int, int, int]] = []
        for r in running:
            if self.prefill_left[r] == 0 and self.next_step[r] < self.end_step[r]:
                n = int(n_nodes[self.next_step[r]])
                if n <= budget:
                    rows.append(r)
                    budget -= n
        for r in running:
            if self.prefill_left[r] > 0 and budget > 0:
                k = int(min(self.prefill_left[r], budget))
                chunks.append((r, k, int(self.kv_held[r] - self.prefill_left[r])))
                budget -= k
        return rows, chunks

    def _preempt(self, rows: list[int], chunks: list[tuple[int, int, int]],
                 running: list[int], waiting: deque[int]) -> bool:
        """Pre-empt the newest requests until this step's trees fit the KV cache (vLLM's
        recompute policy); `rows` and `chunks` lose them.  Whether any was pre-empted."""
        n_nodes = self.costs.n_nodes
        tree_tokens = sum(int(n_nodes[self.next_step[r]]) for r in rows)
        preempted = False
        while not self._fits(tree_tokens) and running:
            preempted = True
            victim = running.pop()
            if victim in rows:
                rows.remove(victim)
                tree_tokens -= int(n_nodes[self.next_step[victim]])
            chunks[:] = [ch for ch in chunks if ch[0] != victim]
            self._free(victim)
            self.prefill_left[victim] = 0
            self.preemptions[victim] += 1
            waiting.appendleft(victim)
        return preempted

    def _commit(self, rows: list[int], chunks: list[tuple[int, int, int]],
                running: list[int]) -> int:
        """After a batch step: prefill progress, then per row roll back the rejected
        nodes and keep the committed tokens.  Returns how many requests finished."""
        c = self.costs
        now = self.env.now
        done = 0
        for r, k, _ in chunks:
            self.prefill_left[r] -= k
            self.prefill_tokens += k
            if self.prefill_left[r] == 0 and np.isnan(self.t_first[r]):
                self.t_first[r] = now
            if self.prefill_left[r] == 0 and self.next_step[r] >= self.end_step[r]:
                self._finish(r, running)       # a request with no decode steps
                done += 1
        for r in rows:
            s = self.next_step[r]
            rejected = int(c.n_nodes[s] - c.committed[s])
            self.mem.kv_release(rejected, rollback=True)
            self.kv_held[r] += c.committed[s]
            if np.isnan(self.t_first[r]):
                self.t_first[r] = now
            self.next_step[r] = s + 1
            if s + 1 >= self.end_step[r]:
                self._finish(r, running)
                done += 1
        return done

    def _finish(self, r: int, running: list[int]) -> None:
        progress.advance()
        running.remove(r)
        self._free(r)
        self.t_end[r] = self.env.now
        if np.isnan(self.t_first[r]):
            self.t_first[r] = self.env.now

    def _batch_step(self, rows: np.ndarray, chunks, units):
        """One batch step over the decode steps `rows` (global step indices) and the
        prefill `chunks`: its stages as SimPy events, its energy and traffic."""
        env = self.env
        c = self.costs
        draft, target, prefill_s = self._pass_costs(rows, chunks)
        self._account(draft, target)
        stage_s = (draft[0], self._unit_time(c.tree_s, rows), target[0],
                   self._unit_time(c.verify_s, rows))
        tree_tokens = int(c.n_nodes[rows].sum()) if rows.size else 0
        for k, dur in enumerate(stage_s):
            if dur <= 0.0:
                continue
            unit = units[k]
            req = unit.resource.request()
            yield req
            if k == 2 and tree_tokens:
                self.mem.kv_allocate(tree_tokens)
            start = env.now
            yield env.timeout(dur)
            unit.resource.release(req)
            unit.busy_s += dur
            unit.jobs += 1
            self.out.busy(ROLES[k], dur)
            pre = prefill_s if k == 2 else 0.0
            if pre > 0.0:      # the prefill passes run after the verify pass
                self.out.record(ROLES[k], unit.name, -1, self.batch_steps, start, env.now - pre)
                self.out.record("prefill", unit.name, -1, self.batch_steps, env.now - pre,
                                env.now)
            else:
                self.out.record(ROLES[k], unit.name, -1, self.batch_steps, start, env.now)

    def _record(self, k: int, unit, a: float, b: float, label: str | None = None) -> None:
        if b <= a:
            return
        unit.busy_s += b - a
        unit.jobs += 1
        self.out.busy(ROLES[k], b - a)
        self.out.record(label or ROLES[k], unit.name, -1, self.batch_steps, a, b)

    def _overlapped_step(self, rows: np.ndarray, chunks, units):
        """A batch step as two micro-batches on separate engines: the draft engine drafts
        micro-batch 1 while the target verifies micro-batch 0 (HBM shared between the
        two passes, :func:`~.pipelined.contended_pair`); micro-batch 1's verify pass (and
        the prefill chunks) follow on the target engine.  The scheduler process owns
        the machine, so the stage times are computed and the step is one timeout."""
        env = self.env
        c = self.costs
        g0, g1 = rows[0::2], rows[1::2]
        (d0, d0_j, d0_b), (t0, t0_j, t0_b), _ = self._pass_costs(g0, [])
        (d1, d1_j, d1_b), (t1, t1_j, t1_b), prefill_s = self._pass_costs(g1, chunks)
        self._account((d0, d0_j + d1_j, d0_b + d1_b), (t0, t0_j + t1_j, t0_b + t1_b))
        tr0, tr1 = self._unit_time(c.tree_s, g0), self._unit_time(c.tree_s, g1)
        v0, v1 = self._unit_time(c.verify_s, g0), self._unit_time(c.verify_s, g1)
        draft_u, tree_u, target_u, verify_u = units
        t = env.now
        self._record(0, draft_u, t, t + d0)
        self._record(1, tree_u, t + d0, t + d0 + tr0)
        s0 = t + d0 + tr0                         # target(0) and draft(1) start together
        if s0 > env.now:
            yield env.timeout(s0 - env.now)
        self.mem.kv_allocate(int(c.n_nodes[rows].sum()))   # both trees (early for 1)
        t_end, d_end, _ = contended_pair(t0, t0_b, d1, d1_b, self.bandwidth)
        self.contention_stretch_s += t_end - t0
        self._record(2, target_u, s0, s0 + t_end)
        self._record(0, draft_u, s0, s0 + d_end)
        self._record(3, verify_u, s0 + t_end, s0 + t_end + v0)
        tree1_end = s0 + d_end + tr1
        self._record(1, tree_u, s0 + d_end, tree1_end)
        s1 = max(s0 + t_end, tree1_end)
        if t1 - prefill_s > 0.0:
            self._record(2, target_u, s1, s1 + t1 - prefill_s)
        if prefill_s > 0.0:
            self._record(2, target_u, s1 + t1 - prefill_s, s1 + t1, label="prefill")
        v1_start = max(s1 + t1, s0 + t_end + v0)
        self._record(3, verify_u, v1_start, v1_start + v1)
        yield env.timeout(v1_start + v1 - env.now)

    def log(self) -> ReplayLog:
        """The measurements of the finished run."""
        self.out.request_start_s = self.t_admit
        self.out.request_end_s = self.t_end
        serving = serving_summary(
            self.cfg, self.costs, self.kv_capacity, arrival=self.arrival,
            admit=self.t_admit, first=self.t_first, end=self.t_end,
            batch_steps=self.batch_steps, rows_sum=self.batch_rows_sum,
            rows_max=self.batch_rows_max, kv_series=self.kv_series,
            preemptions=self.preemptions, prefill_tokens=self.prefill_tokens,
            recomputed_tokens=self.recomputed_tokens,
            contention_stretch_s=self.contention_stretch_s)
        return self.out.build(
            engine="simpy-serving", makespan_s=self.env.now, kv=self.mem.kv_stats(),
            unit_busy_s={n: u.busy_s for n, u in self.acc.units.items()},
            unit_jobs={n: u.jobs for n, u in self.acc.units.items()},
            steps_timed=self.batch_steps, serving=serving)


def percentiles(x: np.ndarray) -> dict[str, float | None]:
    """P50/P90/P99 and mean of the finite values of `x` (``None`` when there are none)."""
    v = np.asarray(x, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"p50": None, "p90": None, "p99": None, "mean": None}
    p50, p90, p99 = np.percentile(v, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "mean": float(v.mean())}


def waited(later: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    """``later - earlier`` with the clock's rounding taken out: the SimPy clock reaches an
    arrival time by adding a timeout to the current time, so a request admitted the
    moment it arrives can differ from its arrival by a few units in the last place
    (3.6e-13 s at a 1,000 s clock); a difference that small is no wait."""
    d = np.asarray(later, dtype=np.float64) - np.asarray(earlier, dtype=np.float64)
    ulp = np.spacing(np.maximum(np.abs(later), np.abs(earlier)))
    return np.where(np.abs(d) <= 4.0 * ulp, 0.0, d)


def serving_summary(config: ServingConfig, costs, kv_capacity: int | None, *,
                    arrival: np.ndarray, admit: np.ndarray, first: np.ndarray,
                    end: np.ndarray, batch_steps: int, rows_sum: int, rows_max: int,
                    kv_series: BoundedSeries, preemptions: np.ndarray | None = None,
                    prefill_tokens: int = 0, recomputed_tokens: int = 0,
                    contention_stretch_s: float = 0.0) -> dict:
    """What a serving run reports besides the common log: its configuration, batch
    statistics, pre-emptions, TTFT / TPOT / end-to-end / queueing percentiles and the
    KV occupancy over time."""
    step_req = np.repeat(np.arange(costs.n_requests), np.diff(costs.request_step_offsets))
    tokens = np.bincount(step_req, weights=costs.committed, minlength=costs.n_requests)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(tokens > 0, (end - first) / np.maximum(tokens, 1), np.nan)
    pre = np.zeros(0, np.int64) if preemptions is None else preemptions
    return {
        "config": config.to_dict(),
        "kv_capacity_tokens": kv_capacity,
        "batch_steps": batch_steps,
        "mean_batch_rows": rows_sum / batch_steps if batch_steps else 0.0,
        "max_batch_rows": rows_max,
        "preemptions": int(pre.sum()),
        "preempted_requests": int(np.count_nonzero(pre)),
        "prefill_tokens": prefill_tokens,
        "recomputed_tokens": recomputed_tokens,
        "ttft_s": percentiles(first - arrival),
        "tpot_s": percentiles(tpot),
        "e2e_s": percentiles(end - arrival),
        "queue_s": percentiles(waited(admit, arrival)),
        "kv_occupancy": kv_series.to_dict(),
        "contention_stretch_s": contention_stretch_s,
    }


def check_serving_input(inp: StepInput) -> None:
    """:class:`InputError` when a serving run cannot run: a bad configuration, a request
    larger than the KV cache, a token budget smaller than the largest tree."""
    config, costs, cap = inp.serving, inp.costs, inp.kv_capacity
    config.check()
    if cap is not None and costs.n_requests:
        # the largest single request: its prompt, or its context at its last step plus
        # that step's tree
        last = costs.request_step_offsets[1:] - 1
        has = np.diff(costs.request_step_offsets) > 0
        need = max(int((costs.context[last[has]] + costs.n_nodes[last[has]]).max(initial=0)),
                   int(costs.prompt_len.max(initial=0)))
        if need > cap and config.kv_capacity_tokens is not None:
            raise InputError(f"one request needs {need} tokens of KV cache, more than a "
                             f"capacity of {cap} holds", field="kv_capacity_tokens")
        if need > cap:
            raise InputError(f"one request needs {need} tokens of KV cache but only {cap} "
                             "fit the memory left after the weights", field="hw")
    if config.token_budget < int(costs.n_nodes.max(initial=1)):
        raise InputError(f"must be at least the largest tree ({int(costs.n_nodes.max())} "
                         f"nodes), not {config.token_budget}", field="token_budget")


def serve(inp: StepInput) -> ReplayLog:
    """Run the serving loop of ``inp.serving`` over `inp` (module docstring)."""
    check_serving_input(inp)
    env = simpy.Environment()
    acc = Accelerator.build(env, inp.hw, inp.pricer.kv_bytes_per_token, inp.unit_map)
    sim = ServingSimulation(inp, acc)
    env.process(sim.run())
    env.run()
    return sim.log()
