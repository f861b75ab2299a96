"""`specaccel cost`: latency, energy, FLOPs and bytes of one forward pass, per operator."""

from __future__ import annotations

import argparse
from typing import Any

from specaccel.cli.hardware_options import (
    accelerator_from_args,
    add_accelerator_options,
    wants_accelerator,
)
from specaccel.cli.output import add_warning, emit, table
from specaccel.models.cost import (
    get_hardware,
    get_model,
    list_hardware,
    list_models,
    pass_cost,
)
from specaccel.models.cost.diffusion_block_pass import CACHE_SCHEMES, block_pass_shape
from specaccel.models.cost.hardware_spec import check_finite_costs, gib
from specaccel.models.cost.model_spec import DTYPE_BYTES
from specaccel.models.cost.pass_args import PHASES
from specaccel.schema.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cost",
        help="latency/energy of one forward pass (model, hardware, phase, batch, context)",
        description=(
            "Cost of one forward pass of a model on a device: latency, energy, FLOPs and "
            "bytes, with a per-operator breakdown (roofline with the preset's efficiency "
            "factors; docs/cost-model.md). A verify pass over N tree tokens is "
            "--phase verify --tokens N. A refinement step of a masked diffusion LM (e.g. "
            "--model llada-8b) is --pass diffusion-block --block-size B: a bidirectional pass "
            "over the block, with --context the tokens before it, --suffix the masked "
            "tokens after it and --cache the block-cache scheme. Models: "
            + ", ".join(list_models())
            + ", or a path to a Hugging Face config.json. Hardware: "
            + ", ".join(list_hardware()) + "."
        ),
    )
    parser.add_argument("--gemm", default=None, metavar="MxNxK",
                        help="one GEMM (M x K) @ (K x N) on the accelerator's systolic "
                             "arrays instead of a pass: cycles and utilisation (with --accel "
                             "or an accelerator --hw; takes --weight-dtype, --roofline)")
    parser.add_argument("--model", default=None, metavar="NAME|config.json",
                        help="model preset or Hugging Face config.json (default llama-2-7b)")
    parser.add_argument("--hw", default=None, metavar="NAME",
                        help=f"hardware preset (default {DEFAULT_HW})")
    parser.add_argument("--pass", dest="pass_kind", default=None,
                        choices=list(PASS_KINDS),
                        help="forward: the pass given by --phase/--tokens (default); "
                             "diffusion-block: one bidirectional refinement pass over a block "
                             "of a diffusion LM (--block-size, --suffix, --cache)")
    parser.add_argument("--phase", default=None, choices=list(PHASES),
                        help="prefill, decode or verify (default decode)")
    parser.add_argument("--tokens", type=int, default=None, metavar="N",
                        help="query tokens per row (default 1; for prefill the prompt length,"
                             " default 512)")
    parser.add_argument("--context", default=None, metavar="S[,S...]",
                        help="tokens already in the KV cache; one value, or one per batch row"
                             " (default 1024; prefill: 0)")
    parser.add_argument("--batch", type=int, default=None, metavar="B",
                        help="batch rows (default 1)")
    parser.add_argument("--tp", type=int, default=None, metavar="N",
                        help="tensor-parallel degree (default 1)")
    parser.add_argument("--stack", default=None, metavar="NAME",
                        help="software stack around the kernels of a GPU pass: adds its "
                             "host time, kernel launches and traffic, and reports the "
                             "pass's wall time on it (default: the kernels alone)")
    parser.add_argument("--pp", type=int, default=None, metavar="N",
                        help="pipeline stages: the layers in sequence over N devices "
                             "(default 1)")
    parser.add_argument("--offload", action="store_true",
                        help="weights that do not fit the device stay in host memory: the "
                             "device keeps the embedding, the LM head and whole layers in "
                             "what the KV cache and two layers of staging leave, and the rest "
                             "crosses PCIe every pass")
    parser.add_argument("--layers", type=int, default=None, metavar="L",
                        help="decoder layers evaluated (default all; fewer = early-exit draft)")
    parser.add_argument("--no-tree", action="store_true",
                        help="multi-token pass without a tree mask (chain / causal)")
    parser.add_argument("--block-size", type=int, default=None, metavar="B",
                        help="--pass diffusion-block: tokens per block (required there)")
    parser.add_argument("--suffix", type=int, default=None, metavar="N",
                        help="--pass diffusion-block: still-masked tokens after the block "
                             "(default 0)")
    parser.add_argument("--cache", default=None, choices=list(CACHE_SCHEMES),
                        help="--pass diffusion-block: block-cache scheme; dual caches prefix "
                             "and suffix KV, prefix recomputes the suffix, none the whole "
                             "sequence (default dual)")
    parser.add_argument("--weight-dtype", choices=list(DTYPE_BYTES), default=None,
                        help="override the weight precision")
    parser.add_argument("--kv-dtype", choices=list(DTYPE_BYTES), default=None,
                        help="override the KV-cache precision")
    parser.add_argument("--roofline", action="store_true",
                        help="pure roofline: both efficiency factors set to 1")
    add_accelerator_options(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def _context(text: str) -> int | list[int]:
    from specaccel.schema.config_fields import parse_list

    vals = parse_list(text, int, option="--context", what="integers")
    return vals[0] if len(vals) == 1 else vals


DEFAULT_HW = "a100-80gb"
"""The hardware of ``specaccel cost`` without ``--hw`` or accelerator options."""
DEFAULT_MODEL = "llama-2-7b"
"""The model of ``specaccel cost`` without ``--model``."""
#: Kinds of pass `specaccel cost` evaluates (``--pass``).
PASS_KINDS: tuple[str, ...] = ("forward", "diffusion-block")
#: Options that only a diffusion block pass takes, and those it cannot take.
_BLOCK_ONLY = (("block_size", "--block-size"), ("suffix", "--suffix"), ("cache", "--cache"))
_NOT_WITH_BLOCK = (("phase", "--phase"), ("tokens", "--tokens"))


def _block_pass(args: argparse.Namespace) -> dict[str, Any]:
    """pass_cost arguments and report fields of ``--pass diffusion-block``."""
    for dest, flag in _NOT_WITH_BLOCK:
        if getattr(args, dest) is not None:
            raise InputError("not with --pass diffusion-block (a verify-phase pass over the "
                             "block's query tokens)", field=flag)
    if args.no_tree:
        raise InputError("not with --pass diffusion-block (its attention has no mask)",
                         field="--no-tree")
    if args.block_size is None:
        raise InputError("required with --pass diffusion-block", field="--block-size")
    prefix = _context(args.context) if args.context is not None else 1024
    if isinstance(prefix, list):
        raise InputError("one value (the tokens before the block) with --pass "
                         "diffusion-block", field="--context")
    suffix = args.suffix if args.suffix is not None else 0
    cache = args.cache or "dual"
    flags = {"block_size": "--block-size", "prefix": "--context", "suffix": "--suffix"}
    try:
        tokens, context = block_pass_shape(args.block_size, prefix, suffix, cache)
    except InputError as exc:
        raise InputError(exc.reason, field=flags.get(exc.field or "", exc.field)) from None
    return {"tokens": int(tokens[0]), "context": float(context[0]), "phase": "verify",
            "tree": False, "report": {"pass": "diffusion-block", "block_size": args.block_size,
                                      "prefix": prefix, "suffix": suffix, "cache": cache}}


def _forward_pass(args: argparse.Namespace) -> dict[str, Any]:
    """pass_cost arguments and report fields of ``--pass forward``."""
    for dest, flag in _BLOCK_ONLY:
        if getattr(args, dest) is not None:
            raise InputError("only with --pass diffusion-block", field=flag)
    phase = args.phase or "decode"
    prefill = phase == "prefill"
    tokens = args.tokens if args.tokens is not None else (512 if prefill else 1)
    if args.no_tree and (prefill or tokens <= 1):
        raise InputError("only for a pass over several query tokens (--tokens N > 1, "
                         "not --phase prefill): a one-token or prefill pass has no tree mask",
                         field="--no-tree")
    if args.context is None:
        context: int | list[int] = 0 if prefill else 1024
    else:
        context = _context(args.context)
    return {"tokens": tokens, "context": context, "phase": phase, "tree": not args.no_tree,
            "report": {"pass": "forward"}}


def run(args: argparse.Namespace) -> int:
    if wants_accelerator(args):
        hw = accelerator_from_args(args, args.hw)
    else:
        hw = get_hardware(args.hw or DEFAULT_HW)
    if args.roofline:
        hw = hw.roofline()
    if args.gemm is not None:
        from specaccel.cli.cost_gemm import run_gemm

        for flag, given in (("--stack", args.stack is not None), ("--pp", args.pp is not None),
                            ("--offload", args.offload)):
            if given:
                raise InputError("prices a model pass, not --gemm", field=flag)
        return run_gemm(args, hw)
    shape = _block_pass(args) if args.pass_kind == "diffusion-block" else _forward_pass(args)
    model = get_model(args.model or DEFAULT_MODEL, weight_dtype=args.weight_dtype,
                      kv_dtype=args.kv_dtype)
    tokens, prefill = shape["tokens"], shape["phase"] == "prefill"
    tp = 1 if args.tp is None else args.tp
    if args.pp is not None and args.pp < 1:
        raise InputError(f"must be an integer >= 1, not {args.pp}", field="--pp")
    cost = pass_cost(model, hw, tokens=tokens, context=shape["context"],
                     batch=1 if args.batch is None else args.batch, tp=tp,
                     phase=shape["phase"], layers=args.layers, tree=shape["tree"])
    check_finite_costs({"latency_s": cost.latency_s, "energy_j": cost.energy_j}, hw=hw,
                       what=f"a {shape['phase']} pass of {model.name}",
                       field=_hardware_option(args))
    result = cost.to_dict()
    result.update(shape["report"])
    rows = cost.meta["batch"] * (1 if prefill else tokens)
    result["tokens_per_s"] = rows / cost.latency_s
    result["energy_per_token_j"] = cost.energy_j / rows
    result["hardware"] = {
        "name": hw.name, "kind": hw.kind, "peak_flops": hw.peak_flops,
        "mem_bw_bytes_s": hw.mem_bw_bytes_s, "bw_efficiency": hw.bw_efficiency,
        "compute_efficiency": hw.compute_efficiency, "area_mm2": hw.area_mm2 or None,
        "verify_unit_latency_s": hw.verify_unit_latency_s(max(tokens, 1)),
        "verify_unit_source": hw.verify_unit_source, "kernel_model": hw.kernel_model,
    }
    pp = 1 if args.pp is None else args.pp
    _check_fits(result, model, hw, tp * pp, offload=args.offload)
    if args.stack is not None or args.pp is not None or args.offload:
        _on_stack(result, args, model, hw, shape, tp)
    emit(args.json, result, _human)
    return 0


def _hardware_option(args: argparse.Namespace) -> str:
    """The option that chose the hardware, for an error about its costs."""
    return "--accel" if wants_accelerator(args) else "--hw"


def _on_stack(result: dict[str, Any], args: argparse.Namespace, model: Any, hw: Any,
              shape: dict[str, Any], tp: int) -> None:
    """The pass on a software stack and placement: its wall time, host and GPU time."""
    import numpy as np

    from specaccel.models.cost.deployment_config import DeploymentConfig
    from specaccel.schema.config_fields import from_mapping

    cfg = from_mapping(DeploymentConfig, {"stack": args.stack or "ideal", "tp": tp,
                                          "pp": 1 if args.pp is None else args.pp,
                                          "offload": args.offload})
    dep = cfg.build(hw)
    try:
        dep.target_placement.check_model(model)
    except InputError as exc:
        raise InputError(exc.reason, field=f"--{exc.field}") from None
    batch = result["batch"]
    ctx = np.asarray([float(result["context"])])
    r = dep.pass_costs(model, role="target", tokens=np.asarray([float(shape["tokens"])]),
                       context=ctx, batch=batch, phase=shape["phase"])
    rows = batch * (1 if shape["phase"] == "prefill" else shape["tokens"])
    check_finite_costs({"latency_s": r["latency_s"]}, hw=hw,
                       what=f"the pass of {model.name} on stack {dep.stack.name}",
                       field=_hardware_option(args))
    wall = float(r["latency_s"][0])
    result["deployment"] = {
        "stack": dep.stack.name, "placement": dep.target_placement.to_dict(),
        "wall_s": wall, "host_s": float(r["host_s"][0]), "gpu_s": float(r["gpu_s"][0]),
        "request_s": float(r.get("request_s", np.zeros(1))[0]),
        "bound": "host" if r["host_s"][0] >= r["gpu_s"][0] else "gpu",
        "tokens_per_s": rows / wall,
    }
    if dep.target_placement.offload:
        from specaccel.models.cost.placement import host_link_bw, offload_plan, offload_time_s

        kv_tokens = float(ctx[0] + shape["tokens"]) * float(batch)
        plan = offload_plan(model, hw, dep.target_placement, kv_tokens=kv_tokens)
        result["deployment"]["offload"] = {
            **plan.to_dict(), "host_link_bytes_s": host_link_bw(hw),
            "copy_s": offload_time_s(hw, model, dep.target_placement, kv_tokens=kv_tokens)}
        try:  # what an offloaded model cannot stream: its KV cache, staging, embedding
            dep.check(model, None, kv_tokens=kv_tokens)
        except InputError as exc:
            result["fits_memory"] = False
            add_warning(result, "does_not_fit_memory",
                        f"{exc.reason}: no such device runs this pass")


def _check_fits(result: dict[str, Any], model: Any, hw: Any, tp: int,
                offload: bool = False) -> None:
    """Flag a pass whose weights do not fit the device memory (per device of `tp`
    tensor-parallel shards or pipeline stages; an offloaded pass is checked with its
    placement, `_on_stack`): its latency is computed but no such device could run it."""
    per_device = model.weight_bytes / tp
    cap = getattr(hw, "mem_bytes", None)
    fits = not cap or per_device <= cap or offload
    result["fits_memory"] = fits
    if not fits:
        add_warning(result, "does_not_fit_memory",
                    f"{model.name} needs {gib(per_device, 1)} of weights per device but "
                    f"{hw.name} has {gib(cap, 1)}: no such device runs this pass"
                    + (" (raise --tp or --pp, or --offload)" if model.weight_bytes <= cap * 64
                       else ""))


def _human(r: dict[str, Any]) -> str:
    block = ""
    if r["pass"] == "diffusion-block":
        block = (f"diffusion block pass: block {r['block_size']}, prefix {r['prefix']}, "
                 f"suffix {r['suffix']}, {r['cache']} cache (bidirectional, no mask)\n")
    head = block + (f"{r['model']} on {r['hw']}: {r['phase']}, tokens {r['tokens']}, context "
            f"{r['context']:g}, batch {r['batch']}, tp {r['tp']}, layers {r['layers']}\n"
            f"latency {r['latency_s'] * 1e3:.4g} ms   energy {r['energy_j']:.4g} J   "
            f"FLOPs {r['flops']:.4g}   bytes {r['bytes']:.4g}   "
            f"({r['tokens_per_s']:.4g} tokens/s)\n"
            f"one decoder layer {r['per_layer']['latency_s'] * 1e3:.4g} ms   once per pass "
            f"{r['per_pass']['latency_s'] * 1e3:.4g} ms   kernels {r['kernels']:g}\n")
    d = r.get("deployment")
    if d:
        p = d["placement"]
        head += (f"on stack {d['stack']} (tp {p['tp']}, pp {p['pp']}"
                 + (", offloaded" if p["offload"] else "") +
                 f"): wall {d['wall_s'] * 1e3:.4g} ms = max(host {d['host_s'] * 1e3:.4g} ms, "
                 f"GPU {d['gpu_s'] * 1e3:.4g} ms)"
                 + (f" + request {d['request_s'] * 1e3:.4g} ms (the engine's host time "
                    "per request, before and after its first prefill)"
                    if d.get("request_s") else "")
                 + f", {d['bound']}-bound "
                 f"({d['tokens_per_s']:.4g} tokens/s)\n")
        off = d.get("offload")
        if off:
            head += (f"offload: keeps {off['resident_layers']} of {off['layers']} layers "
                     f"({gib(off['resident_bytes'])} of weights) on the devices, "
                     f"{gib(off['staging_bytes'])} of staging buffers on each that streams; "
                     f"copies {off['copy_bytes'] / 1e9:.4g} GB per pass on its slowest path "
                     f"at {off['host_link_bytes_s'] / 1e9:.3g} GB/s: "
                     f"{off['copy_s'] * 1e3:.4g} ms\n")
    rows = [[e["name"], e["count"], e["flops"], e["bytes"], e["latency_s"] * 1e3,
             e["energy_j"], e["bound"]] for e in r["breakdown"]]
    return head + table(rows, ["operator", "x", "flops", "bytes", "ms", "J", "bound"])
