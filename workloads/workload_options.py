"""The options that choose and size a generated workload (``trace gen``, ``run``, sweeps).

:class:`WorkloadOptions` is a configuration dataclass
(:mod:`specaccel.schema.config_fields`): its fields are the command-line options of
``specaccel trace gen`` and ``specaccel run`` and the workload keys of a sweep, and its
docs table is generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from specaccel.schema.config_fields import Config, option
from specaccel.schema.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from specaccel.schema.trace import Trace
    from specaccel.workloads.methods import WorkloadPreset


@dataclass(frozen=True)
class WorkloadOptions(Config):
    """Which preset, how large, which seed, and optionally which τ."""

    preset: str | None = option(None, metavar="NAME",
                                help="workload preset ('specaccel methods' lists them); "
                                     "default: the method's first preset, else "
                                     "eagle-vicuna-7b-mtbench")
    method: str | None = option(None, metavar="NAME",
                                help="decoding method: its first preset, or with --preset a "
                                     "check that the preset is of this method")
    requests: int | None = option(None, ge=1, metavar="N",
                                  help="number of requests (default: the preset's)")
    steps: int | None = option(None, ge=1, metavar="N",
                               help="decode steps per request (default: the preset's)")
    seed: int = option(0, ge=0, metavar="S", help="random seed of the workload")
    tau: float | None = option(None, gt=1, metavar="TAU",
                               help="tokens committed per step to recalibrate the preset's "
                                    "acceptance model to (default: the published tau)")

    def resolve(self) -> WorkloadPreset:
        """The preset these options name (:class:`InputError` for a mismatch)."""
        from specaccel.workloads.methods import get_method, get_workload_preset
        from specaccel.workloads.presets import DEFAULT_PRESET

        if self.preset is not None:
            preset = get_workload_preset(self.preset)
            if self.method is not None and get_method(self.method).name != preset.method:
                raise InputError(f"preset {preset.name!r} is of method {preset.method!r}, "
                                 f"not {self.method!r}", field="method")
            return preset
        if self.method is not None:
            return get_method(self.method).default_preset()
        return get_workload_preset(DEFAULT_PRESET)

    def generate(self) -> Trace:
        """The trace of the resolved preset with these sizes, seed and τ."""
        return self.resolve().generate(n_requests=self.requests,
                                       steps_per_request=self.steps, seed=self.seed,
                                       tau=self.tau)
