"""A design built only to check its parameters warns about none of its parts."""

from __future__ import annotations

import gc
import warnings

import pytest
from amaranth.hdl import UnusedElaboratable

from specaccel.cli import main
from specaccel.hdl.host_link import HostLinkTop
from specaccel.hdl.unused_designs import built_only_to_check


@pytest.fixture(autouse=True)
def warnings_on(monkeypatch):
    """Amaranth holds the warning back until a process first elaborates something (a
    process that crashed before would only add noise); every command here that checks a
    design before a long run goes on to elaborate, so the warning is on."""
    monkeypatch.setattr(UnusedElaboratable, "_MustUse__silence", False)


def _unused_warnings(make) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make()
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, UnusedElaboratable)]


def test_a_host_link_left_unelaborated_warns_for_each_of_its_parts():
    """The baseline the helper exists for: the top and its sub-units all warn."""
    def make():
        HostLinkTop(divisor=4, nodes=4, lanes=1, max_top_k=1, token_width=4, slot_width=4)
    found = _unused_warnings(make)
    assert any("StreamingSpecDecodeCore" in m for m in found)
    assert any("UARTTransmitter" in m for m in found)


def test_built_only_to_check_silences_the_design_and_everything_it_holds():
    def make():
        built_only_to_check(HostLinkTop(divisor=4, nodes=4, lanes=1, max_top_k=1,
                                        token_width=4, slot_width=4))
    assert _unused_warnings(make) == []


def test_hdl_synth_of_a_composite_unit_prints_no_unused_design_warning(tmp_path, capsys):
    """`hdl synth` builds the design once only to check its parameters; the core's own
    sub-units (verify, mask, compaction, argmax) must not warn when that copy is
    collected."""
    found = _unused_warnings(lambda: main([
        "hdl", "synth", "--unit", "spec_decode_core", "--nodes", "4", "--device", "xilinx-7",
        "--build-dir", str(tmp_path / "b"), "--json"]))
    assert '"unit": "spec_decode_core"' in capsys.readouterr().out
    assert found == []
