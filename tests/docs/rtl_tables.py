"""The RTL characterisation tables of docs/hdl-flow.md and docs/hdl.md, made from the
bundled table (``specaccel/data/rtl-characterisation.csv``).

Each block between ``<!-- NAME ... -->`` and ``<!-- /NAME -->`` is exactly what
:data:`BLOCKS` makes of the table; tests/docs/test_rtl_tables.py compares.  After
regenerating the bundled table, rewrite the blocks with::

    .venv/bin/python tests/docs/rtl_tables.py
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
FAMILIES = ("ice40-hx8k", "ecp5", "xilinx-7")
LABEL = {"ice40-hx8k": "iCE40 HX8K", "ecp5": "ECP5-85F", "xilinx-7": "Xilinx 7"}


def _rows() -> list[dict]:
    from specaccel.models.cost.rtl_table import load_characterisation

    return load_characterisation()


def _index(rows: list[dict]) -> dict[tuple[str, int, str], dict]:
    return {(r["unit"], int(r["nodes"]), r["device"]): r for r in rows}


def _designs(rows: list[dict], units: tuple[str, ...] | None = None) -> list[tuple[str, int]]:
    names = list(dict.fromkeys(r["unit"] for r in rows))
    return sorted({(r["unit"], int(r["nodes"])) for r in rows
                   if units is None or r["unit"] in units},
                  key=lambda d: (names.index(d[0]), d[1]))


def _n(value) -> str:
    return "—" if value is None else f"{value:,}"


def _area(r: dict) -> str:
    return (f"{_n(r['bare_luts'])} / {_n(r['bare_ffs'])} / {_n(r['bare_carry'])} / "
            f"{_n(r['bare_brams'])}")


def _fmax(r: dict) -> str:
    if r["fmax_median_mhz"] is None:
        return {"does not fit": "does not fit", "not run": "—"}.get(r["pnr"], r["pnr"])
    seeds = "" if r["pnr_seeds"] == 5 else f", {r['pnr_seeds']} seeds"
    return (f"{r['fmax_median_mhz']:.1f} ({r['fmax_min_mhz']:.1f}–"
            f"{r['fmax_max_mhz']:.1f}){seeds}")


def _placed(r: dict) -> str:
    """The placed design's (unit + harness) LUTs / FFs: yosys' counts of the netlist that
    is placed, or that does not fit."""
    return ("—" if r["harness_luts"] is None
            else f"{r['harness_luts']:,} / {r['harness_ffs']:,}")


def area_block(rows: list[dict], units: tuple[str, ...] | None = None) -> str:
    """The unit alone on each family: LUTs / FFs / carry / BRAM."""
    idx = _index(rows)
    lines = ["| unit | N | " + " | ".join(
        f"{LABEL[f]} LUT / FF / carry / BRAM" for f in FAMILIES) + " |",
        "|---|---|" + "---|" * len(FAMILIES)]
    for unit, n in _designs(rows, units):
        lines.append(f"| {unit} | {n} | " + " | ".join(
            _area(idx[unit, n, f]) for f in FAMILIES) + " |")
    return "\n".join(lines)


def fmax_block(rows: list[dict], units: tuple[str, ...] | None = None) -> str:
    """Cycles, and the placed design (unit + harness) on iCE40 and ECP5: LUTs / FFs and
    Fmax median (min–max), or "does not fit"."""
    idx = _index(rows)
    placed = FAMILIES[:2]
    lines = ["| unit | N | latency / II (cycles) | " + " | ".join(
        f"{LABEL[f]} placed LUTs / FFs | {LABEL[f]} Fmax MHz, median (min–max)"
        for f in placed)
        + " |", "|---|---|---|" + "---|---|" * len(placed)]
    for unit, n in _designs(rows, units):
        r0 = idx[unit, n, placed[0]]
        lines.append(f"| {unit} | {n} | {r0['latency_cycles']:g} / {r0['ii_cycles']:g} | "
                     + " | ".join(f"{_placed(idx[unit, n, f])} | {_fmax(idx[unit, n, f])}"
                                  for f in placed) + " |")
    mine = [r for r in rows if units is None or r["unit"] in units]
    seeds = sorted({r["pnr_seeds"] for r in mine if r["pnr"] == "placed"})
    lines += ["", f"Seeds per placed design: {', '.join(map(str, seeds))}; "
              "tools: " + "; ".join(sorted({r["tool_versions"] for r in mine
                                             if r["device"] in placed})) + "."]
    return "\n".join(lines)


def exponent_block(rows: list[dict]) -> str:
    """Fitted exponents e of count ~ N^e (least squares on log-log, every size)."""
    from specaccel.hdl.characterisation import fit_exponent

    units = list(dict.fromkeys(r["unit"] for r in rows))

    def e(unit: str, column: str, device: str) -> str:
        v = fit_exponent(rows, unit, column, device)
        return "—" if v is None else f"{v:.2f}"

    lines = ["| unit | N | LUTs alone, iCE40 | ECP5 | Xilinx 7 | FFs alone, iCE40 | "
             "placed LUTs (unit + harness), iCE40 |", "|---|---|---|---|---|---|---|"]
    for u in units:
        sizes = sorted({int(r["nodes"]) for r in rows if r["unit"] == u})
        lines.append(f"| {u} | {sizes[0]}–{sizes[-1]} | {e(u, 'bare_luts', 'ice40-hx8k')} | "
                     f"{e(u, 'bare_luts', 'ecp5')} | {e(u, 'bare_luts', 'xilinx-7')} | "
                     f"{e(u, 'bare_ffs', 'ice40-hx8k')} | "
                     f"{e(u, 'harness_luts', 'ice40-hx8k')} |")
    return "\n".join(lines)


def sampling_block(_rows_unused: list[dict]) -> str:
    """The sampling unit per lane count W: the unit alone on each family, and its Fmax."""
    from specaccel.models.cost.sampling_unit_table import (
        load_sampling_table,
        sampling_cycles,
        sampling_timing,
    )

    rows = [r for r in load_sampling_table() if r["kind"] == "unit"]
    idx = {(r["lanes"], r["device"]): r for r in rows}
    lanes = sorted({r["lanes"] for r in rows})
    lines = ["| W | latency / tail (cycles) | " + " | ".join(
        f"{LABEL[f]} LUT / FF / carry / BRAM" for f in FAMILIES) + " | "
        + " | ".join(f"{LABEL[f]} Fmax MHz, median (min–max)" for f in FAMILIES[:2]) + " |",
        "|---|---|" + "---|" * (len(FAMILIES) + 2)]
    for w in lanes:
        r0 = idx[w, FAMILIES[0]]
        lines.append(f"| {w} | {r0['latency_cycles']} / {r0['tail_cycles']} | "
                     + " | ".join(_area(idx[w, f]) for f in FAMILIES) + " | "
                     + " | ".join(_fmax(idx[w, f]) for f in FAMILIES[:2]) + " |")
    placed = [r for r in rows if r["pnr"] == "placed"]
    if placed:
        lines += ["", "Seeds 1–5 per placed row unless it says fewer; tools: " + "; ".join(
            sorted({r["tool_versions"] for r in placed})) + "."]
        lines += ["", "One greedy node at the placed units' median Fmax (cycles by the "
                  "table's law: `ceil(V / W)` beats at one a cycle, then the result latency; "
                  "the same design, 18-bit indices, for every vocabulary up to 2^18):", "",
                  "| W | device | Fmax MHz | cycles / µs per node, V = 32,000 | "
                  "cycles / µs per node, V = 128,256 |", "|---|---|---|---|---|"]
        for r in sorted(placed, key=lambda r: (FAMILIES.index(r["device"]), r["lanes"])):
            f = r["fmax_median_mhz"]
            cells = []
            for v in (32000, 128256):
                c = sampling_cycles(sampling_timing(r["lanes"]), n_nodes=1, vocab=v)
                cells.append(f"{c:,.0f} / {c / f:,.1f}")
            seeds = "" if r["pnr_seeds"] == 5 else f" ({r['pnr_seeds']} seeds)"
            lines.append(f"| {r['lanes']} | {LABEL[r['device']]} | {f:.1f}{seeds} | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines)


def _unit_tables(unit: str) -> Callable[[list[dict]], str]:
    def make(rows: list[dict]) -> str:
        return (area_block(rows, (unit,)) + "\n\n" + fmax_block(rows, (unit,)))
    return make


#: (page, marker) -> the block's maker
BLOCKS: dict[tuple[str, str], Callable[[list[dict]], str]] = {
    ("hdl-flow.md", "rtl-area"): area_block,
    ("hdl-flow.md", "rtl-fmax"): fmax_block,
    ("hdl-flow.md", "rtl-exponents"): exponent_block,
    ("hdl.md", "rtl-tree-verify"): _unit_tables("tree_verify"),
    ("hdl.md", "rtl-tree-verify-serial"): _unit_tables("tree_verify_serial"),
    ("hdl.md", "rtl-sampling-unit"): sampling_block,
}


def current(page: str, marker: str) -> str:
    text = (DOCS / page).read_text()
    return text.split(f"<!-- {marker}", 1)[1].split("-->", 1)[1].split(
        f"<!-- /{marker} -->", 1)[0].strip()


def block(page: str, marker: str) -> str:
    return BLOCKS[page, marker](_rows())


def refresh() -> list[str]:
    """Rewrite every stale block; the names of those rewritten."""
    rows = _rows()
    done = []
    for (page, marker), make in BLOCKS.items():
        want = make(rows)
        if current(page, marker) == want:
            continue
        path = DOCS / page
        text = path.read_text()
        head, rest = text.split(f"<!-- {marker}", 1)
        comment, rest = rest.split("-->", 1)
        _, tail = rest.split(f"<!-- /{marker} -->", 1)
        path.write_text(f"{head}<!-- {marker}{comment}-->\n{want}\n<!-- /{marker} -->{tail}")
        done.append(f"{page} {marker}")
    return done


if __name__ == "__main__":
    changed = refresh()
    print("rewrote " + ", ".join(changed) if changed else "every RTL block is current")
