"""docs/cost-model.md's array-vs-SCALE-Sim block is what tests/docs/array_tables.py makes."""

import importlib.util
from pathlib import Path


def _tables():
    spec = importlib.util.spec_from_file_location(
        "docs_array_tables", Path(__file__).with_name("array_tables.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_array_scalesim_block_is_current():
    tables = _tables()
    assert tables.current() == tables.block(), (
        "docs/cost-model.md array-scalesim block is stale: run tests/docs/array_tables.py")
