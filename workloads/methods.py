"""Decoding methods and their workload presets: one registry for each.

A :class:`Method` declares how each step's draft tree is built (its *tree policy*), how
it is drafted (its :class:`~specaccel.models.cost.drafting.DraftingMode`, which is what
the simulator charges) and the papers it comes from.  A *preset* is one configuration of
a method that generates traces (:class:`WorkloadPreset`): a synthetic workload
calibrated to a published τ, a recording on real text, or a modelled one (BASS, CALM,
diffusion, ...), each naming the published row it reproduces or is compared with.

Both are declared once, in the method's own module ``workloads/method_<name>.py``, with
:func:`declare_method` and :func:`declare_preset`; :data:`METHODS` and :data:`PRESETS`
import every such module on first use (never at start-up), and the command line
(``trace gen --method/--preset``, ``specaccel methods``), ``run``, ``simulate`` and the
sweeps read the registries.  A new method is one new module (and its test).
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from specaccel.schema.errors import InputError
from specaccel.schema.registry import Registry
from specaccel.workloads.published import SourceKey, published_number, published_row

if TYPE_CHECKING:  # pragma: no cover
    from specaccel.models.cost.drafting import DraftingMode
    from specaccel.schema.trace import Trace

def _load_declarations() -> None:
    """Import every ``specaccel.workloads.method_*`` module: each declares its method(s)
    and presets."""
    import specaccel.workloads as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("method_"):
            importlib.import_module(f"specaccel.workloads.{info.name}")


METHODS: Registry[Method] = Registry("method", field="method", loader=_load_declarations)
"""Every decoding method, by name."""
PRESETS: Registry[WorkloadPreset] = Registry("preset", field="preset",
                                             loader=_load_declarations)
"""Every workload preset, by name."""


@dataclass(frozen=True)
class Method:
    """A decoding method.

    Attributes
    ----------
    name:
        The method's name (``eagle-2``, ``bass``); presets name it.
    description:
        One line.
    drafting:
        Its drafting mode: which draft passes a step costs.
    tree_policy:
        How a step's draft tree is built, in words (a static tree, a chain of γ, the
        best-first tree of a dynamic method, ...).
    sources:
        The papers (author year, venue or arXiv id).
    """

    name: str
    description: str
    drafting: DraftingMode
    tree_policy: str
    sources: tuple[str, ...]

    def presets(self) -> list[WorkloadPreset]:
        """The method's presets, by name."""
        return [p for _, p in PRESETS.items() if p.method == self.name]

    def default_preset(self) -> WorkloadPreset:
        """The preset ``trace gen --method`` uses: the method's first declared preset."""
        presets = [p for p in PRESETS.declared() if p.method == self.name]
        if not presets:
            raise InputError(f"method {self.name!r} has no preset yet", field="method")
        return presets[0]

    def describe(self) -> dict[str, Any]:
        return {"method": self.name, "description": self.description,
                "drafting": self.drafting.name, "tree_policy": self.tree_policy,
                "sources": list(self.sources),
                "presets": [p.name for p in self.presets()]}


def declare_method(name: str, *, description: str, drafting: str, tree_policy: str,
                   sources: tuple[str, ...]) -> Method:
    """Declare a method (in its module); `drafting` names a mode of
    :data:`specaccel.models.cost.drafting.DRAFTING_MODES`."""
    from specaccel.models.cost.drafting import drafting_mode

    return METHODS.register(name, Method(name, description, drafting_mode(drafting),
                                         tree_policy, tuple(sources)))


def declare_preset(preset: WorkloadPreset) -> WorkloadPreset:
    """Declare a preset of an already declared method (in the method's module)."""
    if preset.method not in METHODS._entries:
        raise ValueError(f"preset {preset.name!r} names undeclared method {preset.method!r}")
    return PRESETS.register(preset.name, preset)


def get_method(name: str) -> Method:
    """The method called `name` (:class:`InputError` listing the names otherwise)."""
    return METHODS.get(name)


def get_workload_preset(name: str) -> WorkloadPreset:
    """The preset called `name` (:class:`InputError` listing the names otherwise)."""
    return PRESETS.get(name)


def check_sizes(n_requests: int, steps_per_request: int, seed: int) -> None:
    """:class:`InputError` for a size or seed no generator takes."""
    if n_requests < 1:
        raise InputError(f"must be >= 1, not {n_requests}", field="requests")
    if steps_per_request < 1:
        raise InputError(f"must be >= 1, not {steps_per_request}", field="steps")
    if not math.isfinite(seed) or seed < 0:
        raise InputError(f"must be a non-negative integer, not {seed}", field="seed")


class WorkloadPreset(ABC):
    """What every preset offers (the preset kinds derive from it; they are frozen
    dataclasses with at least ``name``, ``description``, ``method``, ``source_row`` and
    ``assumptions`` fields and default sizes ``n_requests``, ``steps_per_request``).

    Subclasses implement :meth:`make_trace` and :meth:`model_tau`, and
    :meth:`with_tau` when a τ set by the user can recalibrate them.
    """

    sized_by_steps: ClassVar[bool] = True
    """False when the method sets each request's steps itself (a diffusion LM's refinement
    steps); then ``steps_per_request`` is not an option."""

    kind: ClassVar[str] = "preset"
    """``calibrated`` (synthetic, scaled to the published τ), ``real-text`` (recorded
    with the n-gram pair on held-out text) or ``modelled`` (a model of the method whose
    parameters are fitted to, or assumed without, a published number)."""

    name: str
    description: str
    method: str
    source_row: SourceKey | None
    assumptions: tuple[str, ...]
    n_requests: int
    steps_per_request: int

    # ------------------------------------------------------------------ published figures
    @property
    def source(self) -> dict[str, str] | None:
        """The acceptance.csv row the preset reproduces or is compared with."""
        return None if self.source_row is None else published_row(self.source_row)

    @property
    def published_tau(self) -> float | None:
        """The source's published τ (``None`` when it gives none)."""
        return None if self.source_row is None else published_number(self.source_row, "tau")

    def method_entry(self) -> Method:
        return METHODS.get(self.method)

    # ------------------------------------------------------------------ generation
    def model_tau(self) -> float | None:
        """The τ this preset's model expects (``None`` when only a run can tell)."""
        return None

    @abstractmethod
    def make_trace(self, n_requests: int, steps_per_request: int, seed: int) -> Trace:
        """A trace of `n_requests` requests (sizes already checked) from `seed`."""

    def with_tau(self, tau: float) -> WorkloadPreset:
        """This preset recalibrated so that its expected τ is `tau`."""
        raise InputError(f"preset {self.name!r} ({self.kind}) has no acceptance model that "
                         "a set tau can recalibrate", field="tau")

    def generate(self, *, n_requests: int | None = None, steps_per_request: int | None = None,
                 seed: int = 0, tau: float | None = None) -> Trace:
        """A seeded trace (the preset's default sizes unless given; `tau` recalibrates).

        ``trace.metadata`` names the ``preset``, the ``method`` and its ``drafting``.
        """
        if steps_per_request is not None and not self.sized_by_steps:
            raise InputError(f"preset {self.name!r} sets its own steps per request (method "
                             f"{self.method}); give requests only", field="steps")
        n_req = self.n_requests if n_requests is None else int(n_requests)
        n_steps = self.steps_per_request if steps_per_request is None else int(steps_per_request)
        check_sizes(n_req, n_steps if self.sized_by_steps else 1, seed)
        preset = self if tau is None else self.with_tau(tau)
        trace = preset.make_trace(n_req, n_steps, int(seed))
        meta = trace.metadata
        meta.setdefault("preset", self.name)
        meta.setdefault("method", self.method)
        meta.setdefault("drafting", self.method_entry().drafting.name)
        if tau is not None:
            meta["tau"] = float(tau)
        return trace

    def summary(self) -> dict[str, Any]:
        """One listing row: name, method, kind, description, τ published and modelled."""
        src = self.source
        speedup = (None if self.source_row is None
                   else published_number(self.source_row, "speedup"))
        return {"preset": self.name, "method": self.method, "kind": self.kind,
                "description": self.description, "published_tau": self.published_tau,
                "published_speedup": speedup, "model_tau": self.model_tau(),
                "source": None if src is None else src.get("source")}
