"""Real-text presets: a method's drafting policy recorded on held-out Python source with
the n-gram target/draft pair of :mod:`.recorder_ngram`.

A :class:`RealTextPreset` builds a :class:`~.recorder_ngram.DraftPolicy` for the pair
with the parameters the method's paper or Spec-Bench used (γ, tree, W/N/G, …) and names
the row of ``specaccel/data/acceptance.csv`` that reports the method's τ on a real LLM
(a 4-gram/2-gram pair on Python source is not Vicuna on MT-bench, so the real-text τ is
*measured*, not calibrated to that row — calibrated synthetic presets are
:mod:`.presets`).  Its trace names the paper's target and draft (``target_model``,
``draft_model``) so that the simulator prices the recorded steps on them.  The presets
are declared in their methods' modules (``workloads/method_*.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import ClassVar

from specaccel.schema.trace import Trace
from specaccel.workloads.methods import WorkloadPreset, get_workload_preset
from specaccel.workloads.published import SourceKey
from specaccel.workloads.recorder_ngram import (
    DraftPolicy,
    RealTextModels,
    RecordConfig,
    record_trace,
    train_models,
)

PRICING = ("the recorded steps are priced on the paper's target/draft pair; their "
           "acceptance is the n-gram pair's on Python source, not the LLM's")


@dataclass(frozen=True)
class RealTextPreset(WorkloadPreset):
    """A drafting method with fixed parameters, recorded on real text.

    Attributes
    ----------
    name, description:
        Preset name and one line.
    method:
        The :class:`~specaccel.workloads.methods.Method`.
    build:
        ``build(models) -> DraftPolicy``.
    source_row:
        The acceptance.csv row of the method's paper (for comparison), or ``None``.
    target_model, draft_model:
        Cost-model names that price the recorded steps (``draft_model`` ``None`` for a
        draft-free method).
    n_requests, steps_per_request:
        Default held-out prompts and tokens generated per prompt.
    """

    kind: ClassVar[str] = "real-text"

    name: str
    method: str
    description: str
    build: Callable[[RealTextModels], DraftPolicy] = field(compare=False)
    source_row: SourceKey | None = None
    target_model: str = "vicuna-7b"
    draft_model: str | None = "vicuna-68m"
    n_requests: int = 8
    steps_per_request: int = 256
    assumptions: tuple[str, ...] = (PRICING,)

    def record(self, models: RealTextModels, config: RecordConfig | None = None) -> Trace:
        """Record a trace with `models` (metadata names the preset, its method and the
        pricing models)."""
        trace = record_trace(models, self.build, config)
        meta = trace.metadata
        meta["preset"] = self.name
        meta["method"] = self.method
        meta.setdefault("drafting", self.method_entry().drafting.name)
        meta["target_model"] = self.target_model
        if self.draft_model is not None:
            meta["draft_model"] = self.draft_model
        return trace

    def make_trace(self, n_requests: int, steps_per_request: int, seed: int) -> Trace:
        """`n_requests` held-out prompts, `steps_per_request` generated tokens each."""
        return self.record(default_models(), RecordConfig(
            n_requests=n_requests, max_new_tokens=steps_per_request, seed=seed))


@cache
def default_models() -> RealTextModels:
    """The stdlib n-gram pair that the real-text presets record with (trained once)."""
    return train_models()


def record_preset(models: RealTextModels, name: str, config: RecordConfig | None = None
                  ) -> Trace:
    """Record a real-text trace with preset `name` (metadata names the preset)."""
    preset = get_workload_preset(name)
    if not isinstance(preset, RealTextPreset):
        from specaccel.schema.errors import InputError

        raise InputError(f"preset {name!r} is {preset.kind}, not a real-text preset",
                         field="preset")
    return preset.record(models, config)
