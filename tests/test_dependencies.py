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


def _deptry(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("deptry", path=str(Path(sys.executable).parent)) or "deptry"
    return subprocess.run([exe, *args], cwd=ROOT, capture_output=True, text=True,
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
    """The check is real: a module importing an undeclared package fails it."""
    bad = ROOT / "analysis" / "_deptry_probe.py"
    bad.write_text("import requests_toolbelt_not_declared  # noqa: F401\n")
    try:
        proc = _deptry(*SOURCE_FOLDERS)
    finally:
        bad.unlink()
    assert proc.returncode != 0
    assert "DEP001" in proc.stdout + proc.stderr
