"""The generated blocks of docs/validation.md, computed from the code.

* ``validate-report``: the sections of `specaccel validate`
  (:func:`specaccel.analysis.validation_report.validation_report`, as Markdown);
* ``stack-table``: the software stacks of the registry with their physical terms.

tests/docs/test_doc_rot.py recomputes both and compares.  Print them, or refresh the page
in place::

    .venv/bin/python tests/docs/validation_tables.py [--write]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "validation.md"
BLOCKS = ("validate-report", "stack-table")


def report_markdown() -> str:
    from specaccel.analysis.validation_report import report_markdown, validation_report

    return report_markdown(validation_report()).rstrip("\n")


def stack_table_markdown() -> str:
    """One row per software stack: its physical terms (per-op and per-kernel times in
    microseconds)."""
    from specaccel.models.cost.software_stack import STACKS

    out = ["| stack | host per op (µs) | CUDA graphs | GPU per extra kernel (µs) | "
           "kernels per layer | per pass | attention | KV cache | loop ops per step "
           "(tree + verify; plain) | syncs per step (spec; plain; per draft pass) | fitted |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in STACKS.values():
        graphs = (f"yes ({s.graph_launch_s * 1e6:g} µs a replay)" if s.cuda_graphs
                  else "no")
        out.append(
            f"| `{s.name}` | {s.host_op_s * 1e6:.4g} | {graphs} | "
            f"{s.gpu_per_kernel_s * 1e6:.3g} | {s.layer_kernels} | {s.pass_kernels} | "
            f"{s.attention} | {s.kv_cache} | {s.tree_ops} + {s.verify_ops}; "
            f"{s.ar_step_ops} | {s.spec_step_syncs}; {s.ar_step_syncs}; "
            f"{s.draft_pass_syncs} | {', '.join(s.fitted) or '–'} |")
    return "\n".join(out)


MAKERS = {"validate-report": report_markdown, "stack-table": stack_table_markdown}


def block(text: str, name: str) -> str:
    """The text between ``<!-- name: ... -->`` and ``<!-- /name -->`` in `text`."""
    m = re.search(rf"<!-- {re.escape(name)}:[^\n]*-->\n(.*?)<!-- /{re.escape(name)} -->",
                  text, re.S)
    if m is None:
        raise KeyError(name)
    return m.group(1).rstrip("\n")


def write(text: str, name: str, content: str) -> str:
    m = re.search(rf"(<!-- {re.escape(name)}:[^\n]*-->\n)(.*?)(<!-- /{re.escape(name)} -->)",
                  text, re.S)
    if m is None:
        raise KeyError(name)
    return text[:m.start(2)] + content + "\n" + text[m.end(2):]


if __name__ == "__main__":
    if "--write" in sys.argv:
        text = DOC.read_text()
        for name in BLOCKS:
            text = write(text, name, MAKERS[name]())
        DOC.write_text(text)
    else:
        for name in BLOCKS:
            print(MAKERS[name]())
