"""Multi-objective front metrics and the weight sets of linear scalarisation (NumPy only).

Every objective is **maximised**; a front is an ``[n, m]`` array of value vectors (one row
per policy). Definitions (Hayes et al. 2022,
"A practical guide to multi-objective reinforcement learning and planning"):

* :func:`hypervolume` — volume dominated by the front above a reference point, exact for
  every ``m``. ``m = 2``: one sort and a running maximum (``O(n log n)``). ``m ≥ 3``: the
  points are sorted by the last objective and each one's exclusive volume against the
  points above it is ``z_k`` times an ``(m-1)``-dimensional exclusive volume, computed the
  same way down to the 2-D sweep (WFG's limit sets, While, Bradstreet & Barone 2012, in
  HSO's slicing order, While et al. 2006). ``m = 3`` costs ``O(n² log n)``; for ``m ≥ 4``
  the worst case grows like ``n^(m-2)`` (dominated points of every limit set are pruned),
  1–2 s for Fruit Tree's 64-point 6-D front on this machine.
* :func:`expected_utility` (EUM) — ``mean_w max_v w·v`` over a fixed weight set (Zintgraf
  et al. 2015).
* :func:`max_utility_loss` (MUL) — ``max_w (max_{v*∈F*} w·v* − max_v w·v)`` against a known
  front ``F*``.
* :func:`igd` — inverted generational distance: the mean, over the known front's points,
  of the Euclidean distance to the closest point of the front (pymoo's ``IGD``).
* :func:`sparsity` — PGMORL's sparsity (Xu et al. 2020): the sum over objectives of squared
  gaps between consecutive sorted values of the non-dominated points, over ``n − 1``.
* :func:`cardinality` — the number of distinct non-dominated points.

Weight sets (:func:`weight_set`) are on the simplex: a uniform grid for ``m = 2``; for
``m ≥ 3`` either the Das–Dennis simplex lattice (``scheme="grid"``, counts
``C(H+m-1, m-1)`` only) or a low-discrepancy set (``scheme="lowdisc"``, any count): the
``m`` corners, then Roberts' ``R_{m-1}`` sequence (the generalised golden ratio) mapped
onto the simplex by the inverse Rosenblatt transform of the uniform Dirichlet, which sends
the uniform cube to the uniform simplex one to one.
:func:`check_weights` is the one validation of user weights (length, sign, sum).
:func:`plot_fronts` draws learned fronts (all seeds) against the true front.

The checks against pymoo (``pymoo.indicators.hv.HV``, ``pymoo.indicators.igd.IGD``, which
minimise: they see ``-front`` and ``-ref``) are in ``tests/analysis/test_multiobjective.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

WEIGHT_SCHEMES = ("auto", "grid", "lowdisc")
_SUM_TOLERANCE = 1e-6


# --- weights -------------------------------------------------------------------------------
def check_weights(
    weights: object, num_objectives: int, *, field: str = "weights", normalise: bool = False
) -> np.ndarray:
    """Validated weights as float64, shape ``[m]`` or ``[k, m]`` (the input's).

    Raises ``ValueError`` naming ``field`` when the last axis is not ``num_objectives`` long,
    an entry is negative or not finite, or a row does not sum to 1 (``normalise=True``
    rescales rows instead; an all-zero row is still an error).
    """
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be numbers, got {weights!r}") from None
    if w.ndim not in (1, 2) or w.shape[-1] != num_objectives:
        got = w.shape[-1] if w.ndim in (1, 2) else f"shape {w.shape}"
        raise ValueError(
            f"{field} must have {num_objectives} entries (one per objective), got {got}"
        )
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{field} must be finite, got {w.tolist()}")
    if np.any(w < 0):
        raise ValueError(f"{field} must be non-negative, got {w.tolist()}")
    sums = w.sum(axis=-1, keepdims=True)
    if normalise:
        if np.any(sums <= 0):
            raise ValueError(f"{field} must have a positive sum to be normalised, got {w.tolist()}")
        return w / sums
    if np.any(np.abs(sums - 1.0) > _SUM_TOLERANCE):
        raise ValueError(
            f"{field} must sum to 1 (got {np.round(sums.ravel(), 6).tolist()}); "
            "rescale them or turn normalisation on"
        )
    return w


def _simplex_lattice(m: int, divisions: int) -> np.ndarray:
    """Das & Dennis (1998): every ``k/H`` point of the simplex, ``C(H+m-1, m-1)`` of them."""
    if m == 1:
        return np.array([[1.0]])
    rows = []
    for first in range(divisions, -1, -1):
        for rest in _simplex_lattice(m - 1, divisions - first) * (divisions - first):
            rows.append([first, *rest])
    return np.asarray(rows, np.float64) / max(divisions, 1)


def _lattice_count(m: int, divisions: int) -> int:
    return math.comb(divisions + m - 1, m - 1)


def _roberts_sequence(n: int, dim: int) -> np.ndarray:
    """Roberts (2018) ``R_d``: ``frac(0.5 + i·α)``, ``α_j = φ_d^-(j+1)``, ``φ_d^(d+1) = φ_d + 1``."""
    phi = 2.0
    for _ in range(64):  # fixed-point iteration converges for every d ≥ 1
        phi = (1.0 + phi) ** (1.0 / (dim + 1))
    alpha = phi ** -np.arange(1, dim + 1)
    return np.mod(0.5 + np.arange(1, n + 1)[:, None] * alpha[None, :], 1.0)


def weight_set(num_objectives: int, count: int, scheme: str = "auto") -> np.ndarray:
    """``count`` weight vectors on the simplex, ``[count, m]`` float64, deterministic.

    ``scheme``: ``"grid"`` — for ``m = 2`` ``(i/(k-1), 1 - i/(k-1))``, ``i = 0..k-1``; for
    ``m ≥ 3`` the Das–Dennis lattice (``count`` must be one of its sizes); ``"lowdisc"`` —
    the ``m`` corners, then ``R_{m-1}`` points mapped to the simplex (:func:`_cube_to_simplex`);
    ``"auto"`` — ``"grid"`` for ``m = 2``, ``"lowdisc"`` for ``m ≥ 3``.
    """
    if isinstance(num_objectives, bool) or not isinstance(num_objectives, int | np.integer):
        raise ValueError(f"num_objectives must be an integer ≥ 2, got {num_objectives!r}")
    if num_objectives < 2:
        raise ValueError(f"num_objectives must be ≥ 2, got {num_objectives}")
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 1:
        raise ValueError(f"count must be an integer ≥ 1, got {count!r}")
    if scheme not in WEIGHT_SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(WEIGHT_SCHEMES)}, got {scheme!r}")
    m, n = int(num_objectives), int(count)
    if scheme == "auto":
        scheme = "grid" if m == 2 else "lowdisc"
    if scheme == "grid":
        if m == 2:
            first = np.linspace(1.0, 0.0, n) if n > 1 else np.array([0.5])
            return np.stack([first, 1.0 - first], axis=1)
        divisions = 0
        while _lattice_count(m, divisions) < n:
            divisions += 1
        if _lattice_count(m, divisions) != n:
            sizes = [_lattice_count(m, h) for h in range(max(divisions - 2, 0), divisions + 2)]
            raise ValueError(
                f"count={n} is not a simplex-lattice size for {m} objectives "
                f"(sizes near it: {sizes}); use scheme='lowdisc' for any count"
            )
        return _simplex_lattice(m, divisions)
    if n < m:
        raise ValueError(f"count must be ≥ num_objectives={m} for scheme 'lowdisc', got {n}")
    return np.concatenate([np.eye(m), _cube_to_simplex(_roberts_sequence(n - m, m - 1))])


def _cube_to_simplex(u: np.ndarray) -> np.ndarray:
    """Inverse Rosenblatt transform of the uniform Dirichlet: ``[n, m-1]`` cube → ``[n, m]``.

    Coordinate ``j`` takes a ``Beta(1, m-1-j)`` fraction of the mass left (its inverse CDF
    ``1 − (1 − u)^(1/(m-1-j))``): uniform points go to uniform weights, one to one, so the
    sequence's even spread carries over.
    """
    n, d = u.shape
    weights = np.zeros((n, d + 1))
    left = np.ones(n)
    for j in range(d):
        share = 1.0 - (1.0 - u[:, j]) ** (1.0 / (d - j))
        weights[:, j] = left * share
        left = left * (1.0 - share)
    weights[:, -1] = left
    return weights


# --- fronts --------------------------------------------------------------------------------
def _as_points(points: object, field: str = "points") -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.ndim == 1 and p.size:
        p = p[None, :]
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 1:
        raise ValueError(f"{field} must be a non-empty [n, m] array, got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{field} must be finite")
    return p


def non_dominated(points: object) -> np.ndarray:
    """The distinct Pareto-optimal rows of ``points`` (maximisation), sorted lexicographically."""
    p = np.unique(_as_points(points), axis=0)
    ge = np.all(p[:, None, :] >= p[None, :, :], axis=-1)
    gt = np.any(p[:, None, :] > p[None, :, :], axis=-1)
    return p[~np.any(ge & gt, axis=0)]


def cardinality(points: object) -> int:
    """Number of distinct non-dominated points."""
    return len(non_dominated(points))


def sparsity(points: object) -> float:
    """PGMORL's sparsity of the non-dominated points (0 for fewer than two)."""
    front = non_dominated(points)
    if len(front) < 2:
        return 0.0
    gaps = np.diff(np.sort(front, axis=0), axis=0)
    return float(np.sum(gaps**2) / (len(front) - 1))


# --- hypervolume ---------------------------------------------------------------------------
def _hv2(x: np.ndarray) -> float:
    """Area dominated by points ``x ≥ 0`` above the origin: one sort and a running maximum."""
    order = np.argsort(-x[:, 0], kind="stable")
    widths, heights = x[order, 0], np.maximum.accumulate(x[order, 1])
    rises = np.diff(heights, prepend=0.0)  # > 0 only where a point rises above all wider ones
    return float(np.sum(widths * rises))


def _hv(x: np.ndarray) -> float:
    """Hypervolume of non-dominated points ``x ≥ 0`` w.r.t. the origin (exact).

    Sorted by the last objective, each point's exclusive volume against the points above it
    is ``z_k · (Π head_k − HV(limit set))``: every later point reaches at least ``z_k``, so
    the limit set (the later heads clipped to ``head_k``) is an ``(m-1)``-dimensional
    problem, solved the same way down to the 2-D sweep (WFG's limit sets, While et al.
    2012, with HSO's slicing order).
    """
    n, m = x.shape
    if m == 1:
        return float(x[:, 0].max())
    if m == 2:
        return _hv2(x)
    x = x[np.argsort(x[:, -1], kind="stable")]
    volume = 0.0
    for k in range(n):
        head = x[k, :-1]
        exclusive = float(np.prod(head))
        if k + 1 < n:
            limit = np.minimum(x[k + 1 :, :-1], head)
            limit = limit[np.all(limit > 0, axis=1)]
            if len(limit):
                exclusive -= _hv(_prune(limit))
        volume += x[k, -1] * exclusive
    return volume


def _prune(x: np.ndarray) -> np.ndarray:
    """Drop dominated rows (they add no volume), so recursion stays small."""
    if len(x) < 2:
        return x
    ge = np.all(x[:, None, :] >= x[None, :, :], axis=-1)
    gt = np.any(x[:, None, :] > x[None, :, :], axis=-1)
    keep = ~np.any(ge & gt, axis=0)
    x = x[keep]
    return np.unique(x, axis=0)


def hypervolume(points: object, ref: object, *, strict: bool = True) -> float:
    """Volume dominated by ``points`` and dominating ``ref`` (maximisation), exact.

    ``ref`` must be dominated by (lie below, or on, in every objective) each point: with
    ``strict=True`` a point below the reference in some objective is a ``ValueError``; with
    ``strict=False`` such points are dropped (they add no volume), as pymoo does.
    """
    p = _as_points(points)
    r = np.asarray(ref, dtype=np.float64).reshape(-1)
    if r.shape != (p.shape[1],) or not np.all(np.isfinite(r)):
        raise ValueError(
            f"ref must be {p.shape[1]} finite numbers (one per objective), got {np.asarray(ref).tolist()}"
        )
    below = np.any(p < r, axis=1)
    if np.any(below):
        if strict:
            bad = p[below][0].tolist()
            raise ValueError(
                f"ref {r.tolist()} does not lie below the front: point {bad} is worse in some "
                "objective (choose a ref below every point, or pass strict=False to drop such points)"
            )
        p = p[~below]
        if len(p) == 0:
            return 0.0
    x = p - r
    # The 2-D sweep ignores dominated points by itself; higher dimensions prune them first.
    return float(_hv(x if x.shape[1] <= 2 else _prune(x)))


# --- utilities and distances ---------------------------------------------------------------
def _utilities(points: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``max_v w·v`` for each weight row."""
    return np.max(weights @ points.T, axis=1)


def expected_utility(points: object, weights: object) -> float:
    """EUM: the mean over ``weights`` (``[k, m]``, rows summing to 1) of ``max_v w·v``."""
    p = _as_points(points)
    w = np.atleast_2d(check_weights(weights, p.shape[1]))
    return float(np.mean(_utilities(p, w)))


def max_utility_loss(points: object, front: object, weights: object) -> float:
    """MUL: the largest, over ``weights``, utility gap between the known ``front`` and ``points``."""
    p = _as_points(points)
    f = _as_points(front, "front")
    if f.shape[1] != p.shape[1]:
        raise ValueError(f"front has {f.shape[1]} objectives, points have {p.shape[1]}")
    w = np.atleast_2d(check_weights(weights, p.shape[1]))
    return float(np.max(_utilities(f, w) - _utilities(p, w)))


def igd(points: object, front: object) -> float:
    """Inverted generational distance: mean over ``front`` of the distance to the nearest point."""
    p = _as_points(points)
    f = _as_points(front, "front")
    if f.shape[1] != p.shape[1]:
        raise ValueError(f"front has {f.shape[1]} objectives, points have {p.shape[1]}")
    dist = np.linalg.norm(f[:, None, :] - p[None, :, :], axis=-1)
    return float(np.mean(dist.min(axis=1)))


# --- figure ----------------------------------------------------------------------------------
def plot_fronts(
    fronts: Mapping[str, Sequence[object]],
    true_front: object | None = None,
    objectives: Sequence[str] = ("objective 1", "objective 2"),
    title: str = "",
) -> Any:
    """Learned fronts of every seed, one colour per method, against the true front (m = 2).

    ``fronts`` maps a method's label to one ``[n, 2]`` array per seed (the value vectors of
    its policies); each seed's non-dominated points are drawn as a staircase, dominated ones
    as faint dots. Returns the matplotlib ``Figure`` (save it with ``analysis.plots.save``).
    Higher dimensions: pass a 2-D projection (``front[:, [i, j]]``).
    """
    from analysis import plots  # matplotlib only when a figure is asked for

    fig, ax = plots.plt.subplots(figsize=(5.2, 4.0))
    if true_front is not None:
        truth = non_dominated(_check_two_objectives(true_front, "true_front"))
        ax.plot(*truth.T, "k-", drawstyle="steps-pre", lw=1, zorder=1)
        ax.scatter(*truth.T, s=60, facecolors="none", edgecolors="k", label="true front", zorder=2)
    for i, (label, seeds) in enumerate(fronts.items()):
        colour = plots._colour(i)
        for s, points in enumerate(seeds):
            p = _check_two_objectives(points, f"fronts[{label!r}][{s}]")
            front = non_dominated(p)
            ax.scatter(*p.T, s=8, color=colour, alpha=0.25, zorder=3)
            ax.plot(*front.T, color=colour, alpha=0.6, drawstyle="steps-pre", lw=1, zorder=3)
            ax.scatter(
                *front.T,
                s=22,
                color=colour,
                marker=plots._marker(i),
                label=f"{label} ({len(seeds)} seeds)" if s == 0 else None,
                zorder=4,
            )
    ax.set_xlabel(objectives[0])
    ax.set_ylabel(objectives[1])
    if title:
        ax.set_title(title)
    ax.legend(frameon=False, fontsize=9)
    ax.grid(alpha=0.3)
    return fig


def _check_two_objectives(points: object, field: str) -> np.ndarray:
    p = _as_points(points, field)
    if p.shape[1] != 2:
        raise ValueError(
            f"{field} has {p.shape[1]} objectives; plot_fronts draws 2 (pass a projection such as front[:, [0, 1]])"
        )
    return p
