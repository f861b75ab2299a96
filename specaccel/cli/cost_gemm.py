"""``specaccel cost --gemm MxNxK``: one GEMM on the accelerator's systolic arrays, in cycles."""

from __future__ import annotations

import argparse
import re
from typing import Any

from specaccel.cli.output import emit
from specaccel.models.cost.gemm_cost import accelerator_gemm_cost
from specaccel.models.cost.hardware_spec import HardwareSpec, check_finite_costs
from specaccel.schema.errors import InputError

_GEMM_RE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*[xX]\s*(\d+)\s*$")

#: Options of a pass that mean nothing for one GEMM (dest, flag); each is an error with it.
_PASS_ONLY = (("model", "--model"), ("pass_kind", "--pass"), ("phase", "--phase"),
              ("tokens", "--tokens"), ("context", "--context"), ("batch", "--batch"),
              ("tp", "--tp"), ("layers", "--layers"), ("block_size", "--block-size"),
              ("suffix", "--suffix"), ("cache", "--cache"), ("kv_dtype", "--kv-dtype"))

_DATAFLOW_NAMES = {"os": "output-stationary", "ws": "weight-stationary",
                   "is": "input-stationary"}


def parse_gemm(text: str) -> tuple[int, int, int]:
    """``"MxNxK"`` -> ``(M, N, K)``, each a positive integer."""
    match = _GEMM_RE.match(text)
    if match is None:
        raise InputError(f"expected MxNxK (e.g. 64x4096x4096), not {text!r}", field="--gemm")
    m, n, k = (int(g) for g in match.groups())
    if min(m, n, k) < 1:
        raise InputError(f"M, N and K must be >= 1, not {text!r}", field="--gemm")
    if max(m, n, k) > MAX_GEMM_DIM:
        raise InputError(f"M, N and K must be <= {MAX_GEMM_DIM}, not {text!r}", field="--gemm")
    return m, n, k


#: Largest GEMM dimension ``--gemm`` takes: 16M, above a prefill of a million tokens and
#: the widest vocabulary (256k) of any model here.
MAX_GEMM_DIM = 1 << 24


def run_gemm(args: argparse.Namespace, hw: HardwareSpec) -> int:
    for dest, flag in _PASS_ONLY:
        if getattr(args, dest) is not None:
            raise InputError("not with --gemm (one GEMM, not a pass of a model)", field=flag)
    if args.no_tree:
        raise InputError("not with --gemm (one GEMM, not a pass of a model)",
                         field="--no-tree")
    m, n, k = parse_gemm(args.gemm)
    result = accelerator_gemm_cost(hw, m, n, k, weight_dtype=args.weight_dtype or "bf16")
    check_finite_costs({"latency_s": result["latency_s"]}, hw=hw, what=f"GEMM {m}x{n}x{k}",
                       field="--accel" if args.accel or args.accel_file else "--hw")
    emit(args.json, result, _human)
    return 0


def _human(r: dict[str, Any]) -> str:
    a, c, g = r["array"], r["cycles"], r["gemm"]
    engine = ("systolic arrays" if r["engine"] == "array" else
              f"vector unit ({c['vector']:,.0f} cycles; faster than the arrays' "
              f"{c['array']:,.0f})")
    return (
        f"GEMM ({g['m']} x {g['k']}) @ ({g['k']} x {g['n']}) on {r['hardware']}: "
        f"{a['cores']} array(s) of {a['rows']} x {a['cols']}, "
        f"{_DATAFLOW_NAMES[a['dataflow']]}, {a['clock_hz'] / 1e9:g} GHz\n"
        f"folds {r['folds']:,.0f} ({r['row_folds']:,.0f} x {r['col_folds']:,.0f}) in "
        f"{r['waves']:,.0f} wave(s); runs on the {engine}\n"
        f"array cycles  load {c['load']:,.0f}  compute {c['compute']:,.0f}  "
        f"skew {c['skew']:,.0f}  drain {c['drain']:,.0f}  = {c['array']:,.0f}\n"
        f"total cycles  {c['total']:,.0f}  (control {c['control']:,.0f}, "
        f"memory stalls {c['stall']:,.0f})\n"
        f"utilisation {r['utilisation'] * 100:.2f} %  (arrays alone "
        f"{r['array_utilisation'] * 100:.2f} %, mapping efficiency "
        f"{r['mapping_efficiency'] * 100:.1f} %)\n"
        f"latency {r['latency_s'] * 1e6:.4g} us, {r['bound']}-bound: HBM "
        f"{r['dram_bytes']:.4g} B in {r['dram_s'] * 1e6:.4g} us, SRAM {r['sram_bytes']:.4g} B "
        f"in {r['sram_s'] * 1e6:.4g} us\n"
    )
