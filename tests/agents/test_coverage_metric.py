"""PPO's coverage diagnostics on a scripted walk: exact counts, and no effect on learning.

The walk ignores the actions: episodes alternate between path A (5 steps, cells (0,0) (0,1)
(0,1) (1,1) (0,0): 3 distinct) and path B (4 steps, (2,2) (2,3) (3,3) (3,2): 4 distinct),
so three updates of 4 steps cross an episode boundary inside a rollout and carry an episode
over from one rollout to the next.
"""

from __future__ import annotations

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from agents.bonuses import make
from agents.configs import PPOConfig
from agents.ppo import PPO
from envs.core import Environment
from envs.spaces import Box, Discrete
from explore.train import summarise

SIDE, NUM_ENVS, NUM_STEPS, UPDATES = 4, 2, 4, 3
PATHS = np.array(
    [
        [(0, 0), (0, 1), (0, 1), (1, 1), (0, 0)],
        [(2, 2), (2, 3), (3, 3), (3, 2), (0, 0)],  # the last entry is padding
    ],
    np.int32,
)
LENGTHS = np.array([5, 4], np.int32)


@struct.dataclass
class WalkState:
    t: jax.Array  # step within the episode
    episode: jax.Array  # which episode (path A on even ones, B on odd ones)


class ScriptedWalk(Environment):
    """A gridworld-shaped env whose agent follows :data:`PATHS`; observations are one-hot
    cells, so a count bonus counts cells. Its own ``reset``/``step`` replace the base's."""

    name = "ScriptedWalk"

    def __init__(self, with_positions: bool = True) -> None:
        if with_positions:  # what PPO reads the grid size from (gridworlds have it)
            self.task = SimpleNamespace(height=SIDE, width=SIDE)

    def observation_space(self, params=None) -> Box:
        return Box(0.0, 1.0, (SIDE * SIDE,), jnp.float32)

    def action_space(self, params=None) -> Discrete:
        return Discrete(3)

    @staticmethod
    def _observe(pos: jax.Array) -> jax.Array:
        return jax.nn.one_hot(pos[0] * SIDE + pos[1], SIDE * SIDE)

    def reset(self, key, params=None):
        return self._observe(jnp.zeros(2, jnp.int32)), WalkState(jnp.int32(0), jnp.int32(0))

    def step(self, key, state: WalkState, action, params=None):
        path = state.episode % 2
        pos = jnp.asarray(PATHS)[path, state.t]
        done = state.t + 1 == jnp.asarray(LENGTHS)[path]
        reached = self._observe(pos)
        reset_obs, _ = self.reset(key)
        next_state = WalkState(
            jnp.where(done, 0, state.t + 1), jnp.where(done, state.episode + 1, state.episode)
        )
        info = {
            "success": jnp.zeros((), bool),
            "event": jnp.int32(0),
            "privileged": {"agent_pos": pos},
            "final_observation": reached,
        }
        obs = jnp.where(done, reset_obs, reached)
        return obs, next_state, jnp.float32(0.0), done, jnp.zeros((), bool), info


CFG = PPOConfig(
    num_envs=NUM_ENVS,
    num_steps=NUM_STEPS,
    update_epochs=1,
    num_minibatches=1,
    hidden=8,
    total_steps=NUM_ENVS * NUM_STEPS * UPDATES,
)


def _train(with_positions: bool):
    ppo = PPO(ScriptedWalk(with_positions), None, make("count"), CFG)
    state = ppo.init(jax.random.PRNGKey(0))
    return jax.jit(lambda s: ppo.run(s, UPDATES))(state)


@pytest.fixture(scope="module")
def walked():
    return _train(with_positions=True)


def _cells_of(steps) -> set[tuple[int, int]]:
    """Cells of the walk's first ``steps`` steps (the same in every env)."""
    order = [tuple(c) for p, n in zip(PATHS, LENGTHS, strict=True) for c in p[:n]]
    walk = (order * 3)[:steps]
    return set(walk)


def test_cells_per_episode_and_over_training_are_exact(walked):
    _, metrics = walked
    np.testing.assert_array_equal(metrics["finished"], [0, NUM_ENVS, NUM_ENVS])
    # Path A ends in update 2 (3 distinct cells, its first 4 steps in update 1), B in update 3.
    np.testing.assert_array_equal(metrics["episode_cells_sum"], [0, 3 * NUM_ENVS, 4 * NUM_ENVS])
    expected = [len(_cells_of(NUM_STEPS * (u + 1))) for u in range(UPDATES)]
    assert expected == [3, 6, 7]
    np.testing.assert_array_equal(metrics["coverage/cells_visited"], expected)
    # The logged values: a per-episode mean, and the running total at the end of the chunk.
    logged = summarise(jax.device_get(metrics))
    assert logged["coverage/cells_per_episode"] == (3 + 4) / 2
    assert logged["coverage/cells_visited"] == 7
    assert "episode_cells_sum" not in logged


def test_episode_cells_carry_over_rollouts_and_reset_at_episode_ends(walked):
    state, _ = walked
    # After 12 steps every env is 3 steps into path A: cells (0,0) and (0,1).
    cells = np.asarray(state.episode_cells).reshape(NUM_ENVS, SIDE, SIDE)
    expected = np.zeros((SIDE, SIDE), bool)
    expected[0, 0] = expected[0, 1] = True
    for env_cells in cells:
        np.testing.assert_array_equal(env_cells, expected)


def test_cell_bonus_is_the_last_rollouts_raw_bonus_per_cell(walked):
    state, _ = walked
    bonus_sum, steps = np.asarray(state.cell_bonus).reshape(2, SIDE, SIDE)
    # The count bonus 1/sqrt(N), N counted over the whole walk (time-major, then env).
    counts: dict[tuple[int, int], int] = {}
    sums: dict[tuple[int, int], float] = {}
    order = [tuple(c) for p, n in zip(PATHS, LENGTHS, strict=True) for c in p[:n]] * 3
    for t, cell in enumerate(order[: NUM_STEPS * UPDATES]):
        for _ in range(NUM_ENVS):
            counts[cell] = counts.get(cell, 0) + 1
            if t >= NUM_STEPS * (UPDATES - 1):  # the last rollout
                sums[cell] = sums.get(cell, 0.0) + counts[cell] ** -0.5
    expected_steps = np.zeros((SIDE, SIDE))
    expected_sum = np.zeros((SIDE, SIDE))
    for (r, c), s in sums.items():
        expected_sum[r, c] = s
    for t in range(NUM_STEPS * (UPDATES - 1), NUM_STEPS * UPDATES):
        expected_steps[order[t]] += NUM_ENVS
    np.testing.assert_array_equal(steps, expected_steps)
    np.testing.assert_allclose(bonus_sum, expected_sum, rtol=1e-6)
    # The pooled visit counts the table pairs with these: every step of the walk.
    assert int(np.asarray(state.coverage).sum()) == NUM_ENVS * NUM_STEPS * UPDATES


def test_diagnostics_change_no_number_ppo_computes(walked):
    state, metrics = walked
    plain_state, plain_metrics = _train(with_positions=False)
    assert plain_state.episode_cells is None and plain_state.cell_bonus is None
    assert set(metrics) - set(plain_metrics) == {"episode_cells_sum", "coverage/cells_visited"}
    for key, values in plain_metrics.items():
        np.testing.assert_array_equal(np.asarray(metrics[key]), np.asarray(values), err_msg=key)
    for a, b in zip(
        jax.tree.leaves(state.train.params), jax.tree.leaves(plain_state.train.params), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_checkpoint_from_before_the_diagnostics_resumes(walked, tmp_path):
    """A run checkpointed by the code before this metric (no episode_cells entries) resumes,
    its learning state intact and the diagnostics fresh."""
    from explore.runs import RunDir
    from explore.train import _load_checkpoint

    state, _ = walked
    run = RunDir(tmp_path / "run")
    run.save_checkpoint(state.replace(episode_cells=None, cell_bonus=None), 96, UPDATES)
    like = jax.tree.map(jnp.zeros_like, state)
    loaded, steps, updates = _load_checkpoint(run, like, None)
    assert (steps, updates) == (96, UPDATES)
    np.testing.assert_array_equal(np.asarray(loaded.coverage), np.asarray(state.coverage))
    for a, b in zip(
        jax.tree.leaves(loaded.train.params), jax.tree.leaves(state.train.params), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.asarray(loaded.episode_cells).any()
    assert not np.asarray(loaded.cell_bonus).any()
