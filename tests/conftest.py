"""Artefacts that tests in several folders check, made once per test session, and the
session's RTL functional-coverage report.

The board's bitstream (``specaccel hdl build``: yosys, nextpnr-ecp5 and ecppack, about 20 s
of CPU even for a small core) is built by docs/cli.md's own example, run as the doc test
runs every example; the doc test compares what it printed with the page, and the board
test checks the bitstream, summary and layout it left in its build folder.  Under xdist
(``make test`` runs ``pytest -n 2 --dist loadgroup``) both tests are in the xdist group
:data:`BOARD_BUILD` so that one worker builds it once.

The coverage report (tests/hdl/coverage_report.py) is a plugin registered here, in the
root conftest, because under xdist only the controller can merge what the workers covered
and the controller loads no conftest below this one.
"""

from __future__ import annotations

import importlib.util
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

TESTS = Path(__file__).resolve().parent
DOCS_TESTS = TESTS / "docs"
#: the xdist group of the tests that use the session's `board_build`
BOARD_BUILD = "board_build"

pytest_plugins = ["pytester"]  # tests/hdl/test_coverage_report.py runs pytest sessions


def _module(name: str, path: Path) -> ModuleType:
    """The helper module at `path`, imported once as `name`."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # a dataclass looks its module up there
        spec.loader.exec_module(module)
    return sys.modules[name]


def cli_examples() -> ModuleType:
    """tests/docs/cli_examples.py (finding, running and comparing the CLI examples)."""
    return _module("docs_cli_examples", DOCS_TESTS / "cli_examples.py")


def pytest_collection_modifyitems(items):
    """A test that asks for the session's bitstream runs on the xdist worker that builds
    it (a test that asks for it at run time carries the mark itself)."""
    for item in items:
        if "board_build" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group(BOARD_BUILD))


def pytest_configure(config):
    config.pluginmanager.register(
        _module("hdl_coverage_report", TESTS / "hdl" / "coverage_report.py"),
        "specaccel-hdl-coverage")


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
