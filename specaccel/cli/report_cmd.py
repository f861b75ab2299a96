"""`specaccel report`: a self-contained HTML report of a sweep's results directory."""

from __future__ import annotations

from typing import Any

from specaccel.cli.output import emit, table


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report",
        help="HTML report (Pareto front, best design, sensitivity, plots) of a sweep",
        description=(
            "Load the results of 'specaccel sweep --out DIR' and write one self-contained "
            "HTML page: the best design under the spec's constraints, the Pareto front, "
            "the sensitivity of each metric to each axis, and plots (Pareto scatter, "
            "roofline, speedup vs tree budget per hardware, accepted-length histograms, "
            "energy breakdown).  The results also load directly with pandas or DuckDB "
            "(DIR/parts/*.parquet)."
        ),
    )
    p.add_argument("dir", metavar="DIR", help="results directory of a sweep")
    p.add_argument("--out", metavar="FILE", help="report path (default DIR/report.html)")
    p.add_argument("--pareto", metavar="M1:max,M2:min[,M3:min]",
                   help="2 or 3 metrics for the Pareto front (default: tokens_per_s:max, "
                        "energy_per_token_j:min, area_mm2:min where kept); a metric without "
                        ":max or :min is better the way it is declared (tokens_per_s max, "
                        "area_mm2 min)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _human(d: dict[str, Any]) -> str:
    lines = [f"sweep {d['name']}: {d['points']} points "
             f"({', '.join(f'{k} {v}' for k, v in d['evaluators'].items()) or '-'}), "
             f"{d['feasible_points']} feasible, {d['pareto_points']} on the Pareto front "
             f"over {', '.join(f'{m} ({s})' for m, s in d['objectives'].items())}"]
    if d["constraints"]:
        lines.append("constraints: " + ", ".join(d["constraints"]))
    if d["best"]:
        rows = [[k, v] for k, v in d["best"].items()]
        lines.append(f"best by {d['objective']}:\n" + table(rows, ["", "value"]))
    else:
        lines.append("no design meets the constraints")
    lines.append(f"report: {d['report']}")
    return "\n".join(lines)


def run(args: Any) -> int:
    from specaccel.analysis.html_report import parse_objectives, write_html_report

    objectives = parse_objectives(args.pareto) if args.pareto else None
    path, analysis = write_html_report(args.dir, args.out, objectives=objectives)
    d = {**analysis.summary(), "report": str(path)}
    emit(args.json, d, _human)
    return 0
