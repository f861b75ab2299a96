"""Real-text traces and imported logs: the figures of docs/methods.md.

Trains the n-gram target/draft pair on the stdlib, records every method preset (greedy,
and a few stochastic at T=1), prints τ per method, acceptance dynamics, the imported
Medusa MT-bench summaries and the Medusa accuracy-tree τ against the published one.

    .venv/bin/python benchmarks/bench_real_text.py [--requests 16] [--tokens 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from specaccel.models.golden import verify_trace
from specaccel.workloads.importers import import_answers, imported_summary
from specaccel.workloads.method_chain import FixedChain
from specaccel.workloads.method_medusa_tree import (
    MEDUSA_HEAD_ACCURACY,
    expected_tau,
    greedy_medusa_tree,
    load_head_accuracy,
    rank_accuracy,
)
from specaccel.workloads.method_prompt_lookup import PromptLookup
from specaccel.workloads.method_static_tree import MEDUSA_MC_SIM_7B_63
from specaccel.workloads.methods import PRESETS
from specaccel.workloads.published import published_number
from specaccel.workloads.real_text_presets import record_preset
from specaccel.workloads.recorder_ngram import RecordConfig, record_trace, train_models

MTBENCH = Path(__file__).resolve().parents[1] / "tests" / "data" / "mtbench-medusa"


def lag1(x: np.ndarray) -> float:
    x = x - x.mean()
    d = float((x * x).sum())
    return float((x[:-1] * x[1:]).sum() / d) if d > 0 else 0.0


def dynamics(trace, seed: int = 0) -> dict[str, object]:
    acc = verify_trace(trace).accepted
    gamma = int(trace.nodes_per_step().max()) - 1
    cond = [float((acc >= k).sum() / max(1, (acc >= k - 1).sum())) for k in range(1, gamma + 1)]
    rng = np.random.default_rng(seed)
    real, shuf = [], []
    for r in range(trace.n_requests):
        s = trace.request_steps(r)
        a = acc[s.start:s.stop].astype(float)
        real.append(lag1(a))
        shuf.append(float(np.mean([lag1(rng.permutation(a)) for _ in range(50)])))
    starts = trace.request_step_offsets[:-1]
    counts = np.diff(trace.request_step_offsets)

    def spread(a):
        return float(np.var(np.add.reduceat(a, starts) / counts))

    null = np.array([spread(rng.permutation(acc.astype(float))) for _ in range(500)])
    per_req = np.add.reduceat(acc + 1.0, starts) / counts

    def window_var(a, w=8):
        parts = []
        for r in range(trace.n_requests):
            s = trace.request_steps(r)
            x = a[s.start:s.stop]
            parts.append(x[: x.shape[0] // w * w].reshape(-1, w).mean(axis=1))
        return float(np.var(np.concatenate(parts)))

    wnull = []
    for _ in range(200):
        b = acc.astype(float)
        for r in range(trace.n_requests):
            s = trace.request_steps(r)
            b[s.start:s.stop] = rng.permutation(b[s.start:s.stop])
        wnull.append(window_var(b))
    return {
        "conditional_acceptance_by_position": cond,
        "reach_by_position": [float((acc >= k).mean()) for k in range(1, gamma + 1)],
        "lag1_autocorr_mean": float(np.mean(real)),
        "lag1_autocorr_shuffled": float(np.mean(shuf)),
        "request_tau_min": float(per_req.min()),
        "request_tau_max": float(per_req.max()),
        "request_tau_var_over_null_p99": spread(acc.astype(float)) / float(np.quantile(null, .99)),
        "window8_var_over_shuffled_p99": window_var(acc.astype(float))
        / float(np.quantile(wnull, .99)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out: dict[str, object] = {}
    t0 = time.perf_counter()
    models = train_models()
    out["models"] = models.info
    held = [d.ids for d in models.corpus.heldout]
    out["heldout_perplexity"] = {"target": models.target_lm.perplexity(held, 20000),
                                 "draft": models.draft_lm.perplexity(held, 20000)}
    rows = []
    traces = {}
    for name, preset in [(n, p) for n, p in PRESETS.items() if p.kind == "real-text"]:
        for mode in ("greedy", "stochastic"):
            if mode == "stochastic" and name not in ("chain-g5", "eagle-25", "eagle2-60"):
                continue
            cfg = RecordConfig(n_requests=args.requests, max_new_tokens=args.tokens,
                               verification=mode, temperature=1.0)
            t = time.perf_counter()
            tr = record_preset(models, name, cfg)
            dt = time.perf_counter() - t
            o = verify_trace(tr)
            traces[(name, mode)] = tr
            rows.append({"preset": name, "mode": mode, "steps": tr.n_steps,
                         "nodes_per_step": float(tr.nodes_per_step().mean()),
                         "tau": float(o.committed.mean()),
                         "published_tau_llm": preset.published_tau,
                         "steps_per_s": tr.n_steps / dt})
    out["methods"] = rows
    dyn = {}
    for label, factory, mode in [
        ("chain-g6 greedy", lambda m: FixedChain(m.draft_lm, 6), "greedy"),
        ("chain-g6 sampled T=1", lambda m: FixedChain(m.draft_lm, 6), "stochastic"),
        ("prompt-lookup greedy", lambda m: PromptLookup(3, 10), "greedy"),
    ]:
        cfg = RecordConfig(n_requests=args.requests, max_new_tokens=args.tokens,
                           verification=mode)
        dyn[label] = dynamics(record_trace(models, factory, cfg))
    out["dynamics"] = dyn
    imports = {}
    for size in ("7b", "13b", "33b"):
        f = MTBENCH / f"medusa-vicuna-{size}-v1.3-temperature-0.0.jsonl"
        for sf in ("idxs", "idxs+1"):
            s = imported_summary(import_answers(f, "mtbench-answers", steps_from=sf))
            imports[f"{size} steps={sf}"] = {k: s[k] for k in
                                             ("tau_mean", "tau_p10", "tau_p50", "tau_p90",
                                              "tau_pooled", "n_steps")}
    out["mtbench_medusa_import"] = imports
    medusa = {}
    for size in ("7b", "13b", "33b"):
        acc = rank_accuracy(load_head_accuracy(MEDUSA_HEAD_ACCURACY, size))
        medusa[size] = {"greedy_63": expected_tau(greedy_medusa_tree(acc, 63), acc),
                        "mc_sim_7b_63": expected_tau(MEDUSA_MC_SIM_7B_63, acc)}
    out["medusa_accuracy_tree_tau"] = medusa
    out["medusa_published_tau_specbench_7b"] = published_number(
        ("medusa-1", "Vicuna-7B", "63-node sparse tree", "Spec-Bench", "0", "A100"), "tau")
    out["total_seconds"] = time.perf_counter() - t0
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"models: {models.info}")
    print(f"held-out perplexity: {out['heldout_perplexity']}")
    print(f"{'preset':20s} {'mode':10s} {'steps':>6s} {'nodes':>6s} {'tau':>6s} "
          f"{'LLM tau':>8s} {'steps/s':>8s}")
    for r in rows:
        pub = f"{r['published_tau_llm']:.2f}" if r["published_tau_llm"] else "-"
        print(f"{r['preset']:20s} {r['mode']:10s} {r['steps']:6d} {r['nodes_per_step']:6.1f} "
              f"{r['tau']:6.3f} {pub:>8s} {r['steps_per_s']:8.0f}")
    for label, d in dyn.items():
        print(f"dynamics ({label}):")
        for k, v in d.items():
            print(f"  {k}: {np.round(v, 3).tolist() if isinstance(v, list) else round(v, 4)}")
    print("imported Medusa-1 MT-bench logs (per-turn tau = new_tokens/steps):")
    for k, v in imports.items():
        print(f"  {k:18s} mean {v['tau_mean']:.4f}  P10 {v['tau_p10']:.4f}  "
              f"P50 {v['tau_p50']:.4f}  P90 {v['tau_p90']:.4f}  pooled {v['tau_pooled']:.4f}")
    print(f"Medusa expected tau from head accuracies (published Spec-Bench 7B: "
          f"{out['medusa_published_tau_specbench_7b']}):")
    for k, v in medusa.items():
        print(f"  {k}: greedy-63 {v['greedy_63']:.4f}  mc_sim_7b_63 {v['mc_sim_7b_63']:.4f}")
    print(f"total {out['total_seconds']:.1f} s")


if __name__ == "__main__":
    main()
