"""The metric table of docs/config-format.md, generated from the simulator's registry.

The table between ``<!-- sweep-metrics`` and ``<!-- /sweep-metrics -->`` is this
module's :func:`metric_table_markdown` (tests/docs/test_doc_rot.py compares them).
After declaring a metric in ``sim/metrics.py``, rewrite it::

    .venv/bin/python tests/docs/metric_table.py --write
"""

from __future__ import annotations

import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "config-format.md"
MARKER = "sweep-metrics"
HEAD = (f"<!-- {MARKER}: generated from specaccel.sim.metrics.METRICS by "
        "tests/docs/metric_table.py -->")


def metric_table_markdown() -> str:
    from specaccel.sim.metrics import metric_table_rows

    lines = ["| metric | unit | better | meaning |", "|---|---|---|---|"]
    lines += [f"| `{name}` | {unit} | {direction} | {text} |"
              for name, unit, direction, text in metric_table_rows()]
    return "\n".join(lines)


def documented_block(text: str) -> tuple[str, str, str]:
    """``(before, table, after)`` around the marked block of `text`."""
    head, rest = text.split(f"<!-- {MARKER}", 1)
    _, rest = rest.split("-->", 1)
    block, tail = rest.split(f"<!-- /{MARKER} -->", 1)
    return head, block.strip(), tail


def write() -> None:
    head, _, tail = documented_block(DOC.read_text())
    DOC.write_text(f"{head}{HEAD}\n{metric_table_markdown()}\n<!-- /{MARKER} -->{tail}")


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        write()
    else:
        print(metric_table_markdown())
