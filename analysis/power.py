"""How many seeds does a comparison need? Power analysis by resampling pilot runs.

References:
  * "Quantifying Variance in Evaluation Benchmarks" (Madaan et al., 2024): report the
    variance across seeds and size experiments so that differences exceed it.
  * "On Randomness in Agentic Evals": single runs mislead; choose the number of repeats
    with a power analysis, and report pass@k / pass^k-style optimistic and pessimistic
    bounds when success is binary.
  * Agarwal et al. 2021 ("Deep RL at the Edge of the Statistical Precipice"): the
    stratified bootstrap and the aggregate metrics used as the test statistic here.

Method. A simulated experiment draws ``n`` runs per task (with replacement) from the pilot
of each algorithm; the treated algorithm's scores are shifted by ``shift``. The comparison
"detects" the effect when the 95% stratified-bootstrap interval of the IQM difference lies
above 0 (or, for probability of improvement, when the interval of P(X > Y) lies above 0.5),
i.e. exactly the check a reader of the report would make. Power is the fraction of
simulated experiments that detect it. Everything is vectorised over simulations and
bootstrap replicates; the same random numbers are reused across ``n`` and ``shift``
(common random numbers), so power curves are smooth and searches are stable.
The percentile interval is somewhat liberal with few seeds (about 4% instead of 2.5% false
detections per side at 5 seeds in our checks); the simulated power includes that, since it is
the check actually applied. A shift keeps the shape of the pilot distribution; on bounded scores (success rates) it
can push values above 1, which is the usual location-shift assumption of power analyses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from analysis import metrics

__all__ = [
    "MIN_PILOT",
    "PowerResult",
    "SeedsEstimate",
    "minimum_detectable_effect",
    "pass_at_k",
    "pass_hat_k",
    "poi_of_shift",
    "power",
    "seed_variance",
    "seeds_estimate",
    "seeds_needed",
    "shift_for_poi",
]

DEFAULT_SEED_GRID = (2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100)
#: Fewest pilot runs per task from which seeds are sized. With 4 runs on one task the 95%
#: interval of the standard deviation spans a factor of about 7 (the seeds needed, a factor
#: of about 40), so any answer would be a guess; below this the answer is "run at least
#: MIN_PILOT seeds first", never "enough".
MIN_PILOT = 5
# Elements per gathered chunk of simulated bootstrap replicates (bounds memory).
_MAX_ELEMENTS = 1 << 21


@dataclass
class PowerResult:
    """Seeds needed for a target power, with the power at every ``n`` evaluated."""

    seeds: int | None
    power: float
    curve: list[tuple[int, float]] = field(default_factory=list)
    shift: float = 0.0


def _as_matrix(scores: np.ndarray, name: str) -> np.ndarray:
    m = np.asarray(scores, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] < 2:
        raise ValueError(f"{name}: a pilot needs runs × tasks scores with ≥ 2 runs, got {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{name}: pilot scores contain NaN/inf")
    return m


def poi_of_shift(pilot: np.ndarray, shift: float) -> float:
    """Population P(X + shift > X') with X, X' drawn from the pilot runs of each task."""
    x = _as_matrix(pilot, "pilot")
    return float(metrics.probability_of_improvement(x + shift, x))


def shift_for_poi(pilot: np.ndarray, target: float) -> float:
    """Smallest location shift whose population probability of improvement reaches ``target``."""
    if not 0.5 < target <= 1.0:
        raise ValueError(f"target probability of improvement must be in (0.5, 1], got {target}")
    x = _as_matrix(pilot, "pilot")
    low, high = 0.0, float(np.ptp(x)) + 1e-9
    if poi_of_shift(x, high) < target:  # only possible when all scores are equal
        high = 1.0
    for _ in range(50):
        mid = (low + high) / 2
        if poi_of_shift(x, mid) >= target:
            high = mid
        else:
            low = mid
    return high


def power(
    pilot_x: np.ndarray,
    n: int,
    shift: float = 0.0,
    pilot_y: np.ndarray | None = None,
    metric: str = "iqm",
    sims: int = 200,
    reps: int = 200,
    alpha: float = 0.05,
    seed: int = 0,
) -> float:
    """Probability that an experiment with ``n`` seeds per task detects X over Y.

    X is ``pilot_x + shift``; Y is ``pilot_y`` (default: ``pilot_x``, i.e. the effect is the
    shift alone). ``metric`` is ``"iqm"`` (interval of IQM(X) − IQM(Y) above 0) or
    ``"poi"`` (interval of P(X > Y) above 0.5), at level ``1 − alpha`` two-sided.
    """
    if metric not in ("iqm", "poi"):
        raise ValueError(f"metric must be 'iqm' or 'poi', got {metric!r}")
    if n < 2:
        raise ValueError(f"need at least 2 seeds per task, got {n}")
    x0 = _as_matrix(pilot_x, "pilot_x")
    y0 = x0 if pilot_y is None else _as_matrix(pilot_y, "pilot_y")
    if x0.shape[1] != y0.shape[1]:
        raise ValueError(f"pilots have different task counts: {x0.shape[1]} vs {y0.shape[1]}")
    m = x0.shape[1]
    rng = np.random.default_rng(seed)
    tasks = np.arange(m)
    if metric == "poi":
        # P(X > Y) of a resample depends only on how often each pilot run was drawn:
        # U_t = c_x' G_t c_y with G_t[a, b] = [x_a + shift > y_b] + ½[x_a + shift = y_b].
        # That costs pilot_x·pilot_y per task instead of n² comparisons.
        xs = x0 + shift
        gain = (xs.T[:, :, None] > y0.T[:, None, :]) + 0.5 * (xs.T[:, :, None] == y0.T[:, None, :])
        per_sim = reps * m * (2 * n + x0.shape[0] * y0.shape[0])
    else:
        per_sim = reps * n * m * 2
    chunk = max(1, _MAX_ELEMENTS // per_sim)
    detected = 0
    for start in range(0, sims, chunk):
        s = min(chunk, sims - start)
        # Simulated experiments, then bootstrap replicates of each: composing the indices
        # gives each replicate's rows of the pilot directly, shape (sims, reps, n, tasks).
        ex = rng.integers(0, x0.shape[0], size=(s, 1, n, m))
        ey = rng.integers(0, y0.shape[0], size=(s, 1, n, m))
        bx = np.take_along_axis(ex, rng.integers(0, n, size=(s, reps, n, m)), axis=2)
        by = np.take_along_axis(ey, rng.integers(0, n, size=(s, reps, n, m)), axis=2)
        if metric == "iqm":
            stat = metrics.iqm(x0[bx, tasks] + shift) - metrics.iqm(y0[by, tasks])
            null = 0.0
        else:
            cx = _draw_counts(bx, x0.shape[0])
            cy = _draw_counts(by, y0.shape[0])
            u = np.einsum("srta,tab,srtb->srt", cx, gain, cy, optimize=True)
            stat = np.mean(u / (n * n), axis=-1)
            null = 0.5
        lower = np.percentile(stat, 100 * alpha / 2, axis=1)
        detected += int(np.count_nonzero(lower > null))
    return detected / sims


def _draw_counts(idx: np.ndarray, n_pilot: int) -> np.ndarray:
    """How often each pilot run was drawn: ``(s, reps, n, tasks)`` → ``(s, reps, tasks, n_pilot)``."""
    s, reps, _, m = idx.shape
    base = (np.arange(s * reps * m).reshape(s, reps, 1, m)) * n_pilot
    flat = (base + idx).ravel()
    counts = np.bincount(flat, minlength=s * reps * m * n_pilot)
    return counts.reshape(s, reps, m, n_pilot).astype(np.float64)


def seeds_needed(
    pilot_x: np.ndarray,
    effect: float | None = None,
    metric: str = "iqm",
    target_power: float = 0.8,
    pilot_y: np.ndarray | None = None,
    seed_grid: Sequence[int] = DEFAULT_SEED_GRID,
    sims: int = 200,
    reps: int = 200,
    alpha: float = 0.05,
    seed: int = 0,
    shift: float | None = None,
) -> PowerResult:
    """Smallest ``n`` in ``seed_grid`` whose power reaches ``target_power``.

    With ``pilot_y`` the effect is the observed difference between the two pilots
    (``effect`` ignored). Otherwise ``effect`` is an IQM difference (``metric="iqm"``) or a
    target probability of improvement such as 0.75 (``metric="poi"``), imposed as a
    location shift of the pilot. ``seeds`` is ``None`` when even the largest ``n`` falls short.
    Power is taken as monotone in ``n``: a binary search over the grid. ``shift`` imposes
    that location shift directly (``effect`` ignored).
    """
    if shift is not None:
        shift = float(shift)
    elif pilot_y is not None:
        shift = 0.0
    elif effect is None:
        raise ValueError("give an effect size or a second pilot (pilot_y)")
    elif metric == "poi":
        shift = shift_for_poi(pilot_x, effect)
    else:
        shift = float(effect)
    grid = sorted(set(int(g) for g in seed_grid if g >= 2))
    cache: dict[int, float] = {}

    def power_at(n: int) -> float:
        if n not in cache:
            cache[n] = power(
                pilot_x, n, shift, pilot_y, metric, sims=sims, reps=reps, alpha=alpha, seed=seed
            )
        return cache[n]

    lo, probe = 0, 0
    while power_at(grid[probe]) < target_power:
        if probe == len(grid) - 1:
            return PowerResult(None, cache[grid[probe]], sorted(cache.items()), shift)
        lo = probe + 1
        probe = min(2 * probe + 1, len(grid) - 1)
    hi = probe
    while lo < hi:
        mid = (lo + hi) // 2
        if power_at(grid[mid]) >= target_power:
            hi = mid
        else:
            lo = mid + 1
    return PowerResult(grid[lo], power_at(grid[lo]), sorted(cache.items()), shift)


@dataclass
class SeedsEstimate:
    """Seeds needed, with the range the pilot's own uncertainty allows, or why not sized.

    ``seeds`` sizes with the pilot as it is; ``low`` and ``high`` with its spread at the ends
    of the 95% interval of the standard deviation (chi-square, pooled over tasks), the
    location difference kept. ``None`` in them means more than the grid's largest n.
    """

    seeds: int | None
    low: int | None
    high: int | None
    pilot_runs: int
    note: str = ""
    grid_max: int = DEFAULT_SEED_GRID[-1]

    def text(self) -> str:
        """``12 [6, 40]``, ``> 100 [...]``, or the note (e.g. run at least 5 seeds first)."""
        if self.note:
            return self.note

        def show(n: int | None) -> str:
            return str(n) if n else f"> {self.grid_max}"

        return f"{show(self.seeds)} [{show(self.low)}, {show(self.high)}]"

    def enough(self, n: int) -> str:
        """Whether ``n`` seeds suffice: yes only when even the pessimistic end says so."""
        if self.note:
            return self.note
        if self.high is not None and n >= self.high:
            return "yes"
        if self.low is None or n < self.low:
            return "no"
        return f"uncertain (needs {self.low}–{self.high or f'> {self.grid_max}'})"


def _chi2_ppf(q: float, df: int) -> float:
    try:
        from scipy.stats import chi2

        return float(chi2.ppf(q, df))
    except ImportError:  # Wilson–Hilferty (the analysis extra brings scipy)
        from statistics import NormalDist

        z = NormalDist().inv_cdf(q)
        return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def spread_interval(*pilots: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Factors ``(low, high)`` by which the pilots' standard deviation may be off: the
    chi-square interval of a variance pooled over tasks (and pilots), as ratios to it."""
    df = sum(p.shape[1] * (p.shape[0] - 1) for p in pilots)
    alpha = 1.0 - level
    return (
        math.sqrt(df / _chi2_ppf(1 - alpha / 2, df)),
        math.sqrt(df / _chi2_ppf(alpha / 2, df)),
    )


def _scaled(pilot: np.ndarray, factor: float) -> np.ndarray:
    """The pilot with each task's deviations from its mean multiplied by ``factor``."""
    centre = pilot.mean(axis=0, keepdims=True)
    return centre + factor * (pilot - centre)


def seeds_estimate(
    pilot_x: np.ndarray,
    effect: float | None = None,
    metric: str = "iqm",
    target_power: float = 0.8,
    pilot_y: np.ndarray | None = None,
    min_pilot: int = MIN_PILOT,
    **kw,
) -> SeedsEstimate:
    """:func:`seeds_needed` with the uncertainty of the pilot: a :class:`SeedsEstimate`.

    Below ``min_pilot`` runs per task, or with pilots whose runs are all equal, there is no
    variance to size from and the estimate says so instead of giving a number.
    """
    x = np.asarray(pilot_x, dtype=np.float64)
    y = None if pilot_y is None else np.asarray(pilot_y, dtype=np.float64)
    n = min(x.shape[0], y.shape[0]) if y is not None else x.shape[0]
    grid_max = max(kw.get("seed_grid", DEFAULT_SEED_GRID))
    if n < min_pilot:
        return SeedsEstimate(
            None, None, None, n, f"run at least {min_pilot} seeds first (pilot has {n})", grid_max
        )
    pilots = [x] if y is None else [x, y]
    if all(np.ptp(p, axis=0).max() == 0 for p in pilots):
        return SeedsEstimate(
            None, None, None, n, "pilot runs all equal: no variance to size from", grid_max
        )
    if y is None:
        shift = shift_for_poi(x, effect) if metric == "poi" else float(effect)
    else:
        shift = 0.0
    point = seeds_needed(x, metric=metric, target_power=target_power, pilot_y=y, shift=shift, **kw)
    low_c, high_c = spread_interval(*pilots)
    ends = []
    for c in (low_c, high_c):
        scaled_y = None if y is None else _scaled(y, c)
        ends.append(
            seeds_needed(
                _scaled(x, c),
                metric=metric,
                target_power=target_power,
                pilot_y=scaled_y,
                shift=shift,
                **kw,
            ).seeds
        )
    return SeedsEstimate(point.seeds, ends[0], ends[1], n, "", grid_max)


def minimum_detectable_effect(
    pilot: np.ndarray,
    n: int | None = None,
    metric: str = "iqm",
    target_power: float = 0.8,
    sims: int = 100,
    reps: int = 300,
    alpha: float = 0.05,
    seed: int = 0,
    iterations: int = 10,
) -> float:
    """Smallest effect an experiment with ``n`` seeds (default: the pilot's) detects with
    ``target_power``: an IQM difference (``"iqm"``) or a probability of improvement (``"poi"``).
    """
    x = _as_matrix(pilot, "pilot")
    n = x.shape[0] if n is None else int(n)
    high = max(float(np.ptp(x)), 1e-3)

    def ok(shift: float) -> bool:
        return (
            power(x, n, shift, None, metric, sims=sims, reps=reps, alpha=alpha, seed=seed)
            >= target_power
        )

    for _ in range(6):  # widen until detectable; heavy-tailed pilots may need more
        if ok(high):
            break
        high *= 2
    else:
        return math.inf
    low = 0.0
    for _ in range(iterations):
        mid = (low + high) / 2
        if ok(mid):
            high = mid
        else:
            low = mid
    return poi_of_shift(x, high) if metric == "poi" else high


def _successes(scores: np.ndarray, threshold: float) -> tuple[np.ndarray, int]:
    m = _as_matrix(scores, "scores")
    return np.count_nonzero(m >= threshold, axis=0), m.shape[0]


def pass_at_k(scores: np.ndarray, k: int, threshold: float = 0.5) -> float:
    """Optimistic bound: P(at least one of ``k`` seeds succeeds), averaged over tasks.

    A run succeeds when its score ≥ ``threshold``. Unbiased per task from ``c`` successes in
    ``n`` runs: ``1 − C(n−c, k) / C(n, k)`` (as in "On Randomness in Agentic Evals").
    """
    c, n = _successes(scores, threshold)
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, {n}] (the number of runs), got {k}")
    return float(np.mean([1.0 - math.comb(n - ci, k) / math.comb(n, k) for ci in c]))


def pass_hat_k(scores: np.ndarray, k: int, threshold: float = 0.5) -> float:
    """Pessimistic bound (pass^k): P(all ``k`` seeds succeed), averaged over tasks.

    Unbiased per task: ``C(c, k) / C(n, k)``.
    """
    c, n = _successes(scores, threshold)
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, {n}] (the number of runs), got {k}")
    return float(np.mean([math.comb(int(ci), k) / math.comb(n, k) for ci in c]))


def seed_variance(scores: np.ndarray) -> dict[str, object]:
    """Variance across seeds ("Quantifying Variance in Evaluation Benchmarks").

    Returns the per-task standard deviation across runs, its mean over tasks, and the
    standard deviation across runs of the run's mean score over tasks (seed-to-seed spread
    of the benchmark score when row ``i`` holds seed ``i`` on every task).
    """
    m = _as_matrix(scores, "scores")
    per_task = np.std(m, axis=0, ddof=1)
    return {
        "per_task_std": per_task,
        "mean_task_std": float(np.mean(per_task)),
        "run_mean_std": float(np.std(np.mean(m, axis=1), ddof=1)),
    }
