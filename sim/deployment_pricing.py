"""A deployment (device + software stack + placement, per role) behind the step-cost door.

:func:`deployment_pricer` builds the run's :class:`~.pricing.StepPricer` for a
:class:`~specaccel.models.cost.deployment.Deployment`: each role's passes are priced by
the deployment (kernel model at the role's tensor-parallel degree, the stack's kernels,
host time and traffic, pipeline hops, offloaded weights), and whole batch-1 steps by
:func:`~specaccel.models.cost.step_stages.step_stages` (host/GPU overlap per stage,
synchronisations, the token-selection tail, the decode loop's operations).  Every
engine then sees the deployment through the door, the autoregressive baseline
included -- which may run on its own deployment (the stack the paper's baseline used).

A deployment that is the kernel model alone (``Deployment.is_ideal``) gives the door as
:meth:`~.pricing.StepPricer.build` makes it, so results without a stack are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from specaccel.models.cost.deployment import Deployment
from specaccel.models.cost.drafting import DraftingMode, drafting_mode
from specaccel.models.cost.placement import draft_on_target_device
from specaccel.models.cost.step_stages import step_stages
from specaccel.schema.errors import InputError
from specaccel.sim.pricing import StepPricer, StepShapes


@dataclass(frozen=True)
class DeploymentKernel:
    """The cost function of one role on a deployment (``RoleCost.kernel``): the pass's
    wall time as ``latency_s``, its energy with static power over that time."""

    deployment: Deployment
    role: str
    shared_bytes: float = 0.0  # another model's weights on this role's device 0
    shared_bytes_per_token: float = 0.0  # and its KV cache per token
    #: It prices the requests a prefill starts (the stack's host time per request).
    prices_requests: ClassVar[bool] = True

    def __call__(self, model: Any, device: Any, *, tokens: Any, context: Any,
                 batch: Any = 1, phase: str | None = None, requests: Any = None,
                 **_: Any) -> dict[str, np.ndarray]:
        t = np.atleast_1d(np.asarray(tokens, dtype=np.float64))
        c = np.broadcast_to(np.asarray(context, dtype=np.float64), t.shape)
        return self.deployment.pass_costs(model, role=self.role, tokens=t, context=c,
                                          batch=batch, phase=phase, requests=requests,
                                          shared_bytes=self.shared_bytes,
                                          shared_bytes_per_token=self.shared_bytes_per_token)


@dataclass(frozen=True)
class DeploymentStages:
    """Prices whole batch-1 steps on a deployment (a :class:`~.pricing.StepStages`)."""

    deployment: Deployment

    def __call__(self, pricer: StepPricer, sh: StepShapes) -> dict[str, np.ndarray]:
        out = step_stages(self.deployment, target=pricer.target.model,
                          draft=pricer.draft_model, speculative=sh.drafting.verifies_tree,
                          n_nodes=sh.n_nodes, target_tokens=sh.target_tokens,
                          context=sh.context, accepted=sh.accepted,
                          draft_step_of=sh.draft_step_of, draft_tokens=sh.draft_tokens,
                          draft_context=sh.draft_context)
        out.pop("draft_passes", None)
        return out


def deployment_pricer(deployment: Deployment, target: Any, draft: Any,
                      drafting: str | DraftingMode) -> StepPricer:
    """The step-cost door of `target` (and `draft`) on `deployment`."""
    mode = drafting_mode(drafting)
    pricer = StepPricer.build(deployment.hw, target, draft, mode)
    if deployment.is_ideal:
        return pricer
    if not mode.standard_steps:
        raise InputError(f"drafting {mode.name!r} is priced by the kernels alone: a "
                         "software stack's step model does not run its passes", field="stack")
    return replace(
        pricer,
        target=replace(pricer.target, kernel=DeploymentKernel(
            deployment, "target",
            *draft_on_target_device(pricer.draft_model, deployment.draft_placement))),
        draft=(None if pricer.draft is None
               else replace(pricer.draft, kernel=DeploymentKernel(deployment, "draft"))),
        stages=DeploymentStages(deployment), default_kernel=False)
