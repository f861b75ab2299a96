"""The step-cost door: every engine prices passes and steps here, and only here.

:class:`StepPricer` is built once per run (:meth:`StepPricer.build`) from the hardware,
the target and the draft, the drafting mode and the cost function, and every engine —
the SimPy replay, the fast path, pipelined speculation, the serving loop and the static
batch — gets its costs from it:

* :meth:`~StepPricer.step_costs` — the batch-1 :class:`~.step_costs.StepCosts` of a
  block of whole requests (every pass of the block costed with one cost-model call per
  model);
* :meth:`~StepPricer.batch_passes` — the draft and target passes of batch steps (rows
  padded to the largest tree / widest frontier, mean context), vectorised over many
  batch steps; :meth:`~StepPricer.prefill` — prefill chunks;
* :meth:`~StepPricer.rows_stage_s` — the tree-mask and verify stages of a batch step
  from its rows' batch-1 stage times (rows one after another on the accelerator's
  units, one batched kernel sequence on a GPU).

**Where a new cost goes.**  A model pass is priced by its :class:`RoleCost`: the
model, the device it runs on and a kernel (:func:`specaccel.models.cost.pass_costs`),
plus :class:`PassTerm` s — per-pass seconds added on top of the kernel (kernel launches
× launch latency, host overhead per layer and per pass, a tensor-parallel all-reduce per
layer, pipeline hops, offloaded weights over PCIe).  The target and the draft have a
:class:`RoleCost` each, so they may run on different devices with different software
stacks.  A per-step cost that is not a model pass — the sampling/argmax tail over the
vocabulary per verified node, KV bookkeeping — is a :class:`StepTerm` added to one
stage of every step.  Either kind is given to :meth:`StepPricer.build` and reaches every
engine, the autoregressive baseline included, with no change to any engine.  What a
method runs in a step is its drafting mode's: the draft passes (over some of the
target's layers for a self-draft), and the target's work when it is not one pass over
the tree (:meth:`~specaccel.models.cost.drafting.DraftingMode.target_work`: an early
exit's partial pass and state propagation, a diffusion LM's block pass) — a pass may run
some of the layers, without the LM head (:meth:`RoleCost.passes`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from specaccel.models.cost.drafting import (
    NO_DRAFTING,
    DraftingMode,
    DraftPasses,
    StepTrees,
    TargetWork,
    drafting_mode,
    drafting_of,
)
from specaccel.models.cost.hardware_spec import check_finite_costs
from specaccel.models.cost.sampling_tail import selected_tokens
from specaccel.models.golden import TraceOutcome, verify_trace
from specaccel.schema.trace_validation import extra_query_tokens
from specaccel.sim.step_costs import (
    COST_FIELDS,
    STAGES,
    CostFn,
    StepCosts,
    kv_bytes_per_token,
    step_contexts,
    unit_latencies,
)


@dataclass(frozen=True)
class PassCosts:
    """Costs of an array of passes (or of steps, once summed per step).

    ``energy_j`` is *dynamic* energy: the kernel's energy minus the device's static
    power over the pass (static energy is counted once, over the simulated time, by the
    metrics); ``hbm_bytes`` is the kernel's ``dram_bytes`` (its ``bytes`` when absent).
    """

    latency_s: np.ndarray
    energy_j: np.ndarray
    flops: np.ndarray
    hbm_bytes: np.ndarray

    @classmethod
    def zeros(cls, n: int) -> PassCosts:
        return cls(np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n))

    @classmethod
    def from_kernel(cls, raw: dict[str, Any], n: int, what: str, device: Any,
                    model: Any = None) -> PassCosts:
        """Check a cost function's output for `n` passes of `model` on `device` (its
        fields present, one value a pass, every value finite) and make it dynamic HBM
        costs (``device.static_power_w`` x latency taken off the energy)."""
        out = {}
        for f in COST_FIELDS:
            if f not in raw:
                raise ValueError(f"cost function returned no {f!r} for the {what} passes")
            a = np.asarray(raw[f], dtype=np.float64).reshape(-1)
            if a.shape[0] != n:
                raise ValueError(f"cost function returned {a.shape[0]} {f!r} for {n} "
                                 f"{what} passes")
            out[f] = a
        # before the subtraction below, which would make inf - inf a NaN and a warning
        check_finite_costs(out, hw=device, what=f"the {what} passes"
                           + (f" of {model.name}" if hasattr(model, "name") else ""))
        static_w = float(getattr(device, "static_power_w", 0.0))
        hbm = (np.asarray(raw["dram_bytes"], dtype=np.float64).reshape(-1)
               if "dram_bytes" in raw else out["bytes"])
        return cls(out["latency_s"], out["energy_j"] - static_w * out["latency_s"],
                   out["flops"], hbm)

    def per_step(self, step_of: np.ndarray, n_steps: int) -> PassCosts:
        """Summed over the passes of each step (``step_of``: the step of every pass)."""
        return PassCosts(*(np.bincount(step_of, weights=a, minlength=n_steps)
                           for a in (self.latency_s, self.energy_j, self.flops,
                                     self.hbm_bytes)))

    def add_latency(self, seconds: np.ndarray) -> PassCosts:
        return replace(self, latency_s=self.latency_s + seconds)

    def totals(self) -> tuple[float, float, float]:
        """``(latency, dynamic energy, HBM bytes)`` summed over the passes."""
        return (float(self.latency_s.sum()), float(self.energy_j.sum()),
                float(self.hbm_bytes.sum()))


class PassTerm(Protocol):
    """Seconds added to every pass of one role on top of its kernel (module docstring)."""

    def __call__(self, role: str, model: Any, device: Any, *, tokens: np.ndarray,
                 context: np.ndarray, batch: np.ndarray, phase: str | None
                 ) -> np.ndarray: ...


class StepTerm(Protocol):
    """Seconds added to one stage (:data:`~.step_costs.STAGES`) of every step, from the
    step's tree size and committed tokens (one row of a batch step)."""

    stage: str

    def __call__(self, n_nodes: np.ndarray, committed: np.ndarray) -> np.ndarray: ...


STAGE_FIELDS = ("draft_s", "draft_j", "draft_flops", "draft_hbm_bytes", "tree_s",
                "target_s", "target_j", "target_flops", "target_hbm_bytes", "verify_s")
"""What pricing a block of steps gives, one array over the steps each (as
:class:`~.step_costs.StepCosts` holds them)."""


@dataclass(frozen=True)
class StepShapes:
    """What the steps of a block run, before any pricing.

    Per step: tree size, query tokens of the target pass, context, accepted and
    committed tokens, number of draft passes; per draft pass (step-major): its step,
    query tokens, context and layers (``None``: the draft model's every layer); the
    drafting mode; and the target's work when the mode states it
    (:meth:`~specaccel.models.cost.drafting.DraftingMode.target_work`; ``None``: the one
    pass over ``target_tokens``).
    """

    n_nodes: np.ndarray
    target_tokens: np.ndarray
    context: np.ndarray
    accepted: np.ndarray
    committed: np.ndarray
    draft_passes: np.ndarray
    draft_step_of: np.ndarray
    draft_tokens: np.ndarray
    draft_context: np.ndarray
    drafting: DraftingMode
    draft_layers: np.ndarray | None = None
    target_work: TargetWork | None = None


class StepStages(Protocol):
    """Prices the stages of a block of steps (:data:`STAGE_FIELDS`) from their shapes,
    in place of the door's own composition (:meth:`StepPricer.own_stages`) — for a
    deployment whose stages overlap host and GPU time, say."""

    def __call__(self, pricer: StepPricer, shapes: StepShapes) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class RoleCost:
    """What prices the passes of one role (``"target"`` or ``"draft"``).

    Attributes
    ----------
    role:
        ``"target"`` or ``"draft"``.
    model:
        The model spec the kernel takes.
    device:
        The hardware spec the model runs on (its ``static_power_w`` makes the kernel's
        energy dynamic).
    kernel:
        ``kernel(model, device, *, tokens, context, batch[, phase]) -> {field: array}``
        as :func:`specaccel.models.cost.pass_costs`.
    terms:
        :class:`PassTerm` s added to every pass.
    """

    role: str
    model: Any
    device: Any
    kernel: CostFn
    terms: tuple[PassTerm, ...] = ()

    def passes(self, tokens: np.ndarray, context: np.ndarray, batch: Any = 1,
               phase: str | None = None, *, layers: np.ndarray | None = None,
               head: bool = True, tree: bool = True,
               requests: np.ndarray | None = None) -> PassCosts:
        """Costs of the passes with these shapes (arrays of one entry per pass).

        `layers`: decoder layers each pass runs (``None``: all); without its `head` a
        pass is its layers alone (the kernel's pass less the same pass over no layer:
        the embedding and the LM head); `tree`: attention reads a tree mask;
        `requests`: how many requests each prefill pass starts, for a kernel that
        prices a request's own time (``prices_requests``: a software stack's host time
        per request); others ignore it.
        """
        kw: dict[str, Any] = {} if phase is None else {"phase": phase}
        if requests is not None and getattr(self.kernel, "prices_requests", False):
            kw["requests"] = requests
        if layers is not None:
            kw["layers"] = layers
        if not tree:
            kw["tree"] = False
        raw = self.kernel(self.model, self.device, tokens=tokens, context=context,
                          batch=batch, **kw)
        if not head:
            bare = self.kernel(self.model, self.device, tokens=tokens, context=context,
                               batch=batch, **{**kw, "layers": np.zeros_like(tokens)})
            raw = {f: np.asarray(v, dtype=np.float64) - np.asarray(bare[f], dtype=np.float64)
                   for f, v in raw.items() if f in bare}
        n = int(np.asarray(tokens).shape[0])
        out = PassCosts.from_kernel(raw, n, self.role, self.device, self.model)
        for term in self.terms:
            out = out.add_latency(np.asarray(term(
                self.role, self.model, self.device, tokens=np.asarray(tokens),
                context=np.asarray(context), batch=np.broadcast_to(batch, (n,)),
                phase=phase), dtype=np.float64))
        if self.role == "draft" and phase is None:
            # a draft selects its own tokens, every row's (selected_tokens); the
            # hardware's selection: an accelerator's sampling unit, nothing on a GPU
            # (there the stack's kernels select: the deployment's step stages)
            rows = np.asarray(tokens, dtype=np.float64) * np.broadcast_to(
                np.asarray(batch, dtype=np.float64), (n,))
            _, sel = selected_tokens(speculative=True, target_tokens=np.zeros(0),
                                     draft=self.model, draft_tokens=rows)
            out = out.add_latency(np.asarray(self.device.sampling_unit_latency_s(
                sel, int(self.model.vocab_size)), dtype=np.float64))
        return out


@dataclass(frozen=True)
class StepPricer:
    """The step-cost door of one run (module docstring).

    Attributes
    ----------
    hw:
        The machine: its ``kind`` (GPU or accelerator), tree-mask and verify units.
    target:
        The target's :class:`RoleCost`.
    draft:
        The draft's :class:`RoleCost`; ``None`` when the drafting mode runs no draft model.
    drafting:
        The drafting mode.
    step_terms:
        :class:`StepTerm` s added to every step.
    stages:
        A :class:`StepStages` that prices batch-1 steps in place of :meth:`own_stages`
        (the passes of batch steps stay the roles' :class:`RoleCost`).
    default_kernel:
        The kernel is :func:`specaccel.models.cost.pass_costs`, chosen by default (a
        batched engine may then swap it for the same kernel without per-call checks).
    """

    hw: Any
    target: RoleCost
    draft: RoleCost | None
    drafting: DraftingMode
    step_terms: tuple[StepTerm, ...] = ()
    stages: StepStages | None = None
    default_kernel: bool = False

    @classmethod
    def build(cls, hw: Any, target: Any, draft: Any, drafting: str | DraftingMode, *,
              cost_fn: CostFn | None = None, pass_terms: tuple[PassTerm, ...] = (),
              step_terms: tuple[StepTerm, ...] = (), stages: StepStages | None = None
              ) -> StepPricer:
        """The door for `target` and `draft` on `hw` (both on `hw`'s device).

        `draft` is dropped when the drafting mode runs no draft model.  `cost_fn`
        defaults to :func:`specaccel.models.cost.pass_costs`; `pass_terms` are added to
        every pass of both models, `step_terms` to every step; `stages` replaces the
        door's own pricing of batch-1 steps.
        """
        default = cost_fn is None
        if cost_fn is None:
            from specaccel.models.cost import pass_costs as cost_fn
        mode = drafting_mode(drafting)
        if mode.self_drafts:         # the draft passes run the target's own layers
            draft = target
        for term in step_terms:
            if term.stage not in STAGES:
                raise ValueError(f"a step term's stage must be one of {STAGES}, "
                                 f"not {term.stage!r}")
        return cls(hw=hw, target=RoleCost("target", target, hw, cost_fn, tuple(pass_terms)),
                   draft=(RoleCost("draft", draft, hw, cost_fn, tuple(pass_terms))
                          if mode.runs_draft_model or mode.self_drafts else None),
                   drafting=mode, step_terms=tuple(step_terms), stages=stages,
                   default_kernel=default)

    # -- what the run holds ------------------------------------------------------------
    @property
    def draft_model(self) -> Any:
        """The draft model spec, or ``None`` when no draft model runs."""
        return None if self.draft is None else self.draft.model

    @property
    def kv_bytes_per_token(self) -> float:
        """Target KV-cache bytes per token."""
        return kv_bytes_per_token(self.target.model)

    @property
    def serial_units(self) -> bool:
        """Whether the tree-mask and verify units serve a batch's rows one after another
        (the accelerator's units) rather than as one batched kernel sequence (a GPU)."""
        return str(getattr(self.hw, "kind", "accelerator")) != "gpu"

    def baseline(self) -> StepPricer:
        """The same door for plain autoregressive decoding (no draft model)."""
        return replace(self, draft=None, drafting=NO_DRAFTING)

    def with_kernel(self, kernel: CostFn) -> StepPricer:
        """The same door with another kernel for both models (the terms stay)."""
        draft = None if self.draft is None else replace(self.draft, kernel=kernel)
        return replace(self, target=replace(self.target, kernel=kernel), draft=draft,
                       default_kernel=False)

    # -- batch-1 steps -------------------------------------------------------------------
    def draft_passes(self, trace: Any, committed: np.ndarray) -> DraftPasses:
        """The drafting mode's draft passes of every step of `trace`."""
        return self.drafting.draft_passes(StepTrees.of_trace(trace, committed))

    def outcome(self, trace: Any) -> TraceOutcome:
        """What every step of `trace` commits: the golden outcome, as the drafting mode
        commits it (:meth:`~specaccel.models.cost.drafting.DraftingMode.committed_outcome`)."""
        return self.drafting.committed_outcome(trace, verify_trace(trace))

    def shapes(self, trace: Any, outcome: TraceOutcome) -> StepShapes:
        """What the steps of `trace` (a block of whole requests) run, before pricing.

        The target's pass runs over the tree plus the trace's
        ``extra_query_tokens_per_step`` at context ``S_s``, unless the drafting mode
        states the target's work; the draft passes are the drafting mode's.
        """
        accepted = np.asarray(outcome.accepted, dtype=np.int64)
        committed = accepted + 1
        n_nodes = np.diff(np.asarray(trace.step_node_offsets, dtype=np.int64))
        context = step_contexts(trace, committed)
        trees = StepTrees.of_trace(trace, committed)
        passes = self.drafting.draft_passes(trees)
        step_of, d_tokens, d_ctx = passes.flat(context)
        # query tokens of the target pass: the tree, plus tokens that ride in the same
        # pass without being drafts (lookahead decoding's Jacobi window)
        target_tokens = n_nodes + extra_query_tokens(trace)
        work = self.drafting.target_work(trees, target_tokens, context, self.target.model,
                                         self.target.device)
        return StepShapes(n_nodes=n_nodes, target_tokens=target_tokens,
                          context=context, accepted=accepted, committed=committed,
                          draft_passes=passes.per_step(), draft_step_of=step_of,
                          draft_tokens=d_tokens, draft_context=d_ctx, drafting=self.drafting,
                          draft_layers=passes.flat_layers(), target_work=work)

    def _target_stage(self, sh: StepShapes) -> tuple[PassCosts, np.ndarray]:
        """The target's costs of every step and the rows of logits each selects from."""
        work = sh.target_work
        n_steps = int(sh.n_nodes.shape[0])
        selected, _ = selected_tokens(speculative=sh.drafting.verifies_tree,
                                      target_tokens=sh.target_tokens)
        if work is None:
            return self.target.passes(sh.target_tokens, sh.context), selected
        total = PassCosts.zeros(n_steps)
        for p in work.passes:
            idx = np.flatnonzero(p.used)
            if not idx.shape[0]:
                continue
            got = self.target.passes(p.tokens[idx], p.context[idx], phase=p.phase,
                                     layers=None if p.layers is None else p.layers[idx],
                                     head=p.head, tree=p.tree).per_step(idx, n_steps)
            total = PassCosts(*(a + b for a, b in zip(_arrays(total), _arrays(got),
                                                      strict=True)))
        if work.extra is not None:
            e = work.extra
            total = PassCosts(total.latency_s + e["latency_s"], total.energy_j + e["energy_j"],
                              total.flops + e["flops"], total.hbm_bytes + e["hbm_bytes"])
        if work.selected is not None:  # the rows the mode names
            selected = np.asarray(work.selected, dtype=np.float64)
        return total, selected

    def own_stages(self, sh: StepShapes) -> dict[str, np.ndarray]:
        """The door's own stage prices (:data:`STAGE_FIELDS`): the role's passes, summed
        per step for the draft, and the hardware's tree-mask and verify units (none
        when the mode verifies no tree).  Every pass's token selection
        (:func:`~specaccel.models.cost.sampling_tail.selected_tokens` counts it, the
        hardware's ``sampling_unit_latency_s`` prices it: an accelerator's sampling unit;
        nothing on a GPU, whose stack's kernels select) is charged to the stage that
        needs it: a draft's to the draft, the target's to verification."""
        n_steps = int(sh.n_nodes.shape[0])
        target, target_sel = self._target_stage(sh)
        if sh.draft_step_of.shape[0]:  # each pass with its own selection (RoleCost)
            draft = self.draft.passes(sh.draft_tokens, sh.draft_context,
                                      layers=sh.draft_layers).per_step(
                sh.draft_step_of, n_steps)
        else:
            draft = PassCosts.zeros(n_steps)
        if sh.drafting.verifies_tree:
            tree_s = unit_latencies(self.hw.tree_unit_latency_s, sh.n_nodes)
            verify_s = unit_latencies(self.hw.verify_unit_latency_s, sh.n_nodes)
        else:
            tree_s = np.zeros(n_steps)
            verify_s = np.zeros(n_steps)
        verify_s = verify_s + self.hw.sampling_unit_latency_s(
            target_sel, int(self.target.model.vocab_size))
        return {"draft_s": draft.latency_s, "draft_j": draft.energy_j,
                "draft_flops": draft.flops, "draft_hbm_bytes": draft.hbm_bytes,
                "tree_s": tree_s, "target_s": target.latency_s, "target_j": target.energy_j,
                "target_flops": target.flops, "target_hbm_bytes": target.hbm_bytes,
                "verify_s": verify_s}

    def step_costs(self, trace: Any, outcome: TraceOutcome | None = None) -> StepCosts:
        """The batch-1 cost of every step of `trace` (a block of whole requests): its
        :meth:`shapes` priced by the door's `stages` (default :meth:`own_stages`), then
        the step terms added to their stages."""
        if outcome is None:
            outcome = self.outcome(trace)
        sh = self.shapes(trace, outcome)
        st = dict(self.own_stages(sh) if self.stages is None else self.stages(self, sh))
        for term in self.step_terms:
            key = f"{term.stage}_s"
            st[key] = st[key] + np.asarray(term(sh.n_nodes, sh.committed), dtype=np.float64)
        return StepCosts(
            request_step_offsets=np.asarray(trace.request_step_offsets, dtype=np.int64),
            arrival_s=np.asarray(trace.arrival_s, dtype=np.float64),
            prompt_len=np.asarray(trace.prompt_len, dtype=np.int64),
            n_nodes=sh.n_nodes, accepted=sh.accepted, committed=sh.committed,
            context=sh.context, target_tokens=sh.target_tokens,
            draft_passes=sh.draft_passes, **{f: st[f] for f in STAGE_FIELDS},
            kv_bytes_per_token=self.kv_bytes_per_token,
            drafting=self.drafting,
            metadata=dict(trace.metadata),
        )

    # -- batch steps ---------------------------------------------------------------------
    def batch_passes(self, costs: StepCosts, passes: DraftPasses, sched: np.ndarray
                     ) -> tuple[PassCosts, PassCosts]:
        """Draft and target costs of batch steps, summed per batch step.

        `sched` is ``(K, R)``: the global steps (rows of `costs`) that batch step ``k``
        runs, ``-1`` for an empty slot.  The target verifies every row in one pass
        padded to the largest row (tree plus riders) at the rows' mean context; draft
        slot ``d`` runs over the rows that use it, padded to their widest frontier, at
        their mean context.  A batch step of one row costs that step's batch-1 costs.
        """
        present = sched >= 0
        idx = np.maximum(sched, 0)
        rows = present.sum(axis=1)
        k_n = sched.shape[0]
        single = rows == 1
        multi = ~single & (rows > 0)
        one = np.where(present, sched, -1).max(axis=1, initial=-1)[single]
        ctx = np.where(present, costs.context[idx], 0)
        target = PassCosts.zeros(k_n)
        draft = PassCosts.zeros(k_n)
        if multi.any():
            tok = np.where(present, costs.target_tokens[idx], 0).max(axis=1)
            got = self.target.passes(tok[multi], ctx.sum(axis=1)[multi] / rows[multi],
                                     batch=rows[multi])
            for mine, theirs in zip(_arrays(target), _arrays(got), strict=True):
                mine[multi] = theirs
            if passes.n_slots:
                use = passes.used[idx] & present[:, :, None]               # (K, R, L)
                b = use.sum(axis=1)                                        # (K, L)
                tok = np.where(use, passes.tokens[idx], 0).max(axis=1)
                c = ((ctx[:, :, None] + passes.context_offset[None, None, :]) * use
                     ).sum(axis=1)
                sel = multi[:, None] & (b > 0)
                step_of = np.broadcast_to(np.arange(k_n)[:, None], sel.shape)[sel]
                draft = self.draft.passes(tok[sel], c[sel] / b[sel], batch=b[sel]
                                          ).per_step(step_of, k_n)
        for mine, theirs in zip(_arrays(target), _arrays(self._step_target(costs)),
                                strict=True):
            mine[single] = theirs[one]
        for mine, theirs in zip(_arrays(draft), _arrays(self._step_draft(costs)), strict=True):
            mine[single] = theirs[one]
        return draft, target

    def prefill(self, tokens: np.ndarray, context: np.ndarray,
                starts: np.ndarray | None = None) -> PassCosts:
        """The prefill chunks of one batch step (`tokens` each at its `context`) as one
        pass, as a batching engine runs them: every chunk's tokens side by side in each
        GEMM, so the weights are read once.  Priced as a row per chunk at the chunks'
        mean tokens (rounded) and mean context: the GEMMs' rows within half a token per
        chunk and the KV read exact; attention is exact only for chunks of equal length
        and context.  Otherwise it is off in either direction: new prompts of 3900 and
        100 tokens get about half their causal attention, a 4000-token chunk at context
        12000 beside three new 8-token prompts a quarter, and a 100-token last chunk at
        context 12000 beside a 3900-token new prompt three times its due.  `starts` marks the chunks
        that start a request (default: those at context 0); each pays the stack's host
        time per request (`RoleCost.passes`' `requests`).  One entry."""
        t = np.asarray(tokens, dtype=np.float64)
        c = np.asarray(context, dtype=np.float64)
        if t.shape[0] == 0:
            return PassCosts.zeros(0)
        first = c == 0 if starts is None else np.asarray(starts, dtype=bool)
        return self.target.passes(np.array([max(1.0, float(np.rint(t.mean())))]),
                                  np.array([c.mean()]),
                                  batch=np.array([float(t.shape[0])]), phase="prefill",
                                  requests=np.array([float(first.sum())]))

    def rows_stage_s(self, per_step: np.ndarray, sched: np.ndarray) -> np.ndarray:
        """A unit stage of batch steps from its rows' batch-1 times (`per_step`, e.g.
        ``costs.verify_s``): summed on the accelerator's units, the longest row on a GPU."""
        v = np.where(sched >= 0, per_step[np.maximum(sched, 0)], 0.0)
        return v.sum(axis=1) if self.serial_units else v.max(axis=1, initial=0.0)

    @staticmethod
    def _step_target(costs: StepCosts) -> PassCosts:
        return PassCosts(costs.target_s, costs.target_j, costs.target_flops,
                         costs.target_hbm_bytes)

    @staticmethod
    def _step_draft(costs: StepCosts) -> PassCosts:
        return PassCosts(costs.draft_s, costs.draft_j, costs.draft_flops,
                         costs.draft_hbm_bytes)


def _arrays(p: PassCosts) -> tuple[np.ndarray, ...]:
    return p.latency_s, p.energy_j, p.flops, p.hbm_bytes


def compute_step_costs(
    trace,
    *,
    target_model: Any,
    draft_model: Any,
    hw: Any,
    drafting: str | DraftingMode | None = None,
    outcome: TraceOutcome | None = None,
    cost_fn: CostFn | None = None,
) -> StepCosts:
    """The batch-1 :class:`StepCosts` of `trace` on `hw`: :meth:`StepPricer.step_costs`
    of the door built from these arguments.

    `drafting` defaults to the trace's metadata (``"per-level"`` when absent);
    `draft_model` is unused (may be ``None``) when the mode runs no draft model;
    `cost_fn` defaults to :func:`specaccel.models.cost.pass_costs`.
    """
    mode = drafting_of(trace.metadata) if drafting is None else drafting_mode(drafting)
    pricer = StepPricer.build(hw, target_model, draft_model, mode, cost_fn=cost_fn)
    return pricer.step_costs(trace, outcome)
