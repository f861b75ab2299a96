"""The options that make a `~.deployment.Deployment`: stack and placement, declared once.

Every field is a command-line option of ``cost``, ``simulate`` and ``run`` (``--stack``,
``--tp``, ``--pp``, ``--offload``, ...), a key of a design file and a sweep axis
(:mod:`specaccel.schema.config_fields`).  ``stack`` unset means the trace's own stack --
the one its preset's paper ran on -- and ``ideal`` (the kernels alone) when the trace
names none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from specaccel.schema.config_fields import Config, option
from specaccel.schema.errors import InputError

from .software_stack import get_stack, list_stacks

if TYPE_CHECKING:  # the deployment (NumPy, Numba) loads only when one is built
    from .deployment import Deployment
    from .hardware_spec import HardwareSpec

DEFAULT_STACK = "ideal"
"""The stack of a run whose options and trace name none."""


@dataclass(frozen=True)
class DeploymentConfig(Config):
    """Software stack and placement of the target and the draft (module docstring)."""

    stack: str | None = option(None, choices=list_stacks, what="stack", metavar="NAME",
                               help="software stack of the target and the draft (default: "
                                    "the trace's, else ideal): " + ", ".join(list_stacks()))
    draft_stack: str | None = option(None, choices=list_stacks, what="stack",
                                     metavar="NAME",
                                     help="software stack of the draft (default: --stack)")
    baseline_stack: str | None = option(None, choices=list_stacks, what="stack",
                                        metavar="NAME",
                                        help="software stack of the autoregressive baseline "
                                             "(default: the trace's, else --stack)")
    tp: int = option(1, ge=1, le=4096, metavar="N",
                     help="tensor-parallel degree of the target (heads and MLP split over N "
                          "devices, two all-reduces per layer)")
    pp: int = option(1, ge=1, le=4096, metavar="N",
                     help="pipeline stages of the target: layers in sequence over N devices, "
                          "as device_map='auto' places a model at batch 1")
    offload: bool = option(False, help="weights that do not fit the target's devices stay "
                                       "in host memory and cross PCIe every pass (the "
                                       "devices keep the embedding, the LM head and whole "
                                       "layers beside two layers of staging)")
    draft_tp: int | None = option(None, ge=1, le=4096, metavar="N",
                                  help="the draft on its own N tensor-parallel devices "
                                       "(default: beside the target on its device 0)")

    def resolved_stack(self, trace_stack: str | None = None) -> str:
        """The target's stack: the option, else the trace's, else `DEFAULT_STACK`."""
        return self.stack or trace_stack or DEFAULT_STACK

    def build(self, hw: HardwareSpec, *, trace: dict[str, Any] | None = None,
              baseline: bool = False) -> Deployment:
        """The deployment of these options on `hw`; `trace` is the trace's metadata,
        whose ``stack``, ``draft_stack`` and ``baseline_stack`` (the source's software)
        apply on a GPU where the options name no stack.  `baseline`: the deployment of
        the autoregressive baseline (the same placement on the baseline stack)."""
        from .deployment import Deployment
        from .placement import Placement

        meta = trace or {}
        if hw.kind != "gpu":
            for name in ("stack", "draft_stack", "baseline_stack"):
                if getattr(self, name) not in (None, "ideal"):
                    raise InputError(f"a software stack applies to GPU targets; {hw.name} is "
                                     "an accelerator", field=name)
            meta = {}
        own = self.stack is not None
        stack = self.resolved_stack(meta.get("stack"))
        draft_stack = self.draft_stack or (None if own else meta.get("draft_stack"))
        if baseline:
            stack = self.baseline_stack or (stack if own else meta.get("baseline_stack",
                                                                          stack))
            draft_stack = None
        return Deployment(hw, get_stack(stack), Placement(tp=self.tp, pp=self.pp,
                                                         offload=self.offload),
                          None if draft_stack is None else get_stack(draft_stack),
                          None if self.draft_tp is None else Placement(tp=self.draft_tp))

    def describe(self) -> dict[str, Any]:
        return self.to_dict()
