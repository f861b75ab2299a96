"""The sweep specification (a TOML file), validated up front with line-precise errors.

Layout (docs/sweeps.md has the full reference)::

    [sweep]
    name = "pe-array"
    metrics = ["tokens_per_s", "energy_per_token_j", "area_mm2"]   # default: a useful set
    engine = "auto"          # auto | fast | event
    baseline = true          # simulate the autoregressive baseline (speedup)
    batch_size = 64          # points per results part file

    [search]                 # optional; default strategy = "grid"
    strategy = "grid"        # grid | random | successive-halving
    samples = 100            # random / successive-halving: candidates drawn
    seed = 0
    objective = "tokens_per_s"   # successive-halving: what to rank by
    maximize = true
    eta = 3                  # successive-halving: keep 1/eta per rung
    min_steps = 10           # successive-halving: trace steps on the first rung

    [fixed]                  # parameters every point shares
    hardware = "specaccel-default"

    [axes]                   # parameters that vary
    array_rows = [32, 64, 128]                               # a grid list
    sram_mib = { start = 32, stop = 128, step = 32 }         # a range (stop included)
    clock_hz = { low = 0.8e9, high = 1.6e9, samples = 3 }    # seeded random samples
    hbm_stacks = { low = 2, high = 8, integer = true }       # random strategy only

    [[workloads]]            # one or more; each is an implicit axis value
    preset = "eagle-vicuna-7b-mtbench"                # or: trace = "path.parquet"
    requests = 10
    steps = 100

    [constraints]            # for the analysis: best design, feasible set
    area_mm2 = { max = 400 }
    power_w = 300            # shorthand for { max = 300 }

Every error names the file, the line of the offending key and the field
(:class:`~specaccel.schema.errors.InputError`, exit code 2).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from specaccel.analysis import design_point as dp
from specaccel.schema import progress
from specaccel.schema.config_fields import field_names
from specaccel.schema.errors import InputError

STRATEGIES = ("grid", "random", "successive-halving")
TOP_LEVEL = ("sweep", "search", "fixed", "axes", "workloads", "constraints")
SWEEP_KEYS = ("name", "metrics", "engine", "baseline", "batch_size")
SEARCH_KEYS = ("strategy", "samples", "seed", "objective", "maximize", "eta", "min_steps")
WORKLOAD_KEYS = ("name", "preset", "method", "trace", "requests", "steps", "seed", "tree",
                 "tau", "target", "draft")
RESERVED_AXES = ("workload", "preset", "trace_file", "trace_seed")
MAX_POINTS = 10_000_000
#: Largest integer a parameter may have: 2**53, the largest every float64 holds exactly
#: (TOML allows 64-bit integers; 1e20 overflowed NumPy's C long mid-sweep).
MAX_EXACT_INT = 1 << 53


@dataclass(frozen=True)
class Axis:
    """One swept parameter.

    Attributes
    ----------
    name:
        Parameter name (:func:`specaccel.analysis.design_point.parameter_names`).
    values:
        The grid values (a list, a range, or the seeded samples of a random axis).
    low, high, log, integer:
        For a random axis: the interval, log-uniform sampling, integer values.
    random:
        True for an axis given by ``low``/``high``.
    """

    name: str
    values: tuple[Any, ...] = ()
    low: float = math.nan
    high: float = math.nan
    log: bool = False
    integer: bool = False
    random: bool = False

    def sample(self, rng: np.random.Generator) -> Any:
        """One random value (a random axis: from its interval; a grid axis: a value)."""
        if not self.random or self.values and not math.isfinite(self.low):
            return self.values[int(rng.integers(len(self.values)))]
        if self.log:
            x = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            x = rng.uniform(self.low, self.high)
        if self.integer:
            return int(min(max(round(x), math.ceil(self.low)), math.floor(self.high)))
        return float(x)


@dataclass(frozen=True)
class Workload:
    """One workload: a preset (synthetic, seeded) or a trace file, plus its parameters;
    `drafting` names its drafting mode and `runs_draft_model` says whether that mode runs
    a draft model (``"draft-free"`` does not)."""

    name: str
    params: dict[str, Any]
    drafting: str
    runs_draft_model: bool


@dataclass(frozen=True)
class Constraint:
    """``min <= metric <= max`` (either bound may be absent)."""

    metric: str
    min: float | None = None
    max: float | None = None

    def describe(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f"{self.metric} >= {self.min:g}")
        if self.max is not None:
            parts.append(f"{self.metric} <= {self.max:g}")
        return " and ".join(parts)


@dataclass(frozen=True)
class Search:
    """The search strategy and its settings."""

    strategy: str = "grid"
    samples: int = 0
    seed: int = 0
    objective: str = "tokens_per_s"
    maximize: bool = True
    eta: int = 3
    min_steps: int = 10


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep specification (see the module docstring)."""

    path: str
    name: str
    axes: tuple[Axis, ...]
    fixed: dict[str, Any]
    workloads: tuple[Workload, ...]
    settings: dp.EvalSettings
    constraints: tuple[Constraint, ...] = ()
    search: Search = field(default_factory=Search)
    batch_size: int = 64
    text: str = ""

    @property
    def axis_names(self) -> list[str]:
        """Swept parameter names, plus ``workload`` when there are several."""
        names = [a.name for a in self.axes]
        return (["workload"] if len(self.workloads) > 1 else []) + names

    def points(self) -> list[dict[str, Any]]:
        """Every point of a grid or random sweep (successive halving: its first candidates
        at full budget; :mod:`.sweep_runner` runs the rungs)."""
        if self.search.strategy == "grid":
            combos = itertools.product(*[a.values for a in self.axes])
            values = [dict(zip([a.name for a in self.axes], c, strict=True)) for c in combos]
        else:
            rng = np.random.default_rng(self.search.seed)
            values = [{a.name: a.sample(rng) for a in self.axes}
                      for _ in range(self.search.samples)]
        return [self.point(w, v) for v in values for w in self.workloads]

    def point(self, workload: Workload, values: dict[str, Any]) -> dict[str, Any]:
        """The full parameter dict of one point."""
        return {**workload.params, **self.fixed, **values}


def point_key(point: dict[str, Any], settings: dp.EvalSettings) -> str:
    """The point's key: SHA-256 of its full configuration (parameters, the content of a
    trace file, and the evaluation settings), as 24 hex digits."""
    import json

    config = {"point": {k: point[k] for k in sorted(point)}, "settings": settings.to_dict()}
    tf = point.get("trace_file")
    if tf:
        config["trace_sha256"] = _file_sha256(str(tf))
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


_SHA_CACHE: dict[str, str] = {}


def _file_sha256(path: str) -> str:
    if path not in _SHA_CACHE:
        _SHA_CACHE[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return _SHA_CACHE[path]


# ------------------------------------------------------------------------ locating keys
class _Locator:
    """Finds the line of a key in the TOML text (for schema errors)."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"^\s*(\"[^\"]*\"|'[^']*'|[A-Za-z0-9_\-]+)\s*=")

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def line(self, table: str | None, key: str | None = None, index: int | None = None
             ) -> int | None:
        current: str | None = None
        count: dict[str, int] = {}
        header_line = None
        for no, raw in enumerate(self.lines, 1):
            m = self._HEADER.match(raw)
            if m:
                current = m.group(2).replace('"', "").replace("'", "").strip()
                if m.group(1) == "[[":
                    count[current] = count.get(current, -1) + 1
                if self._in(current, count, table, index):
                    header_line = header_line or no
                if table is None and key is not None and current.split(".")[0] == key:
                    return no  # a top-level table given as a [header]
                continue
            if key is None:
                continue
            k = self._KEY.match(raw)
            if not k or k.group(1).strip("\"'") != key:
                continue
            if self._in(current, count, table, index) or (table is None and current is None):
                return no
        return header_line

    @staticmethod
    def _in(current: str | None, count: dict[str, int], table: str | None,
            index: int | None) -> bool:
        if current != table:
            return False
        return index is None or count.get(current, -1) == index

    def error(self, reason: str, table: str | None, key: str | None = None,
              index: int | None = None, field: str | None = None) -> InputError:
        no = self.line(table, key, index)
        if field is None:
            parts = [p for p in (table if index is None else f"{table}[{index}]", key) if p]
            field = ".".join(parts) if parts else None
        where = (f"line {no}",) if no is not None else ()
        return InputError(reason, file=self.path, where=where, field=field)


# ------------------------------------------------------------------------ parsing
def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep spec; raises :class:`InputError` at the first problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", file=str(path)) from None
    return parse_spec(text, str(path), base_dir=p.resolve().parent)


def parse_spec(text: str, path: str = "<spec>", *, base_dir: Path | None = None
               ) -> SweepSpec:
    """Validate the TOML `text` of a sweep spec (`path` is only used in messages)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        where = (f"line {m.group(1)}", f"column {m.group(2)}") if m else ()
        raise InputError(f"invalid TOML: {reason}", file=path, where=where) from None
    loc = _Locator(path, text)
    base = base_dir or Path.cwd()
    for k in doc:
        if k not in TOP_LEVEL:
            raise loc.error(f"unknown table; expected one of {', '.join(TOP_LEVEL)}",
                            None, k, field=k)
    sweep = _table(doc, "sweep", loc)
    _only(sweep, SWEEP_KEYS, "sweep", loc)
    if "name" in sweep and not (isinstance(sweep["name"], str) and sweep["name"].strip()):
        raise loc.error(f"must be a non-empty string, not {sweep['name']!r}", "sweep", "name")
    settings = _settings(sweep, loc)
    search = _search(_table(doc, "search", loc), settings, loc)
    fixed = _table(doc, "fixed", loc)
    names = dp.parameter_names()
    for k, v in fixed.items():
        if k not in names or k in RESERVED_AXES:
            raise loc.error(_unknown_param(k), "fixed", k)
        _check_value(k, v, loc, "fixed", k)
    raw_axes = _table(doc, "axes", loc)
    axes = tuple(_axis(k, v, search, loc) for k, v in raw_axes.items())
    _check_search_seed(_table(doc, "search", loc), raw_axes, loc)
    for a in axes:
        if a.name in fixed:
            raise loc.error("is both fixed and an axis", "axes", a.name)
    workloads = _workloads(doc.get("workloads"), loc, base)
    _check_set_once(fixed, axes, workloads, loc)
    if any("trace_file" in w.params for w in workloads):
        for table, names in (("fixed", list(fixed)), ("axes", [a.name for a in axes])):
            for k in names:
                if k in ("requests", "steps", "tree"):
                    raise loc.error("shapes synthetic workloads only, and a [[workloads]] "
                                    "entry here is a trace file", table, k)
    if search.strategy == "successive-halving":
        for i, w in enumerate(workloads):
            if "trace_file" in w.params:
                raise loc.error("successive halving shortens traces: it needs preset "
                                "workloads", "workloads", "trace", index=i)
    _check_hardware(fixed, axes, loc)
    _check_draft_params(fixed, axes, workloads, loc)
    constraints = tuple(_constraint(k, v, settings, loc)
                        for k, v in _table(doc, "constraints", loc).items())
    spec = SweepSpec(path=path, name=str(sweep.get("name", Path(path).stem)), axes=axes,
                     fixed=fixed, workloads=workloads, settings=settings,
                     constraints=constraints, search=search,
                     batch_size=int(sweep.get("batch_size", 64)), text=text)
    n = _count(spec)
    if n > MAX_POINTS:
        if spec.search.strategy != "grid":
            raise loc.error(f"{spec.search.samples} samples x {len(spec.workloads)} "
                            f"workloads = {n} points is more than {MAX_POINTS}", "search",
                            "samples")
        raise loc.error(f"{n} points is more than {MAX_POINTS}", "axes")
    if n == 0:
        raise loc.error("the sweep has no points (an empty axis, or samples = 0)", "axes")
    progress.expect(n)
    _check_points(spec, loc)
    return spec


def _check_points(spec: SweepSpec, loc: _Locator) -> None:
    """Check every point before the sweep starts, not in the middle of it.

    Two checks: what a point configures (:func:`.design_point.check_point`: rules between
    parameters such as ``weight_sram_mib <= sram_mib``, Poisson arrivals need
    ``rate_per_s``), once per distinct configuration; and what its simulation checks
    before it replays (:func:`.design_point.check_simulation`: the engine, the draft
    against the target, placements and memory, the tree against the verify unit), on
    every point (they are distinct but for repeated random draws), a workload's points
    together so that each trace is built once.
    """
    configured = {"hardware", *(name for cls in dp.point_configs().values()
                                for name in field_names(cls))}
    seen: set[tuple] = set()
    by_workload: dict[tuple, list[dict[str, Any]]] = {}
    for p in spec.points():
        by_workload.setdefault(_workload_key(p), []).append(p)
    done = 0
    for points in by_workload.values():
        for p in points:
            done += 1
            if done % 4096 == 0:
                progress.advance(4096)
            over = tuple(sorted((k, v) for k, v in p.items() if k in configured))
            if over not in seen:
                seen.add(over)
                _check_configuration(spec, loc, over)
            try:
                with progress.within("checking points"):
                    dp.check_simulation(p, spec.settings)
            except InputError as exc:
                raise _point_error(spec, loc, p, exc) from None


def _check_configuration(spec: SweepSpec, loc: _Locator, over: tuple) -> None:
    try:
        dp.check_point(dict(over))
    except InputError as exc:
        table = "axes" if any(a.name == exc.field for a in spec.axes) else "fixed"
        desc = ", ".join(f"{k} = {v!r}" for k, v in over if k != "hardware")
        raise loc.error(f"invalid design point ({desc}): {exc.reason}", table,
                        exc.field, field=f"{table}.{exc.field}") from None


def _workload_key(point: dict[str, Any]) -> tuple:
    """What a point's trace is made of (points with equal keys replay the same trace)."""
    return tuple(repr(point.get(k)) for k in dp.WORKLOAD_PARAMS if k != "workload")


#: The spec parameters an error of a point's simulation check may be about, by the
#: field the simulator names, most specific first (a name not listed stands for itself).
_BLAME = {
    "verify_unit_nodes": ("tree_nodes", "tree"),   # the hardware spec's name of tree_nodes
    "tree_nodes": ("tree_nodes", "tree"),
    "draft": ("draft", "target"),
    "target": ("target", "draft"),
    "hw": ("hardware", "hbm_stacks", "hbm_gb_per_stack", "mem_bytes"),
    "placement": ("tp", "pp", "offload", "draft_tp", "hardware", "hbm_stacks",
                  "hbm_gb_per_stack", "mem_bytes"),
    "kv_capacity": ("kv_capacity_tokens",),
}
#: [[workloads]] keys whose point parameter has another name.
_WORKLOAD_KEY_OF = {"trace_file": "trace", "trace_seed": "seed"}


def _point_error(spec: SweepSpec, loc: _Locator, point: dict[str, Any],
                 exc: InputError) -> InputError:
    """`exc` of a point's simulation check, at the spec entry that set what it is about:
    ``sweep.engine``, else an axis, a [fixed] key or a key of the point's workload; the
    workload entry itself when the spec sets none of them (a preset's own model or tree
    on the default hardware).  The reason starts with the point's axis values."""
    values = [f"{a.name} = {point[a.name]!r}" for a in spec.axes]
    if len(spec.workloads) > 1:
        values.insert(0, f"workload = {point['workload']!r}")
    reason = f"invalid design point ({', '.join(values)}): {exc.reason}" if values else \
        exc.reason
    if exc.field == "engine":
        return loc.error(reason, "sweep", "engine")
    i = next(n for n, w in enumerate(spec.workloads) if w.name == point["workload"])
    workload = spec.workloads[i]
    serving = dp.serving_params() if exc.field == "serving" else ()
    for name in (*_BLAME.get(str(exc.field), ()), *serving, str(exc.field)):
        if any(a.name == name for a in spec.axes):
            return loc.error(reason, "axes", name)
        if name in spec.fixed:
            return loc.error(reason, "fixed", name)
        key = _WORKLOAD_KEY_OF.get(name, name)
        if name in workload.params and key in WORKLOAD_KEYS:
            return loc.error(reason, "workloads", key, index=i)
    return loc.error(reason, "workloads", None, index=i, field=f"workloads[{i}]")


def _count(spec: SweepSpec) -> int:
    if spec.search.strategy != "grid":
        return spec.search.samples * len(spec.workloads)
    return math.prod(len(a.values) for a in spec.axes) * len(spec.workloads)


def _table(doc: dict[str, Any], name: str, loc: _Locator) -> dict[str, Any]:
    t = doc.get(name, {})
    if not isinstance(t, dict):
        raise loc.error("must be a table", None, name, field=name)
    return t


def _only(table: dict[str, Any], allowed: tuple[str, ...], name: str, loc: _Locator) -> None:
    for k in table:
        if k not in allowed:
            raise loc.error(f"unknown key; expected one of {', '.join(allowed)}", name, k)


def _unknown_param(k: str) -> str:
    if k in RESERVED_AXES:
        return "is set per workload in [[workloads]], not here"
    return ("unknown parameter; see docs/sweeps.md (workload: requests, steps, tree; "
            "models: target, draft; hardware and its design parameters; serving: "
            "max_batch, rate_per_s, ...)")


def _settings(sweep: dict[str, Any], loc: _Locator) -> dp.EvalSettings:
    metrics = sweep.get("metrics", list(dp.DEFAULT_METRICS))
    if not isinstance(metrics, list) or not metrics or \
            not all(isinstance(m, str) for m in metrics):
        raise loc.error("must be a non-empty list of metric names", "sweep", "metrics")
    for m in metrics:
        if m not in dp.METRICS:
            raise loc.error(f"unknown metric {m!r}; choose from {', '.join(dp.METRICS)}",
                            "sweep", "metrics")
    if len(set(metrics)) != len(metrics):
        raise loc.error("lists a metric twice", "sweep", "metrics")
    engine = sweep.get("engine", "auto")
    if engine not in dp.ENGINES:
        raise loc.error(f"must be one of {', '.join(dp.ENGINES)}, not {engine!r}",
                        "sweep", "engine")
    baseline = sweep.get("baseline", True)
    if not isinstance(baseline, bool):
        raise loc.error("must be true or false", "sweep", "baseline")
    if "speedup" in metrics and not baseline:
        raise loc.error("metric 'speedup' needs baseline = true", "sweep", "metrics")
    bs = sweep.get("batch_size", 64)
    if not isinstance(bs, int) or isinstance(bs, bool) or bs < 1:
        raise loc.error(f"must be an integer >= 1, not {bs!r}", "sweep", "batch_size")
    return dp.EvalSettings(metrics=tuple(metrics), engine=engine, baseline=baseline)


def _int_at_least(v: Any, lo: int, loc: _Locator, table: str, key: str,
                  index: int | None = None) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < lo:
        raise loc.error(f"must be an integer >= {lo}, not {v!r}", table, key, index=index)
    return v


def _search(t: dict[str, Any], settings: dp.EvalSettings, loc: _Locator) -> Search:
    _only(t, SEARCH_KEYS, "search", loc)
    strategy = t.get("strategy", "grid")
    if strategy not in STRATEGIES:
        raise loc.error(f"must be one of {', '.join(STRATEGIES)}, not {strategy!r}",
                        "search", "strategy")
    samples = t.get("samples", 0)
    if strategy != "grid":
        samples = _int_at_least(samples, 1, loc, "search", "samples")
    elif "samples" in t:
        raise loc.error("grid sweeps take every combination; samples is for random and "
                        "successive-halving", "search", "samples")
    seed = _int_at_least(t.get("seed", 0), 0, loc, "search", "seed")
    numeric = [m for m in settings.metrics if dp.metric_is_numeric(m)]
    default = "tokens_per_s" if "tokens_per_s" in numeric else (numeric or [""])[0]
    objective = t.get("objective", default)
    if objective not in settings.metrics or not dp.metric_is_numeric(objective):
        raise loc.error(f"must be a numeric metric listed in sweep.metrics, not {objective!r}",
                        "search", "objective")
    maximize = t.get("maximize", True)
    if not isinstance(maximize, bool):
        raise loc.error("must be true or false", "search", "maximize")
    eta = _int_at_least(t.get("eta", 3), 2, loc, "search", "eta")
    min_steps = _int_at_least(t.get("min_steps", 10), 1, loc, "search", "min_steps")
    for k in ("eta", "min_steps"):
        if k in t and strategy != "successive-halving":
            raise loc.error(f"is for strategy = \"successive-halving\" (its rungs), not "
                            f"{strategy!r}", "search", k)
    return Search(strategy=strategy, samples=samples, seed=seed, objective=objective,
                  maximize=maximize, eta=eta, min_steps=min_steps)


def _check_search_seed(search: dict[str, Any], axes: dict[str, Any], loc: _Locator
                       ) -> None:
    """Refuse [search] seed in a grid sweep where nothing draws from it: a grid takes
    every value, and only a {low, high, samples} axis without a seed of its own draws
    its values from [search] seed."""
    if "seed" not in search or search.get("strategy", "grid") != "grid":
        return
    if any(isinstance(v, dict) and "samples" in v and "seed" not in v
           for v in axes.values()):
        return
    raise loc.error("a grid sweep draws nothing from it (only a {low, high, samples} axis "
                    "without its own seed does)", "search", "seed")


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_value(name: str, v: Any, loc: _Locator, table: str, key: str) -> None:
    """Type and range of one parameter value: a configuration field by its declaration
    (:func:`.design_point.config_field`), a GPU spec override as a number > 0."""
    if name in ("hardware", "target", "draft", "tree"):
        if not isinstance(v, str):
            raise loc.error(f"must be a string, not {v!r}", table, key)
        try:
            if name == "hardware":
                dp._base_hardware(v)
            elif name == "tree":
                dp.tree_shape(v)
            else:
                dp._model(v)
        except InputError as exc:
            raise loc.error(exc.reason, table, key) from None
        except (KeyError, ValueError) as exc:
            raise loc.error(f"unknown {name} {v!r} ({exc})", table, key) from None
        return
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_EXACT_INT:
        raise loc.error(f"must be at most {MAX_EXACT_INT} in size, not {v}", table, key)
    if name in ("requests", "steps"):
        _int_at_least(v, 1, loc, table, key)
        return
    if name == "tau":
        from specaccel.schema.config_fields import field_spec
        from specaccel.workloads.workload_options import WorkloadOptions

        try:
            field_spec(WorkloadOptions, "tau").check(v)
        except InputError as exc:
            raise loc.error(exc.reason, table, key) from None
        return
    declared = dp.config_field(name)
    if declared is not None:
        try:
            declared.check(v)
        except InputError as exc:
            raise loc.error(exc.reason, table, key) from None
        return
    if not _is_num(v):
        raise loc.error(f"must be a number, not {v!r}", table, key)
    if v <= 0:
        raise loc.error(f"must be > 0, not {v!r}", table, key)


def _axis(name: str, v: Any, search: Search, loc: _Locator) -> Axis:
    if name not in dp.parameter_names() or name in RESERVED_AXES:
        raise loc.error(_unknown_param(name), "axes", name)
    if isinstance(v, list):
        if not v:
            raise loc.error("an axis needs at least one value", "axes", name)
        if len({repr(x) for x in v}) != len(v):
            raise loc.error("lists a value twice", "axes", name)
        if all(_is_num(x) for x in v) and any(isinstance(x, float) for x in v):
            v = [float(x) for x in v]
        for x in v:
            _check_value(name, x, loc, "axes", name)
        return Axis(name, tuple(v))
    if not isinstance(v, dict):
        raise loc.error("must be a list, {start, stop, step} or {low, high, ...}",
                        "axes", name)
    if {"start", "stop"} <= set(v):
        extra = set(v) - {"start", "stop", "step"}
        if extra:
            raise loc.error(f"unknown key {sorted(extra)[0]!r} in a range", "axes", name)
        if "step" not in v:
            raise loc.error("a range needs a step (e.g. { start = 32, stop = 128, step = 32 })",
                            "axes", name)
        start, stop, step = v["start"], v["stop"], v["step"]
        if not all(_is_num(x) for x in (start, stop, step)) or step <= 0 or stop < start:
            raise loc.error("a range needs numbers start <= stop and step > 0", "axes", name)
        n = int(math.floor((stop - start) / step + 1e-9)) + 1
        if n > MAX_POINTS:
            raise loc.error(f"a range of {n} values is too long", "axes", name)
        ints = all(isinstance(x, int) for x in (start, stop, step))
        vals = [start + i * step for i in range(n)] if ints else \
            [float(start + i * step) for i in range(n)]
        for x in vals:
            _check_value(name, x, loc, "axes", name)
        return Axis(name, tuple(vals))
    if {"low", "high"} <= set(v):
        extra = set(v) - {"low", "high", "samples", "log", "integer", "seed"}
        if extra:
            raise loc.error(f"unknown key {sorted(extra)[0]!r} in a random axis", "axes", name)
        low, high = v["low"], v["high"]
        if not (_is_num(low) and _is_num(high)) or not low < high:
            raise loc.error("a random axis needs numbers low < high", "axes", name)
        log, integer = bool(v.get("log", False)), bool(v.get("integer", False))
        if log and low <= 0:
            raise loc.error("log sampling needs low > 0", "axes", name)
        axis = Axis(name, (), float(low), float(high), log, integer, True)
        for x in (low, high):
            _check_value(name, int(x) if integer else float(x), loc, "axes", name)
        if "samples" in v:
            k = _int_at_least(v["samples"], 1, loc, "axes", name)
            seed = _int_at_least(v.get("seed", search.seed), 0, loc, "axes", name)
            rng = np.random.default_rng([seed, *name.encode()])
            vals = sorted({axis.sample(rng) for _ in range(k)})
            return Axis(name, tuple(vals), float(low), float(high), log, integer, False)
        if search.strategy == "grid":
            raise loc.error("a random axis in a grid sweep needs 'samples' (or use "
                            "[search] strategy = \"random\")", "axes", name)
        if "seed" in v:
            raise loc.error("'seed' seeds the axis's 'samples' values; without samples "
                            "each design draws its value from [search] seed", "axes", name)
        return axis
    raise loc.error("must be a list, {start, stop, step} or {low, high, ...}", "axes", name)


def _check_hardware(fixed: dict[str, Any], axes: tuple[Axis, ...], loc: _Locator) -> None:
    hw_axis = next((a for a in axes if a.name == "hardware"), None)
    hws = list(hw_axis.values) if hw_axis else [fixed.get("hardware", dp.DEFAULT_HARDWARE)]
    accel = set(dp.accelerator_params())
    gpu = set(dp.gpu_params())
    names = list(fixed) + [a.name for a in axes]
    for n in names:
        table = "fixed" if n in fixed else "axes"
        if n in accel and n not in gpu and any(h != dp.DEFAULT_HARDWARE for h in hws):
            raise loc.error(f"is a design parameter of {dp.DEFAULT_HARDWARE}; the sweep "
                            f"also uses a GPU preset", table, n)
        if n in gpu and n not in accel and any(h == dp.DEFAULT_HARDWARE for h in hws):
            raise loc.error(f"overrides a GPU preset's spec; on {dp.DEFAULT_HARDWARE} set "
                            "its design parameters instead", table, n)


def _workloads(raw: Any, loc: _Locator, base: Path) -> tuple[Workload, ...]:
    if raw is None:
        raise loc.error("at least one [[workloads]] entry is needed", None, None,
                        field="workloads")
    if not isinstance(raw, list) or not all(isinstance(w, dict) for w in raw):
        raise loc.error("must be an array of tables ([[workloads]])", None, "workloads",
                        field="workloads")
    if not raw:   # `workloads = []`: a sweep of no points, for want of a workload
        raise loc.error("at least one [[workloads]] entry is needed, not none",
                        None, "workloads", field="workloads")
    out: list[Workload] = []
    for i, w in enumerate(raw):
        for k in w:
            if k not in WORKLOAD_KEYS:
                raise loc.error(f"unknown key; expected one of {', '.join(WORKLOAD_KEYS)}",
                                "workloads", k, index=i)
        if ("preset" in w or "method" in w) == ("trace" in w):
            raise loc.error("give exactly one of 'preset' (or 'method') or 'trace'",
                            "workloads", None, index=i, field=f"workloads[{i}]")
        params: dict[str, Any] = {}
        if "trace" not in w:
            w = dict(w, preset=_workload_preset(w, loc, i))
            params["preset"] = w["preset"]
            name = str(w.get("name", w["preset"]))
            drafting = _preset_drafting(w["preset"])
        else:
            tf = Path(str(w["trace"]))
            tf = tf if tf.is_absolute() else base / tf
            drafting = _trace_drafting(tf, loc, i)
            params["trace_file"] = str(tf)
            name = str(w.get("name", tf.stem))
        if "draft" in w and not drafting.runs_draft_model:
            raise loc.error(f"it {dp.DRAFT_PARAMS['draft']}, but the workload's drafting "
                            f"{drafting.name!r} runs no draft model", "workloads", "draft",
                            index=i)
        for k in ("requests", "steps", "tree", "tau", "target", "draft"):
            if k in w:
                if "trace" in w and k in ("requests", "steps", "tree", "tau"):
                    raise loc.error("applies to presets only", "workloads", k, index=i)
                try:
                    _check_value(k, w[k], loc, "workloads", k)
                except InputError as exc:
                    raise loc.error(exc.reason, "workloads", k, index=i) from None
                params[k] = w[k]
        if "preset" in w:
            _check_preset_size(w, loc, i)
            _check_model_pair(w, loc, i)
        params["trace_seed"] = _int_at_least(w.get("seed", 0), 0, loc, "workloads", "seed",
                                             index=i)
        params["workload"] = name
        if any(o.name == name for o in out):
            raise loc.error(f"two workloads are named {name!r}; give each a 'name'",
                            "workloads", "name" if "name" in w else None, index=i,
                            field=f"workloads[{i}].name")
        out.append(Workload(name, params, drafting.name, drafting.runs_draft_model))
    return tuple(out)


#: The parameters a [[workloads]] entry may set that [fixed] and [axes] may set too.
_WORKLOAD_SETTINGS = ("requests", "steps", "tree", "tau", "target", "draft")


def _check_set_once(fixed: dict[str, Any], axes: tuple[Axis, ...],
                    workloads: tuple[Workload, ...], loc: _Locator) -> None:
    """Refuse a parameter set both by a [[workloads]] entry and in [fixed] or [axes]: a
    point takes [fixed] and the axes over the workload's value, so one of the two
    settings would be dropped without a word."""
    for i, w in enumerate(workloads):
        for k in _WORKLOAD_SETTINGS:
            if k not in w.params:
                continue
            table = "fixed" if k in fixed else "axes" if any(a.name == k for a in axes) \
                else None
            if table is not None:
                no = loc.line("workloads", k, i)
                raise loc.error(f"is also set by [[workloads]] entry {i} (workloads[{i}]."
                                f"{k}{f', line {no}' if no else ''}); set it in one place",
                                table, k)


def _preset_drafting(preset: str):
    """The drafting mode (a DraftingMode) of a preset's traces: its method's."""
    from specaccel.workloads import get_preset

    return get_preset(preset).method_entry().drafting


def _trace_drafting(path: Path, loc: _Locator, i: int):
    """Read the trace file of workload `i` (errors at its ``trace`` key) and return its
    drafting mode."""
    from specaccel.models.cost.drafting import drafting_of
    from specaccel.workloads import read_trace

    try:
        return drafting_of(read_trace(path).metadata)
    except InputError as exc:
        raise loc.error(f"{exc.message}", "workloads", "trace", index=i) from None
    except OSError as exc:
        raise loc.error(f"cannot read trace: {exc}", "workloads", "trace", index=i) from None


def _check_draft_params(fixed: dict[str, Any], axes: tuple[Axis, ...],
                        workloads: tuple[Workload, ...], loc: _Locator) -> None:
    """Refuse a draft parameter (:data:`.design_point.DRAFT_PARAMS`) in [fixed] or [axes]
    when no workload of the sweep runs a draft model: it would do nothing at any point.
    (With one workload that does, it applies there; the simulator ignores it on the
    others, as on a draft-free trace.)"""
    if any(w.runs_draft_model for w in workloads):
        return
    modes = ", ".join(sorted({repr(w.drafting) for w in workloads}))
    for table, names in (("fixed", list(fixed)), ("axes", [a.name for a in axes])):
        for k in names:
            if k in dp.DRAFT_PARAMS:
                raise loc.error(f"it {dp.DRAFT_PARAMS[k]}, but the sweep's workloads "
                                f"(drafting {modes}) run no draft model", table, k)


def _workload_preset(w: dict[str, Any], loc: _Locator, i: int) -> str:
    """The preset a [[workloads]] entry names: its ``preset``, or its ``method``'s first
    preset (both: the preset must be of that method)."""
    from specaccel.workloads.workload_options import WorkloadOptions

    key = "preset" if "preset" in w else "method"
    try:
        for k in ("preset", "method"):
            if k in w and not isinstance(w[k], str):
                raise InputError(f"must be a string, not {w[k]!r}", field=k)
        preset = WorkloadOptions(preset=w.get("preset"), method=w.get("method")).resolve()
    except InputError as exc:
        raise loc.error(exc.reason, "workloads", exc.field or key, index=i) from None
    return preset.name


def _check_model_pair(w: dict[str, Any], loc: _Locator, i: int) -> None:
    """Refuse (at parse time) a preset workload whose draft cannot draft for its target:
    a ``target`` or ``draft`` that replaces the preset's own must still make a pair
    (same vocabulary; a head of the target's width)."""
    if "target" not in w and "draft" not in w:
        return
    from specaccel.models.cost.model_presets import get_model
    from specaccel.models.cost.model_spec import check_draft_matches
    from specaccel.workloads import get_preset

    preset = get_preset(w["preset"])
    draft = w.get("draft", preset.draft_model)
    if draft is None:
        return
    try:
        check_draft_matches(get_model(w.get("target", preset.target_model)), get_model(draft))
    except InputError as exc:
        field = "draft" if "draft" in w else "target"
        raise loc.error(exc.reason + ("" if "draft" in w else
                                      f" (preset {preset.name}'s draft; set 'draft')"),
                        "workloads", field, index=i) from None


def _check_preset_size(w: dict[str, Any], loc: _Locator, i: int) -> None:
    """Refuse a preset workload whose trace would be too large to generate (at parse time)."""
    from specaccel.workloads import get_preset
    from specaccel.workloads.synthetic import check_trace_size

    p = get_preset(w["preset"])
    if "steps" in w and not p.sized_by_steps:
        raise loc.error(f"preset {p.name!r} sets its own steps per request", "workloads",
                        "steps", index=i)
    shape = getattr(p, "shape", None)
    if shape is None:   # a recorded or modelled preset: no fixed tree to size by
        return
    try:
        check_trace_size(int(w.get("requests", p.n_requests)),
                         int(w.get("steps", p.steps_per_request)), shape.n_nodes)
    except InputError as exc:
        key = "requests" if "requests" in w else "steps" if "steps" in w else None
        raise loc.error(exc.reason, "workloads", key, index=i) from None


def _constraint(k: str, v: Any, settings: dp.EvalSettings, loc: _Locator) -> Constraint:
    if k not in settings.metrics or not dp.metric_is_numeric(k):
        raise loc.error("a constraint must be on a numeric metric listed in sweep.metrics",
                        "constraints", k)
    if _is_num(v):
        return Constraint(k, max=float(v))
    if isinstance(v, dict) and v and set(v) <= {"min", "max"} and \
            all(_is_num(x) for x in v.values()):
        c = Constraint(k, min=_opt(v.get("min")), max=_opt(v.get("max")))
        if c.min is not None and c.max is not None and c.min > c.max:
            raise loc.error("min is above max", "constraints", k)
        return c
    raise loc.error("must be a number (an upper bound) or {min = .., max = ..}",
                    "constraints", k)


def _opt(v: Any) -> float | None:
    return None if v is None else float(v)
