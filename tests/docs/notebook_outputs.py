"""Executing the docs notebooks and comparing their outputs with the stored ones.

The notebooks in docs/notebooks are stored *with* their outputs, so a reader sees the
figures and numbers without running anything.  ``notebook_sources.py`` regenerates them
(builds each from its source, executes it here, writes it); the doc test executes the
stored notebook again and checks, cell by cell, that the code still produces what the
file shows.

What may legitimately differ between two runs of the same code, and how it is compared:

* text (stdout, ``text/plain`` results): exactly, after masking memory addresses
  (``0x7f..``), the scratch folder of the run (the kernel's working directory and the
  system temp folder) and wall times printed as ``<number> s`` after ``wall time`` or
  ``took`` (the notebooks print none today; the masks keep one from becoming a trap);
* figures (``image/png``): the same pixel size, and the decoded pixels equal up to
  anti-aliasing noise (mean absolute difference <= ``PNG_TOLERANCE`` of full scale, and
  no more than ``PNG_CHANGED_PIXELS`` of the pixels changed by more than a quarter of the
  scale).  PNG bytes are not compared: the encoder and its metadata are the installed
  matplotlib's, not the code's.  A moved curve, bar or label changes far more pixels;
* cell metadata: execution timing is never recorded (``record_timing=False``).

Nothing else is masked: stderr output, an error, a missing or extra output, another
output type fails the comparison.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import numpy as np
from nbclient import NotebookClient

CELL_TIMEOUT_S = 240  # per cell; the machine is shared, a cell takes seconds when idle
KERNEL = "python3"

#: Largest mean absolute pixel difference (fraction of full scale) between two renders.
PNG_TOLERANCE = 0.002
#: Largest fraction of pixels that may differ by more than a quarter of the scale.
PNG_CHANGED_PIXELS = 0.001

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
_WALL = re.compile(r"((?:wall time|took)\W*)\d+(?:\.\d+)?(?:e[-+]?\d+)?( ?m?s\b)")


@contextlib.contextmanager
def venv_kernel() -> Iterator[str]:
    """A ``python3`` kernelspec that runs *this* interpreter (the venv's), found first.

    A user-level ``python3`` kernelspec (``~/.local/share/jupyter``) would otherwise win
    over the venv's ipykernel; ``JUPYTER_PATH`` is searched before it.  Figures are drawn
    by the inline backend, as in Jupyter.
    """
    saved = {k: os.environ.get(k) for k in ("JUPYTER_PATH", "MPLBACKEND")}
    with tempfile.TemporaryDirectory(prefix="specaccel-kernel-") as root:
        spec_dir = Path(root) / "kernels" / KERNEL
        spec_dir.mkdir(parents=True)
        (spec_dir / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (specaccel venv)", "language": "python",
        }))
        os.environ["JUPYTER_PATH"] = root
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        try:
            from jupyter_client.kernelspec import KernelSpecManager

            spec = KernelSpecManager().get_kernel_spec(KERNEL)
            assert Path(spec.argv[0]).resolve() == Path(sys.executable).resolve()
            yield KERNEL
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def without_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of `nb` with every code cell's outputs and execution count cleared."""
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def execute(nb: nbformat.NotebookNode, workdir: Path, kernel: str = KERNEL
            ) -> nbformat.NotebookNode:
    """Run a copy of `nb` (outputs cleared first) in `workdir`; return the executed copy."""
    from jupyter_client.manager import KernelManager

    nb = without_outputs(nb)
    # Local IPC sockets in the scratch folder, not TCP on localhost (over which the kernel
    # warns on stderr that its traffic is unencrypted).
    km = KernelManager(kernel_name=kernel, transport="ipc",
                       ip=str(Path(workdir) / ".kernel-ipc"))
    # A stream's text arrives in as many messages as the kernel flushed, which depends on
    # timing: consecutive stream outputs are merged (coalesce_streams) as Jupyter shows them.
    client = NotebookClient(nb, km=km, kernel_name=kernel, timeout=CELL_TIMEOUT_S,
                            record_timing=False, coalesce_streams=True,
                            resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute()
    finally:  # a kernel manager we made is ours to stop
        if km.has_kernel:
            km.shutdown_kernel(now=False)
    return nb


def _mask_text(text: str, workdir: Path | None) -> str:
    if workdir is not None:
        for folder in {str(workdir), str(Path(workdir).resolve())}:
            text = text.replace(folder, "<tmp>")
    # a scratch folder of another run (the one that stored the notebook)
    text = re.sub(re.escape(tempfile.gettempdir()) + r"/[^/\s'\"]+", "<tmp>", text)
    text = _ADDRESS.sub("0x<addr>", text)
    return _WALL.sub(r"\1<t>\2", text)


def _png_pixels(b64: str) -> np.ndarray:
    import base64

    import matplotlib.image as mpimg

    return mpimg.imread(io.BytesIO(base64.b64decode(b64)), format="png")


def png_difference(stored_b64: str, got_b64: str) -> str | None:
    """Why two PNG renders are not the same figure, or None when they are."""
    a, b = _png_pixels(stored_b64), _png_pixels(got_b64)
    if a.shape != b.shape:
        return f"image size {a.shape[1]}x{a.shape[0]} became {b.shape[1]}x{b.shape[0]}"
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    mean, changed = float(diff.mean()), float((diff.max(axis=-1) > 0.25).mean())
    if mean > PNG_TOLERANCE or changed > PNG_CHANGED_PIXELS:
        return (f"image differs: mean |pixel difference| {mean:.4f} (limit {PNG_TOLERANCE}),"
                f" {changed:.2%} of pixels changed (limit {PNG_CHANGED_PIXELS:.2%})")
    return None


def _output_text(output: nbformat.NotebookNode) -> str:
    if output.output_type == "stream":
        return output.get("text", "")
    if output.output_type == "error":
        return "\n".join(output.get("traceback", []))
    return output.get("data", {}).get("text/plain", "")


def compare(stored: nbformat.NotebookNode, got: nbformat.NotebookNode,
            workdir: Path | None = None) -> list[str]:
    """Differences between the stored notebook and a fresh execution (empty: the same).

    Cell sources must match too: a stored notebook whose code was edited by hand is not
    the output of its source.
    """
    problems: list[str] = []
    if len(stored.cells) != len(got.cells):
        return [f"{len(stored.cells)} cells stored, {len(got.cells)} executed"]
    for i, (s, g) in enumerate(zip(stored.cells, got.cells, strict=True)):
        where = f"cell {i}"
        if s.cell_type != g.cell_type or s.source != g.source:
            problems.append(f"{where}: source differs")
            continue
        if s.cell_type != "code":
            continue
        if len(s.outputs) != len(g.outputs):
            problems.append(f"{where}: {len(s.outputs)} outputs stored, {len(g.outputs)} now")
            continue
        for j, (so, go) in enumerate(zip(s.outputs, g.outputs, strict=True)):
            here = f"{where} output {j}"
            kinds = (so.output_type, so.get("name")), (go.output_type, go.get("name"))
            if kinds[0] != kinds[1]:
                problems.append(f"{here}: {kinds[0]} stored, {kinds[1]} now")
                continue
            st, gt = (_mask_text(_output_text(so), None),
                      _mask_text(_output_text(go), workdir))
            if st != gt:
                problems.append(f"{here}: text differs:\n--- stored\n{st}\n--- now\n{gt}")
            s_png, g_png = (o.get("data", {}).get("image/png") for o in (so, go))
            if (s_png is None) != (g_png is None):
                problems.append(f"{here}: a figure {'vanished' if g_png is None else 'appeared'}")
            elif s_png is not None and (why := png_difference(s_png, g_png)):
                problems.append(f"{here}: {why}")
            if set(so.get("data", {})) != set(go.get("data", {})):
                problems.append(f"{here}: MIME types {sorted(so.get('data', {}))} stored, "
                                f"{sorted(go.get('data', {}))} now")
    return problems
