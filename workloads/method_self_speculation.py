"""Self-speculative decoding: the target drafts for itself with a subset of its own layers.

Three variants, one acceptance model and one cost rule:

* **LayerSkip** (Elhoushi et al. 2024) — the draft is the first ``E`` of ``L`` layers plus
  the shared LM head (early exit).  Verification reuses the draft's KV cache of layers
  ``1..E``: it runs layers ``E+1..L`` over the ``γ+1`` query tokens, plus layers ``1..E``
  for the last draft token (never fed to the draft).
* **DEL** (dynamic exit layer) — the exit layer ``E`` and the draft length ``γ`` are chosen
  every step from the acceptance the previous step showed at every layer
  (:func:`del_schedule`).
* **CLaSp / SWIFT** layer-skip sets — the draft runs an arbitrary set of kept layers
  (:class:`LayerSet`); its cost follows from how many layers it evaluates through the
  cost model, with no KV reuse (the skipped layers' KV must be computed at verification).

Acceptance (:class:`ExitAcceptance`): the probability that the draft's next token equals
the target's is a function of the *kept importance* ``g`` of the layer set: the share of
per-layer importance weights it keeps (uniform weights: ``g = kept / L``).  It is the
piecewise-linear interpolation through ``(0, 0)``, the published LayerSkip points
``(g(first E layers), α_E)`` of ``specaccel/data/acceptance.csv`` and ``(1, 1)``.  The
importance profile is an assumption (uniform by default); CLaSp and SWIFT report that
middle layers are the most redundant, which :func:`u_shaped_importance` expresses.

Costs (:func:`self_spec_costs`) are ``specaccel.models.cost.pass_costs`` evaluations of the
target with ``layers=`` set; the layer-only cost of ``k`` layers is
``pass(layers=k) − pass(layers=0)`` (the embedding and LM head cancel).

Traces are chains (:func:`sample_chains`, shared by the other ``method_*`` modules of
this family): each step's draft length and per-token acceptance are its own, the draft's
confidence ``c`` is drawn by :meth:`AcceptanceModel.sample_confidence` around the step's
α and the target agrees with probability ``c`` (so the per-token acceptance is α).  The
per-step exit layer of a DEL trace is stored in ``trace.metadata["exit_layer"]``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from specaccel.models.cost import ModelSpec, get_hardware, get_model, pass_costs
from specaccel.schema.errors import InputError
from specaccel.schema.trace import NODE_DTYPES, NODE_FIELDS, Trace
from specaccel.workloads.acceptance_model import AcceptanceModel
from specaccel.workloads.methods import WorkloadPreset, declare_method, declare_preset
from specaccel.workloads.published import SourceKey, published_rows
from specaccel.workloads.synthetic import VOCAB_SIZE

LAYERSKIP_LLAMA_1_5B = get_model("layerskip-llama2-1.5b")
"""The 24-layer model of the LayerSkip TOPv2 rows (shape approximate, see ``source``)."""

ALPHA_MAX = 1.0 - 1e-6
"""α is clipped below 1 (the acceptance model needs α < 1)."""


def expected_tokens(alpha: np.ndarray | float, gamma: np.ndarray | int) -> np.ndarray:
    """Leviathan's ``(1 − α^(γ+1)) / (1 − α)``: expected tokens per step of a γ-chain."""
    a = np.minimum(np.asarray(alpha, dtype=np.float64), ALPHA_MAX)
    return (1.0 - a ** (np.asarray(gamma) + 1)) / (1.0 - a)


# ---------------------------------------------------------------------- published figures
@dataclass(frozen=True)
class ExitPoint:
    """One published LayerSkip measurement: exit layer, layers, α and speedup."""

    exit_layer: int
    n_layers: int
    alpha: float
    speedup: float
    source: str
    key: SourceKey


def layerskip_points() -> list[ExitPoint]:
    """The ``layerskip`` rows of the bundled acceptance.csv, by exit layer."""
    out = []
    for key, row in published_rows().items():
        if key[0] != "layerskip":
            continue
        e = re.search(r"exit layer (\d+)", row["draft_or_tree"])
        n = re.search(r"\((\d+) layers\)", row["target"])
        if e is None or n is None:
            raise InputError("cannot read the exit layer / layer count",
                             file="acceptance.csv", field="draft_or_tree")
        out.append(ExitPoint(int(e.group(1)), int(n.group(1)), float(row["alpha"]),
                             float(row["speedup"]), row["source"], key))
    return sorted(out, key=lambda p: p.exit_layer)


# ---------------------------------------------------------------------- layer sets
def u_shaped_importance(n_layers: int, depth: float = 0.8) -> np.ndarray:
    """Per-layer importance ``1 − depth · sin(π (i + ½) / L)``: the first and last layers
    matter most, middle layers least (the redundancy CLaSp and SWIFT exploit)."""
    i = np.arange(n_layers, dtype=np.float64)
    return 1.0 - depth * np.sin(np.pi * (i + 0.5) / n_layers)


@dataclass(frozen=True)
class LayerSet:
    """The layers a self-draft evaluates (0-based indices, sorted, unique)."""

    kept: tuple[int, ...]
    n_layers: int

    def __post_init__(self) -> None:
        kept = tuple(sorted(set(int(k) for k in self.kept)))
        if not kept or kept[0] < 0 or kept[-1] >= self.n_layers:
            raise InputError(f"kept layers must be a non-empty subset of 0..{self.n_layers - 1}",
                             field="layers")
        object.__setattr__(self, "kept", kept)

    @classmethod
    def prefix(cls, exit_layer: int, n_layers: int) -> LayerSet:
        """The first `exit_layer` layers (LayerSkip's early exit)."""
        if not 1 <= exit_layer <= n_layers:
            raise InputError(f"must be in 1..{n_layers}, not {exit_layer}", field="exit_layer")
        return cls(tuple(range(exit_layer)), n_layers)

    @property
    def n_kept(self) -> int:
        return len(self.kept)

    @property
    def is_prefix(self) -> bool:
        return self.kept == tuple(range(self.n_kept))

    def kept_importance(self, importance: np.ndarray | None = None) -> float:
        """Share ``g`` of the importance weights kept (uniform weights: kept / L)."""
        w = np.ones(self.n_layers) if importance is None else np.asarray(importance, float)
        return float(w[list(self.kept)].sum() / w.sum())


@dataclass(frozen=True)
class ExitAcceptance:
    """α of a self-draft as a function of its kept importance (module docstring).

    Attributes
    ----------
    n_layers:
        Layers of the target.
    exit_alpha:
        ``((E, α_E), ...)``: published acceptance of prefix exits.
    importance:
        Per-layer importance weights (None: uniform).
    """

    n_layers: int
    exit_alpha: tuple[tuple[int, float], ...]
    importance: tuple[float, ...] | None = None

    @classmethod
    def layerskip(cls, importance: Sequence[float] | None = None) -> ExitAcceptance:
        """The published LayerSkip Llama 1.5B curve (24 layers)."""
        pts = layerskip_points()
        return cls(pts[0].n_layers, tuple((p.exit_layer, p.alpha) for p in pts),
                   None if importance is None else tuple(float(w) for w in importance))

    def _weights(self) -> np.ndarray | None:
        return None if self.importance is None else np.asarray(self.importance)

    def alpha(self, layers: LayerSet) -> float:
        """Per-token acceptance of a draft that evaluates `layers`."""
        w = self._weights()
        xs = [0.0] + [LayerSet.prefix(e, self.n_layers).kept_importance(w)
                      for e, _ in self.exit_alpha] + [1.0]
        ys = [0.0] + [a for _, a in self.exit_alpha] + [1.0]
        return float(min(np.interp(layers.kept_importance(w), xs, ys), ALPHA_MAX))

    def alpha_at_exit(self, exit_layer: int) -> float:
        return self.alpha(LayerSet.prefix(exit_layer, self.n_layers))


# ---------------------------------------------------------------------- costs
def self_spec_costs(model: ModelSpec, hw_name: str, layers: LayerSet, gammas: np.ndarray,
                    context: float) -> tuple[float, np.ndarray, float]:
    """Draft-token, verify (per γ in `gammas`) and autoregressive seconds of one step.

    A prefix set (early exit) reuses the draft's KV at verification (module docstring);
    any other set recomputes all layers at verification.
    """
    hw = get_hardware(hw_name)
    g = np.asarray(gammas, dtype=np.int64)
    lat = pass_costs(model, hw, tokens=np.array([1, 1, 1]), context=float(context),
                     layers=np.array([layers.n_kept, 0, model.n_layers]))["latency_s"]
    draft, head_only, full = float(lat[0]), float(lat[1]), float(lat[2])
    if layers.is_prefix and layers.n_kept < model.n_layers:
        rest = pass_costs(model, hw, tokens=g + 1, context=float(context),
                          layers=model.n_layers - layers.n_kept, phase="verify")["latency_s"]
        verify = rest + (draft - head_only)
    else:
        verify = pass_costs(model, hw, tokens=g + 1, context=float(context),
                            phase="verify")["latency_s"]
    return draft, np.asarray(verify, dtype=np.float64), full


def modelled_speedup(model: ModelSpec, hw_name: str, layers: LayerSet, alpha: float,
                     gamma: int, context: float = 256.0) -> float:
    """Expected tokens per second over plain decoding: ``τ t_AR / (γ t_draft + t_verify)``."""
    d, v, full = self_spec_costs(model, hw_name, layers, np.array([gamma]), context)
    return float(expected_tokens(alpha, gamma) * full / (gamma * d + v[0]))


def best_gamma(model: ModelSpec, hw_name: str, layers: LayerSet, alpha: float,
               gamma_max: int = 16, context: float = 256.0) -> int:
    """The draft length in 1..gamma_max with the highest modelled speedup."""
    g = np.arange(1, gamma_max + 1)
    d, v, full = self_spec_costs(model, hw_name, layers, g, context)
    return int(g[np.argmax(expected_tokens(alpha, g) * full / (g * d + v))])


# ---------------------------------------------------------------------- trace sampling
def sample_chains(alpha: np.ndarray, gamma: np.ndarray, rng: np.random.Generator,
                  confidence_spread: float = 1.0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Greedy chain steps with per-step acceptance `alpha` and draft length `gamma`.

    Per draft token a confidence ``c`` is drawn around the step's α
    (:meth:`AcceptanceModel.sample_confidence`), stored as ``draft_prob``; the target
    agrees with probability ``c``.  ``target_token`` after a node is its child's token
    when the target agrees, else a different token.  Returns the node columns and the
    step offsets.
    """
    a = np.minimum(np.asarray(alpha, dtype=np.float64), ALPHA_MAX)
    g = np.asarray(gamma, dtype=np.int64)
    if a.shape != g.shape or np.any(g < 0):
        raise ValueError("alpha and gamma need one entry per step, gamma >= 0")
    sizes = g + 1
    off = np.zeros(g.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes, out=off[1:])
    n = int(off[-1])
    step_of = np.repeat(np.arange(g.shape[0]), sizes)
    pos = np.arange(n) - off[step_of]
    is_root = pos == 0
    conf = AcceptanceModel((0.5,), confidence_spread=confidence_spread).sample_confidence(
        a[step_of], rng.random(n))
    agree = rng.random(n) < conf
    token = rng.integers(0, VOCAB_SIZE, size=n, dtype=np.int64)
    nxt = np.roll(token, -1)
    has_child = pos < g[step_of]
    other = (nxt + 1 + rng.integers(0, VOCAB_SIZE - 1, size=n)) % VOCAB_SIZE
    agree_next = np.roll(agree, -1) & has_child
    cols = {
        "parent": np.where(is_root, -1, pos - 1).astype(np.int32),
        "token": token,
        "draft_prob": np.where(is_root, 1.0, conf),
        "target_token": np.where(agree_next, nxt, other),
        "uniform": np.full(n, np.nan),
    }
    # p(token) under the parent's greedy (one-hot) target distribution
    cols["target_prob"] = np.where(is_root, 1.0, np.roll(agree_next, 1).astype(np.float64))
    return {f: cols[f].astype(NODE_DTYPES[f], copy=False) for f in NODE_FIELDS}, off


def chains_trace(alpha: np.ndarray, gamma: np.ndarray, n_requests: int, seed: int,
                 prompt_len: int, metadata: dict[str, Any],
                 confidence_spread: float = 1.0) -> Trace:
    """A trace of `n_requests` equal-length requests of chain steps (see :func:`sample_chains`)."""
    rng = np.random.default_rng(seed)
    s = int(np.asarray(alpha).shape[0])
    if s % n_requests:
        raise ValueError("steps must split evenly into requests")
    nodes, off = sample_chains(alpha, gamma, rng, confidence_spread)
    return Trace(
        request_id=[f"r{r:05d}" for r in range(n_requests)],
        prompt_len=np.full(n_requests, prompt_len, dtype=np.int64),
        arrival_s=np.zeros(n_requests),
        request_step_offsets=np.arange(n_requests + 1, dtype=np.int64) * (s // n_requests),
        step_node_offsets=off,
        nodes=nodes,
        recorded_accepted=np.full(s, -1, dtype=np.int32),
        verification="greedy",
        metadata=dict(metadata),
    )


# ---------------------------------------------------------------------- presets
declare_method(
    "self-speculation",
    description="the target drafts for itself with a subset of its layers: an early exit "
                "(LayerSkip) or a skip set (SWIFT, CLaSp)",
    drafting="self-draft", tree_policy="a chain of gamma self-drafts (gamma: the best "
                                      "modelled speedup)",
    sources=("Elhoushi et al. 2024, LayerSkip (ACL 2024)",
             "Xia et al. 2025, SWIFT (ICLR 2025; arXiv 2410.06916)"))
declare_method(
    "del",
    description="self-speculation whose exit layer and draft length are chosen every step "
                "from the acceptance the previous step showed",
    drafting="self-draft", tree_policy="a chain; exit layer and gamma per step",
    sources=("Entezari Zarch et al. 2025, DEL (COLM 2025; arXiv 2504.05598)",))


@dataclass(frozen=True)
class SelfSpecPreset(WorkloadPreset):
    """A static self-draft (early exit or skip set) with its draft length.

    ``gamma`` None picks the draft length with the best modelled speedup on `hw`.
    """

    kind: ClassVar[str] = "modelled"

    name: str
    description: str
    layers: LayerSet
    acceptance: ExitAcceptance
    model: ModelSpec = LAYERSKIP_LLAMA_1_5B
    hw: str = "a100-80gb"
    gamma: int | None = None
    published: ExitPoint | None = None
    assumptions: tuple[str, ...] = field(default=())
    method: str = "self-speculation"
    n_requests: int = 16
    steps_per_request: int = 64

    @property
    def source_row(self) -> SourceKey | None:
        return None if self.published is None else self.published.key

    @property
    def alpha(self) -> float:
        return self.acceptance.alpha(self.layers)

    @property
    def draft_length(self) -> int:
        if self.gamma is not None:
            return self.gamma
        return best_gamma(self.model, self.hw, self.layers, self.alpha)

    def expected_tau(self) -> float:
        return float(expected_tokens(self.alpha, self.draft_length))

    def model_tau(self) -> float:
        return self.expected_tau()

    def speedup(self) -> float:
        return modelled_speedup(self.model, self.hw, self.layers, self.alpha, self.draft_length)

    def make_trace(self, n_requests: int, steps_per_request: int, seed: int) -> Trace:
        """A seeded trace of this preset (chains of the preset's draft length)."""
        n = n_requests * steps_per_request
        g = self.draft_length
        meta = {"generator": "specaccel.workloads.method_self_speculation", "preset": self.name,
                "method": "self-speculation", "target_model": self.model.name,
                "draft_model": f"{self.model.name}[layers {list(self.layers.kept)}]",
                "draft_layers": list(self.layers.kept), "kv_reuse": self.layers.is_prefix,
                "alpha": self.alpha, "gamma": g, "seed": seed,
                "published_alpha": None if self.published is None else self.published.alpha}
        return chains_trace(np.full(n, self.alpha), np.full(n, g), n_requests, seed, 128, meta)


def _declare_layerskip_presets() -> None:
    acc = ExitAcceptance.layerskip()
    for p in layerskip_points():
        name = f"layerskip-e{p.exit_layer}"
        declare_preset(SelfSpecPreset(
            name, f"LayerSkip early exit at layer {p.exit_layer}/{p.n_layers}, "
                  f"published alpha {p.alpha} (TOPv2)",
            LayerSet.prefix(p.exit_layer, p.n_layers), acc, published=p,
            assumptions=("gamma: the best modelled speedup on an A100 (the row gives none)",)))
    n = acc.n_layers
    u = ExitAcceptance.layerskip(u_shaped_importance(n))
    middle = tuple(i for i in range(n) if not n // 4 <= i < 3 * n // 4)
    declare_preset(SelfSpecPreset(
        "swift-skip-middle-half", "SWIFT/CLaSp-style skip set: the middle half of the layers "
        "skipped (U-shaped layer importance)", LayerSet(middle, n), u,
        assumptions=("U-shaped importance, depth 0.8 (assumed; no published per-layer data)",)))


_declare_layerskip_presets()


# ---------------------------------------------------------------------- DEL
def difficulty_path(n_steps: int, rng: np.random.Generator, rho: float = 0.95,
                    sigma: float = 0.35) -> np.ndarray:
    """Context difficulty per step: ``d = exp(x)``, ``x`` an AR(1) (persistent stretches
    of easy and hard text).  A step's acceptance at exit E is ``α_E ** d``."""
    x = np.empty(n_steps)
    x[0] = rng.normal(0.0, sigma / math.sqrt(1 - rho * rho))
    eps = rng.normal(0.0, sigma, n_steps)
    for s in range(1, n_steps):
        x[s] = rho * x[s - 1] + eps[s]
    return np.exp(x)


@dataclass
class DelSchedule:
    """Per step: chosen exit layer, draft length, true α and modelled seconds."""

    exit_layer: np.ndarray
    gamma: np.ndarray
    alpha: np.ndarray
    step_s: np.ndarray
    autoregressive_s: float


def _exit_tables(acc: ExitAcceptance, model: ModelSpec, hw: str, exits: np.ndarray,
                 gamma_max: int, context: float) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                          float]:
    g = np.arange(1, gamma_max + 1)
    base = np.array([acc.alpha_at_exit(int(e)) for e in exits])
    cost = np.empty((exits.shape[0], gamma_max))
    full = 0.0
    for i, e in enumerate(exits):
        d, v, full = self_spec_costs(model, hw, LayerSet.prefix(int(e), acc.n_layers), g,
                                     context)
        cost[i] = g * d + v
    return g, base, cost, full


def del_schedule(difficulty: np.ndarray, acc: ExitAcceptance, *,
                 model: ModelSpec = LAYERSKIP_LLAMA_1_5B, hw: str = "a100-80gb",
                 exits: Sequence[int] | None = None, gamma_max: int = 12,
                 context: float = 256.0, static: tuple[int, int] | None = None) -> DelSchedule:
    """Choose (E, γ) per step as DEL does, or use a fixed `static` ``(E, γ)``.

    DEL (idealised): before step s it knows the per-layer acceptance of step s−1
    (``α_E ** d[s−1]``; DEL measures it from the cached hidden states of every layer for
    the tokens just verified) and picks the pair with the most expected tokens per second,
    ``τ(α, γ) / (γ t_draft(E) + t_verify(E, γ))``.
    """
    ex = np.arange(2, acc.n_layers, 2) if exits is None else np.asarray(exits, dtype=np.int64)
    g, base, cost, full = _exit_tables(acc, model, hw, ex, gamma_max, context)
    d = np.asarray(difficulty, dtype=np.float64)
    n = d.shape[0]
    if static is not None:
        e_idx = np.full(n, int(np.nonzero(ex == static[0])[0][0]))
        gam = np.full(n, int(static[1]))
    else:
        prev = np.concatenate([[1.0], d[:-1]])
        a_hat = np.minimum(base[None, :] ** prev[:, None], ALPHA_MAX)        # (n, E)
        rate = expected_tokens(a_hat[:, :, None], g[None, None, :]) / cost[None]  # (n, E, γ)
        flat = rate.reshape(n, -1).argmax(axis=1)
        e_idx, gam = flat // g.shape[0], g[flat % g.shape[0]]
    alpha = np.minimum(base[e_idx] ** d, ALPHA_MAX)
    return DelSchedule(ex[e_idx], gam, alpha, cost[e_idx, gam - 1], full)


def del_trace(schedule: DelSchedule, n_requests: int = 1, seed: int = 0,
              name: str = "del") -> Trace:
    """The trace of a DEL schedule; ``metadata["exit_layer"]`` is the per-step exit layer."""
    meta = {"generator": "specaccel.workloads.method_self_speculation", "method": "del",
            "preset": name, "exit_layer": schedule.exit_layer.tolist(),
            "step_seconds": schedule.step_s.tolist(),
            "autoregressive_seconds": schedule.autoregressive_s, "seed": seed}
    return chains_trace(schedule.alpha, schedule.gamma, n_requests, seed, 128, meta)


@dataclass(frozen=True)
class DelPreset(WorkloadPreset):
    """DEL on the LayerSkip curve: each step's exit layer and γ chosen as
    :func:`del_schedule` does, over a persistent difficulty path (:func:`difficulty_path`)."""

    kind: ClassVar[str] = "modelled"

    name: str
    description: str
    method: str = "del"
    gamma_max: int = 12
    source_row: SourceKey | None = None
    assumptions: tuple[str, ...] = (
        "DEL idealised: it knows the previous step's acceptance at every exit layer",
        "context difficulty: an AR(1) log-difficulty path (rho 0.95, sigma 0.35), assumed",
    )
    n_requests: int = 4
    steps_per_request: int = 64

    def make_trace(self, n_requests: int, steps_per_request: int, seed: int) -> Trace:
        rng = np.random.default_rng([seed, 2])
        schedule = del_schedule(difficulty_path(n_requests * steps_per_request, rng),
                                ExitAcceptance.layerskip(), gamma_max=self.gamma_max)
        trace = del_trace(schedule, n_requests=n_requests, seed=seed, name=self.name)
        trace.metadata["target_model"] = LAYERSKIP_LLAMA_1_5B.name
        return trace


declare_preset(DelPreset(
    "del-layerskip-1.5b", "DEL on LayerSkip's Llama 1.5B: exit layer and gamma per step "
                          "(up to 12) from the previous step's per-layer acceptance"))
