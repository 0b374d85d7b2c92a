"""Aggregate performance metrics over score matrices (Agarwal et al. 2021, rliable).

Every metric takes scores shaped ``(..., runs, tasks)``: any leading axes are batch axes
(bootstrap replicates), so one call evaluates thousands of resampled matrices at once.
On a plain ``runs × tasks`` matrix the arithmetic is the same sequence of NumPy operations
as ``rliable.metrics``, so point estimates are bit-for-bit identical to rliable's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

__all__ = [
    "AGGREGATE_METRICS",
    "aggregate_function",
    "iqm",
    "mean",
    "mean_over_training",
    "median",
    "optimality_gap",
    "probability_of_improvement",
    "score_distribution",
    "steps_to_threshold",
]


def iqm(scores: np.ndarray) -> np.ndarray:
    """Interquartile mean: mean of the middle 50% of all pooled run × task scores.

    Same trimming rule as ``scipy.stats.trim_mean(x, 0.25, axis=None)`` (used by rliable):
    ``int(0.25 * n)`` values are cut from each end of the ``n`` pooled scores.
    """
    scores = np.asarray(scores, dtype=np.float64)
    pooled = scores.reshape(*scores.shape[:-2], -1)
    n = pooled.shape[-1]
    low = int(0.25 * n)
    high = n - low
    if pooled.ndim == 1:
        # The exact operations of scipy's trim_mean, so point estimates match rliable's bits.
        part = np.partition(pooled, (low, high - 1))
        return np.mean(part[low:high])
    # Batched: NumPy's SIMD sort of short rows beats a two-pivot partition several times.
    ordered = np.sort(pooled, axis=-1)
    return np.mean(ordered[..., low:high], axis=-1)


def mean(scores: np.ndarray) -> np.ndarray:
    """Mean over tasks of the per-task mean score."""
    task_means = np.mean(np.asarray(scores, dtype=np.float64), axis=-2)
    return np.mean(task_means, axis=-1)


def median(scores: np.ndarray) -> np.ndarray:
    """Median over tasks of the per-task mean score."""
    task_means = np.mean(np.asarray(scores, dtype=np.float64), axis=-2)
    return np.median(task_means, axis=-1)


def optimality_gap(scores: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """Mean shortfall below ``gamma``: ``mean(max(gamma - x, 0))`` over runs and tasks."""
    scores = np.asarray(scores, dtype=np.float64)
    clipped = np.minimum(scores, gamma)
    return gamma - np.mean(clipped.reshape(*scores.shape[:-2], -1), axis=-1)


def probability_of_improvement(scores_x: np.ndarray, scores_y: np.ndarray) -> np.ndarray:
    """P(X > Y): per task the Mann–Whitney U of X over Y divided by ``n_x · n_y``, averaged.

    Ties count one half, exactly as ``scipy.stats.mannwhitneyu`` (used by rliable) does.
    Shapes: ``(..., n_x, tasks)`` and ``(..., n_y, tasks)`` with equal leading axes.
    """
    x = np.asarray(scores_x, dtype=np.float64)
    y = np.asarray(scores_y, dtype=np.float64)
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(
            f"probability of improvement needs the same tasks: {x.shape[-1]} vs {y.shape[-1]}"
        )
    nx, ny = x.shape[-2], y.shape[-2]
    xe = x[..., :, None, :]
    ye = y[..., None, :, :]
    greater = np.count_nonzero(xe > ye, axis=(-3, -2))
    ties = np.count_nonzero(xe == ye, axis=(-3, -2))
    # Counts are integers and half-integers: exact in float64, so equal to scipy's U.
    task_probabilities = (greater + 0.5 * ties) / (nx * ny)
    return np.mean(task_probabilities, axis=-1)


def score_distribution(scores: np.ndarray, taus: Sequence[float] | np.ndarray) -> np.ndarray:
    """Performance profile: fraction of all run × task scores strictly above each ``tau``.

    Returns shape ``(..., len(taus))``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    taus = np.asarray(taus, dtype=np.float64)
    pooled = scores.reshape(*scores.shape[:-2], -1)
    return np.mean(pooled[..., :, None] > taus, axis=-2)


#: Name → metric, in the order of the aggregate table.
AGGREGATE_METRICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "IQM": iqm,
    "Median": median,
    "Mean": mean,
    "Optimality Gap": optimality_gap,
}


def aggregate_function(
    names: Sequence[str] | None = None,
    metrics: Mapping[str, Callable[[np.ndarray], np.ndarray]] = AGGREGATE_METRICS,
) -> Callable[[np.ndarray], np.ndarray]:
    """A function ``(..., runs, tasks) -> (..., k)`` stacking the named metrics."""
    chosen = list(names) if names is not None else list(metrics)
    unknown = [n for n in chosen if n not in metrics]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; known: {list(metrics)}")
    funcs = [metrics[n] for n in chosen]
    fusable = metrics is AGGREGATE_METRICS

    def stacked(scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64)
        if fusable and scores.ndim > 2:
            return _fused_aggregates(scores, chosen)
        return np.stack([np.asarray(f(scores)) for f in funcs], axis=-1)

    return stacked


def _fused_aggregates(scores: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """The standard aggregates of a batch, sharing the per-task means and pooled view.

    Used only for bootstrap replicates; identical maths to the separate functions.
    """
    pooled = scores.reshape(*scores.shape[:-2], -1)
    task_means = np.mean(scores, axis=-2)
    out = []
    for name in names:
        if name == "IQM":
            out.append(iqm(scores))
        elif name == "Median":
            out.append(np.median(task_means, axis=-1))
        elif name == "Mean":
            out.append(np.mean(task_means, axis=-1))
        else:
            out.append(1.0 - np.mean(np.minimum(pooled, 1.0), axis=-1))
    return np.stack(out, axis=-1)


def _logged_scores(values: np.ndarray) -> tuple[int, np.ndarray]:
    """Index of the first finite score, and the scores from there with NaN rows filled forward.

    Run-store convention: a NaN row means no episode finished in that logging window, so
    the previous score still stands.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = ~np.isnan(values)
    if not finite.any():
        return values.size, values[:0]
    start = int(np.argmax(finite))
    tail = values[start:]
    last = np.maximum.accumulate(np.where(~np.isnan(tail), np.arange(tail.size), 0))
    return start, tail[last]


def steps_to_threshold(
    steps: np.ndarray, values: np.ndarray, threshold: float, window: int = 3
) -> int | None:
    """First logged step at which the mean of the last ``window`` logged scores reaches ``threshold``.

    A sample-efficiency summary for runs that all end solved, where the final score no longer
    separates methods. NaN rows carry the previous score forward; rows before the first
    finite score are skipped. Smoothing over ``window`` logs keeps one lucky window from
    counting as solved. Returns ``None`` when the threshold is never reached.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    start, filled = _logged_scores(values)
    if filled.size < window:
        return None
    sums = np.convolve(filled, np.ones(window), mode="valid")
    hits = np.flatnonzero(sums / window >= threshold)
    return int(np.asarray(steps)[start + hits[0] + window - 1]) if hits.size else None


def mean_over_training(values: np.ndarray) -> float:
    """Mean of a run's logged scores (NaN rows filled forward, leading NaNs skipped): an area
    under the learning curve per log. NaN when nothing was logged."""
    _, filled = _logged_scores(values)
    return float(filled.mean()) if filled.size else float("nan")
