"""Puts this folder on sys.path so tests and worker processes import :mod:`sweep_helpers`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sweep_helpers import TOY_SPEC, write_spec  # noqa: E402


@pytest.fixture
def toy_spec(tmp_path):
    from specaccel.analysis.sweep_spec import load_spec

    return load_spec(write_spec(tmp_path, TOY_SPEC))
