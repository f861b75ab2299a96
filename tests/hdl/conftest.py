"""Shared fixtures of the RTL tests: the functional-coverage report.

Every coverage test adds its :class:`~specaccel.hdl.coverage.Coverage` to the session's
report; at the end of the run the report is written as one JSON file per configuration and
``hdl-coverage.txt`` under ``<pytest base temp>/hdl-coverage/`` (or the folder named by
``SPECACCEL_COVERAGE_DIR``), and a summary line per configuration is printed after the test
results.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_REPORTS: list = []
_FOLDER: list[Path] = []


@pytest.fixture(scope="session")
def coverage_report(tmp_path_factory):
    """Call with a finished Coverage: writes its JSON file and keeps it for the summary."""
    folder = Path(os.environ.get("SPECACCEL_COVERAGE_DIR")
                  or tmp_path_factory.getbasetemp() / "hdl-coverage")
    _FOLDER[:] = [folder]

    def add(coverage):
        coverage.write(folder)
        _REPORTS.append(coverage)
        (folder / "hdl-coverage.txt").write_text(
            "\n".join(c.summary() for c in _REPORTS) + "\n")
        return coverage

    return add


def pytest_terminal_summary(terminalreporter):
    if not _REPORTS:
        return
    terminalreporter.section("RTL functional coverage")
    for coverage in _REPORTS:
        terminalreporter.write_line(coverage.summary())
    terminalreporter.write_line(f"report: {_FOLDER[0] / 'hdl-coverage.txt'}")
