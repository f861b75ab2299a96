"""Thompson-sampling γ control and GliDe/CaPE on the real-text pair: the figures of
docs/methods.md ("Thompson-sampling γ" and "GliDe with CaPE").

Trains the full-stdlib n-gram pair (8192 ids), records held-out prompts and prints:
tokens per unit cost Σ committed / Σ (γ c + 1) of fixed γ = 1..10 against the Thompson
controller for several cost ratios c from the cost model; τ and nodes per step of the
plain chain, CaPE, the GliDe stand-in draft and both; the expansion statistics.

    .venv/bin/python benchmarks/bench_thompson_cape.py [--requests 16] [--tokens 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from specaccel.models.golden import verify_trace
from specaccel.workloads.method_chain import FixedChain
from specaccel.workloads.method_glide_cape import CapeTree, glimpse_draft
from specaccel.workloads.method_thompson_gamma import ThompsonChain, draft_cost_ratio
from specaccel.workloads.recorder_ngram import RecordConfig, record_trace, train_models

COST_RATIOS = {
    "llama-2-70b / llama-2-7b": lambda: draft_cost_ratio("llama-2-70b", "llama-2-7b"),
    "llama-2-70b early exit 20 layers": lambda: draft_cost_ratio("llama-2-70b",
                                                                 exit_layers=20),
    "vicuna-7b / vicuna-68m": lambda: draft_cost_ratio("vicuna-7b", "vicuna-68m"),
}


def rate(trace, c: float) -> float:
    gammas = trace.nodes_per_step() - 1
    return float(verify_trace(trace).committed.sum() / (gammas * c + 1.0).sum())


def thompson_vs_fixed(models, cfg: RecordConfig, seeds: int) -> dict[str, object]:
    fixed_traces = {g: record_trace(models, lambda m, g=g: FixedChain(m.draft_lm, g), cfg)
                    for g in range(1, 11)}
    out = {}
    for label, make_c in COST_RATIOS.items():
        c = make_c()
        fixed = {g: rate(t, c) for g, t in fixed_traces.items()}
        ts, gam, post = [], [], []
        for seed in range(seeds):
            holder = {}

            def factory(m, seed=seed, holder=holder, c=c):
                holder["p"] = ThompsonChain(m.draft_lm, 16, c, seed=seed)
                return holder["p"]

            tr = record_trace(models, factory, cfg)
            ts.append(rate(tr, c))
            gam.append(float((tr.nodes_per_step() - 1).mean()))
            post.append(holder["p"].posterior_mean)
        best = max(fixed, key=fixed.get)
        worst = min(fixed, key=fixed.get)
        out[label] = {"cost_ratio": c, "fixed": fixed, "best_gamma": best,
                      "worst_gamma": worst, "thompson": ts, "thompson_mean_gamma": gam,
                      "posterior_mean": post,
                      "thompson_over_best": float(np.mean(ts) / fixed[best]),
                      "thompson_over_worst": float(np.mean(ts) / fixed[worst])}
    return out


def expansion_stats(trace, policy: CapeTree) -> dict[str, float]:
    q1, extra = (np.array(x) for x in zip(*policy.expansions, strict=True))
    rq, re_ = np.argsort(np.argsort(q1)), np.argsort(np.argsort(extra))
    out = verify_trace(trace)
    ok, qs, wins = [], [], 0
    for s in range(trace.n_steps):
        tree, path = trace.step(s), out.path(s)
        first = np.r_[True, True, tree.parent[2:] != tree.parent[1:-1]]
        on_path = set(path.tolist())
        wins += sum(1 for i in path[1:] if not first[i])
        for i in range(1, tree.n_nodes):
            if first[i] and tree.parent[i] in on_path:
                ok.append(tree.target_token[tree.parent[i]] == tree.token[i])
                qs.append(tree.draft_prob[i])
    ok_a, q_a = np.array(ok), np.array(qs)
    return {"spearman_confidence_vs_extra": float(np.corrcoef(rq, re_)[0, 1]),
            "mean_extra_per_position": float(extra.mean()),
            "chain_accept_rate_low_confidence": float(ok_a[q_a < policy.mass].mean()),
            "chain_accept_rate_high_confidence": float(ok_a[q_a >= policy.mass].mean()),
            "steps_won_by_a_sibling": wins / trace.n_steps}


def cape_table(models, cfg: RecordConfig) -> dict[str, object]:
    rows = {}
    builds = {
        "chain-5 (3-gram draft)": lambda m: FixedChain(m.draft_lm, 5),
        "CaPE-5 (3-gram draft)": lambda m: CapeTree(m.draft_lm, 5),
        "chain-5 (GliDe draft)": lambda m: CapeTree(glimpse_draft(m), 5, 0.0),
        "GliDe + CaPE-5": lambda m: CapeTree(glimpse_draft(m), 5),
    }
    stats = {}
    for label, build in builds.items():
        for mode in ("greedy", "stochastic"):
            c = RecordConfig(n_requests=cfg.n_requests, max_new_tokens=cfg.max_new_tokens,
                             verification=mode, temperature=1.0)
            holder = {}

            def factory(m, build=build, holder=holder):
                holder["p"] = build(m)
                return holder["p"]

            tr = record_trace(models, factory, c)
            rows[f"{label} {mode}"] = {"tau": float(verify_trace(tr).committed.mean()),
                                       "nodes_per_step": float(tr.nodes_per_step().mean())}
            if mode == "greedy" and isinstance(holder["p"], CapeTree) and holder["p"].mass:
                stats[label] = expansion_stats(tr, holder["p"])
    return {"rows": rows, "expansion": stats}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    models = train_models()
    cfg = RecordConfig(n_requests=args.requests, max_new_tokens=args.tokens)
    out = {"models": models.info, "thompson": thompson_vs_fixed(models, cfg, args.seeds),
           "cape": cape_table(models, cfg)}
    out["total_seconds"] = time.perf_counter() - t0
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for label, r in out["thompson"].items():
        fixed = " ".join(f"{g}:{v:.3f}" for g, v in r["fixed"].items())
        print(f"c = {r['cost_ratio']:.4f} ({label})\n  fixed gamma tokens/cost {fixed}")
        print(f"  thompson {np.round(r['thompson'], 3).tolist()} mean gamma "
              f"{np.round(r['thompson_mean_gamma'], 2).tolist()} posterior mean "
              f"{np.round(r['posterior_mean'], 3).tolist()}")
        print(f"  thompson / best fixed (g={r['best_gamma']}) {r['thompson_over_best']:.4f}; "
              f"/ worst fixed (g={r['worst_gamma']}) {r['thompson_over_worst']:.4f}")
    for label, r in out["cape"]["rows"].items():
        print(f"{label:34s} tau {r['tau']:.3f}  nodes/step {r['nodes_per_step']:.2f}")
    for label, s in out["cape"]["expansion"].items():
        print(f"expansion ({label}): " + ", ".join(f"{k} {v:.3f}" for k, v in s.items()))
    print(f"total {out['total_seconds']:.1f} s")


if __name__ == "__main__":
    main()
