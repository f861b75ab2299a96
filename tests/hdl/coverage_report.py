"""The RTL functional-coverage report of a test session, in one process or under xdist.

tests/conftest.py registers this module as a plugin (``pytest_plugins``-like, by path).  Every
coverage test hands its finished :class:`~specaccel.hdl.coverage.Coverage` to the
``coverage_report`` fixture, which writes it as a part: ``<parts>/<worker>/<name>.json``,
where ``<parts>`` is ``hdl-coverage-parts/`` in the base temp of the process that runs the
session (under xdist the controller names that folder to its workers, ``<worker>`` is
``gw0``, ``gw1``...; in one process it is ``main``).

When the session finishes, that process merges the parts by configuration
(:func:`specaccel.hdl.coverage.merge`: hits summed), writes the report (one JSON file per
configuration and ``hdl-coverage.txt``) under ``<base temp>/hdl-coverage/`` (or the folder
named by ``SPECACCEL_COVERAGE_DIR``, whose old report it replaces), prints one line per
configuration after the test results, and fails the run when a configuration is below
100 %, however many processes its hits came from.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from specaccel.hdl.coverage import Coverage, merge

PLUGIN_NAME = "specaccel-hdl-coverage"
#: key of the parts folder in an xdist worker's ``workerinput``
PARTS_KEY = "specaccel_hdl_coverage_parts"
SUMMARY = "hdl-coverage.txt"


class CoverageReport:
    """This process's part of the report, and (in the session's own process) the merge."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.mine: dict[str, Coverage] = {}   # this process's coverage, by configuration
        self.merged: list[Coverage] = []
        self.folder: Path | None = None

    @property
    def worker(self) -> str:
        workerinput = getattr(self.config, "workerinput", None)
        return "main" if workerinput is None else workerinput["workerid"]

    def parts(self) -> Path:
        workerinput = getattr(self.config, "workerinput", None)
        if workerinput is not None:
            return Path(workerinput[PARTS_KEY])
        # the session's own base temp (xdist's controller makes its workers' base temps
        # inside it the same way)
        return self.config._tmp_path_factory.getbasetemp() / "hdl-coverage-parts"

    def add(self, coverage: Coverage) -> Coverage:
        """Keep `coverage` (merged with this process's earlier part of the same
        configuration) and write it as this process's part."""
        [self.mine[coverage.name]] = merge(
            [c for c in (self.mine.get(coverage.name), coverage) if c is not None])
        self.mine[coverage.name].write(self.parts() / self.worker)
        return coverage

    def finish(self, session: pytest.Session) -> None:
        """Merge every process's parts, write the report, fail the run below 100 %."""
        files = sorted(self.parts().glob("*/*.json"))
        if not files:
            return
        self.merged = merge(Coverage.read(f) for f in files)
        folder = Path(os.environ.get("SPECACCEL_COVERAGE_DIR")
                      or self.config._tmp_path_factory.getbasetemp() / "hdl-coverage")
        folder.mkdir(parents=True, exist_ok=True)
        for old in [*folder.glob("*.json"), folder / SUMMARY]:
            old.unlink(missing_ok=True)
        for coverage in self.merged:
            coverage.write(folder)
        (folder / SUMMARY).write_text("\n".join(c.summary() for c in self.merged) + "\n")
        self.folder = folder
        if self.below() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def below(self) -> list[Coverage]:
        return [c for c in self.merged if c.percent < 100.0]


_REPORT: list[CoverageReport] = []  # this process's, made by pytest_configure


def pytest_configure(config: pytest.Config) -> None:
    _REPORT[:] = [CoverageReport(config)]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist: every worker writes its parts into the controller's parts folder."""
    node.workerinput[PARTS_KEY] = str(_REPORT[0].parts())


@pytest.fixture(scope="session")
def coverage_report():
    """Call with a finished Coverage: it becomes part of the session's report."""
    return _REPORT[0].add


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the session's process merges
        _REPORT[0].finish(session)


def pytest_terminal_summary(terminalreporter) -> None:
    report = _REPORT[0]
    if not report.merged:
        return
    terminalreporter.section("RTL functional coverage")
    for coverage in report.merged:
        terminalreporter.write_line(coverage.summary())
    terminalreporter.write_line(f"report: {report.folder / SUMMARY}")
    for coverage in report.below():
        terminalreporter.write_line(f"FAILED: coverage {coverage.name} below 100 %, unhit: "
                                    + ", ".join(coverage.unhit()), red=True)
