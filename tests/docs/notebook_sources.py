"""Sources of the notebooks in docs/notebooks, kept as code so they can be reviewed and diffed.

Each notebook is a list of cells: ``("md", text)`` or ``("code", text)``.  Every notebook
runs on small inputs (seconds) and ends with assertions on its own results, so executing
it (tests/docs/test_notebooks.py) is a test.  The committed ``.ipynb`` files carry no
outputs; regenerate them after editing this file::

    .venv/bin/python tests/docs/notebook_sources.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "docs" / "notebooks"

QUICKSTART = [
    ("md", """\
# Quickstart: a decode trace, the golden model and the simulator

This notebook walks through the whole pipeline of specaccel on a small input:

1. generate a **decode trace** from a calibrated workload preset (EAGLE on Vicuna-7B,
   MT-Bench),
2. let the **golden verification model** compute what each step commits,
3. **replay** the trace with the SimPy simulator on a GPU preset and on the default
   accelerator, each against plain autoregressive decoding on the same hardware.

Concepts: [docs/concepts.md](../concepts.md); the trace format:
[docs/trace-schema.md](../trace-schema.md)."""),
    ("code", """\
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from specaccel.models.golden import verify_trace
from specaccel.sim import simulate_named
from specaccel.workloads import (
    DEFAULT_PRESET, generate_trace, list_presets, read_trace, write_trace,
)

print("presets:", list_presets())
print("default:", DEFAULT_PRESET)"""),
    ("md", """\
## 1. A small trace

`generate_trace` samples a seeded synthetic trace: every step is a draft tree (here
EAGLE's 25-node static tree plus the root) with per-node draft and target
probabilities.  The preset is calibrated so that its mean tokens per step equals the
published value it is named after."""),
    ("code", """\
trace = generate_trace(DEFAULT_PRESET, n_requests=4, steps_per_request=32, seed=0)
meta = trace.metadata
print(f"{trace.n_requests} requests, {trace.n_steps} steps, {trace.n_nodes} nodes")
print("tree:", meta["tree"]["name"], "level sizes", meta["tree"]["level_sizes"])
print("target:", meta["target_model"], " draft:", meta["draft_model"],
      " drafting:", meta["drafting"])
print("published tau:", meta["published_tau"], "from", meta["source"])"""),
    ("md", """\
## 2. What the target accepts: the golden model

Outcomes are never stored in a generated trace: `verify_trace` walks every tree with the
project's single definition of verification and returns the accepted path and the bonus
token of each step.  *Committed* tokens per step = accepted drafts + 1."""),
    ("code", """\
outcome = verify_trace(trace)
committed = outcome.committed
print(f"mean committed per step: {committed.mean():.3f}"
      f" (published {meta['published_tau']})")
print("histogram of accepted drafts:", np.bincount(outcome.accepted))

# A trace round-trips through Parquet exactly.
tmp = Path(tempfile.mkdtemp())
write_trace(trace, tmp / "trace.parquet")
again = read_trace(tmp / "trace.parquet")
print("round trip equal:", again.equals(trace))"""),
    ("md", """\
## 3. Replay on a GPU and on the accelerator

`simulate_named(trace, hw)` resolves the models named in the trace's metadata, costs
every pass with the cost model and replays the steps in the SimPy model; with the
default `baseline=True` it also replays plain autoregressive decoding of the same
committed tokens, so `result.speedup` is speculative over autoregressive tokens/s on
the same hardware."""),
    ("code", """\
results = {hw: simulate_named(trace, hw) for hw in ("a100-80gb", "specaccel-default")}
print(f"{'hardware':<18}{'tok/s':>9}{'AR tok/s':>10}{'speedup':>9}{'J/token':>9}")
for hw, r in results.items():
    print(f"{hw:<18}{r.tokens_per_s:9.1f}{r.baseline.tokens_per_s:10.1f}"
          f"{r.speedup:9.2f}{r.energy_per_token_j['total']:9.3f}")"""),
    ("md", """\
## 4. Where a step's time goes

`step_time_s` is the mean time of one decode step split by stage: draft passes, building
the tree mask (`tree`), the target's verify pass and the verify/accept step."""),
    ("code", """\
stages = ["draft", "tree", "target", "verify"]
fig, ax = plt.subplots(figsize=(6, 3.2))
left = np.zeros(len(results))
names = list(results)
for stage in stages:
    ms = np.array([results[h].step_time_s[stage] * 1e3 for h in names])
    ax.barh(names, ms, left=left, label=stage)
    left += ms
for y, h in enumerate(names):  # tree + verify are microseconds: too thin to see as bars
    small = (results[h].step_time_s["tree"] + results[h].step_time_s["verify"]) * 1e6
    ax.text(left[y] * 1.01, y, f"tree+verify {small:.2f} µs", va="center", fontsize=8)
ax.set_xlim(0, left.max() * 1.35)
ax.set_xlabel("mean time per decode step (ms)")
ax.set_title(f"{DEFAULT_PRESET}: {trace.n_steps} steps", pad=28)
ax.legend(ncol=4, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
fig.tight_layout()
plt.show()"""),
    ("md", "## 5. Checks (running this notebook is a test)"),
    ("code", """\
tau = meta["published_tau"]
assert abs(committed.mean() - tau) / tau < 0.15, committed.mean()
assert again.equals(trace)
for hw, r in results.items():
    assert r.speedup > 1.0, (hw, r.speedup)
    assert np.isclose(r.mean_committed_per_step, committed.mean())
    assert r.tokens == int(committed.sum())
    assert np.isclose(sum(r.step_time_s[s] for s in stages), r.step_time_s["total"])
print("all checks passed")"""),
]

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "quickstart": QUICKSTART,
}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook `name` as an nbformat v4 node without outputs."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, text) in enumerate(NOTEBOOKS[name]):
        cell = (nbformat.v4.new_markdown_cell(text) if kind == "md"
                else nbformat.v4.new_code_cell(text))
        cell["id"] = f"{name}-{i}"  # stable ids: regenerating gives the same file
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def render(name: str) -> str:
    """The .ipynb text of notebook `name`, exactly as committed."""
    return nbformat.writes(build(name)) + "\n"


def main() -> int:
    NOTEBOOK_DIR.mkdir(parents=True, exist_ok=True)
    for name in NOTEBOOKS:
        path = NOTEBOOK_DIR / f"{name}.ipynb"
        path.write_text(render(name))
        print(path, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
