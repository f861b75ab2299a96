"""Characterisation of the sampling unit over lanes W and vocabulary size.

Cycles are *measured* in the Amaranth simulator (:func:`measure_unit_constants`,
:func:`measure_request_cycles`).  Synthesis is that of the registry units
(:func:`specaccel.hdl.synthesis.synthesise_component`): the unit's own LUTs, flip-flops,
carry cells and block RAM by yosys on the unit alone (the ``bare_*`` columns, its area),
and its Fmax placed and routed inside the pin-light harness on the iCE40 HX8K and the ECP5
LFE5U-85F, the median and range over the nextpnr seeds.  The sweep runs in two passes:
cycles and every unit's area first, then place and route; with the same ``--build-root``
an interrupted run resumes.  The rows are what
:mod:`specaccel.models.cost.sampling_unit_table` reads (columns :data:`COLUMNS`); the
bundled table is ``specaccel/data/sampling-characterisation.csv``::

    python -m specaccel.hdl.sampling_characterisation --lanes 4,8,16,32,64 \\
        --devices ice40-hx8k,ecp5,xilinx-7 --seeds 1,2,3,4,5 -o sampling-characterisation.csv

A long characterisation is run in parts (place and route of one device and a few lane
counts at a time): ``--merge-into TABLE`` joins a part's rows with those of an existing
table (:func:`merge_rows`: a row that knows more replaces one that knows less, nothing
else is lost) and keeps every part's command in the header, whose last lines
(:func:`table_note`) are made from the rows themselves: which lane counts are placed on
which device over which seeds, which do not fit, and which are not placed yet.
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import sys
from pathlib import Path
from typing import Any

import numpy as np

from specaccel.models.cost.sampling_unit_table import COLUMNS
from specaccel.models.golden import bf16

from .units.sampling.gateware import SamplingUnit
from .units.sampling.model import SamplingRequest, run_sampling

#: vocabularies whose whole-request cycles are simulated (LLaMA-2's and LLaMA-3's)
VOCABS = (32000, 128256)
TOKEN_WIDTH = 18


def _requests(rng, v: int, top_k: int, n: int) -> list[SamplingRequest]:
    return [SamplingRequest(bf16.from_float(rng.normal(0, 3, v)), top_k, 5909, 40000)
            for _ in range(n)]


def measure_unit_constants(lanes: int, max_top_k: int = 8) -> dict[str, Any]:
    """II per beat, greedy latency (last beat to result) and the longest tail of a
    ``max_top_k`` sample (the scan runs to the last candidate), measured with back-to-back
    requests long enough not to be throttled."""
    unit = SamplingUnit(lanes=lanes, max_top_k=max_top_k, vocab=1 << TOKEN_WIDTH)
    rng = np.random.default_rng(lanes)
    v = 40 * lanes + 1
    greedy = run_sampling(unit, _requests(rng, v, 1, 3))
    ii = (greedy.beat_cycles[-1] - greedy.beat_cycles[0]) / (len(greedy.beat_cycles) - 1)
    lat = greedy.result_cycles[-1] - greedy.last_beat_cycles[-1]
    # the tail's longest run: every weight equal (inv_temp 0) and the largest uniform, so
    # the scan walks to the last candidate
    worst = [SamplingRequest(bf16.from_float(rng.normal(0, 3, v)), max_top_k, 0,
                             (1 << 16) - 1)]
    sampled = run_sampling(unit, worst)
    tail = sampled.result_cycles[0] - sampled.last_beat_cycles[0] - lat
    return {"ii_beat": ii, "latency_cycles": lat, "tail_cycles": tail}


def measure_request_cycles(lanes: int, vocab: int, top_k: int, nodes: int = 2,
                           max_top_k: int = 8) -> int:
    """Cycles from the first beat of `nodes` back-to-back requests to the last result."""
    unit = SamplingUnit(lanes=lanes, max_top_k=max_top_k, vocab=1 << TOKEN_WIDTH)
    rng = np.random.default_rng(vocab + lanes)
    reqs = _requests(rng, vocab, top_k, nodes)
    run = run_sampling(unit, reqs, max_cycles=nodes * (vocab // lanes + 400) + 1000)
    want = [r.expected(max_top_k=max_top_k, vocab=1 << TOKEN_WIDTH) for r in reqs]
    if run.results != want:
        raise RuntimeError(f"sampling unit W={lanes} V={vocab}: results differ from golden")
    return run.result_cycles[-1] - run.beat_cycles[0] + 1


def _remembered(path: Path | None, key: list, measure):
    """`measure()`, or its result stored at `path` for the same `key`."""
    import json

    if path is None:
        return measure()
    try:
        data = json.loads(path.read_text())
        if data["key"] == key:
            return data["value"]
    except (OSError, ValueError, KeyError):
        pass
    value = measure()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"key": key, "value": value}))
    return value


def _measure(lanes: int, max_top_k: int, vocabs) -> dict[str, Any]:
    return {"const": measure_unit_constants(lanes, max_top_k),
            "requests": [[v, k, measure_request_cycles(lanes, v, k, max_top_k=max_top_k)]
                         for v in vocabs for k in (1, max_top_k)]}


def characterise(lanes_list, *, max_top_k: int = 8,
                 devices=("ice40-hx8k", "ecp5", "xilinx-7"), seeds=(1, 2, 3, 4, 5),
                 vocabs=VOCABS, build_root: str | Path | None = "sampling-build",
                 progress=None, on_rows=None, timeout: float = 3600.0
                 ) -> list[dict[str, Any]]:
    """``unit`` rows (constants + synthesis per device) and ``cycles`` rows per vocabulary.

    Two passes over `lanes_list`: cycles and the unit's own area on every device, then
    the harness placed and routed on the placed devices once per seed.  `on_rows` is
    called with the rows so far after every step (a long run keeps what it finished).
    `timeout` limits each yosys or nextpnr run (seconds).
    """
    from .synthesis import PNR, synthesise_component

    say = progress or (lambda _line: None)
    root = None if build_root is None else Path(build_root)
    cycles: list[dict[str, Any]] = []
    units: dict[tuple[int, str], dict[str, Any]] = {}

    def rows() -> list[dict[str, Any]]:
        return cycles + [units[k] for k in sorted(units, key=lambda k: (
            k[0], list(devices).index(k[1])))]

    def synth(lanes: int, device: str, place: bool) -> dict[str, Any]:
        def build():
            return SamplingUnit(lanes=lanes, max_top_k=max_top_k, vocab=1 << TOKEN_WIDTH)

        work = None if root is None else root / f"w{lanes}" / device
        res = synthesise_component("sampling_unit", build, key=(lanes, max_top_k),
                                   device=device, seeds=tuple(seeds), place=place,
                                   build_dir=work, timeout=timeout)
        text = f"unit alone {res['bare_luts']} LUTs, {res['bare_ffs']} FFs"
        if res["fmax_median_mhz"] is not None:
            text += (f"; Fmax {res['fmax_median_mhz']:.1f} MHz (median of "
                     f"{res['pnr_seeds']} seeds)")
        elif res["pnr"] != "not run":
            text += f"; not placed ({res['pnr']}: {str(res['pnr_error'])[:200]})"
        say(f"sampling W={lanes} {device}: {text}")
        return {k: res[k] for k in ("bare_luts", "bare_ffs", "bare_carry", "bare_brams",
                                    "bare_dsps", "harness_luts", "harness_ffs", "pnr_seeds",
                                    "pnr", "pnr_error", "tool_versions")} | {
            k: None if res[k] is None else round(res[k], 2)
            for k in ("fmax_median_mhz", "fmax_min_mhz", "fmax_max_mhz")}

    for lanes in lanes_list:
        say(f"sampling W={lanes}: measuring cycles")
        where = None if root is None else root / f"w{lanes}" / "cycles-result.json"
        const = _remembered(where, [lanes, max_top_k, list(vocabs)],
                            functools.partial(_measure, lanes, max_top_k, vocabs))
        for vocab, top_k, cyc in const["requests"]:
            cycles.append({"kind": "cycles", "lanes": lanes, "max_top_k": max_top_k,
                           "token_width": TOKEN_WIDTH, "vocab": vocab, "top_k": top_k,
                           "nodes": 2, "cycles": cyc})
            say(f"sampling W={lanes} V={vocab} k={top_k}: {cyc} cycles for 2 nodes")
        for device in devices:
            units[lanes, device] = {"kind": "unit", "lanes": lanes, "max_top_k": max_top_k,
                                    "token_width": TOKEN_WIDTH, **const["const"],
                                    "device": device, **synth(lanes, device, False)}
            if on_rows:
                on_rows(rows())
    for lanes in lanes_list:
        for device in devices:
            if device in PNR and seeds:
                units[lanes, device].update(synth(lanes, device, True))
                if on_rows:
                    on_rows(rows())
    return rows()


#: What the table's rows are, the first line of its header.
SEMANTICS = ("sampling unit (max_top_k 8, 18-bit indices): cycles measured in the Amaranth "
             "simulator ('cycles' rows are two back-to-back requests, first beat to last "
             "result; tail_cycles is the longest top-8 tail, the scan to the last "
             "candidate); bare_*: the unit alone by yosys (its area); harness_* and fmax_*: "
             "placed and routed in the pin-light harness, median/min/max over the seeds of "
             "pnr_seeds (Fmax depends on the vocabulary only through the index width, 18 "
             "bits for every vocabulary up to 262,144)")
COMMAND = "python -m specaccel.hdl.sampling_characterisation"


def _row_key(r: dict[str, Any]) -> tuple:
    return (r["kind"], int(r["lanes"]), int(r["max_top_k"]),
            None if r.get("vocab") in (None, "") else int(r["vocab"]),
            None if r.get("top_k") in (None, "") else int(r["top_k"]), r.get("device") or "")


def _knows(r: dict[str, Any]) -> int:
    """How much a unit row knows: placed (with more seeds) > failed / does not fit > not
    run."""
    if r.get("kind") != "unit" or r.get("pnr") in (None, "", "not run"):
        return 0
    if r["pnr"] == "placed":
        return 2 + int(r.get("pnr_seeds") or 0)
    return 1


def merge_rows(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of `old` with those of `new` in their place (same kind, lanes, max_top_k,
    vocabulary, top_k and device), unless the new row knows less: a unit row not placed
    does not replace a placed one, nor one placed over fewer seeds a placed one over
    more.  Rows come back sorted: cycles rows, then unit rows by lanes and device."""
    from .synthesis import DEVICES

    merged = {_row_key(r): r for r in old}
    for r in new:
        k = _row_key(r)
        if k not in merged or _knows(r) >= _knows(merged[k]):
            merged[k] = r
    order = {d: i for i, d in enumerate(DEVICES)}

    def sort_key(k: tuple) -> tuple:
        kind, lanes, kmax, vocab, top_k, device = k
        return (kind != "cycles", lanes, kmax, vocab or 0, top_k or 0,
                order.get(device, len(order)), device)

    return [merged[k] for k in sorted(merged, key=sort_key)]


def _lanes_text(rows: list[dict[str, Any]]) -> str:
    return ",".join(str(w) for w in sorted({int(r["lanes"]) for r in rows}))


def table_note(rows: list[dict[str, Any]], commands: list[str]) -> str:
    """The table's header: :data:`SEMANTICS`, the commands that made its rows, and what
    the unit rows hold on each placed device, made from the rows (so it cannot claim a
    measurement the table lacks)."""
    from .synthesis import PNR, packed_too_big, timed_out_seeds

    units = [r for r in rows if r["kind"] == "unit"]
    lines = [SEMANTICS, *commands, *(
        line for line in packed_too_big(units, lambda r: f"sampling W={r['lanes']}",
                                        stated=commands)),
        *timed_out_seeds(units, lambda r: f"sampling W={r['lanes']}")]
    parts = []
    for device in PNR:
        on = [r for r in units if r["device"] == device]
        placed = [r for r in on if r["pnr"] == "placed"]
        by_seeds: dict[int, list] = {}
        for r in placed:
            by_seeds.setdefault(int(r["pnr_seeds"]), []).append(r)
        text = "; ".join(f"W={_lanes_text(rs)} over {n} seed{'s' * (n != 1)}"
                         for n, rs in sorted(by_seeds.items(), reverse=True)) or "none"
        part = f"{device}: placed {text}"
        for status in ("does not fit", "failed", "not run"):
            rs = [r for r in on if r["pnr"] == status]
            if rs:
                part += f"; {status} W={_lanes_text(rs)}"
        parts.append(part)
    lines.append("place and route in the harness -- " + " | ".join(parts)
                 + " (pnr 'not run': not placed yet, no Fmax measured; its area is)")
    return "\n".join(lines)


def read_table(path: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """(rows, commands) of a sampling characterisation table: its rows and the command
    lines of its header."""
    from specaccel.models.cost.sampling_unit_table import load_sampling_table

    from .synthesis import PACKED_TOO_BIG

    rows = load_sampling_table(path)
    packed = "# " + PACKED_TOO_BIG.split("{")[0]
    commands = [ln[2:].strip() for ln in Path(path).read_text().splitlines()
                if ln.startswith("# " + COMMAND) or ln.startswith(packed)]
    return rows, commands


def write_csv(rows, path: str | Path | None = None, header_note: str | None = None) -> str:
    buf = io.StringIO()
    for line in (header_note or "").splitlines():
        buf.write(f"# {line}\n")
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in COLUMNS})
    if path is not None:
        Path(path).write_text(buf.getvalue())
    return buf.getvalue()


def main(argv=None) -> int:  # pragma: no cover - command-line wrapper
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lanes", default="4,8,16,32,64")
    ap.add_argument("--devices", default="ice40-hx8k,ecp5,xilinx-7")
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--max-top-k", type=int, default=8)
    ap.add_argument("--vocabs", default=",".join(map(str, VOCABS)))
    ap.add_argument("--build-root", default="sampling-build")
    ap.add_argument("--merge-into", metavar="TABLE",
                    help="join the rows with those of this existing table (merge_rows)")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args(argv)
    old, commands = read_table(a.merge_into) if a.merge_into else ([], [])
    command = f"{COMMAND} --lanes {a.lanes} --devices {a.devices} --seeds {a.seeds}"
    if a.max_top_k != 8:
        command += f" --max-top-k {a.max_top_k}"
    vocabs = [int(v) for v in a.vocabs.split(",")]
    if tuple(vocabs) != VOCABS:
        command += f" --vocabs {a.vocabs}"
    commands = [c for c in commands if c != command] + [command]

    def write(rows) -> None:
        rows = merge_rows(old, rows)
        write_csv(rows, a.output, table_note(rows, commands))

    rows = characterise([int(x) for x in a.lanes.split(",")], max_top_k=a.max_top_k,
                        devices=a.devices.split(","),
                        seeds=[int(s) for s in a.seeds.split(",")],
                        vocabs=vocabs, build_root=a.build_root,
                        progress=lambda s: print(s, file=sys.stderr, flush=True),
                        on_rows=write)
    write(rows)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
