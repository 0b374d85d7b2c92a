"""Exact Pareto fronts of small multi-objective MDPs by Pareto value iteration.

A known front is the set of non-dominated expected discounted returns
``E[Σ_t γ^t r_t]`` (reward of step ``k`` discounted by ``γ^(k-1)``) over the deterministic
policies, from the start state, within the env's time limit. Hand-written candidate lists
miss policies (Resource Gathering's six candidates miss the gem-then-gold route, which
dominates them all at ``γ = 1``), so the fronts are computed, for any ``γ``, by finite-horizon
Pareto value iteration (White 1982; Van Moffaert & Nowé 2014) over a tabular model of the env::

    V_0(s) = {0}
    Q_h(s, a) = Σ_terminal p·r  ⊕  (p_cont·(r_cont + γ·V_{h-1}(s')))   (⊕: Minkowski sums)
    V_h(s) = ND(∪_a Q_h(s, a))

``V_H(start)`` with ``H`` the time limit is the front. The step that ends an episode adds its
reward and nothing after it; the step that reaches the limit adds its reward and ``V_0 = {0}``.
With at most one branch that continues (a kill in Resource Gathering ends the episode with
probability ``p``, so ``Q = p·r_kill + (1 − p)·(r + γ·V(s'))``), a deterministic policy's
expected value has no mixing across branches and the iteration is exact; several
continuing branches take Minkowski sums, still exact. ``V_h`` depends on ``h`` only until
every value set stops changing, after which it is a fixed point, so the iteration stops early.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Two values closer than this (relative to the largest magnitude) are one point: a return
#: reached along paths that sum in different orders differs in the last bits, and such twins
#: would otherwise dominate each other in opposite components and both stay.
TOLERANCE = 1e-12


@dataclass(frozen=True)
class Outcome:
    """One branch of a transition: probability, reward vector, next state (``None``: ends)."""

    prob: float
    reward: np.ndarray
    next_state: int | None


@dataclass(frozen=True)
class TabularMDP:
    """A finite MDP: ``outcomes[s][a]`` lists the branches of action ``a`` in state ``s``."""

    outcomes: Sequence[Sequence[Sequence[Outcome]]]
    start: int
    reward_dim: int

    def reachable(self) -> list[int]:
        """The states reachable from ``start``, in breadth-first order."""
        seen, order = {self.start}, [self.start]
        for s in order:
            for branches in self.outcomes[s]:
                for o in branches:
                    if o.next_state is not None and o.next_state not in seen:
                        seen.add(o.next_state)
                        order.append(o.next_state)
        return order


def pareto_filter(points: np.ndarray, tol: float = TOLERANCE) -> np.ndarray:
    """Distinct non-dominated rows (maximisation) of ``points``, sorted lexicographically.

    Rows within ``tol`` (times the largest magnitude, at least 1) of each other count as one,
    the first in sorted order kept.
    """
    points = np.unique(np.asarray(points, np.float64), axis=0)
    if len(points) < 2:
        return points
    eps = tol * max(1.0, float(np.abs(points).max()))
    diff = points[:, None, :] - points[None, :, :]  # [i, j]: p_i - p_j
    ge = np.all(diff >= -eps, axis=-1)
    gt = np.any(diff > eps, axis=-1)
    twin = np.all(np.abs(diff) <= eps, axis=-1) & np.tri(len(points), k=-1, dtype=bool).T
    return points[~np.any((ge & gt) | twin, axis=0)]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    eps = TOLERANCE * max(1.0, float(np.abs(a).max(initial=0.0)))
    return bool(np.all(np.abs(a - b) <= eps))


def pareto_value_iteration(mdp: TabularMDP, gamma: float, horizon: int) -> np.ndarray:
    """The front ``V_horizon(start)``, ``[k, m]`` float64 sorted lexicographically."""
    m = mdp.reward_dim
    zero = np.zeros((1, m))
    states = mdp.reachable()
    parents: dict[int, set[int]] = {s: set() for s in states}
    for s in states:
        for branches in mdp.outcomes[s]:
            for o in branches:
                if o.next_state is not None:
                    parents[o.next_state].add(s)
    values = {s: zero for s in states}
    # A state's new set can differ from its old one only if a successor's set changed.
    stale = set(states)
    for _ in range(horizon):
        if not stale:
            break  # a fixed point: every later V_h is this one
        new = dict(values)
        for s in stale:
            q = []
            for branches in mdp.outcomes[s]:
                total = zero
                for o in branches:
                    r = o.prob * np.asarray(o.reward, np.float64)[None, :]
                    if o.next_state is not None:
                        r = r + o.prob * gamma * values[o.next_state]
                    # Minkowski sum over the branches (one term when a single branch goes on).
                    total = (total[:, None, :] + r[None, :, :]).reshape(-1, m)
                q.append(total)
            new[s] = pareto_filter(np.concatenate(q))
        changed = [s for s in stale if not _same(new[s], values[s])]
        stale = {p for s in changed for p in parents[s]}
        values = new
    return values[mdp.start]
