"""Typed configs (specaccel.schema.config_fields): one declaration checks values, builds
CLI options, reads mappings and TOML files strictly, and writes the docs table."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace

import pytest

from specaccel.schema.config_fields import (
    Config,
    add_options,
    config_fields,
    config_from_toml,
    docs_table,
    field_names,
    from_mapping,
    option,
    options_from_args,
    parse_assignments,
    parse_list,
    split_list,
)
from specaccel.schema.errors import InputError
from specaccel.schema.registry import Registry


@dataclass(frozen=True)
class Toy(Config):
    name: str = "toy"                      # not an option: no CLI, no sweep, no docs
    rows: int = option(8, help="rows", ge=1, flag="--n-rows")
    rate: float | None = option(None, help="arrival rate", unit="1/s", gt=0)
    share: float = option(0.5, help="a share", gt=0, le=1)
    mode: str = option("a", help="the mode", choices=lambda: ("a", "b"), what="toy mode")
    warm: bool = option(True, help="warm start")
    fast: bool = option(False, help="go fast")

    def check_rules(self) -> None:
        if self.mode == "b" and self.rate is None:
            raise InputError("mode b needs a rate", field="rate")


def test_fields_are_the_options_in_order():
    assert field_names(Toy) == ("rows", "rate", "share", "mode", "warm", "fast")
    rate = config_fields(Toy)[1]
    assert rate.kind is float and rate.optional and rate.unit == "1/s"


@pytest.mark.parametrize("kwargs, field, text", [
    ({"rows": 0}, "rows", "must be >= 1, not 0"),
    ({"rows": 2.5}, "rows", "must be an integer, not 2.5"),
    ({"rows": "3"}, "rows", "must be a number, not '3'"),
    ({"rows": True}, "rows", "must be a number, not True"),
    ({"share": float("nan")}, "share", "must be a finite number"),
    ({"share": 1.5}, "share", "must be <= 1, not 1.5"),
    ({"rate": 0.0}, "rate", "must be > 0, not 0.0"),
    ({"mode": "c"}, "mode", "unknown toy mode 'c'; choose one of a, b"),
    ({"warm": 1}, "warm", "must be true or false"),
    ({"mode": "b"}, "rate", "mode b needs a rate"),
    ({"rows": None}, "rows", "must be given"),
])
def test_construction_checks_every_field_and_the_rules(kwargs, field, text):
    with pytest.raises(InputError, match=text) as exc:
        Toy(**kwargs)
    assert exc.value.field == field


def test_integral_floats_become_ints_and_ints_floats():
    t = Toy(rows=4.0, share=1)
    assert t.rows == 4 and isinstance(t.rows, int)
    assert t.share == 1.0 and isinstance(t.share, float)
    assert replace(t, rows=16).rows == 16
    with pytest.raises(InputError, match="rows"):
        replace(t, rows=-1)


def test_from_mapping_is_strict_and_locates_errors():
    assert from_mapping(Toy, {"rows": 3, "mode": "b", "rate": 2}).rate == 2.0
    with pytest.raises(InputError) as exc:
        from_mapping(Toy, {"rowz": 3}, file="f.toml", where=("line 2",), prefix="fixed.")
    assert str(exc.value) == ("f.toml: line 2: field 'fixed.rowz': unknown key; expected "
                              "one of rows, rate, share, mode, warm, fast")
    with pytest.raises(InputError, match="unknown key"):
        from_mapping(Toy, {"name": "x"})          # not a configuration field
    assert from_mapping(Toy, {"name": "x"}, ignore=("name",)) == Toy()
    base = Toy(rows=5)
    assert from_mapping(Toy, {"share": 0.25}, base=base) == Toy(rows=5, share=0.25)


def test_assignments_parse_text_by_the_field_kind():
    got = parse_assignments(Toy, ["rows=12", "rate=1e3", "mode=b", "warm=false"], flag="--toy")
    assert got == {"rows": 12, "rate": 1000.0, "mode": "b", "warm": False}
    for bad, text in [("rows", "expected KEY=VALUE"), ("bogus=1", "expected KEY=VALUE"),
                      ("rows=x", "must be a number"), ("rows=1.5", "must be an integer")]:
        with pytest.raises(InputError, match=text):
            parse_assignments(Toy, [bad], flag="--toy")
    with pytest.raises(InputError, match="sets rows twice") as exc:
        parse_assignments(Toy, ["rows=1", "rows=2"], flag="--toy")
    assert exc.value.field == "--toy"
    assert parse_assignments(Toy, ["rate=none"], flag="--toy") == {"rate": None}


def _parse(argv):
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_options(parser, Toy, exclude=("share",), dest_prefix="toy_")
    return parser.parse_args(argv)


def test_cli_options_return_only_what_was_given():
    assert options_from_args(Toy, _parse([]), dest_prefix="toy_") == {}
    args = _parse(["--n-rows", "3", "--mode", "b", "--rate", "2", "--no-warm", "--fast"])
    got = options_from_args(Toy, args, dest_prefix="toy_")
    assert got == {"rows": 3, "mode": "b", "rate": 2.0, "warm": False, "fast": True}
    with pytest.raises(SystemExit):
        _parse(["--share", "0.3"])                      # excluded
    with pytest.raises(InputError) as exc:
        options_from_args(Toy, _parse(["--n-rows", "0"]), dest_prefix="toy_")
    assert exc.value.field == "n-rows"                  # errors name the option typed


def test_help_carries_unit_and_default():
    parser = argparse.ArgumentParser()
    add_options(parser, Toy)
    text = parser.format_help()
    assert "arrival rate, in 1/s" in text and "rows; default 8" in text
    assert "--no-warm" in text and "--fast" in text and "{a,b}" in text


def test_toml_file_errors_name_file_line_and_field(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('rows = 3\nmode = "b"\nrate = 4.0\n')
    assert config_from_toml(Toy, good) == Toy(rows=3, mode="b", rate=4.0)
    bad = tmp_path / "bad.toml"
    bad.write_text('rows = 3\nshare = 2.0\n')
    with pytest.raises(InputError) as exc:
        config_from_toml(Toy, bad)
    assert str(exc.value) == f"{bad}: line 2: field 'share': must be <= 1, not 2.0"
    broken = tmp_path / "broken.toml"
    broken.write_text("rows = \n")
    with pytest.raises(InputError, match="invalid TOML"):
        config_from_toml(Toy, broken)
    with pytest.raises(InputError, match="no such file"):
        config_from_toml(Toy, tmp_path / "missing.toml")


def test_docs_table_has_one_row_per_field():
    rows = docs_table(Toy).splitlines()
    assert rows[0] == "| parameter | default | unit | allowed | meaning |"
    assert rows[2:] == [
        "| `rows` | 8 |  | >= 1 | rows |",
        "| `rate` | none | 1/s | > 0 | arrival rate |",
        "| `share` | 0.5 |  | > 0, <= 1 | a share |",
        "| `mode` | a |  | a, b | the mode |",
        "| `warm` | true |  |  | warm start |",
        "| `fast` | false |  |  | go fast |",
    ]


def test_a_field_of_another_type_is_refused_at_declaration():
    @dataclass(frozen=True)
    class Bad(Config):
        sizes: list = option(None, help="no lists")

    with pytest.raises(TypeError, match="sizes"):
        Bad()


def test_registry_loads_lazily_and_lists_names_on_a_miss():
    calls = []
    reg: Registry[int] = Registry("widget", field="widget",
                                  loader=lambda: calls.append(reg.register("b", 2)))
    reg.register("a", 1)
    assert calls == []                       # declaring is not loading
    assert reg.get("a") == 1 and calls == [2]
    assert reg.names() == ["a", "b"] and "b" in reg and len(reg) == 2
    assert calls == [2]                      # loaded once
    with pytest.raises(InputError) as exc:
        reg.get("c")
    assert exc.value.field == "widget" and "choose one of: a, b" in exc.value.reason
    with pytest.raises(ValueError, match="declared twice"):
        reg.register("a", 3)


@pytest.mark.parametrize(("text", "reason"), [
    ("1,,2", "item 2 of '1,,2' is empty"), (",1", "item 1 of ',1' is empty"),
    ("1, ", "item 2 of '1, ' is empty"), ("", "is empty"), (" ", "is empty"),
])
def test_split_list_refuses_empty_items(text, reason):
    with pytest.raises(InputError) as exc:
        split_list(text, option="--things")
    assert exc.value.field == "--things" and reason in exc.value.reason


def test_parse_list_converts_and_names_the_option():
    assert split_list(" a , b ", option="--x") == ["a", "b"]
    assert parse_list("1, 2,3", int, option="--n", what="integers") == [1, 2, 3]
    with pytest.raises(InputError, match="must be comma-separated integers, not '1,x'"):
        parse_list("1,x", int, option="--n", what="integers")
