"""The `specaccel` command line, a stable contract (docs/cli.md, docs/architecture.md).

Every command has ``--help``; every command that reports has ``--json``, which prints
exactly one JSON object on stdout.  Progress and logs go to stderr.  Exit codes: 0 ok,
1 failure of the run, 2 bad usage or bad input (one line, never a traceback).

Start-up is lazy: :data:`COMMANDS` names every command with its one line of help, so
``specaccel --help`` imports no command module, and ``specaccel COMMAND ...`` imports only
that command's module (``specaccel.cli.<name>_cmd``, whose ``register(subparsers)`` adds
its sub-parser and sets ``func``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from specaccel.cli import option_rules
from specaccel.schema.environment import env_switch
from specaccel.schema.errors import InputError

COMMANDS: dict[str, str] = {
    "run": "replay the default workload on a GPU and on the default accelerator; report",
    "trace": "generate, inspect, validate and convert decode traces",
    "cost": "latency/energy of one forward pass (model, hardware, phase, batch, context)",
    "theory": "closed forms: expected tokens per step, speedup, optimal gamma",
    "tree": "draft-tree search (Sequoia dynamic program, hardware-aware)",
    "simulate": "replay a decode trace on a hardware configuration (SimPy simulator)",
    "hdl": "RTL: generate Verilog, synthesise, characterise the units",
    "sweep": "design-space sweep from a TOML spec, on local processes or a Dask cluster",
    "validate": "the model against published measurements and SCALE-Sim, by section",
    "report": "HTML report (Pareto front, best design, sensitivity, plots) of a sweep",
    "methods": "list the decoding methods and their presets (sources, tau)",
}
"""Every command, in ``--help`` order, with the one line its module's parser also shows
(tests/test_cli_contract.py holds the two equal)."""

COMMAND_MODULES: tuple[str, ...] = tuple(COMMANDS)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Record which options the user gave, for the rules between options.
        option_rules.install_tracking(self)
        option_rules.install_subparsers(self)

    def error(self, message: str) -> None:  # one line, exit 2 (argparse's own code)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(load: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command-line parser with the modules of the commands in `load` imported and
    registered (``None``: every command); any other command is a stub that only names
    itself and its help, which is all that ``specaccel --help`` needs."""
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
    for name, help_text in COMMANDS.items():
        if load is None or name in load:
            importlib.import_module(f"specaccel.cli.{name}_cmd").register(sub)
        else:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def chosen_command(argv: Sequence[str]) -> str | None:
    """The command an argument list runs (its first word that is not an option), if any."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    command = chosen_command(words)
    parser = build_parser(load=() if command is None else (command,))
    args = parser.parse_args(words)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    debug = False
    try:
        debug = bool(env_switch("SPECACCEL_DEBUG"))
        env_switch("SPECACCEL_PROGRESS")  # read by the commands that draw progress
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
        if debug:
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
