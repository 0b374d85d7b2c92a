"""Front metrics and weight sets: hand-computed cases, pymoo on the same points, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pymoo.indicators import hv as pymoo_hv  # the reference implementation (multiobjective extra)
from pymoo.indicators import igd as pymoo_igd

from analysis.multiobjective import (
    cardinality,
    check_weights,
    expected_utility,
    hypervolume,
    igd,
    max_utility_loss,
    non_dominated,
    plot_fronts,
    sparsity,
    weight_set,
)

# Deep Sea Treasure's concave front (Vamplew et al. 2011), undiscounted: (treasure, -time).
DST_CONCAVE = np.array(
    [
        [1, -1],
        [2, -3],
        [3, -5],
        [5, -7],
        [8, -8],
        [16, -9],
        [24, -13],
        [50, -14],
        [74, -17],
        [124, -19],
    ],
    float,
)


def random_front(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """Points on the positive unit sphere (all non-dominated), plus dominated ones inside."""
    x = np.abs(rng.normal(size=(n, m)))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    inside = x[: n // 4] * rng.uniform(0.3, 0.9, size=(n // 4, 1))
    return np.concatenate([x, inside]) * 10.0 - 2.0


# --- hypervolume -----------------------------------------------------------------------------
def test_hypervolume_hand_computed():
    assert hypervolume([[1, 3], [2, 2], [3, 1]], [0, 0]) == pytest.approx(6.0, abs=1e-12)
    # A dominated point and a duplicate add nothing.
    assert hypervolume([[1, 3], [2, 2], [3, 1], [1, 1], [2, 2]], [0, 0]) == pytest.approx(6.0)
    assert hypervolume([[1, 2, 3]], [0, 0, 0]) == pytest.approx(6.0)
    assert hypervolume([[2, 1, 1], [1, 2, 1]], [0, 0, 0]) == pytest.approx(3.0)
    assert hypervolume([[1, 1, 2], [2, 2, 1]], [0, 0, 0]) == pytest.approx(5.0)
    assert hypervolume([[1, 1, 1, 2], [2, 2, 2, 1]], [0, 0, 0, 0]) == pytest.approx(2 + 8 - 1)
    # DST's concave front with the usual reference (0, -25): 1155 (Vamplew et al. 2011).
    assert hypervolume(DST_CONCAVE, [0, -25]) == pytest.approx(1155.0, abs=1e-9)


@pytest.mark.parametrize(("m", "n"), [(2, 60), (3, 40), (4, 25), (5, 15)])
def test_hypervolume_equals_pymoo(m, n):
    rng = np.random.default_rng(m)
    points = random_front(rng, n, m)
    ref = points.min(axis=0) - rng.uniform(0.1, 1.0, m)
    ours = hypervolume(points, ref)
    theirs = pymoo_hv.HV(ref_point=-ref)(-points)  # pymoo minimises
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-9)


def test_hypervolume_in_six_dimensions_equals_pymoo():
    # Fruit Tree's size: 32 non-dominated points in 6-D (plus 8 dominated ones).
    rng = np.random.default_rng(6)
    points = random_front(rng, 32, 6)
    ref = np.full(6, -2.0)
    assert hypervolume(points, ref) == pytest.approx(pymoo_hv.HV(ref_point=-ref)(-points), rel=1e-9)


def test_hypervolume_reference_point_must_lie_below_the_front():
    with pytest.raises(ValueError, match=r"ref \[0.0, -2.0\] does not lie below the front"):
        hypervolume(DST_CONCAVE, [0, -2])
    # strict=False drops the points below the reference, as pymoo does.
    kept = DST_CONCAVE[DST_CONCAVE[:, 1] >= -2]
    assert hypervolume(DST_CONCAVE, [0, -2], strict=False) == pytest.approx(
        hypervolume(kept, [0, -2])
    )
    assert hypervolume([[1, 1]], [2, 2], strict=False) == 0.0
    with pytest.raises(ValueError, match="ref must be 2 finite numbers"):
        hypervolume(DST_CONCAVE, [0, 0, 0])
    with pytest.raises(ValueError, match="points must be a non-empty"):
        hypervolume(np.zeros((0, 2)), [0, 0])


# --- utilities -------------------------------------------------------------------------------
def test_expected_utility_and_max_utility_loss_hand_computed():
    corners = np.array([[1.0, 0.0], [0.0, 1.0]])
    weights = weight_set(2, 3)  # (1, 0), (0.5, 0.5), (0, 1)
    assert expected_utility(corners, weights) == pytest.approx((1 + 0.5 + 1) / 3)
    middle = np.array([[0.6, 0.6]])
    assert expected_utility(np.concatenate([corners, middle]), weights) == pytest.approx(
        (1 + 0.6 + 1) / 3
    )
    # Against the front {corners, middle}: the corners alone lose 0.1 at w = (0.5, 0.5).
    front = np.concatenate([corners, middle])
    assert max_utility_loss(corners, front, weights) == pytest.approx(0.1)
    assert max_utility_loss(front, front, weights) == 0.0


def test_linear_utility_only_reaches_the_ends_of_dst_concave_front():
    # The known result behind the DST-concave experiment: every weight's best point is one of
    # the two ends, so the ends alone have the whole front's EUM, and MUL 0.
    weights = weight_set(2, 101)
    scaled = DST_CONCAVE / np.abs(DST_CONCAVE).max(axis=0)  # comparable objectives
    best = np.argmax(weights @ scaled.T, axis=1)
    assert set(best.tolist()) == {0, len(DST_CONCAVE) - 1}
    ends = scaled[[0, -1]]
    assert expected_utility(ends, weights) == pytest.approx(expected_utility(scaled, weights))
    assert max_utility_loss(ends, scaled, weights) == pytest.approx(0.0, abs=1e-12)


# --- distances and shape ---------------------------------------------------------------------
def test_igd_hand_computed_and_equals_pymoo():
    assert igd([[0.0, 0.0]], [[3.0, 4.0], [0.0, 0.0]]) == pytest.approx(2.5)
    rng = np.random.default_rng(7)
    for m in (2, 3, 6):
        points, front = random_front(rng, 30, m), random_front(rng, 50, m)
        assert igd(points, front) == pytest.approx(
            pymoo_igd.IGD(front)(points), rel=1e-9, abs=1e-12
        )


def test_sparsity_and_cardinality_hand_computed():
    line = [[0.0, 2.0], [1.0, 1.0], [2.0, 0.0]]
    # Per objective the sorted values are 0, 1, 2: squared gaps 1 + 1, twice, over n - 1 = 2.
    assert sparsity(line) == pytest.approx(2.0)
    assert sparsity([[0.0, 2.0], [1.0, 1.0], [2.0, 0.0], [0.5, 0.5]]) == pytest.approx(2.0)
    assert sparsity([[1.0, 1.0]]) == 0.0
    assert cardinality([*line, [1.0, 1.0], [0.5, 0.5]]) == 3  # duplicate and dominated
    np.testing.assert_array_equal(non_dominated([[1, 1], [0, 2], [0, 1]]), [[0, 2], [1, 1]])


# --- weights ---------------------------------------------------------------------------------
def test_weight_grid_for_two_objectives():
    np.testing.assert_allclose(
        weight_set(2, 5), [[1, 0], [0.75, 0.25], [0.5, 0.5], [0.25, 0.75], [0, 1]]
    )
    np.testing.assert_allclose(weight_set(2, 1), [[0.5, 0.5]])


def test_weight_lattice_for_three_objectives():
    lattice = weight_set(3, 15, scheme="grid")  # H = 4: C(6, 2) = 15 points k/4
    assert lattice.shape == (15, 3)
    np.testing.assert_allclose(lattice.sum(axis=1), 1.0)
    assert np.all(np.isclose(lattice * 4, np.round(lattice * 4)))
    assert len(np.unique(lattice, axis=0)) == 15
    with pytest.raises(ValueError, match=r"count=16 is not a simplex-lattice size .*15, 21"):
        weight_set(3, 16, scheme="grid")


@pytest.mark.parametrize("m", [3, 4, 6])
def test_low_discrepancy_weights_cover_the_simplex_better_than_random(m):
    n = 64
    w = weight_set(m, n)  # "auto" is low-discrepancy for m >= 3
    assert w.shape == (n, m) and np.all(w >= 0)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    np.testing.assert_array_equal(w[:m], np.eye(m))  # the corners come first
    np.testing.assert_array_equal(w, weight_set(m, n))  # deterministic
    # Against i.i.d. uniform weights of the same size (corners included): a dense probe of
    # the simplex is closer to the set on average than for every random draw, and the
    # farthest probe closer than for the median draw.
    rng = np.random.default_rng(0)
    probe = rng.dirichlet(np.ones(m), 4000)

    def distances(points):
        return np.min(np.linalg.norm(probe[:, None] - points[None], axis=-1), axis=1)

    draws = [
        distances(np.concatenate([np.eye(m), rng.dirichlet(np.ones(m), n - m)])) for _ in range(5)
    ]
    ours = distances(w)
    assert ours.mean() < min(d.mean() for d in draws)
    assert ours.max() < np.median([d.max() for d in draws])


def test_check_weights_names_the_field():
    np.testing.assert_allclose(check_weights([0.25, 0.75], 2), [0.25, 0.75])
    with pytest.raises(ValueError, match=r"mo_ppo.weights must have 2 entries .* got 3"):
        check_weights([0.2, 0.3, 0.5], 2, field="mo_ppo.weights")
    with pytest.raises(ValueError, match=r"mo_ppo\.weights must be non-negative"):
        check_weights([1.5, -0.5], 2, field="mo_ppo.weights")
    with pytest.raises(ValueError, match=r"mo_ppo\.weights must sum to 1"):
        check_weights([[0.5, 0.5], [0.2, 0.2]], 2, field="mo_ppo.weights")
    with pytest.raises(ValueError, match="weights must be finite"):
        check_weights([math.nan, 1.0], 2)
    with pytest.raises(ValueError, match="weights must be numbers"):
        check_weights(["a", "b"], 2)
    np.testing.assert_allclose(
        check_weights([[1, 3], [2, 2]], 2, normalise=True), [[0.25, 0.75], [0.5, 0.5]]
    )
    with pytest.raises(ValueError, match="positive sum"):
        check_weights([0, 0], 2, normalise=True)
    # The metrics validate their weights the same way.
    with pytest.raises(ValueError, match="weights must sum to 1"):
        expected_utility(DST_CONCAVE, [[0.5, 0.6]])
    with pytest.raises(ValueError, match="num_objectives must be ≥ 2"):
        weight_set(1, 4)
    with pytest.raises(ValueError, match="scheme must be one of"):
        weight_set(2, 4, scheme="sobol")


# --- figure ----------------------------------------------------------------------------------
def test_plot_fronts_draws_every_seed_against_the_true_front(tmp_path):
    from analysis.plots import save

    ends, some = DST_CONCAVE[[0, -1]], DST_CONCAVE[[0, 3, -1]]
    fig = plot_fronts(
        {"mo_ppo": [ends, some], "mo_ppo+count": [DST_CONCAVE]},
        true_front=DST_CONCAVE,
        objectives=("treasure", "time"),
    )
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["true front", "mo_ppo (2 seeds)", "mo_ppo+count (1 seeds)"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("treasure", "time")
    assert len(ax.get_lines()) == 1 + 3  # the true front's staircase and one per seed
    np.testing.assert_array_equal(ax.get_lines()[2].get_xydata(), some)
    assert save(fig, tmp_path, "fronts").startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="has 3 objectives"):
        plot_fronts({"a": [np.ones((2, 3))]})
