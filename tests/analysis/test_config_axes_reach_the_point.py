"""Every field of the configs a design point is made of (AcceleratorConfig, ServingConfig,
EngineOptions, DeploymentConfig) is a sweep axis, and the value it takes reaches what the
point simulates: no field is accepted and then silently ignored."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import specaccel.sim
from specaccel.analysis import design_point as dp
from specaccel.analysis.sweep_spec import parse_spec
from specaccel.schema.config_fields import FieldSpec, config_fields, from_mapping

#: The hardware a field's points run on: the accelerator's design fields need the
#: designable accelerator (and overlapped drafting its separate draft engine); a
#: software stack and a placement are a GPU's.
HARDWARE = {"accelerator": "specaccel-default", "serving": "specaccel-default",
            "engine": "specaccel-default", "deployment": "a100-80gb"}

#: What a field needs beside it to be a valid point (the configs' rules between fields).
COMPANIONS: dict[str, dict[str, Any]] = {
    "arrivals": {"rate_per_s": 5.0},
    "rate_per_s": {"arrivals": "poisson"},
    "seed": {"arrivals": "poisson", "rate_per_s": 5.0},
}

#: A value that makes a point that runs, where the first non-default one does not (a KV
#: cache of 2 tokens holds no request).
VALUES: dict[str, Any] = {"kv_capacity_tokens": 4096}

SPEC = """
[sweep]
metrics = ["tokens_per_s"]
baseline = false

[fixed]
hardware = "{hardware}"
{fixed}

[axes]
{axes}

[[workloads]]
preset = "eagle-vicuna-7b-mtbench"
requests = 1
steps = 2
"""


def other_value(spec: FieldSpec) -> Any:
    """A valid value of the field that is not its default."""
    choices = spec.choices() if callable(spec.choices) else spec.choices
    if choices:
        return next(c for c in choices if c != spec.default)
    if spec.kind is bool:
        return not spec.default
    default = None if spec.default in (None, dataclasses.MISSING) else spec.default
    if spec.kind is int:
        if default is None:
            return max(spec.ge or 1, 1) + 1
        up = default + 1
        return up if spec.le is None or up <= spec.le else default - 1
    return 5.0 if default is None else default * 0.8   # inside (gt, le] for every field


def toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else repr(value)


def every_field() -> list[tuple[str, FieldSpec]]:
    return [(role, spec) for role, cls in dp.point_configs().items()
            for spec in config_fields(cls)]


def simulated_with(point_spec: str, monkeypatch) -> dict[str, Any]:
    """What the sweep's one point hands the simulator (the real simulator runs it)."""
    spec = parse_spec(point_spec, "reach.toml")
    (point,) = spec.points()
    seen: dict[str, Any] = {}
    real = specaccel.sim.simulate

    def recording(trace, **kwargs):
        seen.update(kwargs)
        return real(trace, **kwargs)

    monkeypatch.setattr(specaccel.sim, "simulate", recording)
    got = dp.evaluate_point(point, spec.settings)
    assert got["tokens_per_s"] > 0
    return seen


_DEFAULT_RUNS: dict[str, tuple] = {}
"""What the default point of each hardware hands the simulator."""


def what_runs(seen: dict[str, Any]) -> tuple:
    return (seen["hw"], seen.get("serving"), seen.get("pipelined"), seen.get("deployment"),
            seen.get("baseline_deployment"))


@pytest.mark.parametrize("role, spec", every_field(), ids=lambda x: getattr(x, "name", x))
def test_every_config_field_is_an_axis_that_reaches_the_point(role, spec, monkeypatch):
    value = VALUES.get(spec.name, other_value(spec))
    hardware = HARDWARE[role]
    companions = COMPANIONS.get(spec.name, {})
    fixed = "\n".join(f"{k} = {toml(v)}" for k, v in companions.items())
    if hardware not in _DEFAULT_RUNS:
        _DEFAULT_RUNS[hardware] = what_runs(simulated_with(
            SPEC.format(hardware=hardware, fixed="", axes=""), monkeypatch))
    seen = simulated_with(SPEC.format(hardware=hardware, fixed=fixed,
                                      axes=f"{spec.name} = [{toml(value)}]"), monkeypatch)
    assert what_runs(seen) != _DEFAULT_RUNS[hardware], f"{spec.name} = {value!r} is ignored"
    if role == "accelerator":        # the machine simulated is the design with that value
        design = from_mapping(dp.point_configs()["accelerator"], {spec.name: value})
        assert seen["hw"] == design.build()
    elif role == "serving":
        assert getattr(seen["serving"], spec.name) == value
    elif role == "engine":
        assert seen[spec.name] == value


def test_the_fields_are_the_sweep_parameters():
    names = {spec.name for _, spec in every_field()}
    assert names <= dp.parameter_names()
    assert len(names) == len(every_field())       # no field shared by two configs
