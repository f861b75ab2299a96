"""Which options were given, and the rules between options that every command shares.

An option that does nothing without its parent option (``--gantt-window`` without
``--gantt``), or two options that exclude each other (``--workers`` with ``--scheduler``),
is bad usage: exit 2 and one line, before any work (docs/strictness.md).

The parsers record which options the user gave (not which hold their default), through
the tracking actions that :func:`install_tracking` registers on every parser.  A command
declares its rules beside its options::

    needs(p, "--gantt-window", "--gantt")
    excludes(p, "--workers", "--scheduler")

and :func:`check_rules` (called by ``specaccel.cli.main`` before the command runs)
enforces them; :func:`given` answers "did the user give this option?" inside a command.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from specaccel.schema.errors import InputError

_GIVEN = "_options_given"
_RULES = "_option_rules"


#: Actions that keep one value: given twice, the first would be silently dropped.
_SINGLE = (argparse._StoreAction, argparse._StoreConstAction)


def _tracking(base: type[argparse.Action]) -> type[argparse.Action]:
    class Tracking(base):  # type: ignore[misc, valid-type]
        def __call__(self, parser: Any, namespace: Any, values: Any,
                     option_string: str | None = None) -> None:
            given = getattr(namespace, _GIVEN, None)
            if not isinstance(given, set):
                given = set()
                setattr(namespace, _GIVEN, given)
            if self.dest in given and issubclass(base, _SINGLE) and self.option_strings:
                flag = issubclass(base, argparse._StoreConstAction)
                raise argparse.ArgumentError(
                    self, "given twice" + ("" if flag else " (it takes one value)"))
            given.add(self.dest)
            super().__call__(parser, namespace, values, option_string)

    Tracking.__name__ = f"Tracking{base.__name__}"
    return Tracking


_ACTIONS = {
    None: argparse._StoreAction,
    "store": argparse._StoreAction,
    "store_const": argparse._StoreConstAction,
    "store_true": argparse._StoreTrueAction,
    "store_false": argparse._StoreFalseAction,
    "append": argparse._AppendAction,
    "append_const": argparse._AppendConstAction,
    "count": argparse._CountAction,
    "extend": argparse._ExtendAction,
}
_TRACKING = {name: _tracking(cls) for name, cls in _ACTIONS.items()}


def install_tracking(parser: argparse.ArgumentParser) -> None:
    """Make `parser` record the destinations of the options the user gives."""
    for name, cls in _TRACKING.items():
        parser.register("action", name, cls)


class _SubParsers(argparse._SubParsersAction):
    """Sub-commands whose parsed options are merged with (not replacing) the parent's."""

    def __call__(self, parser: Any, namespace: Any, values: Any,
                 option_string: str | None = None) -> None:
        before = set(getattr(namespace, _GIVEN, set()) or set())
        super().__call__(parser, namespace, values, option_string)
        after = getattr(namespace, _GIVEN, set()) or set()
        setattr(namespace, _GIVEN, before | set(after))


def install_subparsers(parser: argparse.ArgumentParser) -> None:
    parser.register("action", "parsers", _SubParsers)


def given(args: argparse.Namespace, dest: str) -> bool:
    """True if the user gave the option whose destination is `dest`."""
    return dest in (getattr(args, _GIVEN, None) or set())


@dataclass(frozen=True)
class _Rule:
    kind: str          # "needs" or "excludes"
    option: str        # e.g. "--gantt-window"
    other: str         # e.g. "--gantt"
    why: str
    option_dest: str = ""
    other_dest: str = ""


def _dest(parser: argparse.ArgumentParser, option: str) -> str:
    for action in parser._actions:
        if option in action.option_strings:
            return action.dest
    raise ValueError(f"{parser.prog} has no option {option}")


def _add(parser: argparse.ArgumentParser, rule: _Rule) -> None:
    rule = _Rule(rule.kind, rule.option, rule.other, rule.why,
                 _dest(parser, rule.option), _dest(parser, rule.other))
    rules = list(parser.get_default(_RULES) or [])
    parser.set_defaults(**{_RULES: [*rules, rule]})


def needs(parser: argparse.ArgumentParser, option: str, parent: str, why: str = "") -> None:
    """`option` does something only together with `parent`: alone it is an error."""
    _add(parser, _Rule("needs", option, parent, why))


def excludes(parser: argparse.ArgumentParser, option: str, other: str, why: str = "") -> None:
    """`option` and `other` cannot be given together."""
    _add(parser, _Rule("excludes", option, other, why))


def check_rules(args: argparse.Namespace) -> None:
    """Raise :class:`InputError` at the first broken rule of the parsed command."""
    rules: list[_Rule] = getattr(args, _RULES, None) or []
    have = getattr(args, _GIVEN, None) or set()
    for r in rules:
        has_option = r.option_dest in have
        has_other = r.other_dest in have
        if r.kind == "needs" and has_option and not has_other:
            raise InputError(f"does nothing without {r.other}"
                             + (f" ({r.why})" if r.why else ""), field=r.option)
        if r.kind == "excludes" and has_option and has_other:
            raise InputError(f"cannot be combined with {r.other}"
                             + (f" ({r.why})" if r.why else ""), field=r.option)
