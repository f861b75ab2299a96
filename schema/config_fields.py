"""Typed configuration dataclasses: one field declaration gives the CLI option, the TOML
key, the sweep axis and the docs row.

A configuration is a frozen dataclass that derives from :class:`Config` and declares its
public fields with :func:`option`::

    @dataclass(frozen=True)
    class ServingConfig(Config):
        max_batch: int = option(32, help="most requests running at once", ge=1,
                                flag="--batch")
        rate_per_s: float | None = option(None, help="Poisson arrival rate", unit="1/s",
                                          gt=0)

        def check_rules(self) -> None:      # rules between fields, after the field checks
            ...

Constructing one checks every field (type, finiteness, range, choices) and then the
rules between fields; every failure is an :class:`~specaccel.schema.errors.InputError`
naming the field.  From the same declaration:

* :func:`from_mapping` builds a config from a mapping (a TOML table, a sweep point) and
  rejects unknown keys by name; :func:`read_toml` reads a design file;
* :func:`parse_assignments` reads ``KEY=VALUE`` items (``--accel array_rows=32``);
* :func:`split_list` / :func:`parse_list` read comma-separated option values;
* :func:`add_options` / :func:`options_from_args` turn the fields into argparse options
  and back (errors name the option);
* :func:`docs_table` writes the Markdown table of the fields for the docs.

Fields declared without :func:`option` (a name, a cache) are not configuration: they
take no part in any of the above.  This module imports only the standard library, so
every layer can declare configs and the command line can build its options cheaply.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import tomllib
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from specaccel.schema.errors import InputError

_META = "specaccel.config"
_KINDS = (bool, int, float, str)


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """What a configuration field declares (read by :func:`config_fields`).

    Attributes
    ----------
    name:
        The field's name: its TOML key, sweep axis and the ``field`` of its errors.
    kind:
        ``bool``, ``int``, ``float`` or ``str``.
    optional:
        Whether ``None`` is allowed (the field's annotation is ``X | None``).
    default:
        The default value (``dataclasses.MISSING`` when the field is required).
    help, unit:
        One line for ``--help`` and the docs; the unit of a number (``"MiB"``, ``"s"``).
    choices:
        The allowed values, or a function returning them (a registry read lazily).
    ge, gt, le, lt:
        Bounds of a number (``>=``, ``>``, ``<=``, ``<``).
    what:
        How an unknown choice is named in errors ("unknown <what> 'x'"); default: the name.
    flag, metavar:
        The command-line option (default ``--`` + name with dashes) and its metavar.
    """

    name: str
    kind: type
    optional: bool
    default: Any
    help: str
    unit: str | None = None
    choices: tuple[Any, ...] | Callable[[], Iterable[Any]] | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    what: str | None = None
    flag: str | None = None
    metavar: str | None = None

    # ------------------------------------------------------------------ identity
    @property
    def option(self) -> str:
        """The command-line option, e.g. ``--token-budget``."""
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def option_field(self) -> str:
        """How errors of the command-line option name it (the option without dashes)."""
        return self.option.lstrip("-")

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING

    def allowed(self) -> tuple[Any, ...] | None:
        """The allowed values (``None``: any value of the kind within the bounds)."""
        if self.choices is None:
            return None
        return tuple(self.choices() if callable(self.choices) else self.choices)

    # ------------------------------------------------------------------ checking
    def check(self, value: Any) -> Any:
        """`value` as this field holds it (an integral float becomes the int), or an
        :class:`InputError` naming the field."""
        if value is None:
            if self.optional:
                return None
            raise InputError("must be given (it has no 'none')", field=self.name)
        v = self._typed(value)
        if self.kind in (int, float):
            self._check_bounds(v)
        allowed = self.allowed()
        if allowed is not None and v not in allowed:
            raise InputError(f"unknown {self.what or self.name.replace('_', ' ')} {v!r}; "
                             f"choose one of {', '.join(map(str, allowed))}", field=self.name)
        return v

    def _typed(self, v: Any) -> Any:
        kind = self.kind
        if kind is bool:
            if not isinstance(v, bool):
                raise InputError(f"must be true or false, not {v!r}", field=self.name)
            return v
        if kind is str:
            if not isinstance(v, str):
                raise InputError(f"must be a string, not {v!r}", field=self.name)
            return v
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InputError(f"must be a number, not {v!r}", field=self.name)
        if not math.isfinite(v):   # NaN compares False with everything: test it first
            raise InputError(f"must be a finite number, not {v!r}", field=self.name)
        if kind is int:
            if not float(v).is_integer():
                raise InputError(f"must be an integer, not {v!r}", field=self.name)
            return int(v)
        return float(v)

    def _check_bounds(self, v: float) -> None:
        for bound, ok, sign in ((self.gt, lambda b: v > b, ">"), (self.ge, lambda b: v >= b, ">="),
                                (self.lt, lambda b: v < b, "<"), (self.le, lambda b: v <= b, "<=")):
            if bound is not None and not ok(bound):
                raise InputError(f"must be {sign} {_num(bound)}, not {v!r}", field=self.name)

    def parse(self, text: str) -> Any:
        """The value of a command-line or ``KEY=VALUE`` text, checked (:meth:`check`)."""
        s = text.strip()
        if self.optional and s.lower() == "none":
            return None
        if self.kind is bool:
            low = s.lower()
            if low not in _BOOL_WORDS:
                raise InputError(f"must be true or false, not {text!r}", field=self.name)
            return self.check(_BOOL_WORDS[low])
        if self.kind is str:
            return self.check(s)
        try:
            number = int(s) if self.kind is int and re.fullmatch(r"[+-]?\d+", s) else float(s)
        except ValueError:
            raise InputError(f"must be a number, not {text!r}", field=self.name) from None
        return self.check(number)

    # ------------------------------------------------------------------ describing
    def range_text(self) -> str:
        """The allowed values in words for the docs (``> 0``, ``(0, 1]``, ``os, ws``)."""
        allowed = self.allowed()
        if allowed is not None:
            return ", ".join(str(a) for a in allowed)
        low = (f"> {_num(self.gt)}" if self.gt is not None
               else f">= {_num(self.ge)}" if self.ge is not None else None)
        high = (f"< {_num(self.lt)}" if self.lt is not None
                else f"<= {_num(self.le)}" if self.le is not None else None)
        if low and high:
            return f"{low}, {high}"
        return low or high or ""

    def default_text(self) -> str:
        if self.required:
            return "(required)"
        if self.default is None:
            return "none"
        if isinstance(self.default, bool):
            return str(self.default).lower()
        return str(self.default)


_BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False,
               "on": True, "off": False}


def _num(x: float) -> str:
    return f"{x:g}"


def option(default: Any = dataclasses.MISSING, *, help: str, unit: str | None = None,
           choices: tuple[Any, ...] | Callable[[], Iterable[Any]] | None = None,
           ge: float | None = None, gt: float | None = None, le: float | None = None,
           lt: float | None = None, what: str | None = None, flag: str | None = None,
           metavar: str | None = None) -> Any:
    """A configuration field: a :func:`dataclasses.field` with what the CLI, the sweeps
    and the docs need (see :class:`FieldSpec` for the arguments)."""
    meta = {"help": help, "unit": unit, "choices": choices, "ge": ge, "gt": gt, "le": le,
            "lt": lt, "what": what, "flag": flag, "metavar": metavar}
    return dataclasses.field(default=default, metadata={_META: meta})


class Config:
    """Base of the configuration dataclasses: construction checks every :func:`option`
    field (and coerces an integral float to its int), then :meth:`check_rules`."""

    def __post_init__(self) -> None:
        for spec in config_fields(type(self)):
            value = spec.check(getattr(self, spec.name))
            if value is not getattr(self, spec.name):
                object.__setattr__(self, spec.name, value)
        self.check_rules()

    def check_rules(self) -> None:
        """Rules between fields (override); raise :class:`InputError` naming a field."""

    def to_dict(self) -> dict[str, Any]:
        """The configuration fields and their values."""
        return {s.name: getattr(self, s.name) for s in config_fields(type(self))}


# ---------------------------------------------------------------------- reading the fields
_FIELDS: dict[type, tuple[FieldSpec, ...]] = {}


def config_fields(cls: type) -> tuple[FieldSpec, ...]:
    """The :func:`option` fields of a configuration class, in declaration order."""
    got = _FIELDS.get(cls)
    if got is None:
        hints = typing.get_type_hints(cls)
        got = tuple(_spec(f, hints[f.name]) for f in dataclasses.fields(cls)
                    if _META in f.metadata)
        _FIELDS[cls] = got
    return got


def _spec(f: dataclasses.Field, hint: Any) -> FieldSpec:
    kind, optional = hint, False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        if len(args) != 1:
            raise TypeError(f"config field {f.name}: one type (or one | None), not {hint}")
        kind = args[0]
    if kind not in _KINDS:
        raise TypeError(f"config field {f.name}: bool, int, float or str, not {hint}")
    return FieldSpec(name=f.name, kind=kind, optional=optional, default=f.default,
                     **f.metadata[_META])


def field_names(cls: type) -> tuple[str, ...]:
    """Names of the configuration fields of `cls`."""
    return tuple(s.name for s in config_fields(cls))


def field_spec(cls: type, name: str) -> FieldSpec:
    """The :class:`FieldSpec` called `name` (:class:`InputError` listing the names)."""
    for s in config_fields(cls):
        if s.name == name:
            return s
    raise InputError(f"unknown key; expected one of {', '.join(field_names(cls))}",
                     field=name)


# ---------------------------------------------------------------------- building configs
def from_mapping(cls: type, data: Mapping[str, Any], *, base: Any = None,
                 file: str | None = None, where: tuple[str, ...] = (), prefix: str = "",
                 ignore: Iterable[str] = ()) -> Any:
    """A `cls` from `data` (a TOML table, a sweep point), on top of `base` if given.

    Unknown keys are errors (except those in `ignore`); errors carry `file`, `where`
    and the field name, prefixed by `prefix` (e.g. ``"accel."``).
    """
    skip = set(ignore)
    names = field_names(cls)
    values: dict[str, Any] = {}
    try:
        for key, value in data.items():
            if key in skip:
                continue
            if key not in names:
                raise InputError(f"unknown key; expected one of {', '.join(names)}",
                                 field=key)
            values[key] = field_spec(cls, key).check(value)
        return dataclasses.replace(base, **values) if base is not None else cls(**values)
    except InputError as exc:
        raise InputError(exc.reason, file=file if file is not None else exc.file,
                         where=tuple(where) + exc.where,
                         field=None if exc.field is None else prefix + exc.field) from None


def parse_assignments(cls: type, items: Iterable[str], *, flag: str) -> dict[str, Any]:
    """``{key: value}`` of ``KEY=VALUE`` texts (``--accel array_rows=32``), each value
    parsed and checked by its field; a malformed item or an unknown key names `flag`."""
    names = field_names(cls)
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or key not in names:
            raise InputError(f"expected KEY=VALUE with KEY one of {', '.join(names)}, "
                             f"not {item!r}", field=flag)
        if key in out:
            raise InputError(f"sets {key} twice", field=flag)
        out[key] = field_spec(cls, key).parse(text)
    return out


def split_list(text: str, *, option: str) -> list[str]:
    """The stripped items of the comma-separated value of `option` (``--context 1,2``).

    Every list option reads its value through this function, so they all agree: an empty
    item (``1,,2``, a leading or trailing comma) or an empty value is an error naming
    `option`, never an item silently dropped.
    """
    items = [item.strip() for item in str(text).split(",")]
    if items == [""]:
        raise InputError("is empty: give a comma-separated list", field=option)
    if "" in items:
        raise InputError(f"item {items.index('') + 1} of {text!r} is empty", field=option)
    return items


def parse_list(text: str, convert: Callable[[str], Any], *, option: str,
               what: str) -> list[Any]:
    """:func:`split_list`, each item converted by `convert` (``int``, ``float``); an item
    it refuses (``ValueError``) is an error naming `option` and `what` the items are."""
    items = split_list(text, option=option)
    try:
        return [convert(item) for item in items]
    except ValueError:
        raise InputError(f"must be comma-separated {what}, not {text!r}",
                         field=option) from None


def read_toml(path: str | Path, *, table: str | None = None) -> dict[str, Any]:
    """The top level (or `table`) of a TOML file; :class:`InputError` naming the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file", file=str(path)) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a TOML file", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", file=str(path)) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", file=str(path)) from None
    if table is None:
        return doc
    got = doc.get(table)
    if not isinstance(got, dict):
        raise InputError(f"needs a [{table}] table", file=str(path), field=table)
    return got


def config_from_toml(cls: type, path: str | Path, *, table: str | None = None,
                     base: Any = None, ignore: Iterable[str] = ()) -> Any:
    """A `cls` from a TOML design file (its top level or `table`); errors name the file,
    the line of the key and the field."""
    data = read_toml(path, table=table)
    try:
        return from_mapping(cls, data, base=base, ignore=ignore)
    except InputError as exc:
        line = _key_line(Path(path), exc.field)
        where = (f"line {line}",) if line else ()
        raise InputError(exc.reason, file=str(path), where=where, field=exc.field) from None


def _key_line(path: Path, key: str | None) -> int | None:
    if not key:
        return None
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if pattern.match(line):
            return no
    return None


# ---------------------------------------------------------------------- command line
def add_options(parser: Any, cls: type, *, only: Iterable[str] | None = None,
                exclude: Iterable[str] = (), dest_prefix: str = "") -> tuple[FieldSpec, ...]:
    """Add one option per field of `cls` to `parser` (a parser or an argument group).

    Every option's default is ``None`` ("not given"), so :func:`options_from_args`
    returns only what the user set; values are parsed and checked there, and their
    errors name the option.  A bool field that defaults to true becomes ``--no-NAME``
    (unless its ``flag`` says otherwise), one that defaults to false ``--NAME``.
    """
    keep = None if only is None else set(only)
    skip = set(exclude)
    added = []
    for spec in config_fields(cls):
        if spec.name in skip or (keep is not None and spec.name not in keep):
            continue
        dest = dest_prefix + spec.name
        if spec.kind is bool:
            on = not spec.default if spec.default is not dataclasses.MISSING else True
            flag = spec.flag or ("--" if on else "--no-") + spec.name.replace("_", "-")
            text = _help(spec) if on else f"switch off {spec.name}: {_help(spec)}"
            parser.add_argument(flag, dest=dest, action="store_const", const=on,
                                default=None, help=text)
        else:
            parser.add_argument(spec.option, dest=dest, default=None,
                                metavar=spec.metavar or _metavar(spec), help=_help(spec))
        added.append(spec)
    return tuple(added)


def _metavar(spec: FieldSpec) -> str:
    allowed = spec.allowed()
    if allowed is not None and len(allowed) <= 6:
        return "{" + ",".join(map(str, allowed)) + "}"
    return {int: "N", float: "X", str: "TEXT"}[spec.kind]


def _help(spec: FieldSpec) -> str:
    text = spec.help
    if spec.unit:
        text += f", in {spec.unit}"
    if spec.kind is not bool and not spec.required and spec.default is not None:
        text += f"; default {spec.default_text()}"
    return text.replace("%", "%%")


def options_from_args(cls: type, args: argparse.Namespace, *, dest_prefix: str = ""
                      ) -> dict[str, Any]:
    """``{field: value}`` of the options of `cls` that were given on the command line,
    parsed and checked; an error names the option (``field 'token-budget'``)."""
    out: dict[str, Any] = {}
    for spec in config_fields(cls):
        raw = getattr(args, dest_prefix + spec.name, None)
        if raw is None:
            continue
        try:
            out[spec.name] = spec.check(raw) if spec.kind is bool else spec.parse(raw)
        except InputError as exc:
            raise InputError(exc.reason, field=spec.option_field) from None
    return out


# ---------------------------------------------------------------------- docs
def docs_table(cls: type, *, exclude: Iterable[str] = ()) -> str:
    """The Markdown table of the fields of `cls`: name, default, unit, allowed values,
    meaning (what docs/config-format.md and docs/sweeps.md show, held by the doc tests)."""
    skip = set(exclude)
    rows = ["| parameter | default | unit | allowed | meaning |", "|---|---|---|---|---|"]
    for s in config_fields(cls):
        if s.name in skip:
            continue
        cells = (f"`{s.name}`", s.default_text(), s.unit or "", s.range_text(),
                 s.help.replace("|", "\\|"))
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)
