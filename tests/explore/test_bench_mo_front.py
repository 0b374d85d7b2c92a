"""The time-to-front rows of ``explore bench mo --front``: the fraction and the row logic.

The timed runs themselves take minutes; here the pieces that decide the figures are checked
(the true front scores 1, a dominated front less, the first time at or above the target is
the one reported) and a misspelt algorithm is refused with the close match.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest

import envs
from explore.bench import mo as bench_mo


def _args(**overrides) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench_mo.add_arguments(parser)
    args = parser.parse_args([])
    for name, value in overrides.items():
        setattr(args, name, value)
    return args


def test_true_front_scores_one_and_a_partial_front_less():
    env, _ = envs.make(bench_mo.FRONT_ENV)
    front = np.asarray(env.pareto_front(1.0))
    true_hv = bench_mo._hv_fraction(front, 1.0)
    assert true_hv > 0
    assert bench_mo._hv_fraction(front, true_hv) == pytest.approx(1.0)
    partial = bench_mo._hv_fraction(front[:3], true_hv)
    assert 0 < partial < 1
    # Points worse than the reference (a policy that never reaches a treasure) add nothing.
    assert bench_mo._hv_fraction([[0.0, -100.0]], true_hv) == 0.0


def test_row_reports_the_first_time_the_target_is_reached():
    trace = [(10.0, 100, 0.5, 8.0), (20.0, 200, 0.96, 15.0), (30.0, 300, 0.99, 22.0)]
    row = bench_mo._front_row("x", trace, _args())
    assert row["reached"] and row["seconds to HV fraction 0.95"] == 20.0
    assert row["CPU s to target"] == 15.0 and row["env steps to target"] == 200
    assert row["best fraction"] == 0.99
    missed = bench_mo._front_row("x", trace[:1], _args())
    assert not missed["reached"] and math.isnan(missed["seconds to HV fraction 0.95"])


def test_unknown_front_algorithm_is_refused():
    with pytest.raises(KeyError, match="envelope"):
        bench_mo.front_rows(_args(front_algos=["envelop"]))
