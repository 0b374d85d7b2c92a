"""Stratified-bootstrap intervals: our vectorised engine against rliable 1.2.0, same run.

With ``--coverage``: the measured coverage of every interval the report prints, on
simulated score matrices with known true values (:mod:`analysis.coverage`), as a Markdown
table (the one in docs/analysis.md) and the minimum runs per cell it implies.

Case: 5 algorithms × 10 runs × 16 tasks, scores in [0, 1], the four
aggregate metrics (IQM, median, mean, optimality gap) in one bootstrap, equal replicates for
both engines. Reports seconds, the speed-up, whether point estimates are identical, and the
largest difference between interval endpoints (Monte-Carlo error at this many replicates).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``explore bench analysis``."""
    parser.add_argument("--reps", type=int, default=50_000, help="bootstrap replicates (both)")
    parser.add_argument("--algorithms", type=int, default=5)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--skip-rliable", action="store_true", help="time only our engine (no ratio)"
    )
    parser.add_argument(
        "--coverage",
        action="store_true",
        help="measure the coverage of the report's 95%% intervals by simulation instead",
    )
    parser.add_argument(
        "--sims", type=int, default=400, help="--coverage: simulated experiments per cell"
    )
    parser.add_argument(
        "--coverage-reps", type=int, default=500, help="--coverage: bootstrap replicates"
    )
    parser.add_argument(
        "--coverage-runs", default="2,3,5,10,20", help="--coverage: runs per cell to measure"
    )
    parser.add_argument(
        "--coverage-tasks", default="1,3,16", help="--coverage: numbers of tasks to measure"
    )
    parser.add_argument(
        "--markdown", default=None, help="--coverage: also write the table to this file"
    )


def _scores(args: argparse.Namespace) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(args.seed)
    # Beta-distributed scores with different means: realistic skew on [0, 1].
    return {
        f"alg{i}": rng.beta(0.5 + 0.4 * i, 1.5, size=(args.runs, args.tasks))
        for i in range(args.algorithms)
    }


def coverage_markdown(rows: list, header: str = "") -> str:
    """The coverage table: one line per interval and distribution, a column per (tasks, runs)."""
    from analysis.coverage import min_runs_from

    cols = sorted({(r.tasks, r.runs) for r in rows})
    lines = [header] if header else []
    lines.append("| Interval | Distribution | " + " | ".join(f"{m}t n={n}" for m, n in cols) + " |")
    lines.append("|---|---|" + "---|" * len(cols))
    cells: dict[tuple[str, str], dict[tuple[int, int], float]] = {}
    for r in rows:
        cells.setdefault((r.interval, r.distribution), {})[(r.tasks, r.runs)] = r.coverage
    for (interval, dist), values in cells.items():
        shown = []
        for c in cols:
            v = values.get(c)
            if v is None:
                shown.append("")
            elif v != v:  # NaN: no interval exists at this n
                shown.append("n/a")
            else:
                shown.append(f"**{v:.2f}**" if v < 0.9 else f"{v:.2f}")
        lines.append(f"| {interval} | {dist} | " + " | ".join(shown) + " |")
    lines.append("")
    lines.append("Minimum runs per cell (coverage ≥ 0.9 at that n and above, every distribution):")
    lines.append("")
    for interval, by_tasks in min_runs_from(rows).items():
        text = ", ".join(
            f"{m} task{'s' if m > 1 else ''}: {k if k else '> max n'}"
            for m, k in sorted(by_tasks.items())
        )
        lines.append(f"- {interval}: {text}")
    return "\n".join(lines) + "\n"


def _coverage(args: argparse.Namespace) -> list[dict]:
    import datetime
    import os
    import platform
    import sys

    from analysis.coverage import coverage_table

    def ints(text: str) -> list[int]:
        return [int(x) for x in text.split(",") if x.strip()]

    start = time.perf_counter()
    rows = coverage_table(
        runs=ints(args.coverage_runs),
        tasks=ints(args.coverage_tasks),
        sims=args.sims,
        reps=args.coverage_reps,
        seed=args.seed,
        progress=lambda text: print(f"  {text}", file=sys.stderr, flush=True),
    )
    seconds = time.perf_counter() - start
    header = (
        f"Measured {datetime.date.today().isoformat()} on {platform.processor() or platform.machine()}"
        f" ({os.cpu_count()} CPUs visible), {seconds:.0f} s; {args.sims} experiments per cell, "
        f"{args.coverage_reps} bootstrap replicates; nominal 95%; **bold**: below 0.9.\n"
    )
    table = coverage_markdown(rows, header)
    print(table)
    if args.markdown:
        from pathlib import Path

        Path(args.markdown).write_text(table)
    return [
        {
            "interval": r.interval,
            "distribution": r.distribution,
            "tasks": r.tasks,
            "runs": r.runs,
            "coverage": r.coverage,
            "width": r.width,
            "sims": r.sims,
        }
        for r in rows
    ]


def run(args: argparse.Namespace) -> list[dict]:
    """Time both engines on the same score matrices and compare their outputs (or, with
    ``--coverage``, measure the intervals' coverage)."""
    if args.coverage:
        return _coverage(args)
    from analysis.estimates import aggregate_estimates

    scores = _scores(args)
    case = f"{args.algorithms} algs × {args.runs} runs × {args.tasks} tasks, 4 metrics"
    start = time.perf_counter()
    ours = aggregate_estimates(scores, reps=args.reps, seed=args.seed, engine="fast")
    ours_s = time.perf_counter() - start
    rows = [{"engine": "explore (fast)", "case": case, "reps": args.reps, "seconds": ours_s}]
    if args.skip_rliable:
        return rows
    start = time.perf_counter()
    ref = aggregate_estimates(scores, reps=args.reps, seed=args.seed, engine="rliable")
    ref_s = time.perf_counter() - start
    same_points = all(np.array_equal(ours.points[a], ref.points[a]) for a in scores)
    max_delta = max(float(np.max(np.abs(ours.intervals[a] - ref.intervals[a]))) for a in scores)
    rows.append({"engine": "rliable 1.2.0", "case": case, "reps": args.reps, "seconds": ref_s})
    rows.append(
        {
            "engine": "ratio",
            "case": case,
            "reps": args.reps,
            "speed-up": ref_s / ours_s,
            "point estimates identical": same_points,
            "max |Δ| interval endpoints": max_delta,
        }
    )
    return rows
