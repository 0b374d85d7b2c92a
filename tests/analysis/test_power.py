"""Power analysis and pass@k bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis import power

SMALL = {"sims": 40, "reps": 100, "seed": 0}


def _pilot(n=6, m=4, seed=0):
    return np.random.default_rng(seed).normal(0.5, 0.1, size=(n, m))


def test_power_grows_with_effect_and_seeds():
    pilot = _pilot()
    # False-positive rate: nominal 2.5% (one side of a 95% interval); the percentile
    # bootstrap is a little liberal at 5 seeds (about 4% measured with 1000 simulations).
    assert power.power(pilot, 5, shift=0.0, sims=200, reps=100) <= 0.1
    assert power.power(pilot, 5, shift=0.3, **SMALL) >= 0.9
    weak = power.power(pilot, 3, shift=0.05, **SMALL)
    strong = power.power(pilot, 20, shift=0.05, **SMALL)
    assert strong > weak


def test_seeds_needed_iqm_and_poi():
    pilot = _pilot()
    res = power.seeds_needed(pilot, 0.1, "iqm", 0.8, seed_grid=(2, 4, 8, 16), **SMALL)
    assert res.seeds in (2, 4, 8, 16) and res.power >= 0.8
    smaller = dict(res.curve)
    assert all(smaller[n] < 0.8 for n in smaller if n < res.seeds)
    res_poi = power.seeds_needed(pilot, 0.9, "poi", 0.8, seed_grid=(2, 4, 8, 16), **SMALL)
    assert res_poi.seeds is not None
    assert power.poi_of_shift(pilot, res_poi.shift) >= 0.9


def test_seeds_needed_unreachable_effect():
    res = power.seeds_needed(_pilot(), 1e-4, "iqm", 0.8, seed_grid=(2, 3), **SMALL)
    assert res.seeds is None


def test_minimum_detectable_effect_shrinks_with_seeds():
    pilot = _pilot()
    few = power.minimum_detectable_effect(pilot, n=3, iterations=6, **SMALL)
    many = power.minimum_detectable_effect(pilot, n=12, iterations=6, **SMALL)
    assert 0 < many < few
    poi = power.minimum_detectable_effect(pilot, n=6, metric="poi", iterations=6, **SMALL)
    assert 0.5 < poi <= 1.0


def test_shift_for_poi():
    pilot = _pilot()
    shift = power.shift_for_poi(pilot, 0.75)
    assert power.poi_of_shift(pilot, shift) >= 0.75
    assert power.poi_of_shift(pilot, shift * 0.9) < 0.75 + 1e-9


def test_pass_at_k_bounds():
    # Task 0: 2 of 4 seeds succeed; task 1: all succeed.
    scores = np.array([[1, 1], [1, 1], [0, 1], [0, 1]], dtype=float)
    assert power.pass_at_k(scores, 1) == pytest.approx((0.5 + 1) / 2)
    assert power.pass_hat_k(scores, 1) == pytest.approx((0.5 + 1) / 2)
    # pass@2 task 0: 1 - C(2,2)/C(4,2) = 5/6; pass^2 task 0: C(2,2)/C(4,2) = 1/6.
    assert power.pass_at_k(scores, 2) == pytest.approx((5 / 6 + 1) / 2)
    assert power.pass_hat_k(scores, 2) == pytest.approx((1 / 6 + 1) / 2)
    assert power.pass_hat_k(scores, 4) <= power.pass_hat_k(scores, 1) <= power.pass_at_k(scores, 4)
    with pytest.raises(ValueError, match="k must be"):
        power.pass_at_k(scores, 5)


def test_seed_variance_and_bad_pilots():
    v = power.seed_variance(np.array([[0.0, 1.0], [1.0, 1.0]]))
    assert v["per_task_std"].tolist() == pytest.approx([math.sqrt(0.5), 0.0])
    with pytest.raises(ValueError, match="≥ 2 runs"):
        power.power(np.ones((1, 3)), 4)
    with pytest.raises(ValueError, match="NaN/inf"):
        power.seed_variance(np.array([[np.nan], [1.0]]))


def test_count_based_poi_equals_pairwise():
    # The power simulation computes P(X > Y) from draw counts; check it against the
    # direct pairwise definition on materialised resamples, ties included.
    rng = np.random.default_rng(4)
    x0 = rng.integers(0, 3, size=(4, 3)) / 2
    y0 = rng.integers(0, 3, size=(5, 3)) / 2
    bx = rng.integers(0, 4, size=(2, 3, 6, 3))
    by = rng.integers(0, 5, size=(2, 3, 6, 3))
    gain = (x0.T[:, :, None] > y0.T[:, None, :]) + 0.5 * (x0.T[:, :, None] == y0.T[:, None, :])
    cx, cy = power._draw_counts(bx, 4), power._draw_counts(by, 5)
    u = np.einsum("srta,tab,srtb->srt", cx, gain, cy)
    tasks = np.arange(3)
    direct = power.metrics.probability_of_improvement(x0[bx, tasks], y0[by, tasks])
    np.testing.assert_allclose(np.mean(u / 36, axis=-1), direct)
