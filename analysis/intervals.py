"""Which intervals the report may print, and the small-sample methods it uses instead.

A 95% stratified percentile-bootstrap interval holds its coverage only with enough runs per
cell: with two runs it collapses to a point whenever the runs agree. ``explore bench analysis
--coverage`` measures the coverage of every interval the report prints (table in
docs/analysis.md, "Measured coverage"); :data:`MIN_RUNS` holds, per interval and number of
tasks, the fewest runs per cell at which the measured coverage of a nominal 95% interval was
at least 0.9 for every distribution simulated, at that n and every larger n measured. Below it
the report prints the number of runs and "too few runs for an interval (n = 2; needs ≥ k)".

For P(X > Y) with few runs the report gives an exact test instead: a stratified permutation
test of P(X > Y) = 0.5 (run labels permuted within each task), whose size is exact at any n
because the runs of two algorithms are exchangeable under the null. Its p-values feed a Holm
correction over all the pairs a report compares. The median of steps-to-threshold gets a
distribution-free order-statistic interval, whose coverage is at least 95% whenever it exists.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "MIN_RUNS",
    "holm",
    "median_interval",
    "min_runs",
    "permutation_pvalue",
    "too_few",
]

#: Fewest runs per cell for a bootstrap interval, by interval and by number of tasks (a sweep
#: with t tasks uses the largest key ≤ t). Read from the measured-coverage table in
#: docs/analysis.md (``explore bench analysis --coverage``: 400 simulated experiments per
#: cell, 6 score distributions incl. success-rate atoms, ties and bimodal seeds) with
#: :func:`analysis.coverage.min_runs_from`: the smallest n in {2, 3, 5, 10, 20} whose
#: coverage, and every larger n's, was ≥ 0.9 for every distribution. ``None``: no n measured
#: reached it (the report then prints no bootstrap interval for it).
MIN_RUNS: dict[str, dict[int, int | None]] = {
    "IQM": {1: 10, 3: 10, 16: 10},
    "Median": {1: 20, 3: 20, 16: 3},
    "Mean": {1: 20, 3: 20, 16: 10},
    "Optimality Gap": {1: 20, 3: 20, 16: 10},
    "P(X>Y)": {1: 20, 3: 5, 16: 5},
    "Profile": {1: None, 3: 20, 16: 10},
}
#: The order-statistic interval of a median exists from 6 runs, with coverage ≥ 95% for any
#: distribution (measured ≥ 0.96 at 10 and 20 runs in the same table).
MEDIAN_STEPS_MIN_RUNS = 6


def min_runs(interval: str, tasks: int) -> int | None:
    """:data:`MIN_RUNS` for ``interval`` at ``tasks`` tasks (the largest measured key ≤ tasks)."""
    table = MIN_RUNS[interval]
    key = max((t for t in table if t <= max(1, tasks)), default=min(table))
    return table[key]


def too_few(interval: str, runs: int, tasks: int) -> str | None:
    """``"too few runs for an interval (n = 2; needs ≥ 5)"`` when ``runs`` is below the
    measured minimum for ``interval``, else ``None`` (the interval may be printed)."""
    k = min_runs(interval, tasks)
    if k is None:
        return f"too few runs for an interval (n = {runs}; none measured up to 20 held)"
    if runs < k:
        return f"too few runs for an interval (n = {runs}; needs ≥ {k})"
    return None


def _stat(ranks: np.ndarray, masks: np.ndarray, nx: int, ny: int) -> np.ndarray:
    """Mean over tasks of P(X > Y) from mid-ranks ``(tasks, N)`` and X-masks ``(B, tasks, N)``."""
    rank_sum = np.einsum("btn,tn->bt", masks, ranks)
    u = rank_sum - nx * (nx + 1) / 2.0
    return np.mean(u / (nx * ny), axis=-1)


def _midranks(values: np.ndarray) -> np.ndarray:
    """Mid-ranks (1-based, ties averaged) along the last axis."""
    order = np.argsort(values, axis=-1, kind="stable")
    sorted_v = np.take_along_axis(values, order, axis=-1)
    n = values.shape[-1]
    ranks = np.empty_like(values, dtype=np.float64)
    for row in np.ndindex(values.shape[:-1]):
        v = sorted_v[row]
        r = np.arange(1, n + 1, dtype=np.float64)
        # Average the ranks of each run of equal values.
        start = 0
        for i in range(1, n + 1):
            if i == n or v[i] != v[start]:
                r[start:i] = (start + 1 + i) / 2.0
                start = i
        ranks[row][order[row]] = r
    return ranks


def permutation_pvalue(
    x: np.ndarray,
    y: np.ndarray,
    permutations: int = 4_000,
    seed: int = 0,
    exact_limit: int = 20_000,
) -> tuple[float, float]:
    """Two-sided stratified permutation test of P(X > Y) = 0.5: ``(P(X > Y), p-value)``.

    ``x`` is ``runs_x × tasks``, ``y`` ``runs_y × tasks``. Within each task the runs' labels
    are permuted (the null: both algorithms' runs come from one distribution); the statistic
    is the report's P(X > Y) (mean over tasks of Mann–Whitney U / (n_x n_y), ties ½). Every
    relabelling is enumerated when there are at most ``exact_limit``; otherwise
    ``permutations`` random ones, with the +1 correction that keeps the test exact.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    nx, ny, m = x.shape[0], y.shape[0], x.shape[1]
    pooled = np.concatenate([x, y], axis=0).T  # tasks × N
    n = nx + ny
    ranks = _midranks(pooled)
    observed_mask = np.zeros((1, m, n))
    observed_mask[..., :nx] = 1.0
    observed = float(_stat(ranks, observed_mask, nx, ny)[0])
    per_task = math.comb(n, nx)
    total = per_task**m
    if total <= exact_limit:
        choices = [np.array(c) for c in itertools.combinations(range(n), nx)]
        one = np.zeros((per_task, n))
        for i, c in enumerate(choices):
            one[i, c] = 1.0
        grid = np.array(list(itertools.product(range(per_task), repeat=m)))  # total × m
        masks = one[grid]  # total × m × n
        stats = _stat(ranks, masks, nx, ny)
        extreme = np.abs(stats - 0.5) >= abs(observed - 0.5) - 1e-12
        return observed, float(np.mean(extreme))
    rng = np.random.default_rng(seed)
    keys = rng.random((permutations, m, n))
    perm = np.argsort(keys, axis=-1)
    masks = (perm < nx).astype(np.float64)
    stats = _stat(ranks, masks, nx, ny)
    extreme = np.count_nonzero(np.abs(stats - 0.5) >= abs(observed - 0.5) - 1e-12)
    return observed, float((1 + extreme) / (1 + permutations))


def holm(pvalues: Sequence[float], alpha: float = 0.05) -> list[bool]:
    """Holm's step-down correction: which of ``pvalues`` are rejected at family-wise ``alpha``."""
    p = np.asarray(pvalues, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    rejected = np.zeros(p.size, dtype=bool)
    for rank, i in enumerate(order):
        if p[i] > alpha / (p.size - rank):
            break
        rejected[i] = True
    return rejected.tolist()


def median_interval(values: Sequence[float], size: float = 0.95) -> tuple[float, float] | None:
    """Distribution-free interval of a median from order statistics, or ``None`` when no pair
    of order statistics reaches ``size`` coverage (fewer than 6 values at 95%).

    ``values`` may hold ``inf`` (a run that never reached the threshold): the interval is then
    open above. Coverage is at least ``size`` for any distribution, ties included.
    """
    v = np.sort(np.asarray(values, dtype=np.float64))
    n = v.size
    if n == 0:
        return None
    # Largest j with P(Binomial(n, ½) < j) ≤ (1 − size)/2: the interval [v_(j), v_(n+1−j)].
    cdf = np.cumsum([math.comb(n, i) for i in range(n + 1)]) / 2.0**n
    tail = (1.0 - size) / 2.0
    j = int(np.searchsorted(cdf, tail, side="right"))  # P(B ≤ j−1) ≤ tail
    if j < 1:
        return None
    return float(v[j - 1]), float(v[n - j])
