"""Measured coverage (the simulation behind MIN_RUNS, at a small size), the small-sample
methods that replace intervals (permutation test, Holm, order-statistic median), and the
replication unit: evaluation episodes are averaged inside a run."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis import estimates, intervals
from analysis.coverage import DISTRIBUTIONS, INTERVALS, CoverageRow, coverage_table, min_runs_from


@pytest.fixture(scope="module")
def small_table() -> list[CoverageRow]:
    # A few seconds: two of the distributions, 2 and 10 runs, 1 and 3 tasks.
    return coverage_table(
        runs=(2, 10),
        tasks=(1, 3),
        distributions=("beta", "atoms 0/1"),
        sims=120,
        reps=200,
        truth_draws=200_000,
        permutation_sims=40,
    )


def _cov(rows, interval, dist, tasks, runs) -> float:
    (row,) = [
        r
        for r in rows
        if (r.interval, r.distribution, r.tasks, r.runs) == (interval, dist, tasks, runs)
    ]
    return row.coverage


def test_every_interval_is_measured(small_table):
    assert {r.interval for r in small_table} == set(INTERVALS)
    assert {r.distribution for r in small_table} == {"beta", "atoms 0/1"}


def test_two_runs_undercover_and_ten_runs_nearly_hold(small_table):
    """The reason for MIN_RUNS: with 2 runs a nominal 95% bootstrap interval covers about
    half the time on one task; with 10 runs it is close to nominal."""
    for dist in ("beta", "atoms 0/1"):
        for name in ("IQM", "Mean", "P(X>Y)"):
            assert _cov(small_table, name, dist, 1, 2) < 0.8
            assert _cov(small_table, name, dist, 1, 10) > 0.8
        # The permutation test's size holds at any n (its coverage of the null).
        assert _cov(small_table, "P(X>Y) permutation test", dist, 1, 2) >= 0.9
        # No order-statistic interval exists with 2 runs: "n/a", never counted as covered.
        assert math.isnan(_cov(small_table, "Median steps (order stat.)", dist, 1, 2))


def test_min_runs_reads_the_table_conservatively():
    def row(interval, runs, coverage, dist="a"):
        return CoverageRow(interval, dist, 1, runs, coverage, 0.0, 100)

    rows = [
        row("IQM", 2, 0.5),
        row("IQM", 5, 0.91),
        row("IQM", 5, 0.89, dist="b"),  # one distribution short: 5 is not enough
        row("IQM", 10, 0.92),
        row("IQM", 20, 0.95),
        row("Mean", 5, 0.93),
        row("Mean", 10, 0.88),  # a larger n that fails makes the smaller one not count
        row("Mean", 20, 0.95),
        row("Profile", 20, 0.8),
        row("Order", 10, float("nan")),
    ]
    found = min_runs_from(rows)
    assert found["IQM"][1] == 10 and found["Mean"][1] == 20
    assert found["Profile"][1] is None and found["Order"][1] is None


def test_declared_thresholds_cover_every_bootstrap_interval_the_report_prints():
    for name in ("IQM", "Median", "Mean", "Optimality Gap", "P(X>Y)", "Profile"):
        assert name in intervals.MIN_RUNS and 1 in intervals.MIN_RUNS[name]
    assert set(DISTRIBUTIONS) >= {"atoms 0/1", "ties (10 ep.)", "bimodal seeds"}
    # 2 tasks fall back to the 1-task row (the more conservative one measured).
    assert intervals.min_runs("IQM", 2) == intervals.MIN_RUNS["IQM"][1]
    assert intervals.too_few("IQM", 2, 1) == (
        f"too few runs for an interval (n = 2; needs ≥ {intervals.MIN_RUNS['IQM'][1]})"
    )
    assert intervals.too_few("IQM", 50, 16) is None


def test_permutation_test_is_exact_for_two_runs_each():
    x = np.array([[0.9], [0.8]])
    y = np.array([[0.1], [0.2]])
    p_hat, pvalue = intervals.permutation_pvalue(x, y)
    # 6 ways to label 4 runs; the observed split and its mirror are the most extreme.
    assert p_hat == 1.0 and pvalue == pytest.approx(2 / 6)
    # Ties count one half, as in the report's P(X > Y).
    assert intervals.permutation_pvalue(x, x)[0] == 0.5
    # Many tasks: random relabellings, still a valid p-value in (0, 1].
    rng = np.random.default_rng(0)
    big = intervals.permutation_pvalue(rng.random((5, 8)) + 0.5, rng.random((5, 8)))
    assert big[0] > 0.7 and 0 < big[1] < 0.01


def test_holm():
    # Sorted 0.01 ≤ 0.05/3, 0.02 ≤ 0.05/2, 0.04 ≤ 0.05: all rejected.
    assert intervals.holm([0.04, 0.01, 0.02]) == [True, True, True]
    # 0.03 > 0.05/2 stops the procedure: only the smallest survives.
    assert intervals.holm([0.01, 0.03, 0.04]) == [True, False, False]
    assert intervals.holm([0.2]) == [False]


def test_median_interval_from_order_statistics():
    assert intervals.median_interval([1, 2, 3, 4, 5]) is None  # no 95% pair below 6
    assert intervals.median_interval([5, 1, 3, 2, 6, 4]) == (1.0, 6.0)
    lo, hi = intervals.median_interval([1.0] * 5 + [math.inf] * 5)
    assert lo == 1.0 and math.isinf(hi)


def test_more_evaluation_episodes_do_not_narrow_intervals_across_runs():
    """The replication unit is the run: each run's score is its mean over evaluation episodes,
    so more episodes per run shrink only the within-run noise, not the spread between seeds.
    Treating episodes as replicates (the mistake) would shrink the interval ~√episodes."""
    rng = np.random.default_rng(0)
    runs, tasks = 10, 3
    # Each seed's true success probability: seeds differ (the between-run variance).
    p_run = np.clip(rng.normal(0.6, 0.15, size=(runs, tasks)), 0.01, 0.99)
    widths, wrong = {}, {}
    for episodes in (50, 5000):
        successes = rng.random((runs, tasks, episodes)) < p_run[..., None]
        per_run = successes.mean(axis=-1)  # what a run logs: its mean over episodes
        est = estimates.aggregate_estimates({"a": per_run}, names=("Mean",), reps=4000)
        widths[episodes] = float(np.diff(est.intervals["a"][:, 0])[0])
        pooled = successes.transpose(0, 2, 1).reshape(runs * episodes, tasks).astype(float)
        est = estimates.aggregate_estimates({"a": pooled}, names=("Mean",), reps=400)
        wrong[episodes] = float(np.diff(est.intervals["a"][:, 0])[0])
    assert widths[5000] > 0.8 * widths[50]  # 100× the episodes: about the same interval
    assert wrong[5000] < 0.2 * wrong[50]  # episodes as replicates: a false precision
