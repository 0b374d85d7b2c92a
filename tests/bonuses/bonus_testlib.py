"""Shared helpers of the bonus tests: scripted streams of grid observations."""

from __future__ import annotations

import jax
import numpy as np

from agents.bonuses.base import Transitions
from envs.spaces import Box, Discrete

GRID = Box(0, 15, (7, 7, 3), np.uint8)
ACTIONS = Discrete(4)


def prototypes(count: int, seed: int = 0) -> np.ndarray:
    """``count`` distinct MiniGrid-like uint8 observations ``[count, 7, 7, 3]`` (values < 16)."""
    rng = np.random.default_rng(seed)
    protos = rng.integers(0, 11, (count, 7, 7, 3)).astype(np.uint8)
    assert len({p.tobytes() for p in protos}) == count
    return protos


def scripted(obs_ids, next_ids, done, protos, actions=None) -> Transitions:
    """A NumPy batch whose observations are ``protos[ids]`` (ids ``[T, N]``)."""
    obs_ids, next_ids = np.asarray(obs_ids), np.asarray(next_ids)
    if actions is None:
        actions = np.zeros(obs_ids.shape, np.int32)
    return Transitions.from_arrays(
        protos[obs_ids], actions, protos[next_ids], np.asarray(done, bool)
    )


def reference_counts(batches, episodic: bool, count_start_obs: bool = True):
    """Dict-based counts after each visit, in rollout order (time-major, then env).

    ``batches`` is a list of ``(obs_ids, next_ids, done)``; returns one ``[T, N]`` array per
    batch. Global: N(s') over all visits of ``next_obs``. Episodic: N_e(s') within the
    current episode of each env, counting the episode's first observation too.
    """
    n_envs = np.asarray(batches[0][0]).shape[1]
    glob: dict[int, int] = {}
    epis = [dict() for _ in range(n_envs)]
    fresh = [True] * n_envs
    out = []
    for obs_ids, next_ids, done in batches:
        obs_ids, next_ids, done = map(np.asarray, (obs_ids, next_ids, done))
        res = np.zeros(next_ids.shape, np.int64)
        for t in range(next_ids.shape[0]):
            for n in range(n_envs):
                s, s2 = int(obs_ids[t, n]), int(next_ids[t, n])
                if episodic:
                    if fresh[n] and count_start_obs:
                        epis[n][s] = epis[n].get(s, 0) + 1
                    fresh[n] = False
                    epis[n][s2] = epis[n].get(s2, 0) + 1
                    res[t, n] = epis[n][s2]
                    if done[t, n]:
                        epis[n], fresh[n] = {}, True
                else:
                    glob[s2] = glob.get(s2, 0) + 1
                    res[t, n] = glob[s2]
        out.append(res)
    return out


def random_stream(rng, n_batches: int, t: int, n: int, n_states: int, p_done: float):
    """Random id batches ``(obs_ids, next_ids, done)`` with episodes crossing batches."""
    batches = []
    for _ in range(n_batches):
        next_ids = rng.integers(0, n_states, (t, n))
        obs_ids = rng.integers(0, n_states, (t, n))
        done = rng.random((t, n)) < p_done
        batches.append((obs_ids, next_ids, done))
    return batches


def init_state(bonus, key, space=GRID, n_envs: int = 1, actions=ACTIONS):
    """``bonus.init`` under jit: op-by-op (eager) Flax/Optax initialisation is much slower
    than compiling it once."""
    return jax.jit(lambda k: bonus.init(k, space, actions, n_envs))(key)
