"""Puts this folder on sys.path so the tests import :mod:`bad_inputs`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
