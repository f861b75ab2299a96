"""The command-line contract of DESIGN.md: --help everywhere, exit codes, one-line errors."""

import argparse
import subprocess
import sys

import pytest

from specaccel.cli import build_parser, main


def _all_parsers(parser, prefix=()):
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _all_parsers(sub, (*prefix, name))


def test_help_everywhere(capsys):
    paths = [p for p, _ in _all_parsers(build_parser())]
    assert len(paths) > 1
    for path in paths:
        with pytest.raises(SystemExit) as exc:
            main([*path, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert "usage: specaccel" in out


def test_unknown_command_is_exit_2_one_line():
    proc = subprocess.run([sys.executable, "-m", "specaccel.cli", "no-such-command"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr


def test_no_command_prints_help_and_exit_2(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err
