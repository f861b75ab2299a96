"""Fuzzing the command line with Hypothesis: mutated traces (JSONL and Parquet), sweep
specs (TOML), config.json files and command lines.

For every input Hypothesis makes, the command must end with exit 0 or 2, never print a
traceback, never exit 1 for bad input, and touch no file outside its output paths.  Where
a mutation is wrong by construction (an unknown key, a number out of range), exit 2 is
required.  The catalogue of :mod:`bad_inputs` (the issue's hand-found cases) must come out
clean: exit 2 with one line, or a warning flag for an impossible number.

The default run is small (``FUZZ_EXAMPLES`` examples per target, a few seconds each);
the ``slow`` profile (``pytest -m slow``) runs many more.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path

import pytest
from bad_inputs import (
    HF_CONFIG,
    SWEEP_SPEC,
    Case,
    all_cases,
    make_originals,
    run_case,
    text_file,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ_EXAMPLES = 12
SLOW_EXAMPLES = 300

_SETTINGS = dict(deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz_originals")
    make_originals(root)
    return root


def _sandbox(originals: Path) -> Path:
    box = Path(tempfile.mkdtemp(prefix="fuzz-"))
    for p in originals.iterdir():
        if p.is_file():
            shutil.copy2(p, box / p.name)
        else:
            shutil.copytree(p, box / p.name)
    return box


def _check(case: Case, originals: Path, *, must_fail: bool = False):
    box = _sandbox(originals)
    try:
        r = run_case(case, box)
    finally:
        shutil.rmtree(box, ignore_errors=True)
    assert r.kind != "traceback", f"{case.argv}: {r.err}"
    assert r.kind != "exit1", f"{case.argv}: exit 1 for bad input: {r.err}"
    assert r.code in (0, 2), f"{case.argv}: exit {r.code}"
    assert not r.damaged, f"{case.argv}: touched {r.damaged}"
    if must_fail:
        assert r.code == 2, f"{case.argv}: accepted a wrong input"
    return r


# ---------------------------------------------------------------------------- values
_json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.just(1e308),
    st.text(max_size=8), st.sampled_from([0, -1, 1, 2**31, 2**63, -(2**63) - 1]))
_json_values = st.recursive(_json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6)


def _paths(obj, prefix=()):
    """Every (path, value) inside a decoded JSON value."""
    yield prefix, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


def _assign(obj, path, value):
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value


# ---------------------------------------------------------------------------- JSONL
@st.composite
def jsonl_mutation(draw, lines: list[dict]):
    """A mutated copy of decoded JSONL lines, and whether it is wrong by construction."""
    lines = json.loads(json.dumps(lines))
    kind = draw(st.sampled_from(["set", "unknown_key", "delete", "drop_line", "dup_line",
                                 "garbage", "truncate"]))
    i = draw(st.integers(0, len(lines) - 1))
    spots = [(p, v) for p, v in _paths(lines[i]) if p]
    if kind == "set":
        path, _ = draw(st.sampled_from(spots))
        _assign(lines[i], path, draw(_json_values))
        return lines, False
    if kind == "unknown_key":
        dicts = [p for p, v in _paths(lines[i]) if isinstance(v, dict)
                 and (not p or p[-1] != "metadata")]
        path = draw(st.sampled_from(dicts))
        target = lines[i]
        for k in path:
            target = target[k]
        known = set(target)
        key = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=3, max_size=12)
                   .filter(lambda k: k not in known))
        target[key] = draw(_json_scalars)
        in_metadata = any(k == "metadata" for k in path)
        return lines, not in_metadata
    if kind == "delete":
        keyed = [(p, v) for p, v in spots if isinstance(p[-1], str)
                 and "metadata" not in p]
        path, _ = draw(st.sampled_from(keyed))
        parent = lines[i]
        for k in path[:-1]:
            parent = parent[k]
        del parent[path[-1]]
        optional = path[-1] in ("recorded_accepted", "requests")
        return lines, not optional
    if kind == "drop_line":
        return [x for j, x in enumerate(lines) if j != i], True
    if kind == "dup_line":
        return [*lines[: i + 1], lines[i], *lines[i + 1:]], True
    if kind == "garbage":
        text = draw(st.text(min_size=1, max_size=20).filter(lambda t: t.strip()
                                                          and "\n" not in t))
        return [*lines[:i], text, *lines[i:]], not _is_json_object(text)
    raw = "\n".join(json.dumps(x) for x in lines)
    cut = draw(st.integers(1, len(raw) - 1))
    return [raw[:cut]], True


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _jsonl_lines(originals: Path) -> list[dict]:
    return [json.loads(x) for x in (originals / "t.jsonl").read_text().splitlines()]


def _write_lines(lines) -> str:
    return "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"


def _fuzz_jsonl(originals, data, command):
    lines, wrong = data.draw(jsonl_mutation(_jsonl_lines(originals)))
    case = Case("fuzz jsonl", [*command, "{m.jsonl}"] if command[0] == "trace"
                else ["simulate", "--trace", "{m.jsonl}", "--hw", "a100-80gb", "--json"],
                files={"m.jsonl": text_file(_write_lines(lines))})
    _check(case, originals, must_fail=wrong)


@settings(max_examples=FUZZ_EXAMPLES, **_SETTINGS)
@given(data=st.data())
def test_fuzz_jsonl_traces(originals, data):
    _fuzz_jsonl(originals, data, ["trace", "validate"])


@settings(max_examples=FUZZ_EXAMPLES, **_SETTINGS)
@given(data=st.data())
def test_fuzz_jsonl_traces_through_simulate(originals, data):
    _fuzz_jsonl(originals, data, ["simulate"])


# ---------------------------------------------------------------------------- Parquet
@st.composite
def parquet_mutation(draw, originals: Path):
    """Bytes of a mutated Parquet trace and whether it is wrong by construction."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    raw = (originals / "t.parquet").read_bytes()
    kind = draw(st.sampled_from(["flip", "truncate", "column", "drop_column", "metadata",
                                 "rows"]))
    if kind == "flip":
        i = draw(st.integers(0, len(raw) - 1))
        b = draw(st.integers(0, 255))
        return raw[:i] + bytes([b]) + raw[i + 1:], None
    if kind == "truncate":
        return raw[: draw(st.integers(0, len(raw) - 1))], True
    table = pq.read_table(io.BytesIO(raw))
    if kind == "column":
        name = draw(st.sampled_from(table.column_names))
        values = draw(st.lists(_json_scalars, min_size=table.num_rows,
                               max_size=table.num_rows))
        try:
            col = pa.array(values)
        except (pa.ArrowException, OverflowError, TypeError):
            col = pa.array([str(v) for v in values])
        table = table.set_column(table.schema.get_field_index(name), name, col)
        wrong = None
    elif kind == "drop_column":
        table = table.drop_columns([draw(st.sampled_from(table.column_names))])
        wrong = True
    elif kind == "metadata":
        meta = dict(table.schema.metadata)
        key = draw(st.sampled_from(sorted(meta)))
        meta[key] = draw(st.binary(max_size=30))
        table = table.replace_schema_metadata(meta)
        wrong = None
    else:
        n = draw(st.integers(0, table.num_rows - 1))
        table = table.slice(0, n)
        wrong = n == 0 or None
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue(), wrong


@settings(max_examples=FUZZ_EXAMPLES, **_SETTINGS)
@given(data=st.data())
def test_fuzz_parquet_traces(originals, data):
    raw, wrong = data.draw(parquet_mutation(originals))
    command = data.draw(st.sampled_from([["trace", "validate"], ["trace", "info"],
                                         ["simulate"]]))
    argv = ([*command, "{m.parquet}"] if command[0] == "trace"
            else ["simulate", "--trace", "{m.parquet}", "--hw", "a100-80gb"])
    case = Case("fuzz parquet", argv, files={"m.parquet": lambda p: p.write_bytes(raw)})
    _check(case, originals, must_fail=bool(wrong))


# ---------------------------------------------------------------------------- config.json
@settings(max_examples=FUZZ_EXAMPLES, **_SETTINGS)
@given(key=st.sampled_from([*HF_CONFIG, "head_dim", "num_local_experts",
                            "num_experts_per_tok", "torch_dtype"]),
       value=_json_values, tp=st.sampled_from([1, 2, 3, 8, 64]))
def test_fuzz_config_json(originals, key, value, tp):
    cfg = {**HF_CONFIG, key: value}
    case = Case("fuzz config", ["cost", "--model", "{c.json}", "--tp", str(tp), "--json"],
                files={"c.json": text_file(json.dumps(cfg))})
    r = _check(case, originals)
    heads, kv = cfg.get("num_attention_heads"), cfg.get("num_key_value_heads")
    if r.code == 0 and isinstance(heads, int) and isinstance(kv, int):
        # an accepted config has a shape tensor parallelism can split
        assert heads % tp == 0 and heads % kv == 0 and (kv % tp == 0 or tp % kv == 0)
        assert cfg["hidden_size"] % heads == 0 or "head_dim" in cfg


# ---------------------------------------------------------------------------- TOML specs
_SPEC_LINES = [ln for ln in SWEEP_SPEC.splitlines() if "=" in ln]


@settings(max_examples=FUZZ_EXAMPLES, **_SETTINGS)
@given(line=st.sampled_from(_SPEC_LINES),
       value=st.one_of(st.integers(-(2**64), 2**64), st.floats(allow_nan=True),
                       st.text(alphabet="abc-_ 0123456789", max_size=6).map(json.dumps),
                       st.sampled_from(["[]", "[1, 2]", "{ start = 1, stop = 3 }",
                                        "{ low = 1, high = 0 }", "true", "nan", "inf"])),
       rename=st.booleans())
def test_fuzz_sweep_specs(originals, line, value, rename):
    key = line.split("=")[0].strip()
    if isinstance(value, float):
        value = "nan" if math.isnan(value) else repr(value).replace("inf", "inf")
    new = f"{key}x = {value}" if rename else f"{key} = {value}"
    case = Case("fuzz spec", ["sweep", "{s.toml}", "--out", "{sw}", "--workers", "1",
                              "--json"], outputs=("sw",),
                files={"s.toml": text_file(SWEEP_SPEC.replace(line, new))})
    _check(case, originals, must_fail=rename)


# ---------------------------------------------------------------------------- command lines
_COMMANDS = [
    ["theory", "--alpha", "0.8", "--gamma", "4"],
    ["cost", "--model", "llama-2-7b", "--hw", "a100-80gb"],
    ["simulate", "--trace", "{t.parquet}", "--hw", "a100-80gb"],
    ["trace", "info", "{t.jsonl}"],
    ["trace", "export", "{t.parquet}", "-o", "{out.jsonl}"],
    ["trace", "gen", "--requests", "1", "--steps", "2", "-o", "{out.parquet}"],
    ["tree", "optimize", "--acceptance", "0.8,0.6", "--max-nodes", "6", "--draft-time",
     "0.001", "--target-times", "0.01"],
]
_OPTIONS = ["--seed", "--tp", "--batch", "--tokens", "--context", "--layers", "--requests",
            "--steps", "--gantt-window", "--gantt", "--timeline", "--max-gamma",
            "--cost-ratio", "--alpha", "--gamma", "--verify-nodes", "--arrivals", "-o",
            "--hw", "--model", "--accel", "--max-nodes", "--budgets", "--engine"]
_VALUES = st.one_of(
    st.integers(-(2**40), 2**40).map(str),
    st.sampled_from(["0", "-1", "nan", "inf", "1e400", "", "x", "0,1", "1,0",
                     "poisson:-1", "poisson:5", "array_cores=0", "{adir}/",
                     "{notes.txt}", "{t.parquet}", "{no/such/x.png}", "/dev/null",
                     "{new.png}", "{new.json}", "{new.parquet}"]))


@settings(max_examples=2 * FUZZ_EXAMPLES, **_SETTINGS)
@given(base=st.sampled_from(_COMMANDS),
       extra=st.lists(st.tuples(st.sampled_from(_OPTIONS), _VALUES), max_size=2),
       drop=st.integers(0, 8))
def test_fuzz_command_lines(originals, base, extra, drop):
    argv = list(base)
    if drop < len(argv) and argv[drop].startswith("--"):
        del argv[drop: drop + 2]
    for option, value in extra:
        argv += [option, value]
    outputs = ("out.jsonl", "out.parquet", "new.png", "new.json", "new.parquet")
    _check(Case("fuzz argv", argv, outputs=outputs), originals)


# ---------------------------------------------------------------------------- catalogue
_CATALOGUE = all_cases()


@pytest.mark.parametrize("case", _CATALOGUE, ids=[c.name for c in _CATALOGUE])
def test_catalogue_of_bad_inputs_is_clean(originals, case):
    r = _check(case, originals)
    assert r.kind == "clean", f"{case.name}: exit {r.code}, {r.err}"


# ---------------------------------------------------------------------------- long profile
@pytest.mark.slow
@settings(max_examples=SLOW_EXAMPLES, **_SETTINGS)
@given(data=st.data())
def test_fuzz_jsonl_traces_long(originals, data):
    _fuzz_jsonl(originals, data, ["trace", "validate"])


@pytest.mark.slow
@settings(max_examples=SLOW_EXAMPLES, **_SETTINGS)
@given(data=st.data())
def test_fuzz_parquet_traces_long(originals, data):
    test_fuzz_parquet_traces.hypothesis.inner_test(originals, data)
