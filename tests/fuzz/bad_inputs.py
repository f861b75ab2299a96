"""A catalogue of bad inputs, a sandbox to run them in, and their outcomes by kind.

Each case is a command line over files made in a sandbox folder from valid originals
(a Parquet and a JSONL trace, a sweep spec, a config.json), each mutated in one way a
user gets wrong.  :func:`run_case` runs the command in this process and classifies it:

``clean``     exit 2, stderr ending with the one-line error
``exit1``     exit 1 (the run "failed": bad input must never look like that)
``traceback`` an exception escaped, or "Traceback" was printed
``accepted``  exit 0 for an input that is wrong
``damaged``   a file outside the command's output paths changed, appeared or vanished
              (this is counted on top of the exit outcome)
``oom_or_hang`` (script only) the command ran out of its memory limit or time limit

Cases marked ``warn`` are computed-but-impossible numbers: exit 0 with a ``warning:`` line
and a JSON flag is their clean outcome.

Run as a script to print the counts (``python tests/fuzz/bad_inputs.py``); the script
needs only ``specaccel.cli.main`` and the trace writer, so it runs on older checkouts too.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

OUTCOMES = ("clean", "exit1", "traceback", "accepted", "damaged", "oom_or_hang")

SWEEP_SPEC = """[sweep]
name = "fz"
[fixed]
hardware = "specaccel-default"
[axes]
array_rows = [32, 64]
[[workloads]]
preset = "eagle-vicuna-7b-mtbench"
requests = 1
steps = 2
"""

HF_CONFIG = {"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32,
             "num_attention_heads": 32, "num_key_value_heads": 32,
             "intermediate_size": 11008, "vocab_size": 32000}


@dataclass
class Case:
    """One bad input: a command line (``{name}`` = a sandbox file) and what it gets wrong."""

    name: str
    argv: list[str]
    outputs: tuple[str, ...] = ()       # sandbox names the command may write
    warn: bool = False                  # exit 0 + warning flag is the right outcome
    files: dict[str, Callable[[Path], None]] = field(default_factory=dict)


# ---------------------------------------------------------------------------- sandbox
def make_originals(root: Path) -> None:
    """The valid inputs every mutation starts from."""
    from specaccel.workloads import generate_trace, write_trace

    trace = generate_trace(n_requests=2, steps_per_request=3, seed=0)
    write_trace(trace, root / "t.parquet")
    write_trace(trace, root / "t.jsonl")
    (root / "spec.toml").write_text(SWEEP_SPEC)
    (root / "config.json").write_text(json.dumps(HF_CONFIG))
    (root / "notes.txt").write_text("a user's notes\n")
    (root / "adir").mkdir(exist_ok=True)


def snapshot(root: Path) -> dict[str, str]:
    """Every file under `root` by relative path, with a hash of its bytes."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def fill(argv: list[str], root: Path) -> list[str]:
    return [a.replace("{", str(root) + "/").replace("}", "") if "{" in a else a for a in argv]


@dataclass
class Outcome:
    case: str
    code: int | None
    kind: str
    damaged: list[str]
    err: str


def run_case(case: Case, root: Path) -> Outcome:
    """Run `case` in the sandbox `root` (made by :func:`make_originals`)."""
    from specaccel.cli import main

    for name, make in case.files.items():
        make(root / name)
    before = snapshot(root)
    out, err = io.StringIO(), io.StringIO()
    code: int | None = None
    escaped = False
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(fill(case.argv, root))
        except SystemExit as exc:  # argparse's own exit
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException as exc:  # noqa: BLE001 - that is what we count
            escaped = True
            err.write(f"Traceback (escaped): {type(exc).__name__}: {exc}\n")
    after = snapshot(root)
    allowed = {o for o in case.outputs} | set(case.files)
    changed = sorted(k for k in set(before) | set(after)
                     if before.get(k) != after.get(k) and not _allowed(k, allowed))
    text = err.getvalue()
    if escaped or "Traceback" in text:
        kind = "traceback"
    elif code == 1:
        kind = "exit1"
    elif code == 0:
        kind = "clean" if case.warn and _flagged(out.getvalue()) else "accepted"
    elif code == 2 and text.strip().splitlines()[-1:] != [] and (
            text.strip().splitlines()[-1].startswith(("specaccel: error:", "specaccel "))):
        kind = "clean"  # exit 2, ending with the one-line error (after any progress lines)
    else:
        kind = "exit1" if code not in (0, 2) else "accepted"
    return Outcome(case.name, code, kind, changed, text.strip()[:300])


def _allowed(path: str, allowed: set[str]) -> bool:
    return any(path == a or path.startswith(a.rstrip("/") + "/") for a in allowed)


def _flagged(stdout: str) -> bool:
    return "warning:" in stdout or '"warnings"' in stdout


# ---------------------------------------------------------------------------- mutations
def jsonl_edit(edit: Callable[[list], list | None]) -> Callable[[Path], None]:
    """A JSONL trace made from t.jsonl by `edit` on its decoded lines (str = raw line)."""
    def make(path: Path) -> None:
        header, *reqs = (path.parent / "t.jsonl").read_text().splitlines()
        lines: list = [json.loads(x) for x in [header, *reqs]]
        lines = edit(lines) or lines
        path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x)
                                  for x in lines) + "\n")
    return make


def parquet_edit(edit: Callable) -> Callable[[Path], None]:
    """A Parquet trace made from t.parquet by `edit(table) -> table`."""
    def make(path: Path) -> None:
        import pyarrow.parquet as pq

        pq.write_table(edit(pq.read_table(path.parent / "t.parquet")), path)
    return make


def text_file(text: str | Callable[[Path], str]) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.write_text(text(path) if callable(text) else text)
    return make


def config(**change) -> Callable[[Path], None]:
    return text_file(json.dumps({**HF_CONFIG, **change}))


def spec(old: str, new: str) -> Callable[[Path], None]:
    assert old in SWEEP_SPEC, old
    return text_file(SWEEP_SPEC.replace(old, new))


def _set(path: tuple, value) -> Callable[[list], None]:
    def edit(lines: list) -> None:
        obj = lines
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value
    return edit


def _meta(key: str, value) -> Callable[[list], None]:
    return _set((0, "metadata", key), value)


def _pq_set_column(name: str, build: Callable) -> Callable:
    def edit(table):
        i = table.schema.get_field_index(name)
        return table.set_column(i, name, build(table))
    return edit


def _pq_meta(key: bytes, value: bytes | Callable[[dict], bytes]) -> Callable:
    def edit(table):
        meta = dict(table.schema.metadata)
        meta[key] = value(meta) if callable(value) else value
        return table.replace_schema_metadata(meta)
    return edit


def _pq_parent_wide(table):
    import pyarrow as pa

    col = table.column("parent").combine_chunks()
    values = col.flatten().cast(pa.int64()).to_numpy().copy()
    values[1] = 2**40 + 1
    return pa.LargeListArray.from_arrays(col.offsets, pa.array(values))


def _pq_metadata_json(meta: dict, **change) -> bytes:
    inner = json.loads(meta[b"specaccel.metadata"])
    inner.update(change)
    return json.dumps(inner).encode()


def trace_cases() -> list[Case]:
    """Bad traces, each run through validate, info and simulate."""
    import pyarrow as pa

    jsonl: dict[str, Callable[[list], list | None]] = {
        "misspelt optional step key": _set((1, "steps", 0, "recorded_acceptd"), 2),
        "unknown request key": _set((1, "colour"), "blue"),
        "unknown header key": _set((0, "colour"), "blue"),
        "garbage line": lambda ls: [ls[0], ls[1], "garbage{", *ls[2:]],
        "empty trace": lambda ls: [{**ls[0], "requests": 0}],
        "prompt_len past 64 bits": _set((1, "prompt_len"), 10**30),
        "token past 64 bits": _set((1, "steps", 1, "token", 2), 2**70),
        "parent past 32 bits": _set((1, "steps", 1, "parent", 2), 2**40),
        "recorded_accepted past 32 bits": _set((1, "steps", 0, "recorded_accepted"), 2**40),
        "arrival 1e400": _set((1, "arrival_s"), 10**400),
        "NaN literal": lambda ls: [ls[0], json.dumps(ls[1]).replace(
            '"draft_prob": [1.0', '"draft_prob": [NaN', 1), *ls[2:]],
        "nested too deep": lambda ls: [ls[0], "[" * 100000 + "]" * 100000, *ls[2:]],
        "requests not an integer": _set((0, "requests"), "2"),
        "unknown drafting": _meta("drafting", "bogus"),
        "target model not a string": _meta("target_model", 123),
        "unknown target model": _meta("target_model", "no-such-model"),
        "negative extra query tokens": _meta("extra_query_tokens_per_step", -3),
    }
    parquet: dict[str, Callable] = {
        "extra column": lambda t: t.append_column("colour", pa.array(["x"] * t.num_rows)),
        "zero rows": lambda t: t.slice(0, 0),
        "parent past 32 bits": _pq_set_column("parent", _pq_parent_wide),
        "recorded_accepted past 32 bits": _pq_set_column(
            "recorded_accepted", lambda t: pa.array([2**40] * t.num_rows, pa.int64())),
        "unknown specaccel key": _pq_meta(b"specaccel.colour", b"blue"),
        "NaN in metadata": _pq_meta(b"specaccel.metadata", b'{"x": NaN}'),
        "unknown drafting": _pq_meta(b"specaccel.metadata",
                                     lambda m: _pq_metadata_json(m, drafting="bogus")),
    }
    # Metadata the simulator cannot use leaves a trace readable: `trace info` summarises
    # it with a warning (JSON: replayable false); validate and simulate refuse it.
    metadata_only = {"unknown drafting", "target model not a string", "unknown target model"}
    cases = []
    for label, edit in jsonl.items():
        name = "bad_" + label.replace(" ", "_") + ".jsonl"
        for cmd in (["trace", "validate"], ["trace", "info"]):
            cases.append(Case(f"jsonl {label}: {' '.join(cmd)}", [*cmd, "{" + name + "}"],
                              files={name: jsonl_edit(edit)},
                              warn=cmd[1] == "info" and label in metadata_only))
        cases.append(Case(f"jsonl {label}: simulate",
                          ["simulate", "--trace", "{" + name + "}", "--hw", "a100-80gb"],
                          files={name: jsonl_edit(edit)}))
    for label, edit in parquet.items():
        name = "bad_" + label.replace(" ", "_") + ".parquet"
        for cmd in (["trace", "validate"], ["trace", "info"]):
            cases.append(Case(f"parquet {label}: {' '.join(cmd)}", [*cmd, "{" + name + "}"],
                              files={name: parquet_edit(edit)},
                              warn=cmd[1] == "info" and label in metadata_only))
        cases.append(Case(f"parquet {label}: simulate",
                          ["simulate", "--trace", "{" + name + "}", "--hw", "a100-80gb"],
                          files={name: parquet_edit(edit)}))
    return cases


def config_cases() -> list[Case]:
    bad = {
        "heads do not divide hidden size": config(num_attention_heads=30,
                                                  num_key_value_heads=30),
        "zero KV heads": config(num_key_value_heads=0),
        "KV heads do not divide heads": config(num_key_value_heads=5),
        "zero intermediate size": config(intermediate_size=0),
        "zero head_dim": config(head_dim=0),
        "more experts per token than experts": config(num_local_experts=2,
                                                      num_experts_per_tok=4),
        "hidden size a string": config(hidden_size="x"),
        "negative layers": config(num_hidden_layers=-1),
        "zero vocabulary": config(vocab_size=0),
        "not JSON": text_file("{model_type: llama"),
        "a list": text_file("[1, 2]"),
    }
    cases = [Case(f"config.json {k}", ["cost", "--model", "{cfg.json}"], files={"cfg.json": v})
             for k, v in bad.items()]
    cases.append(Case("tp does not divide the heads", ["cost", "--tp", "3"]))
    cases.append(Case("tp 5 on a config", ["cost", "--model", "{config.json}", "--tp", "5"]))
    return cases


def spec_cases() -> list[Case]:
    bad = {
        "unknown key": spec('name = "fz"', 'nmae = "fz"'),
        "range without step": spec("array_rows = [32, 64]",
                                   "array_rows = { start = 32, stop = 64 }"),
        "oversized random search": spec(
            "[axes]", '[search]\nstrategy = "random"\nsamples = 20000000\n[axes]'),
        "negative axis value": spec("array_rows = [32, 64]", "array_rows = [-32, 64]"),
        "string axis value": spec("array_rows = [32, 64]", 'array_rows = ["a", 64]'),
        "duplicate key": spec('name = "fz"', 'name = "fz"\nname = "fy"'),
        "empty file": text_file(""),
        "not TOML": text_file("[[[\n"),
        "NaN value": spec("array_rows = [32, 64]", "sram_mib = [nan]"),
        "huge requests": spec("requests = 1", f"requests = {10**12}"),
        "zero steps": spec("steps = 2", "steps = 0"),
        "unknown workload key": spec("steps = 2", "steps = 2\ncolour = 1"),
    }
    return [Case(f"sweep spec {k}", ["sweep", "{s.toml}", "--out", "{sw}", "--workers", "1",
                                     "--json"], outputs=("sw",), files={"s.toml": v})
            for k, v in bad.items()]


def _results(kind: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        from specaccel.analysis.results_store import ResultsStore

        store = ResultsStore(path, columns=["key", "tokens_per_s"])
        if kind == "empty":
            store.save_spec("", {"name": "e", "axes": [], "metrics": ["tokens_per_s"]})
        if kind == "good":
            store.save_spec("", {"name": "g", "axes": [], "metrics": ["tokens_per_s"]})
            store.append([{"key": "a", "tokens_per_s": 1.0}, {"key": "b", "tokens_per_s": 2.0}])
    return make


def _mkdir(path: Path) -> None:
    path.mkdir(exist_ok=True)


def option_cases() -> list[Case]:
    t = "{t.parquet}"
    sim = ["simulate", "--trace", t, "--hw", "a100-80gb"]
    gen = ["trace", "gen", "--requests", "1", "--steps", "2", "-o"]
    def copy_trace(path: Path) -> None:
        path.write_bytes((path.parent / "t.parquet").read_bytes())

    cases = [
        Case("--gantt-window without --gantt", [*sim, "--gantt-window", "0,1"]),
        Case("--seed without --arrivals", [*sim, "--seed", "3"]),
        Case("negative --seed", [*sim, "--arrivals", "poisson:5", "--seed", "-1"]),
        Case("--max-gamma without --cost-ratio",
             ["theory", "--alpha", "0.8", "--gamma", "4", "--max-gamma", "8"]),
        Case("--workers with --scheduler", ["sweep", "{spec.toml}", "--out", "{sw}",
                                            "--workers", "2", "--scheduler", "tcp://h:1"],
             outputs=("sw",)),
        Case("--target-times with --model", [
            "tree", "optimize", "--acceptance", "0.8,0.1", "--max-nodes", "8",
            "--draft-time", "0.001", "--target-times", "0.01", "--model", "llama-2-7b"]),
        Case("report on an empty folder", ["report", "{adir}"]),
        Case("report on a half-written folder", ["report", "{half}"], outputs=("half",),
             files={"half": _results("half")}),
        Case("report on a folder with no points", ["report", "{empty}"], outputs=("empty",),
             files={"empty": _results("empty")}),
        Case("report duplicate Pareto metric",
             ["report", "{good}", "--pareto", "tokens_per_s:max,tokens_per_s:max"],
             outputs=("good",), files={"good": _results("good")}),
        Case("report --out over a Parquet trace",
             ["report", "{good}", "--out", "{trace.html}"], outputs=("good",),
             files={"good": _results("good"), "trace.html": copy_trace}),
        Case("report --out over user notes", ["report", "{good}", "--out", "{notes.txt}"],
             outputs=("good",), files={"good": _results("good")}),
        Case("trace gen into a missing folder", [*gen, "{no/such/t.parquet}"]),
        Case("trace gen into a file's 'folder'", [*gen, "{notes.txt/t.parquet}"]),
        Case("trace gen onto a folder", [*gen, "{adir}"]),
        Case("trace gen onto /dev/null", [*gen, "/dev/null"]),
        Case("trace gen over the notes", [*gen, "{notes.txt}"]),
        Case("trace gen empty path", [*gen, ""]),
        Case("trace export onto its input", ["trace", "export", t, "-o", t]),
        Case("trace export over the JSONL trace as Parquet",
             ["trace", "export", t, "-o", "{jsonl_named.parquet}"],
             files={"jsonl_named.parquet": lambda p: p.write_bytes(
                 (p.parent / "t.jsonl").read_bytes())}),
        Case("run --out a file", ["run", "--requests", "1", "--steps", "2", "--out",
                                  "{notes.txt}"]),
        Case("simulate --timeline a folder", [*sim, "--timeline", "{adir}/"]),
        Case("simulate --gantt not a PNG", [*sim, "--gantt", "{g.txt}"]),
        Case("simulate --gantt over the trace", [*sim, "--gantt", "{t.parquet}"]),
        Case("simulate oversized --requests", [*sim, "--requests", str(10**9)]),
        Case("hdl generate over the trace", ["hdl", "generate", "--unit", "tree_mask",
                                             "--nodes", "4", "-o", t]),
        Case("hdl characterise --output over the notes",
             ["hdl", "characterise", "--units", "tree_mask", "--nodes", "4", "-o",
              "{notes.txt}"]),
        Case("sweep --out a file", ["sweep", "{spec.toml}", "--out", "{notes.txt}",
                                    "--workers", "1"]),
        Case("70B weights on a 24 GB card", ["cost", "--model", "llama-2-70b", "--hw", "l4",
                                             "--json"], warn=True),
    ]
    return cases


def accel_file(text: str) -> Callable[[Path], None]:
    return text_file(text)


def newer_option_cases() -> list[Case]:
    """Options that landed after the first catalogue: the method registry (``--method``,
    ``--tau``, ``methods``), accelerator designs (``--accel``, ``--accel-file``), GEMMs on
    the array (``cost --gemm``), tensor parallelism and the rest of ``cost``, the
    simulator's engines and serving options, trace import and the RTL commands."""
    t = "{t.parquet}"
    sim = ["simulate", "--trace", t, "--hw", "a100-80gb"]
    acc = ["simulate", "--trace", t]
    gen = ["trace", "gen", "--requests", "1", "--steps", "2", "-o", "{out.parquet}"]
    run = ["run", "--requests", "1", "--steps", "2", "--out", "{ro}"]
    cost = ["cost", "--model", "llama-2-7b"]
    synth = ["hdl", "synth", "--unit", "tree_mask"]
    out = ("out.parquet",)
    return [
        # the method registry
        Case("methods of an unknown method", ["methods", "no-such-method"]),
        Case("trace gen unknown --method", [*gen, "--method", "no-such-method"], outputs=out),
        Case("trace gen --preset of another --method",
             [*gen, "--method", "sequoia", "--preset", "eagle-vicuna-7b-mtbench"],
             outputs=out),
        Case("trace gen --tau 0", [*gen, "--tau", "0"], outputs=out),
        Case("trace gen --tau nan", [*gen, "--tau", "nan"], outputs=out),
        Case("trace gen --tau above the tree's depth + 1", [*gen, "--tau", "50"],
             outputs=out),
        Case("trace gen --tau on a real-text preset",
             [*gen, "--preset", "chain-thompson", "--tau", "2"], outputs=out),
        Case("run --tau negative", [*run, "--tau", "-1"], outputs=("ro",)),
        Case("run unknown --method", [*run, "--method", "bogus"], outputs=("ro",)),
        # accelerator designs
        Case("--accel without =", [*acc, "--accel", "array_rows"]),
        Case("--accel unknown parameter", [*acc, "--accel", "array_rowz=64"]),
        Case("--accel zero rows", [*acc, "--accel", "array_rows=0"]),
        Case("--accel not a number", [*acc, "--accel", "array_rows=many"]),
        Case("--accel unknown dataflow", [*acc, "--accel", "dataflow=diagonal"]),
        Case("--accel weight SRAM larger than SRAM",
             [*acc, "--accel", "sram_mib=64", "--accel", "weight_sram_mib=128"]),
        Case("--accel given twice", [*acc, "--accel", "array_rows=32", "--accel",
                                     "array_rows=64"]),
        Case("--accel with a GPU --hw", [*sim, "--accel", "array_rows=64"]),
        Case("cost --accel with a GPU --hw",
             [*cost, "--hw", "a100-80gb", "--accel", "array_rows=64"]),
        Case("--accel-file missing", [*acc, "--accel-file", "{no_such.toml}"]),
        Case("--accel-file unknown key", [*acc, "--accel-file", "{a.toml}"],
             files={"a.toml": accel_file("array_rowz = 64\n")}),
        Case("--accel-file not TOML", [*acc, "--accel-file", "{a.toml}"],
             files={"a.toml": accel_file("array_rows = = 64\n")}),
        Case("--accel-file a folder", [*acc, "--accel-file", "{adir}"]),
        Case("run --accel negative clock", [*run, "--accel", "clock_hz=-1"],
             outputs=("ro",)),
        # GEMMs on the array
        Case("cost --gemm with a zero dimension", ["cost", "--gemm", "0x64x64"]),
        Case("cost --gemm with two dimensions", ["cost", "--gemm", "64x64"]),
        Case("cost --gemm not numbers", ["cost", "--gemm", "axbxc"]),
        Case("cost --gemm astronomically large", ["cost", "--gemm", "1e30x64x64"]),
        Case("cost --gemm on a GPU", ["cost", "--gemm", "64x64x64", "--hw", "a100-80gb"]),
        Case("cost --gemm with --model", ["cost", "--gemm", "64x64x64", "--model",
                                          "llama-2-7b"]),
        # the rest of cost
        Case("cost --tp 0", [*cost, "--tp", "0"]),
        Case("cost --tp negative", [*cost, "--tp", "-2"]),
        Case("cost --batch 0", [*cost, "--batch", "0"]),
        Case("cost --context negative", [*cost, "--context", "-5"]),
        Case("cost --layers beyond the model", [*cost, "--layers", "1000"]),
        Case("cost --block-size without --pass diffusion-block", [*cost, "--block-size",
                                                                  "32"]),
        Case("cost --pass diffusion-block without --block-size",
             ["cost", "--model", "llada-8b", "--pass", "diffusion-block"]),
        Case("cost diffusion block larger than the context",
             ["cost", "--model", "llada-8b", "--pass", "diffusion-block", "--block-size",
              "32", "--context", "8", "--suffix", "-4"]),
        # simulator engines and serving
        Case("simulate --verify-nodes 0", [*sim, "--verify-nodes", "0"]),
        Case("simulate --verify-nodes smaller than the trees", [*acc, "--hw",
                                                                "specaccel-default",
                                                                "--verify-nodes", "3"]),
        Case("simulate --pipelined in a serving run", [*sim, "--pipelined", "--arrivals",
                                                       "poisson:5", "--batch", "2"]),
        Case("simulate --engine fast with Poisson arrivals",
             [*sim, "--engine", "fast", "--arrivals", "poisson:5", "--batch", "2"]),
        Case("simulate --kv-capacity smaller than one request", [*sim, "--kv-capacity",
                                                                 "100"]),
        Case("simulate --kv-capacity 0", [*sim, "--kv-capacity", "0"]),
        Case("simulate --batch 0", [*sim, "--batch", "0"]),
        Case("simulate --requests 0", [*sim, "--arrivals", "poisson:5", "--requests", "0"]),
        Case("simulate --seed with trace arrivals", [*sim, "--arrivals", "trace", "--seed",
                                                     "3"]),
        Case("simulate --token-budget 0", [*sim, "--arrivals", "poisson:5",
                                           "--token-budget", "0"]),
        Case("simulate --arrivals poisson:0", [*sim, "--arrivals", "poisson:0"]),
        Case("simulate --arrivals poisson:abc", [*sim, "--arrivals", "poisson:abc"]),
        # trace import
        Case("trace import of a file that is not a log",
             ["trace", "import", "--format", "spec-bench", "{notes.txt}", "-o",
              "{out.parquet}"], outputs=out),
        Case("trace import of an empty file",
             ["trace", "import", "--format", "spec-bench", "{empty.jsonl}", "-o",
              "{out.parquet}"], outputs=out, files={"empty.jsonl": text_file("")}),
        Case("trace import negative --question-tokens",
             ["trace", "import", "--format", "spec-bench", "{notes.txt}", "-o",
              "{out.parquet}", "--question-tokens", "-1"], outputs=out),
        # tree search
        Case("tree optimize acceptance above 1", [
            "tree", "optimize", "--acceptance", "1.5,0.2", "--max-nodes", "8",
            "--draft-time", "0.001", "--target-times", "0.01"]),
        Case("tree optimize --budgets 0", [
            "tree", "optimize", "--acceptance", "0.8,0.2", "--max-nodes", "8",
            "--draft-time", "0.001", "--model", "llama-2-7b", "--budgets", "0"]),
        # RTL
        Case("hdl synth --nodes 1", [*synth, "--nodes", "1"]),
        Case("hdl synth --nodes beyond the cap", [*synth, "--nodes", "100000"]),
        Case("hdl synth --token-width 0", [*synth, "--nodes", "4", "--token-width", "0"]),
        Case("hdl synth unknown device", [*synth, "--nodes", "4", "--device", "asic"]),
        Case("hdl synth --build-dir over the notes",
             [*synth, "--nodes", "4", "--build-dir", "{notes.txt}"]),
        Case("hdl characterise duplicate N", ["hdl", "characterise", "--units", "tree_mask",
                                              "--nodes", "4,4", "-o", "{c.csv}"],
             outputs=("c.csv",)),
        Case("hdl characterise unknown unit", ["hdl", "characterise", "--units", "bogus",
                                               "--nodes", "4"]),
        Case("hdl generate --nodes not a number", ["hdl", "generate", "--unit", "tree_mask",
                                                   "--nodes", "four"]),
        Case("hdl generate --chunk for a unit without lanes",
             ["hdl", "generate", "--unit", "tree_mask", "--nodes", "4", "--chunk", "8"]),
        Case("hdl generate --lfsr-seed in greedy mode",
             ["hdl", "generate", "--unit", "tree_verify", "--nodes", "4", "--lfsr-seed", "7"]),
        Case("hdl generate --lfsr-seed 0", ["hdl", "generate", "--unit", "tree_verify",
                                            "--nodes", "4", "--mode", "stochastic",
                                            "--uniform-source", "lfsr", "--lfsr-seed", "0"]),
        Case("hdl generate unknown --mode", ["hdl", "generate", "--unit", "tree_verify",
                                             "--nodes", "4", "--mode", "beam"]),
        Case("hdl generate --slot-width 0", ["hdl", "generate", "--unit", "kv_compact",
                                             "--nodes", "4", "--slot-width", "0"]),
        Case("hdl prove unknown unit", ["hdl", "prove", "--unit", "bogus"]),
        Case("hdl prove without --unit", ["hdl", "prove"]),
        Case("hdl prove --json onto nothing", ["hdl", "prove", "--unit", "tree_mask",
                                               "--nodes", "4"]),
        Case("hdl characterise --chunk for a unit without lanes",
             ["hdl", "characterise", "--units", "tree_mask", "--nodes", "4", "--chunk", "8"]),
    ]


def all_cases() -> list[Case]:
    return [*trace_cases(), *config_cases(), *spec_cases(), *option_cases(),
            *newer_option_cases()]


def _run_limited(case: Case, box: Path, memory_bytes: int, seconds: int) -> Outcome:
    """:func:`run_case` in a forked child with a memory and a time limit."""
    import multiprocessing as mp
    import resource

    def child(conn) -> None:
        # The data limit (heap and private writable mappings: NumPy's arrays), not the
        # address space: the WebAssembly runtime of the yowasp synthesis tools reserves
        # many GiB of address space it never touches, and would fail under RLIMIT_AS.
        resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
        try:
            r = run_case(case, box)
        except MemoryError:
            r = Outcome(case.name, None, "oom_or_hang", [], "MemoryError")
        conn.send(r)

    ctx = mp.get_context("fork")
    parent, conn = ctx.Pipe()
    proc = ctx.Process(target=child, args=(conn,))
    proc.start()
    if parent.poll(seconds):
        r = parent.recv()
    else:
        r = Outcome(case.name, None, "oom_or_hang", [], f"no answer in {seconds} s")
    proc.kill()
    proc.join()
    return r


def count(root: Path, cases: list[Case] | None = None, *, memory_bytes: int = 6 << 30,
          seconds: int = 300) -> tuple[Counter, list[Outcome]]:
    """Run every case in a fresh copy of the originals, each in a child process with a
    memory and time limit; counts by outcome."""
    import shutil

    counts: Counter = Counter({k: 0 for k in OUTCOMES})
    results = []
    for i, case in enumerate(cases or all_cases()):
        box = root / f"case{i:03d}"
        shutil.rmtree(box, ignore_errors=True)
        box.mkdir(parents=True)
        make_originals(box)
        r = _run_limited(case, box, memory_bytes, seconds)
        counts[r.kind] += 1
        if r.damaged:
            counts["damaged"] += 1
        results.append(r)
        shutil.rmtree(box, ignore_errors=True)
    return counts, results


if __name__ == "__main__":  # pragma: no cover - the counting script
    import tempfile

    os.environ.setdefault("MPLBACKEND", "Agg")
    with tempfile.TemporaryDirectory() as tmp:
        counts, results = count(Path(tmp))
    for r in results:
        if r.kind != "clean" or r.damaged:
            print(f"{r.kind:9s} {r.case}: exit {r.code}; {r.err[:160]!r}"
                  + (f"; damaged {r.damaged}" if r.damaged else ""))
    print(f"{len(results)} bad inputs: " + ", ".join(f"{k} {counts[k]}" for k in OUTCOMES))
    sys.exit(0)
