"""Interval estimates for the report: aggregates, probability of improvement, performance
profiles, sample-efficiency curves; with the fast engine or rliable itself.

Inputs are ``{algorithm: runs × tasks}`` dicts (``ScoreSet.matrices``); every function
validates them first (finite values, at least two runs, equal task counts) and raises
``ValueError`` naming the algorithm concerned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from analysis import metrics
from analysis.bootstrap import interval_estimates

__all__ = [
    "Estimates",
    "aggregate_estimates",
    "check_scores",
    "performance_profiles",
    "probability_of_improvement_matrix",
    "sample_efficiency",
]

ENGINES = ("fast", "rliable")


@dataclass
class Estimates:
    """Point estimates ``(k,)`` and 95% intervals ``(2, k)`` per algorithm, with labels."""

    labels: list[str]
    points: dict[str, np.ndarray]
    intervals: dict[str, np.ndarray]

    def rows(self) -> list[dict[str, object]]:
        """One dict per algorithm: ``{label: (point, lo, hi)}``."""
        return [
            {"algorithm": alg}
            | {
                label: (
                    float(p[i]),
                    float(self.intervals[alg][0, i]),
                    float(self.intervals[alg][1, i]),
                )
                for i, label in enumerate(self.labels)
            }
            for alg, p in self.points.items()
        ]


def check_scores(score_dict: Mapping[str, np.ndarray], min_runs: int = 2) -> None:
    """Raise ``ValueError`` for empty input, NaN/inf scores, too few runs or differing tasks."""
    if not score_dict:
        raise ValueError("no algorithms to compare (empty score dict)")
    problems = []
    n_tasks = {alg: np.shape(m)[1] if np.ndim(m) >= 2 else None for alg, m in score_dict.items()}
    for alg, m in score_dict.items():
        m = np.asarray(m, dtype=np.float64)
        if m.ndim < 2:
            problems.append(f"{alg}: expected runs × tasks, got shape {m.shape}")
            continue
        bad = np.argwhere(~np.isfinite(m))
        if bad.size:
            cells = ", ".join(f"run {i} task {j}" for i, j, *_ in bad[:5])
            problems.append(f"{alg}: NaN/inf scores at {cells}")
        if m.shape[0] < min_runs:
            problems.append(
                f"{alg}: only {m.shape[0]} run per task; intervals need at least {min_runs} seeds"
            )
    if len(set(n_tasks.values())) > 1:
        problems.append(f"different numbers of tasks per algorithm: {n_tasks}")
    if problems:
        raise ValueError("; ".join(problems))


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {ENGINES}")


def _rliable_interval_estimates(score_dict, func, reps, seed):
    # rliable draws its resamples from NumPy's global RNG; seed it for reproducibility.
    from rliable import library as rly

    np.random.seed(seed if isinstance(seed, int) else 0)
    return rly.get_interval_estimates(score_dict, func, reps=reps)


def _rliable_aggregates(names: Sequence[str]):
    from rliable import metrics as rm

    table = {
        "IQM": rm.aggregate_iqm,
        "Median": rm.aggregate_median,
        "Mean": rm.aggregate_mean,
        "Optimality Gap": rm.aggregate_optimality_gap,
    }
    funcs = [table[n] for n in names]
    return lambda x: np.array([f(x) for f in funcs])


def aggregate_estimates(
    score_dict: Mapping[str, np.ndarray],
    names: Sequence[str] = tuple(metrics.AGGREGATE_METRICS),
    reps: int = 50_000,
    seed: int = 0,
    engine: str = "fast",
) -> Estimates:
    """IQM, median, mean and optimality gap with 95% stratified-bootstrap intervals."""
    _check_engine(engine)
    check_scores(score_dict)
    data = {k: np.asarray(v, dtype=np.float64) for k, v in score_dict.items()}
    if engine == "rliable":
        points, intervals = _rliable_interval_estimates(
            data, _rliable_aggregates(names), reps, seed
        )
    else:
        points, intervals = interval_estimates(
            data, metrics.aggregate_function(names), reps=reps, seed=seed
        )
    return Estimates(list(names), dict(points), dict(intervals))


def probability_of_improvement_matrix(
    score_dict: Mapping[str, np.ndarray],
    reps: int = 50_000,
    seed: int = 0,
    engine: str = "fast",
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """P(X > Y) for every ordered pair: ``(names, point[i, j], interval[2, i, j])``.

    The diagonal is 0.5 by definition and not bootstrapped.
    """
    _check_engine(engine)
    check_scores(score_dict)
    names = list(score_dict)
    k = len(names)
    point = np.full((k, k), 0.5)
    interval = np.full((2, k, k), 0.5)
    pairs = {
        (i, j): (np.asarray(score_dict[a], float), np.asarray(score_dict[b], float))
        for i, a in enumerate(names)
        for j, b in enumerate(names)
        if i != j
    }
    if not pairs:
        return names, point, interval
    keyed = {f"{i},{j}": v for (i, j), v in pairs.items()}
    if engine == "rliable":
        from rliable import metrics as rm

        p, ci = _rliable_interval_estimates(keyed, rm.probability_of_improvement, reps, seed)
    else:
        n = max(x.shape[0] for x, _ in pairs.values())
        p, ci = interval_estimates(
            keyed, metrics.probability_of_improvement, reps=reps, seed=seed, cost_factor=n
        )
    for i, j in pairs:
        point[i, j] = np.ravel(p[f"{i},{j}"])[0]
        interval[:, i, j] = np.ravel(ci[f"{i},{j}"])[:2]
    return names, point, interval


def performance_profiles(
    score_dict: Mapping[str, np.ndarray],
    taus: np.ndarray | None = None,
    reps: int = 2_000,
    seed: int = 0,
    engine: str = "fast",
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Score distributions (fraction of runs with score > τ) with intervals.

    ``taus`` defaults to 101 points over the range of all scores. Returns
    ``(taus, profiles, intervals)``.
    """
    _check_engine(engine)
    check_scores(score_dict)
    if taus is None:
        pooled = np.concatenate([np.ravel(v) for v in score_dict.values()])
        taus = np.linspace(min(0.0, pooled.min()), max(1.0, pooled.max()), 101)
    taus = np.asarray(taus, dtype=np.float64)
    data = {k: np.asarray(v, dtype=np.float64) for k, v in score_dict.items()}
    if engine == "rliable":
        from rliable import library as rly

        np.random.seed(seed)
        profiles, cis = rly.create_performance_profile(data, taus, reps=reps)
    else:
        profiles, cis = interval_estimates(
            data,
            lambda x: metrics.score_distribution(x, taus),
            reps=reps,
            seed=seed,
            cost_factor=taus.size,
        )
    return taus, dict(profiles), dict(cis)


def sample_efficiency(
    curve_dict: Mapping[str, np.ndarray],
    reps: int = 5_000,
    seed: int = 0,
    engine: str = "fast",
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """IQM at every step of ``runs × tasks × steps`` curves, with intervals per step."""
    _check_engine(engine)
    check_scores(curve_dict)
    data = {k: np.asarray(v, dtype=np.float64) for k, v in curve_dict.items()}

    def iqm_per_step(x: np.ndarray) -> np.ndarray:
        if x.ndim == 3:  # point estimate: rliable's exact per-step computation
            return np.array([metrics.iqm(x[..., s]) for s in range(x.shape[-1])])
        # (..., runs, tasks, steps) -> (..., steps): pool runs × tasks at each step.
        return metrics.iqm(np.moveaxis(x, -1, -3))

    if engine == "rliable":
        from rliable import metrics as rm

        def func(x):
            return np.array([rm.aggregate_iqm(x[..., s]) for s in range(x.shape[-1])])

        return _rliable_interval_estimates(data, func, reps, seed)
    points, intervals = interval_estimates(data, iqm_per_step, reps=reps, seed=seed)
    return dict(points), dict(intervals)
