"""The session's coverage report (tests/hdl/coverage_report.py) merges what every process
covered: under xdist each worker sees only its own tests' bins, the controller merges them,
and the run fails when a merged configuration is below 100 %, even if every test passed."""

import json
from pathlib import Path

import pytest

from specaccel.hdl.coverage import Coverage, merge

PLUGIN = Path(__file__).with_name("coverage_report.py")

# configuration A is covered by two tests, half each; B misses bin d.  Nothing asserts.
CHILD_TEST = '''
import pytest
from specaccel.hdl.coverage import Coverage

@pytest.mark.parametrize("name, hits", [("A", "ab"), ("A", "cdd"), ("B", "abc")])
def test_part(name, hits, coverage_report):
    coverage = Coverage(f"demo {name}", {b: 0 for b in "abcd"})
    for b in hits:
        coverage.hit(b)
    coverage.notes["vectors"] = len(hits)
    coverage_report(coverage)
'''

CHILD_CONFTEST = f'''
import importlib.util

spec = importlib.util.spec_from_file_location("hdl_coverage_report", {str(PLUGIN)!r})
plugin = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plugin)


def pytest_configure(config):
    config.pluginmanager.register(plugin, "specaccel-hdl-coverage")
'''


def _session(pytester, monkeypatch, *args):
    """Run the parts session; returns (result, report folder, parts folder)."""
    pytester.makeconftest(CHILD_CONFTEST)
    pytester.makepyfile(test_parts=CHILD_TEST)
    report = pytester.path / "report"
    monkeypatch.setenv("SPECACCEL_COVERAGE_DIR", str(report))
    basetemp = pytester.path / "base"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--basetemp={basetemp}",
                                           *args)
    return result, report, basetemp / "hdl-coverage-parts"


def test_workers_parts_merge_to_the_one_process_report_and_a_missed_bin_fails(
        pytester, monkeypatch):
    result, report, parts = _session(pytester, monkeypatch, "-n", "2")
    result.assert_outcomes(passed=3)  # every test passed ...
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # ... but B's bin d was missed
    # A's halves were covered by different workers, neither complete on its own
    halves = {p.parent.name: Coverage.read(p) for p in parts.glob("*/demo_A.json")}
    assert sorted(halves) == ["gw0", "gw1"]
    assert all(c.percent == 50.0 for c in halves.values())
    a = json.loads((report / "demo_A.json").read_text())
    assert a["counts"] == {"a": 1, "b": 1, "c": 1, "d": 2}
    assert a["percent"] == 100.0 and a["vectors"] == 5
    assert json.loads((report / "demo_B.json").read_text())["counts"]["d"] == 0
    result.stdout.fnmatch_lines(["*RTL functional coverage*",
                                 "coverage demo A: 4/4 bins (100.0 %), vectors 5",
                                 "coverage demo B: 3/4 bins (75.0 %), vectors 3",
                                 "report: */report/hdl-coverage.txt",
                                 "FAILED: coverage demo B below 100 %, unhit: d"])
    xdist_report = {p.name: p.read_text() for p in report.iterdir()}
    assert sorted(xdist_report) == ["demo_A.json", "demo_B.json", "hdl-coverage.txt"]

    # the same tests in one process: the same report, byte for byte, and the same failure
    result, report, parts = _session(pytester, monkeypatch, "-p", "no:xdist")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert {p.parent.name for p in parts.glob("*/*.json")} == {"main"}
    assert {p.name: p.read_text() for p in report.iterdir()} == xdist_report


def test_merge_sums_hits_and_rejects_parts_with_other_bins():
    one = Coverage("x", {"a": 1, "b": 0}, {"vectors": 3, "seed": "s"})
    two = Coverage("x", {"a": 0, "b": 2}, {"vectors": 4, "seed": "s"})
    [both] = merge([one, two])
    assert both.bins == {"a": 1, "b": 2} and both.notes == {"vectors": 7, "seed": "s"}
    assert one.bins == {"a": 1, "b": 0}  # the parts are not changed
    assert [c.name for c in merge([Coverage("z", {"a": 1}), one])] == ["x", "z"]
    with pytest.raises(ValueError, match="different bins"):
        merge([one, Coverage("x", {"a": 1})])
