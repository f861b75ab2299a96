"""cocotb side of ``test_stream_protocol.py``: drive a one-register stream unit with
:func:`specaccel.hdl.cocotb_stream.drive` and report whether its monitors stopped the run."""

import os
import random

import cocotb

from specaccel.hdl.cocotb_runner import record_measured
from specaccel.hdl.cocotb_stream import drive, reset
from specaccel.hdl.stream_protocol import StreamProtocolError


@cocotb.test()
async def monitors_judge_the_unit(dut):
    await reset(dut)
    words = list(range(60))
    try:
        log = await drive(dut, words, rng=random.Random(1), p_valid=0.6, p_ready=0.3)
    except StreamProtocolError as error:
        outcome = "error"
        assert "resp: valid dropped" in str(error), str(error)
    else:
        outcome = "pass"
        assert log.responses == words
        assert log.monitors["resp"].stalls > 0 and log.monitors["req"].stalls > 0
    assert outcome == os.environ["EXPECT"], outcome
    record_measured({"outcome": outcome})
