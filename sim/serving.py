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
   the prefill chunks as prefill passes (one stage on the target engine; the timeline
   shows the prefill part as its own ``prefill`` slice, its energy counts as target
   energy); the KV of every tree node is written.
5. *verify* — the verify unit walks each row's tree (serial rows on the accelerator,
   one batched kernel sequence on a GPU).
6. *commit* — per row the KV of rejected nodes is rolled back; a finished request frees
   its cache.

Costs are computed per batch step with one cost-model call per model (all draft levels
in one array call), so a batch step costs a few SimPy events and three vectorised
cost-model calls whatever the batch size.  The calls skip the cost model's per-call
argument checks: the ranges they can take are checked once before the run
(:mod:`.serving_costs`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import simpy

from specaccel.models.cost.drafting import StepTrees
from specaccel.schema.errors import InputError
from specaccel.sim.accelerator_model import ROLES, Accelerator, hbm_bandwidth_bps
from specaccel.sim.bounded_series import BoundedSeries
from specaccel.sim.pipelined import contended_pair
from specaccel.sim.replay import ReplayLog
from specaccel.sim.step_costs import COST_FIELDS, CostFn, StepCosts


@dataclass(frozen=True)
class ServingConfig:
    """How requests are served.

    Attributes
    ----------
    max_batch:
        Most requests running at once (decode rows + prefilling requests).
    token_budget:
        Most query tokens per batch step: the tree nodes of every decode row plus the
        prefill chunk tokens.
    arrivals:
        ``"trace"`` (the trace's ``arrival_s``) or ``"poisson"``.
    rate_per_s:
        Poisson arrival rate (requests per second) when ``arrivals == "poisson"``.
    seed:
        Seed of the Poisson arrivals.
    prefill:
        Simulate prefill passes (off: requests start decoding on admission, their
        prompt's KV already in the cache; the batch-1 replay's convention).
    kv_capacity_tokens:
        KV-cache capacity in tokens; default: HBM left after the weights.
    overlap_draft:
        Split each batch step into two micro-batches so that a separate draft engine
        drafts one while the target verifies the other (draft and verify contend for
        HBM); needs a unit map with a separate draft engine.  No effect when the trace's
        drafting mode runs no draft model.
    """

    max_batch: int = 32
    token_budget: int = 4096
    arrivals: str = "trace"
    rate_per_s: float | None = None
    seed: int = 0
    prefill: bool = True
    kv_capacity_tokens: int | None = None
    overlap_draft: bool = False

    def check(self) -> None:
        """:class:`InputError` for an impossible setting."""
        if self.max_batch < 1:
            raise InputError(f"must be >= 1, not {self.max_batch}", field="batch")
        if self.token_budget < 1:
            raise InputError(f"must be >= 1, not {self.token_budget}", field="token_budget")
        if self.arrivals not in ("trace", "poisson"):
            raise InputError(f"must be 'trace' or 'poisson', not {self.arrivals!r}",
                             field="arrivals")
        if self.arrivals == "poisson" and not (self.rate_per_s and self.rate_per_s > 0):
            raise InputError("a Poisson arrival rate must be > 0", field="arrivals")
        if self.kv_capacity_tokens is not None and self.kv_capacity_tokens < 1:
            raise InputError(f"must be >= 1, not {self.kv_capacity_tokens}",
                             field="kv_capacity_tokens")

    @property
    def uncontended(self) -> bool:
        """True when requests can never overlap (batch 1, no prefill): the batch-1
        replay's situation, which the fast path computes exactly."""
        return self.max_batch == 1 and not self.prefill

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def poisson_arrivals(n: int, rate_per_s: float, seed: int) -> np.ndarray:
    """`n` arrival times of a Poisson process at `rate_per_s` (first at its first gap)."""
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.exponential(1.0 / rate_per_s, size=n))


@dataclass
class ServingLog(ReplayLog):
    """A :class:`ReplayLog` plus what only a serving run has (per-request latencies,
    batch statistics, pre-emptions, KV occupancy over time)."""

    serving: dict[str, Any] | None = None


class ServingSimulation:
    """The serving loop on an :class:`Accelerator` (one SimPy process).

    Parameters
    ----------
    trace, costs:
        The trace and its batch-1 :class:`StepCosts` (for tree sizes, outcomes,
        contexts and unit latencies).
    accelerator:
        The machine.
    target, draft, hw:
        Specs handed to `cost_fn`.
    config:
        The :class:`ServingConfig`.
    arrival_s:
        Arrival time of every request.
    kv_capacity:
        KV-cache capacity in tokens (``None``: unlimited).
    cost_fn:
        ``cost_fn(model, hw, *, tokens, context, batch, [phase])`` as
        :func:`specaccel.models.cost.pass_costs`.  ``None``: the cost model without
        per-call checks, its argument ranges checked once here
        (:func:`~.serving_costs.unchecked_serving_cost_fn`; the same numbers).
    record_timeline:
        Keep one record per batch-step stage and per-request spans.
    """

    def __init__(self, trace, costs: StepCosts, accelerator: Accelerator, *, target: Any,
                 draft: Any, hw: Any, config: ServingConfig, arrival_s: np.ndarray,
                 kv_capacity: int | None, cost_fn: CostFn | None = None,
                 record_timeline: bool = False) -> None:
        self.costs = costs
        self.acc = accelerator
        self.env = accelerator.env
        self.target, self.draft, self.hw = target, draft, hw
        self.cfg = config
        self.static_w = float(getattr(hw, "static_power_w", 0.0))
        self.kv_capacity = kv_capacity
        self.serial_units = str(getattr(hw, "kind", "accelerator")) != "gpu"
        self.arrival = np.asarray(arrival_s, dtype=np.float64)
        self.order = np.argsort(self.arrival, kind="stable")
        self.draft_passes = costs.drafting.draft_passes(StepTrees.of_trace(trace, costs.committed))
        if cost_fn is None:
            from specaccel.sim.serving_costs import unchecked_serving_cost_fn

            cost_fn = unchecked_serving_cost_fn(costs, hw, target, draft, self.draft_passes,
                                                config.max_batch)
        self.cost_fn = cost_fn
        self.record_timeline = record_timeline
        n_req = costs.n_requests
        self.next_step = costs.request_step_offsets[:-1].astype(np.int64).copy()
        self.end_step = costs.request_step_offsets[1:].astype(np.int64).copy()
        self.t_admit = np.full(n_req, np.nan)
        self.t_first = np.full(n_req, np.nan)
        self.t_end = np.full(n_req, np.nan)
        self.preemptions = np.zeros(n_req, dtype=np.int64)
        self.kv_held = np.zeros(n_req, dtype=np.int64)
        self.prefill_left = np.zeros(n_req, dtype=np.int64)
        self.energy = {"draft": 0.0, "target": 0.0}
        self.hbm = {r: 0.0 for r in ROLES}
        self.role_busy = {r: 0.0 for r in ROLES}
        self.kv_used = 0
        self.kv_peak = 0
        self.kv_written = 0
        self.kv_rolled_back = 0
        self.kv_integral = 0.0
        self.kv_since = 0.0
        self.kv_series = BoundedSeries(1024)
        self.batch_steps = 0
        self.batch_rows_sum = 0
        self.batch_rows_max = 0
        self.prefill_tokens = 0
        self.recomputed_tokens = 0
        self.timeline: list[tuple[str, str, int, int, float, float]] | None = (
            [] if record_timeline else None)
        self._prefill_s = 0.0
        # micro-batch overlap hides draft passes behind verify passes: without a draft
        # model there is nothing to overlap, the step runs whole
        self.overlap = bool(config.overlap_draft) and costs.drafting.runs_draft_model
        bw = hbm_bandwidth_bps(hw)
        self.bandwidth = (bw or 0.0) * float(getattr(hw, "bw_efficiency", 1.0))
        self.contention_stretch_s = 0.0
        if self.overlap and accelerator.draft_engine is accelerator.target_engine:
            raise InputError("overlapped drafting needs a separate draft engine (the draft "
                             f"and the target share {accelerator.target_engine.name!r})",
                             field="overlap_draft")

    # -- KV accounting ----------------------------------------------------------------
    def _kv_change(self, delta: int) -> None:
        now = self.env.now
        self.kv_integral += self.kv_used * (now - self.kv_since)
        self.kv_since = now
        self.kv_used += delta
        if self.kv_used > self.kv_peak:
            self.kv_peak = self.kv_used

    def _fits(self, tokens: int) -> bool:
        return self.kv_capacity is None or self.kv_used + tokens <= self.kv_capacity

    # -- costs of one batch step ----------------------------------------------------------
    def _dyn(self, out: dict[str, np.ndarray]) -> tuple[float, float, float]:
        lat = np.asarray(out["latency_s"], dtype=np.float64)
        e = np.asarray(out["energy_j"], dtype=np.float64) - self.static_w * lat
        hb = np.asarray(out.get("dram_bytes", out["bytes"]), dtype=np.float64)
        return float(lat.sum()), float(e.sum()), float(hb.sum())

    def _draft_cost(self, rows: np.ndarray) -> tuple[float, float, float]:
        passes = self.draft_passes
        if rows.size == 0 or passes.n_slots == 0:
            return 0.0, 0.0, 0.0
        use = passes.used[rows]
        b = use.sum(axis=0)
        keep = b > 0
        tok = np.where(use, passes.tokens[rows], 0).max(axis=0)[keep]
        ctx = self.costs.context[rows][:, None] + passes.context_offset[None, :]
        ctx = (ctx * use).sum(axis=0)[keep] / b[keep]
        return self._dyn(self.cost_fn(self.draft, self.hw, tokens=tok, context=ctx,
                                      batch=b[keep]))

    def _target_cost(self, rows: np.ndarray, chunks: list[tuple[int, int, int]]
                     ) -> tuple[float, float, float]:
        lat = e = hb = 0.0
        if rows.size:
            out = self.cost_fn(self.target, self.hw,
                               tokens=np.array([int(self.costs.target_tokens[rows].max())]),
                               context=np.array([float(self.costs.context[rows].mean())]),
                               batch=np.array([rows.size]))
            lat, e, hb = self._dyn(out)
        if chunks:
            tok = np.array([c[1] for c in chunks], dtype=np.int64)
            ctx = np.array([c[2] for c in chunks], dtype=np.float64)
            pl, pe, ph = self._dyn(self.cost_fn(self.target, self.hw, tokens=tok, context=ctx,
                                                batch=np.ones_like(tok), phase="prefill"))
            lat, e, hb = lat + pl, e + pe, hb + ph
            self._prefill_s = pl
        return lat, e, hb

    def _unit_time(self, per_step: np.ndarray, rows: np.ndarray) -> float:
        if rows.size == 0:
            return 0.0
        v = per_step[rows]
        return float(v.sum() if self.serial_units else v.max())

    # -- the serving loop -----------------------------------------------------------------
    def run(self):
        """SimPy process body: batch steps until every request has finished."""
        env = self.env
        cfg = self.cfg
        c = self.costs
        n_req = c.n_requests
        arrivals = self.arrival.tolist()
        order = self.order.tolist()
        ctx = c.context
        n_nodes = c.n_nodes.tolist()
        committed = c.committed.tolist()
        units = [self.acc.role_unit[r] for r in ROLES]
        resources = [u.resource for u in units]
        waiting: deque[int] = deque()
        running: list[int] = []
        nxt = 0          # next request (in arrival order) not yet arrived
        done = 0
        while done < n_req:
            now = env.now
            while nxt < n_req and arrivals[order[nxt]] <= now:
                waiting.append(order[nxt])
                nxt += 1
            # admission: room in the batch and in the KV cache (prompt + running trees)
            reserve = sum(n_nodes[self.next_step[r]] for r in running
                          if self.next_step[r] < self.end_step[r])
            while waiting and len(running) < cfg.max_batch:
                r = waiting[0]
                s = self.next_step[r]
                need = int(ctx[s]) if s < self.end_step[r] else int(c.prompt_len[r])
                own_tree = n_nodes[s] if s < self.end_step[r] else 0
                if not self._fits(need + reserve + own_tree):
                    break
                waiting.popleft()
                running.append(r)
                if np.isnan(self.t_admit[r]):
                    self.t_admit[r] = now
                self.kv_held[r] = need
                self._kv_change(need)
                self.kv_written += need
                if cfg.prefill:
                    self.prefill_left[r] = need
                    if self.preemptions[r]:
                        self.recomputed_tokens += need
                reserve += own_tree
            # decode rows within the token budget, then prefill chunks
            budget = cfg.token_budget
            rows: list[int] = []
            chunks: list[tuple[int, int, int]] = []    # (request, tokens, context)
            for r in running:
                if self.prefill_left[r] == 0 and self.next_step[r] < self.end_step[r]:
                    n = n_nodes[self.next_step[r]]
                    if n <= budget:
                        rows.append(r)
                        budget -= n
            for r in running:
                if self.prefill_left[r] > 0 and budget > 0:
                    k = int(min(self.prefill_left[r], budget))
                    chunks.append((r, k, int(self.kv_held[r] - self.prefill_left[r])))
                    budget -= k
            # the trees must fit the KV cache: pre-empt the newest requests until they do
            tree_tokens = sum(n_nodes[self.next_step[r]] for r in rows)
            preempted = False
            while not self._fits(tree_tokens) and running:
                preempted = True
                victim = running.pop()
                if victim in rows:
                    rows.remove(victim)
                    tree_tokens -= n_nodes[self.next_step[victim]]
                chunks = [ch for ch in chunks if ch[0] != victim]
                self._kv_change(-int(self.kv_held[victim]))
                self.kv_held[victim] = 0
                self.prefill_left[victim] = 0
                self.preemptions[victim] += 1
                waiting.appendleft(victim)
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
            yield from self._batch_step(steps, chunks, units, resources)
            now = env.now
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
                self._kv_change(-(n_nodes[s] - committed[s]))
                self.kv_rolled_back += n_nodes[s] - committed[s]
                self.kv_held[r] += committed[s]
                if np.isnan(self.t_first[r]):
                    self.t_first[r] = now
                self.next_step[r] = s + 1
                if s + 1 >= self.end_step[r]:
                    self._finish(r, running)
                    done += 1
            self.kv_series.offer(now, self.kv_used)

    def _finish(self, r: int, running: list[int]) -> None:
        running.remove(r)
        self._kv_change(-int(self.kv_held[r]))
        self.kv_held[r] = 0
        self.t_end[r] = self.env.now
        if np.isnan(self.t_first[r]):
            self.t_first[r] = self.env.now

    def _batch_step(self, rows: np.ndarray, chunks, units, resources):
        """One batch step over the decode steps `rows` (global step indices) and the
        prefill `chunks`: its stages as SimPy events, its energy and traffic."""
        env = self.env
        c = self.costs
        self._prefill_s = 0.0
        if self.overlap and rows.size >= 2:
            yield from self._overlapped_step(rows, chunks, units)
            return
        if rows.size == 1 and not chunks:      # batch 1: the step's own (exact) costs
            s = int(rows[0])
            d_s, d_j, d_b = float(c.draft_s[s]), float(c.draft_j[s]), float(c.draft_hbm_bytes[s])
            t_s, t_j, t_b = (float(c.target_s[s]), float(c.target_j[s]),
                             float(c.target_hbm_bytes[s]))
        else:
            self._prefill_s = 0.0
            d_s, d_j, d_b = self._draft_cost(rows)
            t_s, t_j, t_b = self._target_cost(rows, chunks)
        tree_s = self._unit_time(c.tree_s, rows)
        verify_s = self._unit_time(c.verify_s, rows)
        self.energy["draft"] += d_j
        self.energy["target"] += t_j
        self.hbm["draft"] += d_b
        self.hbm["target"] += t_b
        tree_tokens = int(c.n_nodes[rows].sum()) if rows.size else 0
        for k, dur in enumerate((d_s, tree_s, t_s, verify_s)):
            if dur <= 0.0:
                continue
            res = resources[k]
            req = res.request()
            yield req
            if k == 2 and tree_tokens:
                self._kv_change(tree_tokens)
                self.kv_written += tree_tokens
            start = env.now
            yield env.timeout(dur)
            res.release(req)
            unit = units[k]
            unit.busy_s += dur
            unit.jobs += 1
            self.role_busy[ROLES[k]] += dur
            if self.timeline is not None:
                pre = self._prefill_s if k == 2 else 0.0
                if pre > 0.0:      # the prefill passes run after the verify pass
                    if env.now - pre > start:
                        self.timeline.append((ROLES[k], unit.name, -1, self.batch_steps,
                                              start, env.now - pre))
                    self.timeline.append(("prefill", unit.name, -1, self.batch_steps,
                                          env.now - pre, env.now))
                else:
                    self.timeline.append((ROLES[k], unit.name, -1, self.batch_steps,
                                          start, env.now))
        self.batch_steps += 1
        self.batch_rows_sum += int(rows.size)
        self.batch_rows_max = max(self.batch_rows_max, int(rows.size))

    def _record(self, k: int, unit, a: float, b: float, name: str | None = None) -> None:
        if b <= a:
            return
        unit.busy_s += b - a
        unit.jobs += 1
        self.role_busy[ROLES[k]] += b - a
        if self.timeline is not None:
            self.timeline.append((name or ROLES[k], unit.name, -1, self.batch_steps, a, b))

    def _overlapped_step(self, rows: np.ndarray, chunks, units):
        """A batch step as two micro-batches on separate engines: the draft engine drafts
        micro-batch 1 while the target verifies micro-batch 0 (HBM shared between the
        two passes, :func:`~.pipelined.contended_pair`); micro-batch 1's verify pass (and
        the prefill chunks) follow on the target engine.  The scheduler process owns
        the machine, so the stage times are computed and the step is one timeout."""
        env = self.env
        c = self.costs
        g0, g1 = rows[0::2], rows[1::2]
        d0, d0_j, d0_b = self._draft_cost(g0)
        d1, d1_j, d1_b = self._draft_cost(g1)
        t0, t0_j, t0_b = self._target_cost(g0, [])
        self._prefill_s = 0.0
        t1, t1_j, t1_b = self._target_cost(g1, chunks)
        prefill_s = self._prefill_s
        tr0, tr1 = self._unit_time(c.tree_s, g0), self._unit_time(c.tree_s, g1)
        v0, v1 = self._unit_time(c.verify_s, g0), self._unit_time(c.verify_s, g1)
        self.energy["draft"] += d0_j + d1_j
        self.energy["target"] += t0_j + t1_j
        self.hbm["draft"] += d0_b + d1_b
        self.hbm["target"] += t0_b + t1_b
        draft_u, tree_u, target_u, verify_u = units
        t = env.now
        self._record(0, draft_u, t, t + d0)
        self._record(1, tree_u, t + d0, t + d0 + tr0)
        s0 = t + d0 + tr0                         # target(0) and draft(1) start together
        tree_tokens = int(c.n_nodes[rows].sum())
        if s0 > env.now:
            yield env.timeout(s0 - env.now)
        self._kv_change(tree_tokens)              # both micro-batches' trees (early for 1)
        self.kv_written += tree_tokens
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
            self._record(2, target_u, s1 + t1 - prefill_s, s1 + t1, name="prefill")
        v1_start = max(s1 + t1, s0 + t_end + v0)
        self._record(3, verify_u, v1_start, v1_start + v1)
        yield env.timeout(v1_start + v1 - env.now)
        self.batch_steps += 1
        self.batch_rows_sum += int(rows.size)
        self.batch_rows_max = max(self.batch_rows_max, int(rows.size))

    def log(self) -> ServingLog:
        """The measurements of the finished run."""
        now = float(self.env.now)
        self.kv_integral += self.kv_used * (now - self.kv_since)
        self.kv_since = now
        c = self.costs
        step_req = np.repeat(np.arange(c.n_requests), np.diff(c.request_step_offsets))
        tokens = np.bincount(step_req, weights=c.committed, minlength=c.n_requests)
        ttft = self.t_first - self.arrival
        e2e = self.t_end - self.arrival
        with np.errstate(invalid="ignore", divide="ignore"):
            tpot = np.where(tokens > 0, (self.t_end - self.t_first) / np.maximum(tokens, 1),
                            np.nan)
        serving = {
            "config": self.cfg.to_dict(),
            "kv_capacity_tokens": self.kv_capacity,
            "batch_steps": self.batch_steps,
            "mean_batch_rows": self.batch_rows_sum / self.batch_steps if self.batch_steps
            else 0.0,
            "max_batch_rows": self.batch_rows_max,
            "preemptions": int(self.preemptions.sum()),
            "preempted_requests": int(np.count_nonzero(self.preemptions)),
            "prefill_tokens": self.prefill_tokens,
            "recomputed_tokens": self.recomputed_tokens,
            "ttft_s": percentiles(ttft),
            "tpot_s": percentiles(tpot),
            "e2e_s": percentiles(e2e),
            "queue_s": percentiles(self.t_admit - self.arrival),
            "kv_occupancy": self.kv_series.to_dict(),
            "contention_stretch_s": self.contention_stretch_s,
        }
        mem = self.acc.memory
        return ServingLog(
            makespan_s=now,
            request_start_s=self.t_admit.copy(),
            request_end_s=self.t_end.copy(),
            unit_busy_s={n: u.busy_s for n, u in self.acc.units.items()},
            unit_jobs={n: u.jobs for n, u in self.acc.units.items()},
            role_busy_s=dict(self.role_busy),
            hbm_bytes_by_role=dict(self.hbm),
            hbm_bandwidth_bps=mem.bandwidth_bps,
            kv_peak_tokens=int(self.kv_peak),
            kv_mean_tokens=self.kv_integral / now if now > 0 else 0.0,
            kv_written_tokens=int(self.kv_written),
            kv_rolled_back_tokens=int(self.kv_rolled_back),
            kv_bytes_per_token=c.kv_bytes_per_token,
            timeline=self.timeline,
            dynamic_energy_j=dict(self.energy),
            steps_timed=self.batch_steps,
            serving=serving,
            request_arrival_s=self.arrival.copy(),
            request_first_token_s=self.t_first.copy(),
            engine="simpy-serving",
        )


def percentiles(x: np.ndarray) -> dict[str, float | None]:
    """P50/P90/P99 and mean of the finite values of `x` (``None`` when there are none)."""
    v = np.asarray(x, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"p50": None, "p90": None, "p99": None, "mean": None}
    p50, p90, p99 = np.percentile(v, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "mean": float(v.mean())}


def serve(trace, costs: StepCosts, hw: Any, *, target: Any, draft: Any,
          config: ServingConfig, cost_fn: CostFn | None = None,
          unit_map: dict[str, str] | None = None, kv_capacity: int | None = None,
          record_timeline: bool = False) -> ServingLog:
    """Run the serving loop of `config` over `trace` on `hw`.

    Parameters
    ----------
    trace, costs:
        The trace and its :func:`~.step_costs.compute_step_costs` on `hw`.
    hw, target, draft:
        Specs for `cost_fn` (default: :func:`specaccel.models.cost.pass_costs`'s kernel,
        its argument ranges checked once for the whole run, :mod:`.serving_costs`).
    config:
        Batching, budget and arrivals.
    unit_map:
        Override of the role → unit mapping.
    kv_capacity:
        KV-cache capacity in tokens (``config.kv_capacity_tokens`` wins; ``None``:
        unlimited).
    record_timeline:
        Keep per-stage batch-step records and per-request spans.
    """
    config.check()
    if config.arrivals == "poisson":
        arrival = poisson_arrivals(costs.n_requests, float(config.rate_per_s), config.seed)
    else:
        arrival = np.asarray(costs.arrival_s, dtype=np.float64)
    cap = config.kv_capacity_tokens if config.kv_capacity_tokens is not None else kv_capacity
    if cap is not None and costs.n_requests:
        # the largest single request: its prompt, or its context at its last step plus
        # that step's tree
        last = costs.request_step_offsets[1:] - 1
        has = np.diff(costs.request_step_offsets) > 0
        need = max(int((costs.context[last[has]] + costs.n_nodes[last[has]]).max(initial=0)),
                   int(costs.prompt_len.max(initial=0)))
        if need > cap:
            raise InputError(f"one request needs {need} tokens of KV cache but only {cap} "
                             "fit the memory left after the weights", field="kv_capacity")
    if config.token_budget < int(costs.n_nodes.max(initial=1)):
        raise InputError(f"must be at least the largest tree ({int(costs.n_nodes.max())} "
                         f"nodes), not {config.token_budget}", field="token_budget")
    env = simpy.Environment()
    acc = Accelerator.build(env, hw, costs.kv_bytes_per_token, unit_map)
    sim = ServingSimulation(trace, costs, acc, target=target, draft=draft, hw=hw,
                            config=config, arrival_s=arrival, kv_capacity=cap,
                            cost_fn=cost_fn, record_timeline=record_timeline)
    env.process(sim.run())
    env.run()
    return sim.log()


__all__ = ["COST_FIELDS", "ServingConfig", "ServingLog", "ServingSimulation",
           "percentiles", "poisson_arrivals", "serve"]
