"""Characterisation of the RTL units: cycles by simulation, area and Fmax by synthesis.

``characterise(units, nodes)`` builds every (unit, N), *measures* latency and initiation
interval in the Amaranth simulator (back-to-back requests, always-ready output, counting
cycles — not a formula), synthesises the unit in the pin-light harness for iCE40 HX8K and
returns one row per (unit, N) with the columns of :data:`COLUMNS`.  ``write_csv`` stores
them; the bundled table (``specaccel/data/rtl-characterisation.csv``, read by
:mod:`specaccel.models.cost.rtl_table`) is what the simulator and cost models use by
default, through :func:`load_characterisation`,
:func:`verify_unit_timing` and :func:`tree_unit_timing`.

Cycle conventions per unit:

* ``tree_verify``, ``tree_mask``, ``kv_compact``, ``spec_decode_core``: requests of full
  size (``n = N`` nodes; a fully accepted chain for ``kv_compact``); latency is from a
  request's handshake to its response (the ``commit`` response for the core), II is the
  mean interval between accepted requests in steady state.
* ``argmax_sample``: latency is from the handshake of a request's *last* beat to its
  result; II is cycles per beat (one chunk of logits), measured with one-beat requests.
* ``tree_verify_serial`` (one node record per cycle): full ``N``-node trees back to back;
  latency is from the handshake of a tree's *first* record to its response, II the mean
  interval between consecutive responses (the unit is busy for the whole tree).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from specaccel.models.cost.rtl_table import COLUMNS, load_characterisation
from specaccel.schema import progress

DEFAULT_NODES = (4, 8, 16, 32, 64)
_MEASURE_REQUESTS = 12


# ---- cycles by simulation ------------------------------------------------------------

def _steady_ii(cycles: Sequence[int]) -> float:
    """Mean interval over the second half of a run of transfer cycles."""
    if len(cycles) < 2:
        raise RuntimeError("too few transfers to measure an initiation interval")
    tail = cycles[len(cycles) // 2 - 1:] if len(cycles) >= 4 else cycles
    return (tail[-1] - tail[0]) / (len(tail) - 1)


def _measure_stream_unit(unit, requests: list[int], output: str,
                         outputs: tuple[str, ...]) -> tuple[int, float]:
    from specaccel.hdl.amaranth_stream_driver import run_stream

    run = run_stream(unit, requests, outputs=outputs)
    got = run.output_cycles[output]
    if len(got) != len(requests):
        raise RuntimeError(f"unit answered {len(got)} of {len(requests)} requests")
    return got[0] - run.sent_cycles[0], _steady_ii(run.sent_cycles)


def _requests_for(name: str, unit, *, nodes: int, token_width: int, prob_width: int,
                  rng: np.random.Generator) -> tuple[list[int], str, tuple[str, ...]]:
    from specaccel.hdl import tree_vectors as tv

    k = _MEASURE_REQUESTS
    if name == "tree_verify":
        model = tv.VerifyVectorModel(nodes=nodes, token_width=token_width,
                                     prob_width=prob_width)
        return [model.random_tree_vector(rng, n=nodes).request for _ in range(k)], \
            "resp", ("resp",)
    if name == "tree_mask":
        model = tv.MaskVectorModel(nodes=nodes)
        reqs = [model.vector(tv.random_parents(rng, nodes), int(rng.integers(0, 1000)))[0]
                for _ in range(k)]
        return reqs, "resp", ("resp",)
    if name == "kv_compact":
        model = tv.CompactVectorModel(nodes=nodes)
        reqs = [model.vector(list(range(nodes)), int(rng.integers(0, 1000)))[0]
                for _ in range(k)]
        return reqs, "resp", ("resp",)
    if name == "spec_decode_core":
        model = tv.CoreVectorModel(nodes=nodes, token_width=token_width,
                                   prob_width=prob_width)
        reqs = []
        for _ in range(k):
            tree = tv.random_greedy_tree(rng, nodes, token_width=token_width)
            reqs.append(model.random_vector(rng, tree)[0])
        return reqs, "commit", ("mask", "commit")
    raise ValueError(f"no cycle measurement for unit {name!r}")


def _measure_argmax(unit) -> tuple[int, float]:
    """Latency from a last beat to its result; II per beat with one-beat requests."""
    from amaranth.sim import Simulator

    n = _MEASURE_REQUESTS
    sent: list[int] = []
    got: list[int] = []

    async def bench(ctx):
        ctx.set(unit.out.ready, 1)
        beat = unit.beat.const({"lanes": [1] * unit.chunk, "count": unit.chunk, "last": 1})
        ctx.set(unit.inp.payload, beat)
        cycle = 0
        while len(got) < n and cycle < 100 * n:
            ctx.set(unit.inp.valid, int(len(sent) < n))
            if len(sent) < n and ctx.get(unit.inp.ready):
                sent.append(cycle)
            if ctx.get(unit.out.valid):
                got.append(cycle)
            await ctx.tick()
            cycle += 1

    sim = Simulator(unit)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    if len(got) != n:
        raise RuntimeError(f"argmax unit answered {len(got)} of {n} requests")
    return got[0] - sent[0], _steady_ii(sent)


def _measure_serial_verify(unit, *, nodes: int, token_width: int, prob_width: int,
                           rng: np.random.Generator) -> tuple[int, float]:
    """Latency from a full tree's first record to its response; II between responses."""
    from specaccel.hdl.node_stream_driver import run_node_stream
    from specaccel.hdl.serial_verify_vectors import SerialVerifyVectorModel

    model = SerialVerifyVectorModel(nodes=nodes, token_width=token_width,
                                    prob_width=prob_width)
    trees = [model.random_tree_vector(rng, n=nodes).records for _ in range(_MEASURE_REQUESTS)]
    run = run_node_stream(unit, trees)
    if len(run.responses) != len(trees):
        raise RuntimeError(f"unit answered {len(run.responses)} of {len(trees)} trees")
    return run.received_cycles[0] - run.first_cycles[0], _steady_ii(run.received_cycles)


def measure_cycles(name: str, *, nodes: int, token_width: int = 16, prob_width: int = 12,
                   seed: int = 0, **extra: Any) -> tuple[int, float]:
    """(latency_cycles, ii_cycles) of registry unit `name`, measured by simulation."""
    from specaccel.hdl.units import build_unit

    unit = build_unit(name, nodes=nodes, token_width=token_width, prob_width=prob_width,
                      **extra)
    if name == "argmax_sample":
        return _measure_argmax(unit)
    if name == "tree_verify_serial":
        return _measure_serial_verify(unit, nodes=nodes, token_width=token_width,
                                      prob_width=prob_width, rng=np.random.default_rng(seed))
    reqs, output, outputs = _requests_for(name, unit, nodes=nodes, token_width=token_width,
                                          prob_width=prob_width,
                                          rng=np.random.default_rng(seed))
    return _measure_stream_unit(unit, reqs, output, outputs)


# ---- the sweep ---------------------------------------------------------------------------

def characterise(units: Iterable[str], nodes: Iterable[int], *, token_width: int = 16,
                 prob_width: int = 12, device: str = "ice40-hx8k", seed: int = 1,
                 build_root: str | Path | None = None,
                 report: Callable[[str], None] | None = None,
                 on_row: Callable[[list[dict[str, Any]]], None] | None = None,
                 ) -> list[dict[str, Any]]:
    """One row per (unit, N): measured cycles plus synthesis results.

    Parameters
    ----------
    units, nodes : iterables
        Registry unit names and tree sizes N.
    token_width, prob_width : int
        Shared unit parameters.
    device : str
        Synthesis target (Fmax only for ``"ice40-hx8k"``).
    seed : int
        nextpnr seed.
    build_root : path, optional
        Keep each run's files under ``build_root/<unit>-n<N>/``.
    report : callable, optional
        Called with one line per step (the CLI prints it on stderr).  Progress for a bar
        (the designs done of the total, the current design and stage) goes through
        :mod:`specaccel.schema.progress`.
    on_row : callable, optional
        Called with the rows so far after each (unit, N) (the CLI rewrites its CSV, so a
        long sweep that is interrupted keeps what it finished).
    """
    from specaccel.hdl.synthesis import synthesise_unit

    units, nodes = list(units), list(nodes)
    progress.expect(len(units) * len(nodes))
    rows = []
    for name in units:
        for n in nodes:
            design = f"{name} N={n}"
            progress.stage(f"{design}: simulating")
            if report:
                report(f"characterise {design}: simulating")
            latency, ii = measure_cycles(name, nodes=n, token_width=token_width,
                                         prob_width=prob_width)
            if report:
                report(f"characterise {design}: synthesising for {device}")
            bdir = None if build_root is None else Path(build_root) / f"{name}-n{n}"
            with progress.within(design):
                s = synthesise_unit(name, nodes=n, token_width=token_width,
                                    prob_width=prob_width, device=device, build_dir=bdir,
                                    seed=seed)
            rows.append({
                "unit": name, "nodes": n, "token_width": token_width,
                "prob_width": prob_width, "latency_cycles": latency, "ii_cycles": ii,
                "fmax_mhz": None if s["fmax_mhz"] is None else round(s["fmax_mhz"], 2),
                "luts": s["luts"], "ffs": s["ffs"], "carry": s["carry"], "brams": s["brams"],
                "device": device, "tool_versions": s["tool_versions"],
            })
            if on_row:
                on_row(rows)
            progress.advance()
            if report:
                fmax = "-" if rows[-1]["fmax_mhz"] is None else f"{rows[-1]['fmax_mhz']:.1f}"
                if s.get("pnr_error"):
                    report(f"characterise {design}: no Fmax: {s['pnr_error']}")
                report(f"characterise {design}: {s['luts']} LUTs, {s['ffs']} FFs, "
                       f"Fmax {fmax} MHz, latency {latency}, II {ii:g}")
    return rows


def fit_lut_exponent(rows: Iterable[dict[str, Any]], unit: str) -> float | None:
    """Least-squares slope of log(LUTs) against log(N) for `unit` (None if < 2 sizes)."""
    pts = sorted((int(r["nodes"]), int(r["luts"])) for r in rows
                 if r["unit"] == unit and int(r["luts"]) > 0)
    if len({n for n, _ in pts}) < 2:
        return None
    x = np.log([n for n, _ in pts])
    y = np.log([v for _, v in pts])
    return float(np.polyfit(x, y, 1)[0])


# ---- CSV ----------------------------------------------------------------------------------

def write_csv(rows: Iterable[dict[str, Any]], path: str | Path | None = None,
              header_note: str | None = None) -> str:
    """Write `rows` as CSV (to `path` if given) and return the text.

    `header_note` is written as leading ``#`` comment lines (e.g. the producing command).
    """
    buf = io.StringIO()
    if header_note:
        for line in header_note.splitlines():
            buf.write(f"# {line}\n")
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in COLUMNS})
    text = buf.getvalue()
    if path is not None:
        Path(path).write_text(text)
    return text


# ---- timing look-ups for the simulator and cost models --------------------------------

def _interpolate(points: list[tuple[float, float]], x: float) -> float:
    """Piecewise linear in log2 N; beyond the ends, the end segment's slope."""
    if len(points) == 1:
        return points[0][1]
    lx = [math.log2(p[0]) for p in points]
    ly = [p[1] for p in points]
    t = math.log2(x)
    k = 1
    while k < len(lx) - 1 and t > lx[k]:
        k += 1
    x0, x1, y0, y1 = lx[k - 1], lx[k], ly[k - 1], ly[k]
    return y0 + (y1 - y0) * (t - x0) / (x1 - x0)


def unit_timing(unit: str, nodes: int, rows: list[dict[str, Any]] | None = None,
                device: str = "ice40-hx8k") -> tuple[int, float]:
    """(latency_cycles, fmax_mhz) of `unit` at `nodes`, interpolated over the table.

    Over the rows that have them (a size that did not fit the device has cycles but no
    Fmax), latency is interpolated piecewise-linearly in log2 N and rounded up to whole
    cycles, and Fmax piecewise-linearly in log-log (a power law between neighbours, so it
    stays positive when extrapolated).  Beyond the table the end segment continues.
    Exact at measured N.
    """
    if isinstance(nodes, bool) or not isinstance(nodes, (int, np.integer)) or nodes < 1:
        raise ValueError(f"nodes must be a positive integer, not {nodes!r}")
    table = load_characterisation() if rows is None else rows
    mine = [r for r in table if r["unit"] == unit and r["device"] == device]
    lat_pts = sorted((r["nodes"], r["latency_cycles"]) for r in mine
                     if r["latency_cycles"] is not None)
    fmax_pts = sorted((r["nodes"], r["fmax_mhz"]) for r in mine if r["fmax_mhz"] is not None)
    if not lat_pts or not fmax_pts:
        raise LookupError(f"no characterisation rows with cycles and Fmax for unit {unit!r} "
                          f"on {device}")
    latency = _interpolate(lat_pts, nodes)
    fmax = math.exp(_interpolate([(n, math.log(f)) for n, f in fmax_pts], nodes))
    return max(1, math.ceil(latency - 1e-9)), fmax


def verify_unit_timing(nodes: int) -> tuple[int, float]:
    """(latency_cycles, fmax_mhz) of the tree-verify unit for a tree of `nodes` nodes."""
    return unit_timing("tree_verify", nodes)


def tree_unit_timing(nodes: int) -> tuple[int, float]:
    """(latency_cycles, fmax_mhz) of the tree-mask unit for a tree of `nodes` nodes."""
    return unit_timing("tree_mask", nodes)

