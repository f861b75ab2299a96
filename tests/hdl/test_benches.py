"""Every registered unit's cocotb bench, in every configuration its ``bench.py`` declares.

The default test command runs each configuration in its small form; ``pytest -m slow``
runs the full one (thousands of vectors, whole traces) and the configurations whose
build alone is long (``slow_only``).  Each bench's ``check`` judges the
figures it measured (latency against the unit's declared law, initiation interval)."""

from __future__ import annotations

import pytest

from specaccel.hdl.cocotb_runner import bench_settings, run_bench
from specaccel.hdl.units import registry


def _cases():
    for name, unit in registry().items():
        for config in unit.bench.CONFIGS:
            if config.slow_only:
                yield pytest.param(name, config, True, id=f"{name}-{config.name()}-full",
                                   marks=pytest.mark.slow)
                continue
            yield pytest.param(name, config, False, id=f"{name}-{config.name()}")
            if config.small:
                yield pytest.param(name, config, True, id=f"{name}-{config.name()}-full",
                                   marks=pytest.mark.slow)


def _trace_file(settings: dict, folder):
    """The preset trace a configuration replays, written where its bench reads it."""
    if "trace" not in settings:
        return None
    from specaccel.schema.trace_io import write_trace
    from specaccel.workloads.presets import generate_trace

    preset, requests, steps = settings["trace"]
    path = folder / "trace.parquet"
    write_trace(generate_trace(preset, n_requests=requests, steps_per_request=steps,
                               seed=settings["seed"]), path)
    return path


@pytest.mark.parametrize("name, config, full", list(_cases()))
def test_bench(name, config, full, tmp_path):
    settings = bench_settings(name, config, full=full)
    measured = run_bench(name, config, tmp_path, full=full,
                         trace_file=_trace_file(settings, tmp_path))
    print(name, config.name(), {k: v for k, v in measured.items() if not isinstance(v, dict)})


def test_every_unit_has_a_bench_and_a_model():
    for name, unit in registry().items():
        assert unit.bench.CONFIGS, name
        assert callable(unit.bench.check) and callable(unit.model.measure_cycles), name
