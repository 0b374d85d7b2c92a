"""Measured coverage of the report's intervals on score matrices with known true values.

Simulated experiments draw ``runs × tasks`` score matrices from known distributions — what
success rates and returns produce: a smooth one, skewed scores on [0, 1], atoms at 0 and 1,
ties (10 evaluation episodes per run), bimodal seeds (a seed learns or it does not) and
all-or-nothing runs — whose true aggregate values are computed from a million draws per task.
Each experiment is bootstrapped as the report does (:mod:`analysis.bootstrap`, stratified,
percentile), and the coverage of a 95% interval is the fraction of experiments whose interval
holds the true value. Run by ``explore bench analysis --coverage``; the table is in
docs/analysis.md and the thresholds drawn from it in :data:`analysis.intervals.MIN_RUNS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from analysis import metrics
from analysis.bootstrap import batched_percentile_intervals
from analysis.intervals import median_interval, permutation_pvalue

__all__ = [
    "DISTRIBUTIONS",
    "INTERVALS",
    "CoverageRow",
    "coverage_table",
    "min_runs_from",
]

Sampler = Callable[[np.random.Generator, tuple[int, ...], np.ndarray], np.ndarray]


def _task_param(tasks: np.ndarray, low: float, high: float, count: int) -> np.ndarray:
    """A per-task parameter spread evenly over ``[low, high]`` (tasks differ in difficulty)."""
    return low + (high - low) * (tasks + 0.5) / max(count, 1)


def _normal(rng, shape, tasks):
    mu = _task_param(tasks, 0.3, 0.7, tasks.max() + 1)
    return mu + 0.15 * rng.standard_normal(shape)


def _beta(rng, shape, tasks):
    a = _task_param(tasks, 0.6, 2.0, tasks.max() + 1)
    return rng.beta(np.broadcast_to(a, shape), 1.5)


def _atoms(rng, shape, tasks):
    # Success rates with mass at 0 (never solved) and 1 (always solved), the rest uniform.
    p0 = _task_param(tasks, 0.1, 0.4, tasks.max() + 1)
    u = rng.random(shape)
    mid = rng.random(shape)
    return np.where(u < p0, 0.0, np.where(u > 0.7, 1.0, mid))


def _ties(rng, shape, tasks):
    # A success rate over 10 evaluation episodes: 11 values, many ties.
    p = _task_param(tasks, 0.2, 0.8, tasks.max() + 1)
    return rng.binomial(10, np.broadcast_to(p, shape)) / 10.0


def _bimodal(rng, shape, tasks):
    # Seeds that learn (near 0.85) or do not (near 0.1): the spread of deep-RL seeds.
    q = _task_param(tasks, 0.3, 0.7, tasks.max() + 1)
    learns = rng.random(shape) < q
    value = np.where(learns, 0.85, 0.1) + 0.05 * rng.standard_normal(shape)
    return np.clip(value, 0.0, 1.0)


def _all_or_nothing(rng, shape, tasks):
    p = _task_param(tasks, 0.3, 0.7, tasks.max() + 1)
    return (rng.random(shape) < p).astype(np.float64)


#: Name → sampler ``(rng, shape (..., runs, tasks), task index per column) -> scores``.
DISTRIBUTIONS: dict[str, Sampler] = {
    "normal": _normal,
    "beta": _beta,
    "atoms 0/1": _atoms,
    "ties (10 ep.)": _ties,
    "bimodal seeds": _bimodal,
    "all-or-nothing": _all_or_nothing,
}

#: The intervals the report prints, in table order.
INTERVALS = (
    "IQM",
    "Median",
    "Mean",
    "Optimality Gap",
    "P(X>Y)",
    "P(X>Y) permutation test",
    "Profile",
    "Median steps (order stat.)",
    "Median steps (bootstrap)",
)
_AGGREGATES = ("IQM", "Median", "Mean", "Optimality Gap")
_TAUS = np.array([0.25, 0.5, 0.75])


def _worse(name: str, y: np.ndarray) -> np.ndarray:
    """Y of P(X > Y): the same distribution pushed down (atoms at 0 and 1 kept)."""
    return y - 0.1 if name == "normal" else np.clip(y, 0.0, 1.0) ** 1.5


def _sample(name: str, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    tasks = np.arange(shape[-1])
    return DISTRIBUTIONS[name](rng, shape, tasks)


def _truth(name: str, m: int, draws: int, seed: int) -> dict[str, np.ndarray]:
    """True values for ``m`` tasks from ``draws`` draws per task (Monte-Carlo error ≪ widths)."""
    rng = np.random.default_rng(seed)
    x = _sample(name, rng, (draws, m))
    y = _worse(name, _sample(name, rng, (draws, m)))
    means = x.mean(axis=0)
    pooled = np.sort(x.ravel())
    cut = int(0.25 * pooled.size)
    poi = []
    for t in range(m):
        ys = np.sort(y[:, t])
        below = np.searchsorted(ys, x[:, t], side="left")
        equal = np.searchsorted(ys, x[:, t], side="right") - below
        poi.append(np.mean((below + 0.5 * equal) / ys.size))
    return {
        "IQM": np.array([pooled[cut : pooled.size - cut].mean()]),
        "Median": np.array([np.median(means)]),
        "Mean": np.array([means.mean()]),
        "Optimality Gap": np.array([np.mean(np.maximum(1.0 - x, 0.0))]),
        "P(X>Y)": np.array([np.mean(poi)]),
        "Profile": np.array([(x[:, :, None] > _TAUS).mean(axis=(0, 1))]).ravel(),
    }


def _poi_intervals(x: np.ndarray, y: np.ndarray, reps: int, rng: np.random.Generator) -> np.ndarray:
    """Percentile intervals of P(X > Y) for a batch ``(S, n, m)`` of independent pairs.

    Resamples X and Y independently per task (rliable's StratifiedIndependentBootstrap). The
    P(X > Y) of a resample depends only on how often each run was drawn (``c_x' G c_y`` per
    task, ``G`` the pairwise gains), which turns n² comparisons per replicate into a matmul.
    """
    s, n, m = x.shape
    gain = (x.transpose(0, 2, 1)[..., :, None] > y.transpose(0, 2, 1)[..., None, :]) + 0.5 * (
        x.transpose(0, 2, 1)[..., :, None] == y.transpose(0, 2, 1)[..., None, :]
    )  # S × m × n × n
    # Chunks over experiments keep the index arrays in cache-sized pieces.
    chunk = max(1, (1 << 22) // (m * reps * n))
    stats = []
    for start in range(0, s, chunk):
        g = gain[start : start + chunk]
        b = g.shape[0]

        def counts(b=b) -> np.ndarray:
            idx = rng.integers(0, n, size=(b * m * reps, n), dtype=np.int32)
            idx += (np.arange(b * m * reps, dtype=np.int32) * n)[:, None]
            return np.bincount(idx.ravel(), minlength=b * m * reps * n).reshape(b, m, reps, n)

        cx, cy = counts().astype(np.float64), counts().astype(np.float64)
        u = np.einsum("stri,stri->str", cx @ g, cy)  # chunk × m × reps
        stats.append(np.mean(u / (n * n), axis=1))  # chunk × reps
    stat = np.concatenate(stats, axis=0)
    return np.percentile(stat, [2.5, 97.5], axis=1)[:, :, None]  # 2 × S × 1


def _steps_sample(name: str, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Steps to threshold of runs: logged on a grid (ties), some never reach it (inf)."""
    if name == "normal":
        return np.exp(13.0 + 0.4 * rng.standard_normal(shape))
    grid = 50_000.0
    steps = np.ceil(np.exp(13.0 + 0.5 * rng.standard_normal(shape)) / grid) * grid
    never = {"atoms 0/1": 0.3, "bimodal seeds": 0.45, "all-or-nothing": 0.2}.get(name, 0.0)
    return np.where(rng.random(shape) < never, np.inf, steps)


def _steps_truth(name: str, draws: int, seed: int) -> float:
    return float(np.median(_steps_sample(name, np.random.default_rng(seed), (draws,))))


@dataclass
class CoverageRow:
    """Coverage of one interval for one distribution, number of tasks and runs per cell."""

    interval: str
    distribution: str
    tasks: int
    runs: int
    coverage: float
    width: float
    sims: int


def _covered(lo: np.ndarray, hi: np.ndarray, truth: np.ndarray) -> np.ndarray:
    tol = 1e-9
    return (lo <= truth + tol) & (truth - tol <= hi)


def coverage_table(
    runs: Sequence[int] = (2, 3, 5, 10, 20),
    tasks: Sequence[int] = (1, 3, 16),
    distributions: Sequence[str] = tuple(DISTRIBUTIONS),
    sims: int = 400,
    reps: int = 1_000,
    truth_draws: int = 1_000_000,
    permutation_sims: int | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[CoverageRow]:
    """Empirical coverage of every interval the report prints (nominal 95%).

    For each distribution, number of tasks and runs per cell: ``sims`` simulated experiments,
    each bootstrapped with ``reps`` replicates. The permutation test's row is its coverage of
    the null (1 − rejection rate when X and Y share a distribution), on ``permutation_sims``
    experiments (default ``sims // 4``: each runs its own test). Steps-to-threshold rows
    (per cell, so one task) use the order-statistic interval of the median and, for
    comparison, the bootstrap percentile interval.
    """
    rng = np.random.default_rng(seed)
    aggregate = metrics.aggregate_function(_AGGREGATES)

    def both(batch: np.ndarray) -> np.ndarray:
        return np.concatenate([aggregate(batch), metrics.score_distribution(batch, _TAUS)], axis=-1)

    rows: list[CoverageRow] = []
    perm_sims = max(20, sims // 4) if permutation_sims is None else permutation_sims

    def add(interval, dist, m, n, covered, width):
        rows.append(
            CoverageRow(interval, dist, m, n, float(np.mean(covered)), float(np.mean(width)), sims)
        )

    for d, dist in enumerate(distributions):
        for m in tasks:
            truth = _truth(dist, m, max(1, truth_draws // m), seed=1000 + 37 * d + m)
            for n in runs:
                if progress:
                    progress(f"{dist}, {m} tasks, {n} runs")
                x = _sample(dist, rng, (sims, n, m))
                y = _worse(dist, _sample(dist, rng, (sims, n, m)))
                # One resample serves the aggregates and the profile's points (as in a report,
                # each is a function of the same resampled matrix).
                ci = batched_percentile_intervals(both, x, reps, rng)  # 2 × S × (4 + taus)
                for i, name in enumerate(_AGGREGATES):
                    lo, hi = ci[0, :, i], ci[1, :, i]
                    add(name, dist, m, n, _covered(lo, hi, truth[name][0]), hi - lo)
                poi = _poi_intervals(x, y, reps, rng)
                lo, hi = poi[0, :, 0], poi[1, :, 0]
                add("P(X>Y)", dist, m, n, _covered(lo, hi, truth["P(X>Y)"][0]), hi - lo)
                # Size of the permutation test: X and Y from one distribution.
                null_y = _sample(dist, rng, (perm_sims, n, m))
                pvalues = [
                    permutation_pvalue(x[s], null_y[s], permutations=500, seed=s)[1]
                    for s in range(perm_sims)
                ]
                rows.append(
                    CoverageRow(
                        "P(X>Y) permutation test",
                        dist,
                        m,
                        n,
                        float(np.mean(np.asarray(pvalues) > 0.05)),
                        float("nan"),
                        perm_sims,
                    )
                )
                prof = ci[:, :, len(_AGGREGATES) :]
                cov = _covered(prof[0], prof[1], truth["Profile"][None, :])  # S × taus
                add("Profile", dist, m, n, cov.mean(axis=1), (prof[1] - prof[0]).mean(axis=1))
        # Steps to threshold: one cell (one task) per experiment.
        true_median = _steps_truth(dist, truth_draws, seed=2000 + d)
        for n in runs:
            steps = _steps_sample(dist, rng, (sims, n))
            bounds = [median_interval(s) for s in steps]
            # No interval exists below 6 runs: coverage is "n/a" (NaN), not 0.
            ok = [np.nan if b is None else float(b[0] <= true_median <= b[1]) for b in bounds]
            add("Median steps (order stat.)", dist, 1, n, ok, np.full(sims, np.nan))
            # Percentile bootstrap of the median (inf kept: the median may be "never").
            idx = rng.integers(0, n, size=(sims, reps, n))
            boot = np.median(np.take_along_axis(steps[:, None, :], idx, axis=2), axis=2)
            lo = np.percentile(boot, 2.5, axis=1, method="lower")
            hi = np.percentile(boot, 97.5, axis=1, method="higher")
            add(
                "Median steps (bootstrap)",
                dist,
                1,
                n,
                (lo <= true_median) & (true_median <= hi),
                np.full(sims, np.nan),
            )
    return rows


def min_runs_from(
    rows: Sequence[CoverageRow], level: float = 0.9
) -> dict[str, dict[int, int | None]]:
    """Per interval and number of tasks, the smallest n whose coverage (and every larger n's)
    is ≥ ``level`` for every distribution: how :data:`analysis.intervals.MIN_RUNS` was read."""
    out: dict[str, dict[int, int | None]] = {}
    keys = sorted({(r.interval, r.tasks) for r in rows})
    for interval, m in keys:
        cells = [r for r in rows if r.interval == interval and r.tasks == m]
        ns = sorted({r.runs for r in cells})
        # NaN (no interval exists at that n) is never "ok".
        ok = {n: all(r.coverage >= level for r in cells if r.runs == n) for n in ns}
        k = None
        for n in reversed(ns):
            if not ok[n]:
                break
            k = n
        out.setdefault(interval, {})[m] = k
    return out
