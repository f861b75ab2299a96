"""Tables of the docs generated from the registries (metrics, drafting modes, engines,
device presets).

Each table sits between ``<!-- MARKER ... -->`` and ``<!-- /MARKER -->`` in its page and
is this module's output for that marker; tests/docs/test_doc_rot.py compares them.
After declaring a metric, a drafting mode or an engine, rewrite them::

    .venv/bin/python tests/docs/registry_tables.py --write
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def metric_table() -> str:
    from specaccel.sim.metrics import metric_table_rows

    lines = ["| metric | unit | better | meaning |", "|---|---|---|---|"]
    lines += [f"| `{name}` | {unit} | {direction} | {text} |"
              for name, unit, direction, text in metric_table_rows()]
    return "\n".join(lines)


def drafting_table() -> str:
    from specaccel.models.cost.drafting import DRAFTING_MODES

    lines = ["| drafting | draft model | verifies a tree | what a step drafts |",
             "|---|---|---|---|"]
    lines += [f"| `{m.name}` | {'yes' if m.runs_draft_model else 'no'} | "
              f"{'yes' if m.verifies_tree else 'no'} | {m.help} |"
              for m in DRAFTING_MODES.values()]
    return "\n".join(lines)


def engine_table() -> str:
    from specaccel.sim.engines import ENGINES

    lines = ["| engine | kind | what it runs |", "|---|---|---|"]
    lines += [f"| `{e.name}` | {e.kind} | {e.help} |" for e in ENGINES.values()]
    return "\n".join(lines)


def _tagged(value: float, source: str) -> str:
    """`value` with the kind of its source: fitted to a calibration row of this device,
    borrowed from another device's fit, or an estimate."""
    for kind in ("fitted", "estimate"):
        if source.startswith(kind):
            return f"{value:.3g} ({kind})"
    if "fitted" in source:
        return f"{value:.3g} (another device's fit)"
    return f"{value:.3g}"


def device_table() -> str:
    from specaccel.models.cost.hardware_presets import DEVICE_FACTS, HOST_LINKS, LINKS

    lines = ["| preset | SMs | mma_efficiency | attn_efficiency | dram_efficiency | "
             "kernel latency (in the kernel) | launch gap (between kernels) | "
             "device link (achieved) | host link (peak) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, facts in DEVICE_FACTS.items():
        link = LINKS[facts.link]
        device_link = f"{link.name} {link.bw_bytes_s / 1e9:.0f} GB/s"
        host = (f"{facts.host_link} {HOST_LINKS[facts.host_link] / 1e9:.1f} GB/s"
                if facts.host_link else "none")
        g = facts.kernels
        if g is None:
            assert facts.efficiency is not None
            bw, compute = facts.efficiency
            lines.append(f"| `{name}` | {facts.n_cores} matrix units | {compute:.3g} (flat) | "
                         f"- | {bw:.3g} (flat) | - | - | {device_link} | {host} |")
            continue
        src = g.sources
        lines.append(
            f"| `{name}` | {g.n_sm} | {_tagged(g.mma_efficiency, src['mma_efficiency'])} | "
            f"{_tagged(g.attn_efficiency, src['attn_efficiency'])} | "
            f"{_tagged(g.dram_efficiency, src['dram_efficiency'])} | "
            f"{_tagged(g.kernel_latency_s * 1e6, src['kernel_latency_s'])} us | "
            f"{_tagged(g.launch_gap_s * 1e6, src.get('launch_gap_s', ''))} us | "
            f"{device_link} | {host} |")
    return "\n".join(lines)


TABLES: dict[str, tuple[str, str, Callable[[], str]]] = {
    "sweep-metrics": ("config-format.md", "specaccel.sim.metrics.METRICS", metric_table),
    "drafting-modes": ("simulator.md", "specaccel.models.cost.drafting.DRAFTING_MODES",
                       drafting_table),
    "engines": ("simulator.md", "specaccel.sim.engines.ENGINES", engine_table),
    "device-presets": ("cost-model.md",
                       "specaccel.models.cost.hardware_presets.DEVICE_FACTS", device_table),
}
"""Marker → (page, registry, generator)."""


def documented_block(text: str, marker: str) -> tuple[str, str, str]:
    """``(before, table, after)`` around the marked block of `text`."""
    head, rest = text.split(f"<!-- {marker}", 1)
    _, rest = rest.split("-->", 1)
    block, tail = rest.split(f"<!-- /{marker} -->", 1)
    return head, block.strip(), tail


def write() -> None:
    for marker, (page, registry, make) in TABLES.items():
        path = DOCS / page
        head, _, tail = documented_block(path.read_text(), marker)
        note = f"<!-- {marker}: generated from {registry} by tests/docs/registry_tables.py -->"
        path.write_text(f"{head}{note}\n{make()}\n<!-- /{marker} -->{tail}")


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        write()
    else:
        for marker, (_, _, make) in TABLES.items():
            print(f"{marker}:\n{make()}\n")
