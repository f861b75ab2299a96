"""`specaccel sweep`: run a design-space sweep from a TOML spec into a results directory."""

from __future__ import annotations

from typing import Any

from specaccel.cli import option_rules
from specaccel.cli.output import emit, table


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="design-space sweep from a TOML spec, on local processes or a Dask cluster",
        description=(
            "Evaluate every point of a sweep spec (axes: grid lists, ranges, random "
            "samples or successive halving; workloads; metrics; constraints -- see "
            "docs/sweeps.md) with the simulator, and store one row per point in Parquet "
            "files under --out, keyed by a hash of the point's full configuration.  "
            "--resume skips the points already stored; a sweep killed at any moment "
            "resumes with every point exactly once.  Then: 'specaccel report DIR'."
        ),
    )
    p.add_argument("spec", metavar="SPEC.toml", help="the sweep specification")
    p.add_argument("--out", required=True, metavar="DIR", help="results directory")
    p.add_argument("--workers", type=int, metavar="N",
                   help="local worker processes (default: all cores; 1 = in this process)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on an existing dask.distributed cluster instead")
    p.add_argument("--resume", action="store_true",
                   help="continue the sweep in DIR, skipping points it already holds")
    p.add_argument("--chunk-size", type=int, metavar="K",
                   help="points per task sent to a worker (default: automatic)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (and no progress bar)")
    p.set_defaults(func=run)
    option_rules.excludes(p, "--workers", "--scheduler",
                          "a Dask cluster brings its own workers")


def _human(d: dict[str, Any]) -> str:
    rows = [
        ["points in the sweep", d["total"]],
        ["already stored (skipped)", d["skipped"]],
        ["evaluated now", d["evaluated"]],
        ["points per minute", d["points_per_minute"] if d["evaluated"] else "-"],
        ["evaluator", ", ".join(f"{k}: {v}" for k, v in sorted(d["evaluators"].items()))
         or "-"],
        ["backend", d["backend"]],
        ["stored points", d["stored"]],
    ]
    rec = d["recovery"]
    if rec.get("temp_files_removed") or rec.get("parts_adopted") or rec.get("parts_discarded"):
        rows.append(["recovered", f"{rec['temp_files_removed']} temp files removed, "
                                  f"{rec['parts_adopted']} parts adopted, "
                                  f"{rec['parts_discarded']} discarded"])
    out = f"sweep {d['name']} -> {d['out_dir']}\n" + table(rows, ["", "value"])
    for r in d.get("rungs", []):
        out += f"\nrung {r['rung']}: {r['candidates']} candidates at {r['steps']} steps"
    return out + f"\nnext: specaccel report {d['out_dir']}"


def run(args: Any) -> int:
    from specaccel.analysis.progress_bar import ProgressBar, wanted
    from specaccel.analysis.results_store import stored_count
    from specaccel.analysis.sweep_runner import MAX_LOCAL_WORKERS, run_sweep
    from specaccel.analysis.sweep_spec import load_spec
    from specaccel.schema.errors import InputError
    from specaccel.schema.output_path import check_output_dir

    if args.workers is not None and not 1 <= args.workers <= MAX_LOCAL_WORKERS:
        raise InputError(f"must be in [1, {MAX_LOCAL_WORKERS}], not {args.workers}",
                         field="--workers")
    if args.chunk_size is not None and args.chunk_size < 1:
        raise InputError(f"must be >= 1, not {args.chunk_size}", field="--chunk-size")
    check_output_dir(args.out, option="--out")  # before the spec's points are checked
    show = wanted(args.json)
    with ProgressBar(None, f"reading {args.spec}: checking points", enabled=show,
                     unit="pt"):
        spec = load_spec(args.spec)
    summary = run_sweep(spec, args.out, workers=args.workers, scheduler=args.scheduler,
                        resume=args.resume, progress=show,
                        chunk_size=args.chunk_size)
    d = {"name": spec.name, **summary.to_dict(), "stored": stored_count(args.out)}
    emit(args.json, d, _human)
    return 0
