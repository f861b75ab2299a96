"""The docs' tables of configuration fields, generated from the config dataclasses.

Each entry names a page, the marker of its table and the configuration class; the table
between ``<!-- marker ... -->`` and ``<!-- /marker -->`` is exactly
:func:`specaccel.schema.config_fields.docs_table` of the class.  tests/docs/test_doc_rot.py
compares; after changing a field's declaration, rewrite the tables with::

    .venv/bin/python tests/docs/config_tables.py
"""

from __future__ import annotations

import importlib
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"

#: (page, marker, "module:Class") of every generated table.
TABLES: tuple[tuple[str, str, str], ...] = (
    ("config-format.md", "accelerator-fields",
     "specaccel.models.cost.accelerator:AcceleratorConfig"),
    ("config-format.md", "serving-fields", "specaccel.sim.options:ServingConfig"),
    ("config-format.md", "engine-fields", "specaccel.sim.options:EngineOptions"),
)


def config_class(path: str) -> type:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def expected(path: str) -> str:
    from specaccel.schema.config_fields import docs_table

    return docs_table(config_class(path))


def current(page: str, marker: str) -> str:
    """The table now in the page (between the marker comments, without them)."""
    text = (DOCS / page).read_text()
    block = text.split(f"<!-- {marker}", 1)[1].split("-->", 1)[1]
    return block.split(f"<!-- /{marker} -->", 1)[0].strip()


def refresh() -> list[str]:
    """Rewrite every stale table; returns the markers rewritten."""
    done = []
    for page, marker, path in TABLES:
        want = expected(path)
        if current(page, marker) == want:
            continue
        file = DOCS / page
        text = file.read_text()
        head, rest = text.split(f"<!-- {marker}", 1)
        comment, rest = rest.split("-->", 1)
        _, tail = rest.split(f"<!-- /{marker} -->", 1)
        file.write_text(f"{head}<!-- {marker}{comment}-->\n{want}\n<!-- /{marker} -->{tail}")
        done.append(marker)
    return done


if __name__ == "__main__":
    print("rewrote:", ", ".join(refresh()) or "nothing (all current)")
