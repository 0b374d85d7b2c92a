"""The PettingZoo front door: PettingZoo's own API tests, determinism, bad actions, batches."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test
from pettingzoo.utils.conversions import parallel_to_aec

from envs.pettingzoo import BatchedParallelEnv, parallel_env


@pytest.fixture(scope="module")
def door():
    """One door (one compiled step) for every test here: Harvest-Open on its small map."""
    return parallel_env(
        "Harvest-Open", num_agents=3, ascii_map="small", episode_length=40, render_mode="rgb_array"
    )


def test_parallel_api_test(door):
    parallel_api_test(door, num_cycles=120)  # several episodes of 40 steps


def test_aec_api_test_through_parallel_to_aec(door):
    api_test(parallel_to_aec(door), num_cycles=120)


def test_spaces_render_and_state(door):
    observations, infos = door.reset(seed=3)
    assert door.agents == ["player_0", "player_1", "player_2"]
    assert door.observation_space("player_1") is door.observation_space("player_1")
    for agent, obs in observations.items():
        assert door.observation_space(agent).contains(obs)
    frame = door.render()
    assert frame.dtype == np.uint8 and frame.shape == (6 * 8, 10 * 8, 3)
    assert door.state().shape == door.state_space.shape
    _, _, _, _, infos = door.step({a: 0 for a in door.agents})
    assert set(infos["player_0"]) == {"event", "caption"}


def _trajectory(door, seed, steps):
    rng = np.random.default_rng(seed)
    observations, _ = door.reset(seed=seed)
    frames = [np.stack([observations[a] for a in door.possible_agents])]
    rewards = []
    for _ in range(steps):
        if not door.agents:
            observations, _ = door.reset(seed=int(rng.integers(1 << 30)))
        actions = {a: int(rng.integers(8)) for a in door.agents}
        observations, reward, _, _, _ = door.step(actions)
        frames.append(np.stack([observations[a] for a in door.possible_agents]))
        rewards.append([reward[a] for a in door.possible_agents])
    return np.stack(frames), np.array(rewards)


def test_same_seed_gives_identical_500_step_trajectories(door):
    obs_a, rew_a = _trajectory(door, seed=11, steps=500)
    obs_b, rew_b = _trajectory(door, seed=11, steps=500)
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(rew_a, rew_b)
    obs_c, _ = _trajectory(door, seed=12, steps=50)
    assert not np.array_equal(obs_a[:51], obs_c)


def test_action_outside_the_space_names_the_agent(door):
    door.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions\['player_2'\]: 8 is outside the action space"):
        door.step({"player_0": 0, "player_1": 1, "player_2": 8})
    with pytest.raises(ValueError, match="no action for agent 'player_1'"):
        door.step({"player_0": 0, "player_2": 1})
    with pytest.raises(ValueError, match="unknown agent 'player_9'"):
        door.step({"player_0": 0, "player_1": 0, "player_2": 0, "player_9": 0})


def test_batched_variant_steps_a_batch_in_one_call():
    batch = BatchedParallelEnv(
        "Coins",
        batch_size=4,
        seed=0,
        min_width=4,
        max_width=4,
        min_height=4,
        max_height=4,
        episode_length=5,
    )
    obs = batch.reset()
    assert obs.shape == (4, 2, 11, 11, 4) and obs.dtype == np.uint8
    for _ in range(5):
        obs, reward, terminated, truncated, info = batch.step(np.full((4, 2), 1))
    assert reward.shape == (4, 2) and truncated.all() and not terminated.any()
    assert info["final_observation"].shape == obs.shape and info["event"].shape == (4, 2)
    with pytest.raises(ValueError, match="agent 'player_1'"):
        batch.step(np.array([[0, 0], [0, 7], [0, 0], [0, 0]]))
