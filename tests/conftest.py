"""Artefacts that tests in several folders check, made once per test session.

The board's bitstream (``specaccel hdl build``: yosys, nextpnr-ecp5 and ecppack, about 20 s
of CPU even for a small core) is built by docs/cli.md's own example, run as the doc test
runs every example; the doc test compares what it printed with the page, and the board
test checks the bitstream, summary and layout it left in its build folder.
"""

from __future__ import annotations

import importlib.util
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

DOCS_TESTS = Path(__file__).resolve().parent / "docs"


def cli_examples() -> ModuleType:
    """tests/docs/cli_examples.py (finding, running and comparing the CLI examples)."""
    name = "docs_cli_examples"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DOCS_TESTS / "cli_examples.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclass looks its module up there
        spec.loader.exec_module(module)
    return sys.modules[name]


@dataclass(frozen=True)
class DocumentedRun:
    """One documented command, run in `folder` as the doc test runs it."""

    command: str
    code: int
    output: list[str]   # stderr lines, then stdout lines (progress bars dropped)
    folder: Path

    def option(self, name: str) -> str:
        argv = shlex.split(self.command)
        return argv[argv.index(name) + 1]


def run_documented(command: str, folder: Path) -> DocumentedRun:
    """Run `command` in-process in `folder` (100-column terminal, as the doc test does)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.setenv("COLUMNS", "100")
        code, output = cli_examples().run(command)
    return DocumentedRun(command, code, output, folder)


@pytest.fixture(scope="session")
def board_build(tmp_path_factory) -> DocumentedRun:
    """docs/cli.md's ``specaccel hdl build`` example (a small core on the ULX3S-12F), run
    once per session in a folder of its own."""
    lib = cli_examples()
    [command] = [ex.command for ex in lib.examples(lib.CLI_DOC)
                 if (ex.command or "").startswith("specaccel hdl build ")]
    return run_documented(command, tmp_path_factory.mktemp("board-build"))
