"""Power analysis that does not overclaim: below a minimum pilot the answer is "run more
seeds first"; above it, seeds needed come with a range from the pilot's own variance."""

from __future__ import annotations

import numpy as np

from analysis import power


def test_small_pilot_is_never_enough():
    pilot = np.array([[0.2], [0.3]])
    est = power.seeds_estimate(pilot, effect=0.1, metric="iqm")
    assert est.seeds is None
    assert est.text() == f"run at least {power.MIN_PILOT} seeds first (pilot has 2)"
    assert "yes" not in est.enough(2)
    # Two pilots of two runs each that look perfectly separated: still not sized.
    pair = power.seeds_estimate(
        np.array([[0.8], [0.9]]), metric="poi", pilot_y=np.array([[0.2], [0.3]])
    )
    assert pair.enough(2).startswith("run at least")


def test_pilot_without_spread_is_not_sized():
    est = power.seeds_estimate(np.ones((6, 2)), effect=0.1, metric="iqm")
    assert est.seeds is None and "no variance" in est.text()


def test_seeds_needed_come_with_a_range_from_the_pilot_variance():
    rng = np.random.default_rng(0)
    pilot = rng.normal(0.5, 0.1, size=(6, 2))
    kw = {"sims": 60, "reps": 60, "seed": 0}
    est = power.seeds_estimate(pilot, effect=0.1, metric="iqm", **kw)
    assert est.seeds is not None and est.low is not None
    assert est.low <= est.seeds and (est.high is None or est.seeds <= est.high)
    assert est.low < (est.high or 10**6)  # a real range, not a point
    # "Enough" only when even the pessimistic end is met.
    if est.high is not None:
        assert est.enough(est.high) == "yes"
    assert est.enough(est.low - 1) == "no"
    if est.high is None or est.high > est.low:
        assert est.enough(est.low).startswith(("uncertain", "yes"))
    low, high = power.spread_interval(pilot)
    assert low < 1 < high
