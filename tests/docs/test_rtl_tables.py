"""The RTL characterisation blocks of docs/hdl-flow.md and docs/hdl.md are what
tests/docs/rtl_tables.py makes of the bundled table."""

import importlib.util
from pathlib import Path

import pytest


def _tables():
    spec = importlib.util.spec_from_file_location(
        "docs_rtl_tables", Path(__file__).with_name("rtl_tables.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TABLES = _tables()


@pytest.mark.parametrize("page, marker", list(TABLES.BLOCKS))
def test_rtl_block_is_current(page, marker):
    assert TABLES.current(page, marker) == TABLES.block(page, marker), (
        f"docs/{page} {marker} block is stale: run tests/docs/rtl_tables.py")
