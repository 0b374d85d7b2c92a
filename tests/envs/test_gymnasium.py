"""The Gymnasium front door: ids, the env checker, seeding, action checks, the vector env."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import envs.gymnasium as gym_front
from envs.gridworld.tasks import TASKS

ID = "explore/DoorKey-5x5-v0"


@pytest.fixture(scope="module")
def single():
    return gymnasium.make(ID, contexts=0, render_mode="rgb_array")


def test_every_task_is_registered():
    assert gym_front.register_all() == [f"explore/{name}-v0" for name in TASKS]
    assert all(f"explore/{name}-v0" in gymnasium.registry for name in TASKS)
    env = gymnasium.make("explore/DoorKey-8x8-v0", contexts=0)
    assert isinstance(env.unwrapped, gym_front.GridWorldEnv)
    assert env.observation_space.shape == (7, 7, 3) and env.action_space.n == 7


def test_passes_the_env_checker(single):
    check_env(single.unwrapped, skip_render_check=False)
    single.reset(seed=0)
    frame = single.render()
    assert frame.dtype == np.uint8 and frame.shape == (5 * 16, 5 * 16, 3)


def trajectory(env, seed, steps=60):
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(0)
    out = [obs]
    for _ in range(steps):
        obs, _reward, term, trunc, info = env.step(int(rng.integers(env.action_space.n)))
        out.append(obs)
        assert {"success", "event", "caption"} <= set(info)
        if term or trunc:
            out.append(env.reset()[0])
    return np.stack(out)


def test_seeded_resets_reproduce_trajectories(single):
    a, b = trajectory(single, 7), trajectory(single, 7)
    assert np.array_equal(a, b)
    assert not np.array_equal(trajectory(single, 7), trajectory(single, 8))


def test_actions_outside_the_space_are_rejected(single):
    single.reset(seed=0)
    for bad in (7, -1, 2.5, "left"):
        with pytest.raises(ValueError, match="action"):
            single.unwrapped.step(bad)
    single.unwrapped.step(np.int64(2))  # NumPy integers are fine


def test_episode_ends_with_its_last_observation():
    env = gymnasium.make(ID, max_steps=2)
    env.reset(seed=0)
    _, _, _, trunc1, _ = env.step(0)
    obs, reward, term, trunc2, _ = env.step(0)
    assert not trunc1 and trunc2 and not term and reward == 0.0
    # Two left turns from the start: the view of the finished episode, not of a new one.
    state = env.unwrapped._state
    assert int(state.step_count) == 2
    np.testing.assert_array_equal(obs, np.asarray(env.unwrapped.env.observe(state, None)))


@pytest.fixture(scope="module")
def vector():
    return gymnasium.make_vec(ID, num_envs=4, max_steps=3)


def test_vector_env(vector):
    assert isinstance(vector.unwrapped, gym_front.GridWorldVectorEnv)
    assert vector.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    obs, _ = vector.reset(seed=3)
    assert obs.shape == (4, 7, 7, 3) and obs in vector.observation_space
    again, _ = vector.reset(seed=3)
    np.testing.assert_array_equal(obs, again)
    for t in range(3):
        obs, reward, term, trunc, infos = vector.step(np.zeros(4, np.int64))
        assert obs in vector.observation_space and reward.shape == (4,)
        if t < 2:
            assert not infos["_final_obs"].any()
            assert all(o is None for o in infos["final_obs"])
    # max_steps=3: every copy truncates at once and starts over in the same step.
    assert trunc.all() and not term.any() and infos["_final_obs"].all()
    final = np.stack(infos["final_obs"])
    assert final.shape == (4, 7, 7, 3) and infos["final_info"]["_success"].all()
    state = vector.unwrapped._state
    assert np.all(np.asarray(state.step_count) == 0)


def test_vector_env_is_reproducible_and_checks_actions(vector):
    def run(seed):
        vector.reset(seed=seed)
        rng = np.random.default_rng(1)
        return np.stack([vector.step(rng.integers(0, 7, 4))[0] for _ in range(5)])

    assert np.array_equal(run(5), run(5))
    vector.reset(seed=[1, 2, 3, 4])
    with pytest.raises(ValueError, match="actions"):
        vector.step(np.array([0, 1, 2, 7]))
    with pytest.raises(ValueError, match="actions"):
        vector.step(np.array([0, 1]))
    with pytest.raises(ValueError, match="num_envs"):
        gym_front.GridWorldVectorEnv("DoorKey-5x5", num_envs=0)
