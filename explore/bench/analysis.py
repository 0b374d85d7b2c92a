"""Stratified-bootstrap intervals: our vectorised engine against rliable 1.2.0, same run.

Case (shared/BENCHMARKS.md): 5 algorithms × 10 runs × 16 tasks, scores in [0, 1], the four
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


def _scores(args: argparse.Namespace) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(args.seed)
    # Beta-distributed scores with different means: realistic skew on [0, 1].
    return {
        f"alg{i}": rng.beta(0.5 + 0.4 * i, 1.5, size=(args.runs, args.tasks))
        for i in range(args.algorithms)
    }


def run(args: argparse.Namespace) -> list[dict]:
    """Time both engines on the same score matrices and compare their outputs."""
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
