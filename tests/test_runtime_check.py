"""The runtime-only check (.ci/runtime_commands.py, run by `make test`) tells a library's
stray warning on stderr from specaccel's own ``warning:`` lines, on real output."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("runtime_commands",
                                               ROOT / ".ci" / "runtime_commands.py")
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)


def _stderr(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


STRAY = {
    "a Python UserWarning": "import warnings; warnings.warn('something odd')",
    "Numba": (
        "import numba, numpy as np\n"
        "@numba.njit\n"
        "def f(a, b):\n    return np.dot(a, b)\n"
        "x = np.ones((4, 8)); f(x[:, ::2], x[:, ::2].T.copy())"),
    "matplotlib": (
        "import matplotlib; matplotlib.use('Agg')\n"
        "import matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots(); ax.legend()"),
    "pandas": (
        "import pandas as pd\n"
        "df = pd.DataFrame({'a': [1]})\n"
        "for i in range(120):\n    df[f'c{i}'] = 1"),
    "a dask log line": (
        "import logging, distributed  # noqa: F401 - installs dask's logging config\n"
        "logging.getLogger('distributed.worker').warning('worker lost')"),
}


@pytest.mark.parametrize("source", sorted(STRAY))
def test_a_library_warning_is_caught(source):
    err = _stderr(STRAY[source])
    assert err.strip(), "the snippet printed nothing: it no longer provokes a warning"
    assert check.stray_warnings(err), err


def test_specaccels_own_warning_line_is_not_a_stray_warning(tmp_path):
    proc = subprocess.run([str(Path(sys.executable).parent / "specaccel"), "cost",
                           "--model", "llama-2-70b", "--hw", "l4"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "warning:" in proc.stdout + proc.stderr  # the weights do not fit: said, and meant
    assert check.stray_warnings(proc.stdout + proc.stderr) == []


def test_the_progress_and_log_lines_of_a_run_are_not_warnings():
    lines = ("generated workload eagle-vicuna-7b-mtbench (seed 0): 80 requests, 10240 steps\n"
             "  a100-80gb: 0.7 s\n")
    assert check.stray_warnings(lines) == []
