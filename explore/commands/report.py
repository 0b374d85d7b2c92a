"""``explore report <sweep>``: aggregate table, intervals, figures and provenance of a sweep."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``explore report``."""
    parser = subparsers.add_parser(
        "report",
        help="statistical report of a sweep (IQM, intervals, profiles, power analysis)",
        description=(
            "Read the completed runs of a sweep directory and write report.md, a self-contained "
            "report.html and PNG/SVG figures. Intervals: 95% stratified bootstrap (rliable), "
            "printed only at the numbers of runs where their measured coverage holds "
            "(docs/analysis.md); pairwise claims by exact permutation tests, Holm-corrected."
        ),
    )
    parser.add_argument("sweep", help="sweep directory, e.g. runs/<sweep>")
    parser.add_argument("--out", default="report", help="output directory (default: report/)")
    parser.add_argument(
        "--step", type=int, default=None, help="score at this step (default: final)"
    )
    parser.add_argument(
        "--over-training",
        action="store_true",
        help="score each run by its mean over training (area under the curve) instead of "
        "its final value; every table and interval then uses that score",
    )
    parser.add_argument("--score", default=None, help="success_rate, return, or a metric name")
    parser.add_argument("--reps", type=int, default=50_000, help="bootstrap replicates")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap random seed")
    parser.add_argument(
        "--engine", choices=("fast", "rliable"), default="fast", help="bootstrap implementation"
    )
    parser.add_argument(
        "--common-tasks",
        action="store_true",
        help="keep only tasks every algorithm has runs on (partial sweeps)",
    )
    parser.add_argument(
        "--tasks",
        default=None,
        help="comma-separated tasks to report (default: every task of the sweep), e.g. "
        "KeyCorridorS3R3 when another task taught nothing",
    )
    parser.add_argument("--power", action="store_true", help="add the seeds-needed power analysis")
    parser.add_argument("--effect", type=float, default=0.1, help="IQM difference to detect")
    parser.add_argument(
        "--poi-effect", type=float, default=0.75, help="probability of improvement to detect"
    )
    parser.add_argument("--target-power", type=float, default=0.8, help="power for --power")
    parser.add_argument(
        "--success-threshold", type=float, default=0.5, help="score counted as a success (pass@k)"
    )
    parser.add_argument(
        "--speed-threshold",
        type=float,
        default=None,
        help="score for the steps-to-threshold table (default: 0.9 for success rates or "
        "normalised scores; none for raw returns)",
    )
    parser.add_argument(
        "--speed-window",
        type=int,
        default=3,
        help="logs averaged before comparing with --speed-threshold (default: 3)",
    )
    parser.add_argument("--latex", action="store_true", help="also write aggregate.tex")
    parser.add_argument(
        "--allow-mixed",
        action="store_true",
        help="pool runs made by different code (code fingerprint) or env versions in one cell; "
        "refused by default",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the report, print the aggregate table; returns the exit code."""
    from rich.console import Console
    from rich.table import Table

    from analysis.report import ReportError, ReportOptions, build_report

    options = ReportOptions(
        step=args.step,
        over_training=args.over_training,
        score=args.score,
        reps=args.reps,
        seed=args.seed,
        engine=args.engine,
        common_tasks=args.common_tasks,
        tasks=[t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None,
        power=args.power,
        effect=args.effect,
        poi_effect=args.poi_effect,
        target_power=args.target_power,
        success_threshold=args.success_threshold,
        speed_threshold=args.speed_threshold,
        speed_window=args.speed_window,
        latex=args.latex,
        allow_mixed=args.allow_mixed,
    )
    try:
        report = build_report(args.sweep, Path(args.out), options)
    except ReportError as err:
        # Skip notes first (on stderr, before the error line): they say which runs are gone.
        errors = Console(stderr=True, width=200)
        for note in err.notes:
            errors.print(f"[yellow]note:[/yellow] {note}", highlight=False)
        raise
    console = Console(width=200)
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    table = Table(title=f"{args.sweep}: aggregate metrics (95% CIs)", header_style="bold")
    for header in report.headers:
        table.add_column(header)
    # Cells without an interval say why in report.md; here the reason is printed once per
    # column under the table, so the table stays readable.
    reasons: dict[str, list[str]] = {}
    for row in report.rows:
        cells = []
        for header, cell in zip(report.headers, row, strict=True):
            point, _, why = cell.partition(" (")
            if why.startswith("too few runs") or why.startswith("no spread"):
                cells.append(f"{point} (no interval)")
                reason = why[:-1]
                if reason not in reasons.setdefault(header, []):
                    reasons[header].append(reason)
            else:
                cells.append(cell)
        table.add_row(*cells)
    console.print(table)
    for header, why in reasons.items():
        console.print(f"{header}: {'; '.join(why)}", highlight=False, soft_wrap=True)
    console.print(f"wrote {report.out / 'report.md'} and {report.out / 'report.html'}")
    return 0
