"""`specaccel theory`: the closed forms of speculative decoding (Leviathan et al. 2023)."""

from __future__ import annotations

import argparse
from typing import Any

from specaccel.cli import option_rules
from specaccel.cli.output import emit, table
from specaccel.models import theory

_DESCRIPTION = """\
Closed forms of speculative decoding (Leviathan et al. 2023) for per-token acceptance
rate ALPHA and GAMMA drafted tokens per step:

  expected tokens per step  E = (1 - ALPHA^(GAMMA+1)) / (1 - ALPHA)   (GAMMA+1 at ALPHA=1)
  speedup                   E / (GAMMA*c + 1), c = draft pass cost / target pass cost
  optimal gamma             integer argmax of the speedup over gamma in 1..MAX_GAMMA
                            (smallest on ties; needs --cost-ratio)
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "theory",
        help="closed forms: expected tokens per step, speedup, optimal gamma",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--alpha", type=float, required=True,
                        help="per-token acceptance rate, in [0, 1]")
    parser.add_argument("--gamma", type=int, required=True,
                        help="drafted tokens per step, an integer >= 1")
    parser.add_argument("--cost-ratio", type=float, default=None, metavar="C",
                        help="cost of one draft pass relative to one target pass (>= 0); "
                             "enables speedup and optimal gamma")
    parser.add_argument("--max-gamma", type=int, default=theory.MAX_GAMMA,
                        help="largest gamma searched for the optimum (default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)
    option_rules.needs(parser, "--max-gamma", "--cost-ratio",
                       "the optimal gamma is searched only with a cost ratio")


def compute(alpha: float, gamma: int, cost_ratio: float | None,
            max_gamma: int = theory.MAX_GAMMA) -> dict[str, Any]:
    """The command's result dictionary (raises InputError on bad values)."""
    e = theory.expected_tokens_per_step(alpha, gamma)
    result: dict[str, Any] = {
        "inputs": {"alpha": alpha, "gamma": gamma, "cost_ratio": cost_ratio,
                   "max_gamma": max_gamma},
        "expected_tokens_per_step": e,
        "expected_accepted_drafts": e - 1.0,
        "speedup": None,
        "optimal_gamma": None,
        "optimal_speedup": None,
        "optimal_expected_tokens_per_step": None,
        "optimal_at_search_bound": None,
        "formulas": {
            "expected_tokens_per_step": "(1 - alpha^(gamma+1)) / (1 - alpha)",
            "speedup": "expected_tokens_per_step / (gamma * cost_ratio + 1)",
            "optimal_gamma": "argmax over gamma in 1..max_gamma of speedup",
        },
    }
    if cost_ratio is not None:
        g_opt = theory.optimal_gamma(alpha, cost_ratio, max_gamma)
        result["speedup"] = theory.speedup(alpha, gamma, cost_ratio)
        result["optimal_gamma"] = g_opt
        result["optimal_speedup"] = theory.speedup(alpha, g_opt, cost_ratio)
        result["optimal_expected_tokens_per_step"] = theory.expected_tokens_per_step(alpha, g_opt)
        # the search stopped while the speedup still grew: the optimum lies beyond it
        result["optimal_at_search_bound"] = bool(
            g_opt == max_gamma
            and theory.speedup(alpha, max_gamma + 1, cost_ratio) > result["optimal_speedup"])
    return result


def _human(r: dict[str, Any]) -> str:
    inp = r["inputs"]
    rows = [["expected tokens per step", r["expected_tokens_per_step"]],
            ["expected accepted drafts", r["expected_accepted_drafts"]]]
    if r["speedup"] is not None:
        bound = (f" (the search bound --max-gamma {inp['max_gamma']}: the speedup still "
                 "grows beyond it)") if r["optimal_at_search_bound"] else ""
        rows += [["speedup", r["speedup"]],
                 ["optimal gamma", f"{r['optimal_gamma']}{bound}"],
                 ["speedup at optimal gamma", r["optimal_speedup"]]]
    head = f"alpha={inp['alpha']} gamma={inp['gamma']}"
    if inp["cost_ratio"] is not None:
        head += f" cost_ratio={inp['cost_ratio']}"
    else:
        head += "  (give --cost-ratio for speedup and optimal gamma)"
    return head + "\n" + table(rows, ["quantity", "value"])


def run(args: argparse.Namespace) -> int:
    result = compute(args.alpha, args.gamma, args.cost_ratio, args.max_gamma)
    emit(args.json, result, _human)
    return 0
