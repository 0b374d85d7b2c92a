"""The multi-objective environment contract: the suite's functional shape, vector rewards.

A multi-objective environment is an :class:`envs.core.Environment` whose ``step`` returns a
reward **vector** ``[m]`` (float32) instead of a scalar::

    obs, state = env.reset(key, params)
    obs, state, reward, terminated, truncated, info = env.step(key, state, action, params)
    reward.shape == (env.reward_dim,)          # float32
    env.reward_space(params)                   # envs.spaces.Box of shape (m,)

Everything else is as everywhere in the suite: auto-reset lives in the core's ``step``
(``info["final_observation"]`` holds the finished episode's last observation),
``info["success"]`` and ``info["event"]`` are always present, privileged facts for analysis
live under ``info["privileged"]``. Objectives are maximised; ``objectives`` names them in
reward order, and ``pareto_front(gamma)`` returns the true front of discounted returns when
the env has a known one (MO-Gymnasium's ``pareto_front(gamma)``, as an ``[k, m]`` array): the
non-dominated expected returns ``E[Σ_t γ^t r_t]`` of the deterministic policies within the
time limit, computed exactly (Pareto value iteration, :mod:`envs.multiobjective.pareto`,
where the env has a tabular model).
"""

from __future__ import annotations

import numpy as np

from envs.core import Environment, EnvParams
from envs.spaces import Box


class MOEnvironment(Environment):
    """Base class of the multi-objective environments (``reward`` is a float32 ``[m]``)."""

    vector_reward = True  # declared for the agents (envs.core.Environment)

    #: the names of the objectives, in reward order (subclasses set it)
    objectives: tuple[str, ...] = ()
    #: caption of each ``info["event"]`` code (code 0 = nothing happened)
    event_captions: tuple[str, ...] = ("",)

    @property
    def reward_dim(self) -> int:
        """Number of objectives ``m`` (MO-Gymnasium's ``reward_dim``)."""
        return len(self.objectives)

    def reward_space(self, params: EnvParams | None = None) -> Box:
        """Bounds of one step's reward vector: a float32 ``Box`` of shape ``(m,)``."""
        raise NotImplementedError

    def caption(self, event: int) -> str:
        return self.event_captions[int(event)]

    @property
    def captions(self) -> tuple[str, ...]:
        return self.event_captions

    def pareto_front(self, gamma: float) -> np.ndarray:
        """The true Pareto front of discounted returns, ``[k, m]`` float64, or an error.

        Raises ``NotImplementedError`` for envs without a known front.
        """
        raise NotImplementedError(f"{self.name} has no known Pareto front")


def is_multiobjective(env: object) -> bool:
    """Whether ``env`` returns vector rewards (agents that need scalars check this)."""
    return isinstance(env, MOEnvironment)


def check_gamma(gamma: float) -> float:
    """``gamma`` as a float in (0, 1]; a ``ValueError`` naming the field otherwise."""
    if isinstance(gamma, bool) or not isinstance(gamma, int | float | np.floating | np.integer):
        raise ValueError(f"gamma must be a number in (0, 1], got {gamma!r}")
    if not 0.0 < float(gamma) <= 1.0:
        raise ValueError(f"gamma must be in (0, 1], got {gamma!r}")
    return float(gamma)


def non_dominated(points: np.ndarray) -> np.ndarray:
    """The Pareto-optimal rows of ``points`` (maximisation), duplicates kept once, sorted.

    Used to build the envs' known fronts. Rows are sorted lexicographically (first
    objective first) so fronts compare with ``np.allclose``.
    """
    points = np.unique(np.asarray(points, dtype=np.float64), axis=0)
    # q dominates p when q >= p everywhere and q > p somewhere.
    ge = np.all(points[:, None, :] >= points[None, :, :], axis=-1)
    gt = np.any(points[:, None, :] > points[None, :, :], axis=-1)
    dominated = np.any(ge & gt, axis=0)
    return points[~dominated]


def discounted_sum(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """``Σ_t γ^t r_t`` of a ``[T, m]`` reward sequence, in float64."""
    rewards = np.asarray(rewards, dtype=np.float64)
    return ((gamma ** np.arange(len(rewards)))[:, None] * rewards).sum(axis=0)
