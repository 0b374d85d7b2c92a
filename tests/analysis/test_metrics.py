"""Our metrics and bootstrap agree with rliable 1.2.0.

Point estimates must be bit-identical. Interval endpoints are Monte-Carlo estimates of
the 2.5% / 97.5% quantiles of the same bootstrap distribution, drawn with different random
numbers. A quantile estimated from B replicates has standard error about
sqrt(p(1-p)/B) / f(q); for a roughly normal bootstrap distribution with s.d. σ this is
2.7 σ / sqrt(B) at p = 0.025, so the difference of two independent estimates has s.e.
3.8 σ / sqrt(B). We allow 5 such standard errors (σ from the interval width / 3.92),
plus a floor of one grid step for discrete statistics.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rliable")
from rliable import library as rly
from rliable import metrics as rm

from analysis import bootstrap, estimates, metrics

REPS = 2000


def _tolerance(interval: np.ndarray, step: float = 0.0, reps: int = REPS) -> np.ndarray:
    sigma = (interval[1] - interval[0]) / 3.92
    return 5 * 3.8 * sigma / np.sqrt(reps) + step + 1e-12


def _matrices(kind: str, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "continuous":
        return {f"a{i}": rng.beta(0.6 + i, 1.5, size=(6, 5)) for i in range(2)}
    # Discrete success rates with many ties (the hard case for ranks and trimming).
    return {f"a{i}": rng.integers(0, 5, size=(6, 5)) / 4 for i in range(2)}


@pytest.mark.parametrize("kind", ["continuous", "discrete"])
def test_point_estimates_bit_identical(kind):
    for x in _matrices(kind, seed=3).values():
        y = _matrices(kind, seed=4)["a0"]
        assert metrics.iqm(x) == rm.aggregate_iqm(x)
        assert metrics.median(x) == rm.aggregate_median(x)
        assert metrics.mean(x) == rm.aggregate_mean(x)
        assert metrics.optimality_gap(x) == rm.aggregate_optimality_gap(x)
        assert metrics.probability_of_improvement(x, y) == rm.probability_of_improvement(x, y)
        assert metrics.probability_of_improvement(x, x) == 0.5


def test_batched_metrics_equal_unbatched():
    rng = np.random.default_rng(1)
    batch = rng.random((7, 6, 5))
    fused = metrics.aggregate_function()(batch)
    for i in range(7):
        single = [metrics.iqm(batch[i]), metrics.median(batch[i]), metrics.mean(batch[i])]
        single.append(metrics.optimality_gap(batch[i]))
        np.testing.assert_allclose(fused[i], single, rtol=1e-12)


@pytest.mark.parametrize("kind", ["continuous", "discrete"])
def test_aggregate_intervals_match_rliable(kind):
    scores = _matrices(kind)
    ours = estimates.aggregate_estimates(scores, reps=REPS, seed=0)
    ref = estimates.aggregate_estimates(scores, reps=REPS, seed=0, engine="rliable")
    step = 1 / (4 * 30) if kind == "discrete" else 0.0  # IQM/means move in 1/(4·n) steps
    for alg in scores:
        assert np.array_equal(ours.points[alg], ref.points[alg])
        tol = _tolerance(ref.intervals[alg], step)
        assert np.all(np.abs(ours.intervals[alg] - ref.intervals[alg]) <= tol), (
            alg,
            ours.intervals[alg],
            ref.intervals[alg],
        )


def test_probability_of_improvement_intervals_match_rliable():
    rng = np.random.default_rng(2)
    x, y = rng.random((5, 2)) + 0.2, rng.random((6, 2))
    reps = 1000  # rliable runs one Mann–Whitney test per task per replicate: slow
    ours_p, ours_ci = bootstrap.interval_estimates(
        {"xy": (x, y)}, metrics.probability_of_improvement, reps=reps, seed=0
    )
    np.random.seed(0)
    ref_p, ref_ci = rly.get_interval_estimates(
        {"xy": (x, y)}, rm.probability_of_improvement, reps=reps
    )
    assert ours_p["xy"][0] == ref_p["xy"]
    tol = _tolerance(np.ravel(ref_ci["xy"]), step=1 / (5 * 6 * 2), reps=reps)
    assert np.all(np.abs(np.ravel(ours_ci["xy"]) - np.ravel(ref_ci["xy"])) <= tol)


def test_poi_matrix_and_profiles_shapes():
    scores = _matrices("continuous")
    names, point, ci = estimates.probability_of_improvement_matrix(scores, reps=500)
    assert names == ["a0", "a1"]
    assert point[0, 1] == pytest.approx(1 - point[1, 0])
    assert np.all(ci[0] <= point + 1e-12) and np.all(point <= ci[1] + 1e-12)
    taus, prof, prof_ci = estimates.performance_profiles(scores, reps=300)
    assert prof["a0"].shape == taus.shape == prof_ci["a0"].shape[1:]
    assert np.all(np.diff(prof["a0"]) <= 0)  # a survival function never increases


def test_profiles_match_rliable():
    scores = _matrices("continuous")
    taus = np.linspace(0, 1, 11)
    _, ours, ours_ci = estimates.performance_profiles(scores, taus, reps=REPS)
    np.random.seed(0)
    ref, ref_ci = rly.create_performance_profile(scores, taus, reps=REPS)
    for alg in scores:
        assert np.array_equal(ours[alg], ref[alg])
        tol = _tolerance(ref_ci[alg], step=1 / 30)
        assert np.all(np.abs(ours_ci[alg] - ref_ci[alg]) <= tol)


def test_sample_efficiency_points_match_per_step_iqm():
    rng = np.random.default_rng(5)
    curves = {"a": rng.random((4, 3, 6))}
    points, cis = estimates.sample_efficiency(curves, reps=300)
    expected = [rm.aggregate_iqm(curves["a"][..., s]) for s in range(6)]
    assert np.array_equal(points["a"], expected)
    assert cis["a"].shape == (2, 6)


def test_resampling_is_stratified_per_task():
    # Each task column only ever receives values from its own column.
    scores = np.arange(12, dtype=float).reshape(4, 3)
    batch = bootstrap.stratified_resample(scores, 50, np.random.default_rng(0))
    assert batch.shape == (50, 4, 3)
    for t in range(3):
        assert set(np.unique(batch[:, :, t])) <= set(scores[:, t])


def test_chunking_does_not_change_results():
    scores = {"a": np.random.default_rng(0).random((5, 4))}
    f = metrics.aggregate_function()
    _, small = bootstrap.interval_estimates(scores, f, reps=1000, seed=3, max_elements=64)
    _, big = bootstrap.interval_estimates(scores, f, reps=1000, seed=3)
    # Same generator stream in the same order: identical replicates whatever the chunking.
    np.testing.assert_allclose(small["a"], big["a"])


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"a": np.array([[0.1, np.nan], [0.2, 0.3]])}, "NaN/inf"),
        ({"a": np.array([[0.1, np.inf], [0.2, 0.3]])}, "NaN/inf"),
        ({"a": np.array([[0.1, 0.2]])}, "at least 2 seeds"),
        ({"a": np.ones((2, 2)), "b": np.ones((2, 3))}, "different numbers of tasks"),
        ({}, "empty"),
    ],
)
def test_bad_score_matrices_raise(bad, message):
    with pytest.raises(ValueError, match=message):
        estimates.aggregate_estimates(bad, reps=10)


def test_steps_to_threshold_smooths_fills_and_skips_leading_nans():
    steps = np.array([10, 20, 30, 40, 50, 60])
    # One lucky log (20) is not enough with window 3; the NaN at 50 carries 1.0 forward.
    values = np.array([np.nan, 1.0, 0.0, 1.0, np.nan, 1.0])
    assert metrics.steps_to_threshold(steps, values, 0.9, window=3) == 60
    assert metrics.steps_to_threshold(steps, values, 0.9, window=1) == 20
    # The NaN row at 50 repeats 1.0: the pair (40, 50) averages 1.0.
    tail_drop = np.array([np.nan, 1.0, 0.0, 1.0, np.nan, 0.0])
    assert metrics.steps_to_threshold(steps, tail_drop, 0.9, window=2) == 50
    assert metrics.steps_to_threshold(steps, values, 1.1) is None
    assert metrics.steps_to_threshold(steps, np.full(6, np.nan), 0.5) is None
    assert metrics.steps_to_threshold(steps[:2], values[:2], 0.5, window=3) is None
    with pytest.raises(ValueError, match="window"):
        metrics.steps_to_threshold(steps, values, 0.5, window=0)
    # Mean over training: the filled series [1, 0, 1, 1, 0] after the leading NaN.
    assert metrics.mean_over_training(tail_drop) == pytest.approx(0.6)
    assert np.isnan(metrics.mean_over_training(np.full(3, np.nan)))
