"""The `specaccel` command line (DESIGN.md "Command line": a stable contract).

Every command has ``--help``; every command that reports has ``--json``, which prints
exactly one JSON object on stdout.  Progress and logs go to stderr.  Exit codes: 0 ok,
1 failure of the run, 2 bad usage or bad input (one line, never a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from specaccel.cli import option_rules
from specaccel.schema.errors import InputError

# Each command lives in its own module `specaccel.cli.<name>_cmd` exposing
# `register(subparsers) -> None`, which adds the sub-parser and sets `func`.
COMMAND_MODULES: tuple[str, ...] = (
    "run",
    "trace",
    "cost",
    "theory",
    "tree",
    "simulate",
    "hdl",
    "sweep",
    "validate",
    "report",
    "methods",
)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Record which options the user gave, for the rules between options.
        option_rules.install_tracking(self)
        option_rules.install_subparsers(self)

    def error(self, message: str) -> None:  # one line, exit 2 (argparse's own code)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="specaccel",
        description=(
            "Co-design hardware for speculative decoding of LLMs: replay decode traces "
            "through cost models and a SimPy accelerator simulator, with RTL for the "
            "verify and tree units."
        ),
        epilog="Run 'specaccel COMMAND --help' for the options of a command.",
    )
    from specaccel import __version__

    parser.add_argument("--version", action="version", version=f"specaccel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"specaccel.cli.{name}_cmd")
        except ModuleNotFoundError as exc:
            if exc.name == f"specaccel.cli.{name}_cmd":
                continue  # command not built yet in this checkout
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        option_rules.check_rules(args)
        code = args.func(args)
    except InputError as exc:
        print(f"specaccel: error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("specaccel: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # a failure of the run: one line unless asked for more
        if os.environ.get("SPECACCEL_DEBUG"):
            raise
        print(
            f"specaccel: failed: {type(exc).__name__}: {exc} "
            "(set SPECACCEL_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 1
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
