"""The command-line contract (docs/cli.md): --help everywhere, exit codes, one-line
errors, and a lazy start-up that loads only the command asked for."""

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


def test_the_command_table_is_what_the_modules_register():
    from specaccel.cli import COMMANDS

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    registered = {c.dest: c.help for c in sub._choices_actions}
    assert registered == COMMANDS


_LOADED = """
import sys
from specaccel.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
names = sorted(m for m in sys.modules if m.startswith("specaccel.cli.") and m.endswith("_cmd"))
print(",".join(names), "numba" in sys.modules, "numpy" in sys.modules, sep="|")
"""


@pytest.mark.parametrize("argv, commands, numba, numpy", [
    (["--help"], "", False, False),
    (["cost", "--model", "llama-2-7b", "--hw", "a100-80gb"], "specaccel.cli.cost_cmd", False,
     True),
    (["methods", "--help"], "specaccel.cli.methods_cmd", False, True),
])
def test_start_up_loads_only_the_chosen_command(argv, commands, numba, numpy):
    proc = subprocess.run([sys.executable, "-c", _LOADED.format(argv=argv)],
                          capture_output=True, text=True, check=True)
    loaded, has_numba, has_numpy = proc.stdout.strip().splitlines()[-1].split("|")
    assert loaded == commands
    assert has_numba == str(numba) and has_numpy == str(numpy)
