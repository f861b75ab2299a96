"""The board's parts: exported layouts (JSON, a C header compiled and run), AXI-Stream width
adapters around a unit, the UART, and the board build (a small core's bitstream; the board's
own core under ``pytest -m slow``)."""

import json
import subprocess

import numpy as np
import pytest
from amaranth.sim import Simulator

from specaccel.hdl import host_driver as hd
from specaccel.hdl.axi_stream import AxisUnit
from specaccel.hdl.board import BOARD_CORE, BOARDS, BoardTop, build_bitstream, export_layout
from specaccel.hdl.host_link import HostLinkTop
from specaccel.hdl.layouts import pack
from specaccel.hdl.uart import UARTReceiver, UARTTransmitter
from specaccel.hdl.units.kv_compact.gateware import KVCompactUnit
from specaccel.hdl.units.kv_compact.model import CompactVectorModel

# the link fixture is built for its layouts only, never elaborated
pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


@pytest.fixture(scope="module")
def link():
    return HostLinkTop(divisor=217, **BOARD_CORE)


def test_layout_json_matches_the_gateware(link):
    doc = json.loads(export_layout(link)[0])
    commit = doc["units"]["spec_decode_core"]["commit"]
    assert commit["bits"] == link.core.commit_layout.size
    assert doc["parameters"]["commit_bytes"] == link.commit_bytes == -(-commit["bits"] // 8)
    # every field of the node header at the offset the layout gives, nothing overlapping
    fields = {f["name"]: f for f in doc["units"]["spec_decode_core"]["node"]["fields"]}
    for name, field in link.core.header_layout:
        assert fields[name]["offset"] == field.offset
    spans = sorted((f["offset"], f["offset"] + f["stride"] * f["count"]) for f in
                   commit["fields"])
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))


def test_c_header_packs_like_python(link, tmp_path):
    """A C program packs a node header and reads a commit field with the exported macros;
    the words equal the Python packing of the same values."""
    (tmp_path / "specaccel.h").write_text(export_layout(link)[1])
    hdr = {"token": 201_733, "parent": 41, "last": 1, "top_k": 8, "inv_temp": 5909,
           "uniform": 65_535, "kv_base": 4321}
    sets = "\n".join(
        f"    specaccel_set(w, SPEC_DECODE_CORE_NODE_{k.upper()}_OFFSET, "
        f"SPEC_DECODE_CORE_NODE_{k.upper()}_WIDTH, {v}u);" for k, v in hdr.items())
    prog = f"""
#include <stdio.h>
#include "specaccel.h"
int main(void) {{
    uint32_t w[SPEC_DECODE_CORE_NODE_WORDS] = {{0}};
{sets}
    for (int i = 0; i < SPEC_DECODE_CORE_NODE_WORDS; i++) printf("%u\\n", w[i]);
    uint32_t c[SPEC_DECODE_CORE_COMMIT_WORDS] = {{0}};
    specaccel_set(c, SPEC_DECODE_CORE_COMMIT_COMPACT_GATHER_OFFSET
                  + 63 * SPEC_DECODE_CORE_COMMIT_COMPACT_GATHER_STRIDE,
                  SPEC_DECODE_CORE_COMMIT_COMPACT_GATHER_WIDTH, 54321);
    printf("%u\\n", specaccel_get(c, SPEC_DECODE_CORE_COMMIT_COMPACT_GATHER_OFFSET
                  + 63 * SPEC_DECODE_CORE_COMMIT_COMPACT_GATHER_STRIDE, 16));
    return 0;
}}
"""
    (tmp_path / "t.c").write_text(prog)
    subprocess.run(["cc", "-Wall", "-Werror", "-o", str(tmp_path / "t"), str(tmp_path / "t.c")],
                   check=True)
    out = [int(x) for x in subprocess.run([str(tmp_path / "t")], check=True,
                                          capture_output=True, text=True).stdout.split()]
    word = sum(v << (32 * i) for i, v in enumerate(out[:-1]))
    assert word == pack(link.core.header_layout, hdr)
    assert out[-1] == 54321


def test_axi_stream_unit_with_width_adaptation():
    """KV compaction behind a 32-bit AXI-Stream in and 8-bit... here 32-bit out: every
    response equals the golden model, with random gaps and back-pressure."""
    nodes = 8
    unit = KVCompactUnit(nodes=nodes)
    dut = AxisUnit(unit, data_bytes=4)
    model = CompactVectorModel(nodes=nodes)
    rng = np.random.default_rng(4)
    vecs = []
    for _ in range(60):
        n = int(rng.integers(1, nodes + 1))
        path = [0] + sorted(rng.choice(np.arange(1, nodes), n - 1, replace=False).tolist())
        vecs.append(model.vector(path, int(rng.integers(0, 5000))))
    nin, nout = dut.deserialiser.beats, dut.serialiser.beats
    got: list[int] = []

    async def producer(ctx):
        for req, _ in vecs:
            for b in range(nin):
                while rng.random() < 0.3:
                    ctx.set(dut.s_axis.valid, 0)
                    await ctx.tick()
                ctx.set(dut.s_axis.payload, {"data": (req >> (32 * b)) & 0xFFFFFFFF,
                                             "keep": 0xF, "last": int(b == nin - 1)})
                ctx.set(dut.s_axis.valid, 1)
                await ctx.tick().until(dut.s_axis.ready)
        ctx.set(dut.s_axis.valid, 0)

    async def consumer(ctx):
        from specaccel.hdl.stream_protocol import StreamMonitor

        monitor = StreamMonitor("m_axis")  # the stream rule on the AXI-Stream output
        word, k, cycle = 0, 0, 0
        while len(got) < len(vecs):
            ready = rng.random() < 0.6
            ctx.set(dut.m_axis.ready, ready)
            _, _, valid, p = await ctx.tick().sample(dut.m_axis.valid, dut.m_axis.payload)
            monitor.observe(cycle, bool(valid), ready, p.as_value().value)
            cycle += 1
            if valid and ready:
                word |= int(p.data) << (32 * k)
                k += 1
                assert int(p.last) == (k == nout)
                if p.last:
                    got.append(word)
                    word, k = 0, 0

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    mask = (1 << model.resp_layout.size) - 1
    assert [g & mask for g in got] == [resp for _, resp in vecs]


def test_uart_loopback_bytes():
    """Every byte value through the transmitter into the receiver, back to back."""
    from amaranth.hdl import Module

    m = Module()
    m.submodules.tx = tx = UARTTransmitter(divisor=5)
    m.submodules.rx = rx = UARTReceiver(divisor=5)
    m.d.comb += rx.rx.eq(tx.tx)
    data = list(range(256))
    got = []

    async def bench(ctx):
        ctx.set(rx.out.ready, 1)
        sent = 0
        for _ in range(256 * 60):
            if sent < len(data):
                ctx.set(tx.inp.payload, data[sent])
                ctx.set(tx.inp.valid, 1)
            else:
                ctx.set(tx.inp.valid, 0)
            _, _, ready, valid, byte = await ctx.tick().sample(tx.inp.ready, rx.out.valid,
                                                             rx.out.payload)
            if ready and sent < len(data):
                sent += 1
            if valid:
                got.append(int(byte))
            if len(got) == len(data):
                break

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == data


def test_board_top_elaborates():
    """The board top on the ULX3S: the FTDI UART's pins in the constraints and a 217-cycle
    bit at 115,200 baud from the 25 MHz oscillator (the full build is the slow test)."""
    assert set(BOARDS) == {"ulx3s-12f", "ulx3s-25f", "ulx3s-45f", "ulx3s-85f"}
    platform = BOARDS["ulx3s-85f"]()
    top = BoardTop(platform.default_clk_frequency)
    assert top.divisor == 217
    lpf = platform.prepare(top, name="specaccel").files["specaccel.lpf"]
    assert 'SITE "M1"' in lpf and 'SITE "L4"' in lpf  # FTDI rx, tx


#: docs/cli.md's `hdl build` example: a core small enough that its bitstream builds in
#: about a minute (the board's own N = 64 core takes about 20 minutes on 2 shared cores:
#: the slow case)
TINY_CORE = dict(nodes=4, lanes=2, max_top_k=1, token_width=4, slot_width=8)


@pytest.mark.xdist_group("board_build")  # with the doc test that builds it (tests/conftest.py)
@pytest.mark.parametrize("board, core, min_bytes", [
    ("ulx3s-12f", TINY_CORE, 50_000),
    pytest.param("ulx3s-85f", None, 100_000, marks=pytest.mark.slow)])
def test_bitstream_builds(request, tmp_path, board, core, min_bytes):
    if core is TINY_CORE:
        # built once a session by the documented command (tests/conftest.py), whose
        # output the doc test compares with the page
        run = request.getfixturevalue("board_build")
        assert run.code == 0, run.output
        assert run.option("--board") == board
        build_dir = run.folder / run.option("--build-dir")
        r = json.loads((build_dir / "specaccel.summary.json").read_text())
    else:
        build_dir = tmp_path
        r = build_bitstream(board, build_dir, core=core)
        assert json.loads((build_dir / "specaccel.summary.json").read_text()) == r
    assert r["board"] == board
    assert r["bitstream_bytes"] > min_bytes
    assert (build_dir / "specaccel.bit").stat().st_size == r["bitstream_bytes"]
    assert r["core"] == {**BOARD_CORE, **(core or {})}
    assert r["fmax_mhz"] and min(r["fmax_mhz"].values()) > 25.0  # the board's 25 MHz clock
    assert 0 < r["utilisation"]["TRELLIS_COMB"]["used"] <= r["utilisation"]["TRELLIS_COMB"][
        "available"]
    layout = json.loads((build_dir / "specaccel.layout.json").read_text())
    assert layout["units"] and layout["parameters"]["nodes"] == r["core"]["nodes"]


def test_host_driver_needs_a_big_enough_vocabulary():
    from specaccel.schema.trace import DraftTree

    tree = DraftTree.build([0, 0, 0], [0, 5, 6], [7, 8, 9])
    with pytest.raises(ValueError, match="distinct tokens"):
        hd.tree_requests(tree, vocab=3, kv_base=0, rng=np.random.default_rng(0))
