"""The notebooks in docs/notebooks are stored with the outputs the code produces now.

Each stored notebook is executed again (nbclient, the venv's kernel, a scratch folder) and
its outputs are compared with the stored ones, cell by cell (notebook_outputs.py says
what is masked and how figures are compared).  Each notebook ends with assertions on its
own results, so a notebook that stops matching the code fails twice: its checks fail,
and its printed numbers differ from the stored ones.  The fix for a stale notebook is
``.venv/bin/python tests/docs/notebook_sources.py NAME``.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import tempfile
from pathlib import Path

import nbformat
import pytest


def _load(name: str):
    spec = importlib.util.spec_from_file_location(
        f"docs_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sources = _load("notebook_sources")
outputs = _load("notebook_outputs")


@pytest.fixture(scope="module")
def kernel():
    with outputs.venv_kernel() as name:
        yield name


def stored(name: str) -> nbformat.NotebookNode:
    return nbformat.read(sources.NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)


@pytest.mark.parametrize("name", sorted(sources.NOTEBOOKS))
def test_stored_notebook_is_its_source_with_outputs(name):
    nb = stored(name)
    nbformat.validate(nb)
    built = sources.build(name)
    assert [(c.cell_type, c.source, c.id) for c in nb.cells] == \
        [(c.cell_type, c.source, c.id) for c in built.cells], \
        f"{name}.ipynb differs from notebook_sources.py: run tests/docs/notebook_sources.py"
    code = [c for c in nb.cells if c.cell_type == "code"]
    # stored executed, in order, every cell with its outputs
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    assert all("execution" not in c.metadata for c in code)  # no timestamps stored
    outs = [o for c in code for o in c.outputs]
    assert any("image/png" in o.get("data", {}) for o in outs)  # a reader sees figures
    assert not [o for o in outs if o.output_type == "error"]
    assert not [o for o in outs if o.get("name") == "stderr"], "warnings or logs on stderr"


@pytest.mark.parametrize("name", sorted(sources.NOTEBOOKS))
def test_notebook_executes_to_its_stored_outputs(name, kernel, tmp_path):
    nb = stored(name)
    got = outputs.execute(nb, tmp_path, kernel)
    code = [c for c in got.cells if c.cell_type == "code"]
    out = [o for c in code for o in c.outputs]
    assert not [o for o in out if o.output_type == "error"]
    assert not [o for o in out if o.get("name") == "stderr"], \
        [o.text for o in out if o.get("name") == "stderr"]
    # The last cell holds the notebook's assertions and reports that they passed.
    last = "".join(o.get("text", "") for o in code[-1].outputs if o.output_type == "stream")
    assert "all checks passed" in last
    problems = outputs.compare(nb, got, workdir=tmp_path)
    assert not problems, (f"docs/notebooks/{name}.ipynb is stale (run "
                          f"tests/docs/notebook_sources.py {name}):\n" + "\n".join(problems))


# ---- the comparison itself can fail --------------------------------------------------

def _png(draw) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2), dpi=72)
    draw(ax)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _nb(text: str, png: str | None = None) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    if png is not None:
        cell.outputs.append(nbformat.v4.new_output(
            "display_data", data={"image/png": png, "text/plain": "<Figure>"}))
    nb.cells.append(cell)
    return nb


def test_compare_catches_a_changed_number_and_a_changed_figure(tmp_path):
    line = _png(lambda ax: ax.plot([0, 1, 2], [0, 1, 4]))
    moved = _png(lambda ax: ax.plot([0, 1, 2], [0, 1.5, 4]))
    assert outputs.compare(_nb("tok/s 316\n", line), _nb("tok/s 316\n", line)) == []
    assert outputs.compare(_nb("tok/s 316\n"), _nb("tok/s 317\n"))
    assert outputs.compare(_nb("a\n", line), _nb("a\n", moved))
    assert outputs.compare(_nb("a\n", line), _nb("a\n"))
    # what is masked: an address, a wall time, the scratch folder of each run
    stored_dir = f"{tempfile.gettempdir()}/specaccel-notebook-abc123"
    assert outputs.compare(
        _nb(f"<obj at 0x7f12a4b3c0d0> wall time: 1.2 s, wrote {stored_dir}/x.csv\n"),
        _nb(f"<obj at 0x7f99a4b3c0d0> wall time: 3.4 s, wrote {tmp_path}/x.csv\n"),
        workdir=tmp_path) == []
    assert outputs.compare(_nb(f"wrote {stored_dir}/x.csv\n"), _nb("wrote /elsewhere/x.csv\n"))
