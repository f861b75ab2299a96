"""`specaccel tree optimize`: hardware-aware draft-tree search (Sequoia dynamic program)."""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Any

import numpy as np

from specaccel.cli import option_rules
from specaccel.cli.output import add_warning, emit, table
from specaccel.models import theory
from specaccel.models.golden import node_depth
from specaccel.models.sequoia import choose_tree, sequoia_table
from specaccel.schema.config_fields import parse_list
from specaccel.schema.errors import InputError

SPEEDUP_DEFINITION = (
    "speedup = t_baseline / time_per_token, time_per_token = (depth * draft_time + "
    "t_verify(budget)) / E, E = expected tokens committed per step (accepted drafts + "
    "bonus token); t_baseline = --baseline-time, else the cost model's one-token target "
    "pass, else the target time of the smallest budget given"
)

_DESCRIPTION = f"""\
Find the draft tree that maximises expected tokens per step for a positional acceptance
vector (Sequoia's dynamic program), for each node budget and depth, and pick the
(budget, depth) that minimises the time per committed token on the given hardware.

Acceptance vector: by default (--acceptance-form conditional) entry k is the probability
that the k-th ranked child of an accepted node is accepted given ranks 1..k-1 were
rejected; with --acceptance-form marginal it is Sequoia's measured vector, the
probability that the k-th child is the accepted one (entries sum to <= 1).  Its length
is the largest number of children per node.

Budget = nodes in the target's verify pass, the root (last committed token) included.
Depth = tree height below the root = draft passes per step.

{textwrap.fill(SPEEDUP_DEFINITION + '.', 88)}

The tree is printed as a parent list, breadth first, siblings by rank (node 0 the root).
Without --target-times, verify times come from the cost model for --model/--hw.
"""


#: The longest forward pass a time option may give, seconds: an hour is far beyond any
#: decode or verify pass (a 70B pass offloaded over PCIe takes seconds).
MAX_PASS_TIME_S = 3600.0


def _list(text: str, convert: Any, what: str) -> list[Any]:
    """The shared list parsing (an empty item is an error), as an argparse type: argparse
    names the option in the error."""
    try:
        return parse_list(text, convert, option="value", what=what)
    except InputError as exc:
        raise argparse.ArgumentTypeError(exc.reason) from None


def _float_list(text: str) -> list[float]:
    return _list(text, float, "numbers")


def _int_list(text: str) -> list[int]:
    return _list(text, int, "integers")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tree", help="draft-tree search (Sequoia dynamic program, hardware-aware)",
        description="Draft-tree tools.",
    )
    sub = parser.add_subparsers(dest="tree_command", metavar="SUBCOMMAND",
                                parser_class=type(parser))
    opt = sub.add_parser(
        "optimize", help="best tree per budget and the hardware-optimal (budget, depth)",
        description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    opt.add_argument("--acceptance", type=_float_list, required=True, metavar="P1,P2,...",
                     help="positional acceptance vector, rank 1 first")
    opt.add_argument("--acceptance-form", choices=("conditional", "marginal"),
                     default="conditional",
                     help="meaning of --acceptance (default %(default)s; see above)")
    opt.add_argument("--max-nodes", type=int, required=True,
                     help="largest node budget of the dynamic program (root included)")
    opt.add_argument("--max-depth", type=int, default=None,
                     help="largest tree depth (default: max-nodes - 1, unbounded)")
    opt.add_argument("--draft-time", type=float, required=True, metavar="SECONDS",
                     help="time of one draft forward pass (one tree level)")
    opt.add_argument("--budgets", type=_int_list, default=None, metavar="B1,B2,...",
                     help="node budgets to consider (default: max-nodes)")
    opt.add_argument("--target-times", type=_float_list, default=None, metavar="T1,T2,...",
                     help="target verify-pass time in seconds for each budget")
    opt.add_argument("--baseline-time", type=float, default=None, metavar="SECONDS",
                     help="plain autoregressive target pass time (speedup reference)")
    opt.add_argument("--model", default=None, help="target model name for the cost model")
    opt.add_argument("--hw", default=None, help="hardware name for the cost model")
    opt.add_argument("--context", type=int, default=1024,
                     help="context length for cost-model verify times (default %(default)s)")
    opt.add_argument("--json", action="store_true", help="print one JSON object")
    opt.set_defaults(func=run_optimize)
    for option in ("--model", "--hw", "--context"):
        option_rules.excludes(opt, option, "--target-times",
                              "the given target times replace the cost model")
    parser.set_defaults(func=lambda args: _missing_subcommand(parser))


def _missing_subcommand(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _cost_model_times(model_name: str | None, hw_name: str | None, budgets: list[int],
                      context: int) -> tuple[list[float], float]:
    """Verify times per budget and the one-token pass time from specaccel.models.cost."""
    if model_name is None or hw_name is None:
        raise InputError("give --target-times, or --model and --hw for the cost model",
                         field="target_times")
    try:
        from specaccel.models.cost import get_hardware, get_model, pass_cost
    except ImportError:
        raise InputError("--target-times is needed: the cost model (specaccel.models.cost"
                         ".pass_cost) is not available in this build",
                         field="target_times") from None
    try:
        model = get_model(model_name)
    except InputError:
        raise
    except (KeyError, ValueError) as exc:
        raise InputError(f"unknown model {model_name!r} ({exc})", field="model") from None
    try:
        hw = get_hardware(hw_name)
    except InputError:
        raise
    except (KeyError, ValueError) as exc:
        raise InputError(f"unknown hardware {hw_name!r} ({exc})", field="hw") from None
    times = [float(pass_cost(model, hw, tokens=b, context=context, batch=1).latency_s)
             for b in budgets]
    base = float(pass_cost(model, hw, tokens=1, context=context, batch=1).latency_s)
    return times, base


def optimize(args: argparse.Namespace) -> dict[str, Any]:
    """The result dictionary of `tree optimize` (raises InputError on bad input)."""
    acc = np.asarray(args.acceptance, dtype=np.float64)
    if args.acceptance_form == "conditional":
        r = theory.marginal_from_conditional(acc)
    else:
        r = acc
    if args.max_nodes < 1:
        raise InputError(f"must be >= 1, not {args.max_nodes}", field="max_nodes")
    if args.max_depth is not None and args.max_depth < 1:
        raise InputError(f"must be >= 1, not {args.max_depth}", field="max_depth")
    if not (args.draft_time >= 0 and np.isfinite(args.draft_time)):
        raise InputError(f"must be finite and >= 0, not {args.draft_time}", field="draft_time")
    for value, field in ((args.draft_time, "draft_time"), (args.baseline_time, "baseline_time"),
                         *((t, "target_times") for t in args.target_times or ())):
        if value is not None and value > MAX_PASS_TIME_S:
            raise InputError(f"{value:g} s for one forward pass; at most {MAX_PASS_TIME_S:g}",
                             field=field)
    budgets = args.budgets if args.budgets is not None else [args.max_nodes]
    if len(set(budgets)) != len(budgets):
        raise InputError(f"a budget is listed twice: {budgets}", field="budgets")
    bad = [b for b in budgets if not 1 <= b <= args.max_nodes]
    if bad:
        raise InputError(f"budget {bad[0]} is outside [1, --max-nodes={args.max_nodes}]",
                         field="budgets")
    if args.target_times is not None:
        if len(args.target_times) != len(budgets):
            raise InputError(f"{len(args.target_times)} target times for {len(budgets)} "
                             "budgets", field="target_times")
        times = list(args.target_times)
        source = "target-times"
        base = times[int(np.argmin(budgets))]
    else:
        if args.context < 0:
            raise InputError(f"must be >= 0, not {args.context}", field="context")
        times, base = _cost_model_times(args.model, args.hw, budgets, args.context)
        source = f"cost model {args.model} on {args.hw}, context {args.context}"
    if args.baseline_time is not None:
        base = args.baseline_time

    table_ = sequoia_table(r, args.max_nodes, args.max_depth)
    best, per = choose_tree(table_, budgets, times, args.draft_time, base)
    parent = table_.tree(best.budget, best.depth)
    depth_of = node_depth(parent)

    def row(c) -> dict[str, Any]:
        return {
            "budget": c.budget, "depth": c.depth, "nodes": c.nodes,
            "expected_tokens_per_step": c.expected_tokens,
            "expected_accepted_drafts": c.expected_tokens - 1.0,
            "verify_time_s": c.verify_time_s, "step_time_s": c.step_time_s,
            "time_per_token_s": c.time_per_token_s, "speedup": c.speedup,
            "expected_tokens_at_max_depth": table_.expected_tokens(c.budget),
        }

    return {
        "inputs": {
            "acceptance": acc.tolist(), "acceptance_form": args.acceptance_form,
            "rank_acceptance_marginal": r.tolist(), "max_nodes": args.max_nodes,
            "max_depth": table_.max_depth, "draft_time_s": args.draft_time,
            "budgets": budgets, "target_times_s": times, "baseline_time_s": base,
            "verify_time_source": source,
        },
        "best": row(best),
        "per_budget": [row(c) for c in per],
        "tree": {
            "parent": parent.tolist(), "nodes": int(parent.size),
            "depth": int(depth_of.max()),
            "nodes_per_level": np.bincount(depth_of).tolist(),
        },
        "speedup_definition": SPEEDUP_DEFINITION,
    }


def _human(res: dict[str, Any]) -> str:
    b = res["best"]
    lines = [
        f"best budget {b['budget']}, depth {b['depth']} ({b['nodes']} nodes): "
        f"{b['expected_tokens_per_step']:.4f} tokens/step, "
        f"{b['time_per_token_s'] * 1e3:.4g} ms/token, speedup {b['speedup']:.3f}",
        "",
        table([[p["budget"], p["depth"], p["expected_tokens_per_step"],
                p["expected_tokens_at_max_depth"], p["verify_time_s"], p["time_per_token_s"],
                p["speedup"]] for p in res["per_budget"]],
              ["budget", "best depth", "E[tokens]", "E[tokens] max depth", "t_verify s",
               "s/token", "speedup"]),
        "",
        f"tree nodes per level: {res['tree']['nodes_per_level']}",
        f"parent: {res['tree']['parent']}",
    ]
    return "\n".join(lines)


def run_optimize(args: argparse.Namespace) -> int:
    result = optimize(args)
    if args.target_times is None:
        _check_fits(result, args.model, args.hw)
    emit(args.json, result, _human)
    return 0


def _check_fits(result: dict[str, Any], model_name: str, hw_name: str) -> None:
    """Flag verify times of a model whose weights do not fit the device's memory."""
    from specaccel.models.cost import get_hardware, get_model
    from specaccel.models.cost.hardware_spec import gib

    model, hw = get_model(model_name), get_hardware(hw_name)
    cap = getattr(hw, "mem_bytes", None)
    result["fits_memory"] = not cap or model.weight_bytes <= cap
    if not result["fits_memory"]:
        add_warning(result, "does_not_fit_memory",
                    f"{model.name} needs {gib(model.weight_bytes, 1)} of weights but "
                    f"{hw.name} has {gib(cap, 1)}: the verify times are of a device "
                    "that cannot hold the model")
