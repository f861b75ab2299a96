"""The user documentation stays true to the code: commands, options, examples, schema.

* docs/cli.md has a section for every command and subcommand registered in
  :func:`specaccel.cli.build_parser`, mentions every option, and every ``$ specaccel ...``
  example line parses with the real parser (``parse_args`` only; nothing runs).
* docs/trace-schema.md's node-field table equals ``NODE_FIELDS`` / ``NODE_DTYPES`` and
  its schema version is ``SCHEMA_VERSION``; its Python example runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shlex
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from specaccel.cli import build_parser

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Sub-parsers by name (aliases folded onto their parser)."""
    out: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    out[name] = sub
    return out


def command_tree() -> dict[str, argparse.ArgumentParser]:
    """Every registered command path (``"trace gen"``) and its parser."""
    paths: dict[str, argparse.ArgumentParser] = {}
    for name, sub in _subparsers(build_parser()).items():
        paths[name] = sub
        for child, subsub in _subparsers(sub).items():
            paths[f"{name} {child}"] = subsub
    return paths


def example_lines(text: str) -> list[str]:
    """The ``$ specaccel ...`` lines inside fenced code blocks (before any pipe/comment)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced and line.startswith("$ specaccel"):
            cmd = re.split(r"\s[|#]", line[2:], maxsplit=1)[0]
            lines.append(cmd.strip())
    return lines


@pytest.fixture(scope="module")
def cli_doc() -> str:
    return (DOCS / "cli.md").read_text()


def test_command_tree_is_not_empty():
    # Guards the two tests below against a parser walk that finds nothing.
    paths = command_tree()
    assert {"run", "trace", "trace gen", "tree optimize", "hdl synth"} <= set(paths)


@pytest.mark.parametrize("path", sorted(command_tree()))
def test_every_command_has_a_section(path, cli_doc):
    assert re.search(rf"^#+ specaccel {re.escape(path)}\s*$", cli_doc, re.M), \
        f"docs/cli.md has no section '## specaccel {path}'"


@pytest.mark.parametrize("path", sorted(command_tree()))
def test_every_option_is_documented(path, cli_doc):
    parser = command_tree()[path]
    start = re.search(rf"^#+ specaccel {re.escape(path)}\s*$", cli_doc, re.M)
    assert start
    # The section runs to the next heading of the same or a higher level.
    level = len(cli_doc[start.start():].split(" ", 1)[0])
    end = re.compile(rf"^#{{1,{level}}} ", re.M).search(cli_doc, start.end())
    section = cli_doc[start.end(): end.start() if end else len(cli_doc)]
    missing = [opt for a in parser._actions for opt in a.option_strings
               if opt.startswith("--") and opt != "--help" and f"`{opt}" not in section
               and f"{opt} " not in section and f"{opt}`" not in section]
    assert not missing, f"docs/cli.md section 'specaccel {path}' does not mention {missing}"


def test_examples_exist_for_every_leaf_command(cli_doc):
    examples = example_lines(cli_doc)
    paths = command_tree()
    leaves = [p for p in paths if not _subparsers(paths[p])]
    for leaf in leaves:
        assert any(e == f"specaccel {leaf}" or e.startswith(f"specaccel {leaf} ")
                   for e in examples), f"no example of 'specaccel {leaf}' in docs/cli.md"


def test_every_example_line_parses():
    parser = build_parser()
    checked = 0
    for doc in sorted(DOCS.glob("*.md")):
        for line in example_lines(doc.read_text()):
            argv = shlex.split(line)[1:]
            try:
                args = parser.parse_args(argv)
            except SystemExit as exc:  # argparse's way of failing (or of --version)
                assert exc.code == 0 and argv == ["--version"], \
                    f"{doc.name}: example does not parse: {line}"
                continue
            assert getattr(args, "func", None) is not None, f"{doc.name}: incomplete: {line}"
            checked += 1
    assert checked >= 15


def test_a_broken_example_would_be_caught():
    # The parser used above really rejects unknown options (the test can fail).
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["simulate", "--trace", "t.parquet", "--hw", "x", "--bogus"])
    assert exc.value.code == 2


# ---- trace schema ----------------------------------------------------------------------

def _node_field_table() -> list[tuple[str, str]]:
    text = (DOCS / "trace-schema.md").read_text()
    block = text.split("<!-- node-fields", 1)[1].split("<!-- /node-fields -->", 1)[0]
    return re.findall(r"^\| `(\w+)` \| (\w+) \|", block, re.M)


def test_trace_schema_node_fields_match_the_code():
    from specaccel.schema.trace import NODE_DTYPES, NODE_FIELDS

    table = _node_field_table()
    assert tuple(name for name, _ in table) == NODE_FIELDS
    for name, dtype in table:
        assert np.dtype(NODE_DTYPES[name]).name == dtype, name


def test_trace_schema_metadata_keys_match_the_code():
    from specaccel.schema.trace_metadata import METADATA_KEYS

    text = (DOCS / "trace-schema.md").read_text()
    block = text.split("<!-- metadata-keys", 1)[1].split("<!-- /metadata-keys -->", 1)[0]
    listed = re.findall(r"`(\w+)`", block.split("-->", 1)[1])
    assert sorted(listed) == sorted(METADATA_KEYS)


def test_trace_schema_version_matches_the_code():
    from specaccel.workloads import SCHEMA_VERSION

    text = (DOCS / "trace-schema.md").read_text()
    assert f"Schema version: **{SCHEMA_VERSION}**" in text
    assert f'`specaccel.schema_version` (`"{SCHEMA_VERSION}"`)' in text


def test_trace_schema_python_example_runs(tmp_path, monkeypatch):
    text = (DOCS / "trace-schema.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, "trace-schema.md", "exec"), {})
    from specaccel.workloads import read_trace

    trace = read_trace(tmp_path / "mine.parquet")
    assert trace.n_steps == 1 and trace.n_nodes == 4


# ---- configuration formats -----------------------------------------------------------

def marker_table(doc: str, marker: str) -> list[list[str]]:
    """Rows (cells without backticks) of the table between ``<!-- marker`` and its end."""
    text = (DOCS / doc).read_text()
    block = text.split(f"<!-- {marker}", 1)[1].split(f"<!-- /{marker} -->", 1)[0]
    rows = [[c.strip().strip("`") for c in line.strip().strip("|").split("|")]
            for line in block.splitlines() if line.startswith("| ")]
    return rows[1:]  # without the header


def _registry_tables():
    spec = importlib.util.spec_from_file_location(
        "docs_registry_tables", Path(__file__).with_name("registry_tables.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return gen


@pytest.mark.parametrize("marker", ["sweep-metrics", "drafting-modes", "engines"])
def test_registry_tables_are_generated_from_the_registries(marker):
    gen = _registry_tables()
    page, _, make = gen.TABLES[marker]
    _, block, _ = gen.documented_block((DOCS / page).read_text(), marker)
    assert block == make(), \
        f"docs/{page} table {marker!r} is stale: run tests/docs/registry_tables.py --write"


def test_the_sweeps_accept_the_documented_metrics():
    from specaccel.analysis.design_point import METRICS

    rows = marker_table("config-format.md", "sweep-metrics")
    assert {r[0]: r[3] for r in rows} == METRICS


def _config_tables():
    spec = importlib.util.spec_from_file_location(
        "docs_config_tables", Path(__file__).with_name("config_tables.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page, marker, path", _config_tables().TABLES)
def test_config_field_tables_are_generated_from_the_dataclasses(page, marker, path):
    tables = _config_tables()
    assert tables.current(page, marker) == tables.expected(path), \
        f"docs/{page} table {marker} is stale: run tests/docs/config_tables.py"
    names = [r[0] for r in marker_table(page, marker)]
    from specaccel.schema.config_fields import field_names
    assert names == list(field_names(tables.config_class(path))) and names


def test_characterisation_column_table_matches_the_code():
    from specaccel.hdl.characterisation import COLUMNS

    rows = marker_table("config-format.md", "characterisation-columns")
    assert tuple(r[0] for r in rows) == COLUMNS


# ---- validation table ----------------------------------------------------------------

def _validation_tables():
    spec = importlib.util.spec_from_file_location(
        "docs_validation_tables", Path(__file__).with_name("validation_tables.py"))
    tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tables)
    return tables


@pytest.mark.parametrize("name", ("validate-report", "stack-table"))
def test_validation_page_blocks_are_current(name):
    tables = _validation_tables()
    text = (DOCS / "validation.md").read_text()
    assert tables.block(text, name) == tables.MAKERS[name](), \
        f"docs/validation.md block {name} is stale: run tests/docs/validation_tables.py --write"


def test_validation_figure_was_drawn_from_the_current_rows():
    from specaccel.analysis.validation_plot import rows_digest

    tables = _validation_tables()
    assert tables.figure_digest() == rows_digest(tables.report()), \
        "docs/validation.png is stale: run tests/docs/validation_tables.py --write"
    assert "(validation.png)" in (DOCS / "validation.md").read_text()


def test_cost_model_validation_table_is_current():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "docs_validation_tables", Path(__file__).with_name("validation_tables.py"))
    tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tables)
    text = (DOCS / "cost-model.md").read_text()
    assert tables.block(text, "kernel-validation") == tables.cost_validation_markdown(), \
        ("docs/cost-model.md validation table is stale: run "
         "tests/docs/validation_tables.py --write")
    assert tables.block(text, "gemm-efficiency") == tables.gemm_efficiency_markdown(), \
        ("docs/cost-model.md GEMM table is stale: run "
         "tests/docs/validation_tables.py --write")


# ---- extending.md ----------------------------------------------------------------------

def test_extending_examples_run(tmp_path, monkeypatch, capsys):
    text = (DOCS / "extending.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "extending_md"}
    for block in blocks:  # one namespace, in order, as a reader would run them
        exec(compile(block, "extending.md", "exec"), namespace)
    out = capsys.readouterr().out
    assert "speedup" in out and "fork-then-chain" in out


# ---- concepts.md -----------------------------------------------------------------------

def test_concepts_example_prints_what_the_doc_says(capsys):
    text = (DOCS / "concepts.md").read_text()
    pairs = re.findall(r"```python\n(.*?)```\n\nprints\n\n```\n(.*?)```", text, re.S)
    assert pairs
    for code, expected in pairs:
        exec(compile(code, "concepts.md", "exec"), {})
        assert capsys.readouterr().out == expected


# ---- links -----------------------------------------------------------------------------

MY_PAGES = ("index.md", "concepts.md", "cli.md", "trace-schema.md", "config-format.md",
            "validation.md", "extending.md", "dask-cluster.md")
# Pages other engineers own and are writing (issue 7); linked before they land.
PLANNED_PAGES = {"methods.md", "sweeps.md"}


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces -> '-'."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_github_slug_examples():
    assert github_slug("Models: Hugging Face config.json") == "models-hugging-face-configjson"
    assert github_slug("Model families (`specaccel cost --help` lists the presets)") == \
        "model-families-specaccel-cost---help-lists-the-presets"


@pytest.mark.parametrize("page", MY_PAGES)
def test_relative_links_resolve(page):
    text = (DOCS / page).read_text()
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links
    for link in links:
        if re.match(r"[a-z]+://", link):
            continue
        target, _, anchor = link.partition("#")
        path = (DOCS / page).parent / target if target else DOCS / page
        if path.name in PLANNED_PAGES and not path.exists():
            continue
        assert path.exists(), f"{page}: broken link {link}"
        if anchor and path.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", path.read_text(), re.M)
            assert anchor in {github_slug(h) for h in headings}, f"{page}: no anchor {link}"


# ---- example outputs -------------------------------------------------------------------

def _cli_examples():
    name = "docs_cli_examples"  # tests/conftest.py may have loaded it already
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("cli_examples.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclass looks its module up there
        spec.loader.exec_module(module)
    return sys.modules[name]


examples_lib = _cli_examples()
normalise = examples_lib.normalise
is_progress_bar = examples_lib.is_progress_bar

_STALE = ("{page} example at line {line} ('{what}') is stale: run "
          "tests/docs/refresh_cli_examples.py and check the diff")


def documented_runs(doc: str) -> list[tuple[str, list[str]]]:
    """``(command, output lines)`` of every ``$ ...`` line in the fenced blocks of `doc`."""
    runs: list[tuple[str, list[str]]] = []
    fenced, current = False, None
    for line in (DOCS / doc).read_text().splitlines():
        if line.startswith("```"):
            fenced, current = not fenced, None  # output never runs past its block
            continue
        if not fenced:
            continue
        if line.startswith("$ "):
            current = (line[2:].split("  #", 1)[0].strip(), [])
            runs.append(current)
        elif current is not None and line.strip():
            current[1].append(line.rstrip())
    return runs


def _check_examples(page: Path, folder: Path, ran: tuple = ()) -> int:
    """Run `page`'s examples in document order in `folder`; return how many were checked.

    An example in `ran` was already run this session, in the same way in a folder of its
    own (tests/conftest.py): its output is compared and the files it made are copied in."""
    lib = examples_lib
    lib.scratch(folder)
    mask = not lib.installed_tools_documented(page)
    done = {run.command: run for run in ran}
    checked = 0
    for ex in lib.examples(page):
        what = ex.command or f"the file {ex.file}"
        if ex.command is not None:
            if ex.command in done:
                run = done.pop(ex.command)
                code, got = run.code, run.output
                shutil.copytree(run.folder, folder, dirs_exist_ok=True)
            else:
                code, got = lib.run(ex.command)
            assert code == lib.expected_exit(ex), f"{page.name}: '{ex.command}' exit {code}"
        else:
            got = (folder / ex.file).read_text().splitlines()
        assert lib.agrees(ex, got, mask_numbers=mask and ex.synthesis), \
            _STALE.format(page=page.name, line=ex.line_no, what=what) + \
            "\n--- documented\n" + "\n".join(ex.output) + "\n--- now\n" + "\n".join(got)
        checked += 1
    assert not done, f"{page.name} has no example {sorted(done)}"
    return checked


def test_every_cli_example_is_replayed():
    # Every `$ specaccel` line of cli.md is an example the test below runs and compares.
    commands = [ex.command for ex in examples_lib.examples(examples_lib.CLI_DOC)
                if ex.command]
    assert commands == example_lines(examples_lib.CLI_DOC.read_text())
    assert any(ex.file == "char.csv" for ex in examples_lib.examples(examples_lib.CLI_DOC))


def test_cli_examples_print_what_the_doc_shows(tmp_path, monkeypatch, board_build):
    # the bitstream example is built once a session: tests/hdl/test_board_parts.py checks
    # the bitstream it left
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "100")
    assert _check_examples(examples_lib.CLI_DOC, tmp_path, (board_build,)) >= 25


def test_readme_example_report_is_what_make_run_prints(tmp_path, monkeypatch):
    makefile = (DOCS.parent / "Makefile").read_text()
    assert "$(VENV)/bin/specaccel run --out $(OUT)" in makefile
    assert "OUT ?= specaccel-out" in makefile  # so `make run` is examples_lib.MAKE_RUN
    [report] = examples_lib.examples(examples_lib.README)
    assert report.command == examples_lib.MAKE_RUN and len(report.output) > 20
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "100")
    assert _check_examples(examples_lib.README, tmp_path) == 1


def test_a_stale_example_would_be_caught():
    lib = examples_lib
    ex = lib.Example("specaccel x", ["a  1", "b  2.5", "wall time: 1.0 s"], 0, 3)
    assert lib.agrees(ex, ["b  2.5", "a  1", "wall time: 7.3 s"])   # order, wall time
    assert not lib.agrees(ex, ["a  1", "b  2.6", "wall time: 1.0 s"])
    assert lib.agrees(ex, ["a  1", "b  2.6", "wall time: 1.0 s"], mask_numbers=True)
    assert not lib.agrees(ex, ["a  1", "c  2.6", "wall time: 1.0 s"], mask_numbers=True)
    cut = lib.Example("specaccel y", ["{", '  "x": 1,', "...", '  "z": 3', "}"], 0, 5)
    assert lib.agrees(cut, ["{", '  "x": 1,', '  "y": 2,', '  "z": 3', "}"])
    assert not lib.agrees(cut, ["{", '  "x": 1,', '  "y": 2,', '  "z": 4', "}"])
    assert lib.refreshed(cut, ["{", '  "x": 5,', '  "y": 2,', '  "z": 6', "}"]) == \
        ["{", '  "x": 5,', "...", '  "z": 6', "}"]


def _edit_first_request(src: Path, dst: Path, edit) -> None:
    import json

    lines = src.read_text().splitlines()
    header, first = json.loads(lines[0]), json.loads(lines[1])
    edit(header, first)
    dst.write_text("\n".join([json.dumps(header), json.dumps(first), *lines[2:]]) + "\n")


def _set(step: int, field: str, index: int, value):
    def edit(header, req):
        req["steps"][step][field][index] = value
    return edit


# The edits the comments in docs/trace-schema.md describe, one per documented error.
TRACE_EDITS = {
    "bad_parent.jsonl": _set(1, "parent", 3, 7),
    "bad_root.jsonl": _set(0, "parent", 0, 0),
    "bad_prob.jsonl": _set(2, "draft_prob", 4, 1.5),
    "bad_length.jsonl": lambda h, r: r["steps"][0].__setitem__(
        "token", r["steps"][0]["token"][:-1]),
    "missing_field.jsonl": lambda h, r: r["steps"][0].pop("target_token"),
    "bad_prompt.jsonl": lambda h, r: r.__setitem__("prompt_len", -3),
    "bad_version.jsonl": lambda h, r: h.__setitem__("schema_version", 2),
    "bad_verification.jsonl": lambda h, r: h.__setitem__("verification", "beam"),
}


def test_trace_schema_error_messages_are_real(tmp_path, monkeypatch, capsys):
    from specaccel.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["trace", "gen", "--requests", "2", "--steps", "8", "-o", "small.parquet"]) == 0
    assert main(["trace", "export", "small.parquet", "-o", "small.jsonl"]) == 0
    capsys.readouterr()
    runs = [(c, out) for c, out in documented_runs("trace-schema.md")
            if c.startswith("specaccel trace validate")]
    assert sorted(shlex.split(c)[-1] for c, _ in runs) == sorted(TRACE_EDITS)
    for command, expected in runs:
        name = shlex.split(command)[-1]
        _edit_first_request(tmp_path / "small.jsonl", tmp_path / name, TRACE_EDITS[name])
        assert main(shlex.split(command)[1:]) == 2, command
        err = capsys.readouterr().err.strip().splitlines()
        assert err == expected, f"docs/trace-schema.md: the message for {name} is stale"


def test_config_format_cost_examples_are_real(tmp_path, monkeypatch, capsys):
    from specaccel.cli import main

    runs = dict(documented_runs("config-format.md"))
    (tmp_path / "mistral-7b.json").write_text("\n".join(runs["cat mistral-7b.json"]) + "\n")
    (tmp_path / "broken.json").write_text('{"model_type": "llama", "hidden_size": 4096}\n')
    monkeypatch.chdir(tmp_path)
    checked = 0
    for command, expected in runs.items():
        if not command.startswith("specaccel cost"):
            continue
        cut = expected[-1] == "..."
        want_code = 2 if expected[0].startswith("specaccel: error:") else 0
        assert main(shlex.split(command)[1:]) == want_code, command
        cap = capsys.readouterr()
        got = [ln.rstrip() for ln in (cap.out + cap.err).splitlines() if ln.strip()]
        if cut:
            got, expected = got[:len(expected) - 1], expected[:-1]
        assert got == expected, f"docs/config-format.md output of '{command}' is stale"
        checked += 1
    assert checked == 4


def test_trace_schema_parquet_layout_matches_a_written_file(tmp_path):
    import pyarrow.parquet as pq

    from specaccel.workloads import generate_trace, write_trace

    write_trace(generate_trace("eagle-vicuna-7b-mtbench", n_requests=1, steps_per_request=2),
                tmp_path / "t.parquet")
    schema = pq.read_schema(tmp_path / "t.parquet")
    rows = marker_table("trace-schema.md", "parquet-columns")
    assert [(r[0], r[1]) for r in rows] == [(f.name, str(f.type)) for f in schema]
    text = (DOCS / "trace-schema.md").read_text()
    for key in schema.metadata:
        assert f"`{key.decode()}`" in text


def test_trace_schema_jsonl_shape_names_every_key(tmp_path):
    import json

    from specaccel.workloads import generate_trace, write_trace

    write_trace(generate_trace("eagle-vicuna-7b-mtbench", n_requests=1, steps_per_request=2),
                tmp_path / "t.jsonl")
    header, request = (json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines())
    text = (DOCS / "trace-schema.md").read_text()
    shape = text.split("Shape of the lines", 1)[1].split("```", 2)[1]
    keys = [*header, *request, *request["steps"][0]]
    assert all(f'"{k}"' in shape for k in keys), [k for k in keys if f'"{k}"' not in shape]
    assert f'"schema_version": {header["schema_version"]}' in shape
