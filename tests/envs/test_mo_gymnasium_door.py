"""The MO-Gymnasium front door: ids, spaces, MO-Gymnasium's wrappers, the vector env."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import envs.mo_gymnasium as door

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pygame's pkg_resources deprecation warning
    import mo_gymnasium as mo_gym
    from mo_gymnasium.wrappers import LinearReward, MORecordEpisodeStatistics
    from mo_gymnasium.wrappers.vector import MORecordEpisodeStatistics as VecMORecord
    from mo_gymnasium.wrappers.vector import MOSyncVectorEnv

OURS = "explore/DeepSeaTreasure-Concave-v0"
THEIRS = "deep-sea-treasure-concave-v0"


def _both(ours_id: str = OURS, theirs_id: str = THEIRS):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mo_gym.make(ours_id), mo_gym.make(theirs_id)


def test_every_task_is_registered():
    from envs.multiobjective.tasks import TASKS

    ids = door.register_all()
    assert ids == [f"explore/{name}-v0" for name in TASKS]
    assert all(env_id in gymnasium.registry for env_id in ids)


def test_plain_import_envs_registers_the_multiobjective_ids():
    """As ``import minigrid`` does: ``import envs`` alone makes every id ``make``-able."""
    import subprocess
    import sys

    code = (
        "import warnings; warnings.simplefilter('ignore'); import envs, mo_gymnasium, sys; "
        "env = mo_gymnasium.make('explore/DeepSeaTreasure-v0'); "
        "print(env.unwrapped.reward_dim, 'envs.mo_gymnasium' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "True"]


def test_make_exposes_reward_space_and_dim_like_mo_gymnasium():
    ours, theirs = _both()
    assert ours.unwrapped.reward_dim == theirs.unwrapped.reward_dim == 2
    assert ours.unwrapped.reward_space == theirs.unwrapped.reward_space
    assert ours.observation_space == theirs.observation_space
    assert ours.action_space == theirs.action_space
    front = np.asarray(theirs.unwrapped.pareto_front(0.99))
    np.testing.assert_allclose(ours.unwrapped.pareto_front(0.99), front[np.argsort(front[:, 0])])


def test_door_steps_like_mo_gymnasium():
    ours, theirs = _both()
    rng = np.random.default_rng(0)
    obs, _ = ours.reset(seed=0)
    t_obs, _ = theirs.reset(seed=0)
    episodes = 0
    for action in rng.choice(4, 400, p=[0.15, 0.35, 0.15, 0.35]):
        obs, reward, term, trunc, info = ours.step(action)
        t_obs, t_reward, t_term, t_trunc, _ = theirs.step(action)
        assert np.array_equal(obs, t_obs) and obs.dtype == t_obs.dtype
        assert np.array_equal(reward, t_reward) and reward.dtype == np.float32
        assert (term, trunc) == (t_term, t_trunc)
        assert info["success"] == term and isinstance(info["caption"], str)
        if term or trunc:
            episodes += 1
            obs, _ = ours.reset()
            t_obs, _ = theirs.reset()
            assert np.array_equal(obs, t_obs)
    assert episodes > 3


def test_mo_gymnasium_wrappers_work_on_it():
    ours, theirs = _both()
    w = np.array([0.3, 0.7])
    wrapped = [
        MORecordEpisodeStatistics(LinearReward(env, weight=w), gamma=0.9) for env in (ours, theirs)
    ]
    rng = np.random.default_rng(1)
    for env in wrapped:
        env.reset(seed=0)
    finished = 0
    for action in rng.choice(4, 300, p=[0.15, 0.35, 0.15, 0.35]):
        (_, r, term, trunc, info), (_, t_r, *_, t_info) = (env.step(action) for env in wrapped)
        assert isinstance(r, float | np.floating) and r == pytest.approx(t_r)
        assert r == pytest.approx(w @ info["vector_reward"])
        if term or trunc:
            finished += 1
            for k in ("r", "dr", "l"):
                np.testing.assert_allclose(info["episode"][k], t_info["episode"][k], rtol=1e-6)
            for env in wrapped:
                env.reset()
    assert finished > 2


def test_vector_env_equals_mo_sync_vector_env_with_its_statistics_wrapper():
    n = 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = gymnasium.make_vec(OURS, num_envs=n)
        theirs = MOSyncVectorEnv([lambda: mo_gym.make(THEIRS) for _ in range(n)])
    assert isinstance(ours, door.MOVectorEnv)
    assert ours.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert ours.reward_space == theirs.reward_space
    ours, theirs = VecMORecord(ours, gamma=0.95), VecMORecord(theirs, gamma=0.95)
    obs, _ = ours.reset(seed=0)
    t_obs, _ = theirs.reset(seed=0)
    np.testing.assert_array_equal(obs, t_obs)
    rng = np.random.default_rng(2)
    finished = 0
    for _ in range(150):
        actions = rng.choice(4, n, p=[0.15, 0.35, 0.15, 0.35])
        obs, reward, term, trunc, info = ours.step(actions)
        t_obs, t_reward, t_term, t_trunc, t_info = theirs.step(actions)
        np.testing.assert_array_equal(obs, t_obs)
        np.testing.assert_array_equal(reward, t_reward)
        assert reward.shape == (n, 2) and reward.dtype == np.float32
        np.testing.assert_array_equal(term, t_term)
        np.testing.assert_array_equal(trunc, t_trunc)
        if "episode" in t_info:
            finished += int(t_info["_episode"].sum())
            np.testing.assert_array_equal(info["_episode"], t_info["_episode"])
            for k in ("r", "dr", "l"):
                np.testing.assert_allclose(info["episode"][k], t_info["episode"][k], rtol=1e-6)
    assert finished > 5


def test_vector_env_same_step_mode_keeps_final_observations():
    venv = gymnasium.make_vec(OURS, num_envs=3, autoreset_mode=AutoresetMode.SAME_STEP)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    venv.reset(seed=0)
    obs, reward, term, _, info = venv.step(np.array([1, 3, 3]))  # env 0 finds treasure 1
    np.testing.assert_array_equal(reward, [[1, -1], [0, -1], [0, -1]])
    np.testing.assert_array_equal(term, [True, False, False])
    np.testing.assert_array_equal(info["final_obs"][0], [1, 0])
    np.testing.assert_array_equal(obs[0], [0, 0])


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="not a multi-objective"):
        door.MOEnv("DoorKey-5x5")
    env = mo_gym.make(OURS)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside the action space"):
        env.step(4)
    with pytest.raises(ValueError, match="autoreset_mode"):
        door.MOVectorEnv("DeepSeaTreasure", num_envs=2, autoreset_mode="sometimes")
    with pytest.raises(ValueError, match="render_mode"):
        door.MOEnv("DeepSeaTreasure", render_mode="rgb_array")
