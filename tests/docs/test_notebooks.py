"""The notebooks in docs/notebooks run (nbclient, the venv's kernel) and pass their checks.

Each notebook ends with assertions on its own results, so a notebook that stops matching
the code fails here.  The committed files must equal what ``notebook_sources.py``
generates (no outputs, no drift between the source and the file).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

_spec = importlib.util.spec_from_file_location(
    "docs_notebook_sources", Path(__file__).with_name("notebook_sources.py"))
sources = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sources)

CELL_TIMEOUT_S = 240  # per cell; the machine is shared, a cell takes seconds when idle


@pytest.fixture(scope="module")
def venv_kernel(tmp_path_factory, monkeypatch_module):
    """A ``python3`` kernelspec that runs *this* interpreter (the venv's), found first.

    A user-level ``python3`` kernelspec (``~/.local/share/jupyter``) would otherwise win
    over the venv's ipykernel; ``JUPYTER_PATH`` is searched before it.
    """
    root = tmp_path_factory.mktemp("jupyter")
    spec_dir = root / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (specaccel venv)", "language": "python",
    }))
    monkeypatch_module.setenv("JUPYTER_PATH", str(root))
    monkeypatch_module.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert Path(spec.argv[0]).resolve() == Path(sys.executable).resolve()
    return "python3"


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def execute(name: str, kernel: str, workdir: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(sources.NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    client = NotebookClient(nb, kernel_name=kernel, timeout=CELL_TIMEOUT_S,
                            resources={"metadata": {"path": str(workdir)}})
    client.execute()
    return nb


@pytest.mark.parametrize("name", sorted(sources.NOTEBOOKS))
def test_committed_notebook_is_generated_without_outputs(name):
    path = sources.NOTEBOOK_DIR / f"{name}.ipynb"
    assert path.read_text() == sources.render(name), \
        f"{path} differs from notebook_sources.py: run tests/docs/notebook_sources.py"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("name", sorted(sources.NOTEBOOKS))
def test_notebook_executes_and_passes_its_checks(name, venv_kernel, tmp_path):
    nb = execute(name, venv_kernel, tmp_path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # The last cell holds the notebook's assertions and reports that they passed.
    last = "".join(o.get("text", "") for o in code[-1].outputs if o.output_type == "stream")
    assert "all checks passed" in last
    # Every notebook shows at least one figure.
    assert any("image/png" in o.get("data", {}) for o in outputs)
