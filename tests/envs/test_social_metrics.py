"""Social-outcome metrics (Perolat et al. 2017) against hand-computed values."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.social.base import APPLE, FIRE_ZAP, FORWARD, NOOP
from envs.social.metrics import SocialCounters, equality, social_outcomes


def test_outcomes_of_hand_made_counters():
    counters = SocialCounters.zeros(3)
    # Agent 0 rewarded at t = 2, 5, 9; agent 1 at t = 4; agent 2 never; agent 1 tagged 4 steps.
    for t in range(1, 11):
        reward = jnp.array([t in (2, 5, 9), t == 4, False], jnp.float32)
        tagged = jnp.array([False, 5 <= t <= 8, False])
        counters = counters.record(reward, tagged, jnp.int32(t))
    out = social_outcomes(counters, 10)
    assert float(out["efficiency"]) == pytest.approx(4 / 10)
    # Σ_i Σ_j |R_i − R_j| = 2·(2 + 3 + 1) = 12; 2·N·ΣR = 24.
    assert float(out["equality"]) == pytest.approx(1 - 12 / 24)
    assert float(out["sustainability"]) == pytest.approx(((2 + 5 + 9) / 3 + 4) / 2)
    assert float(out["peace"]) == pytest.approx((3 * 10 - 4) / 10)
    np.testing.assert_array_equal(np.asarray(out["returns"]), [3, 1, 0])
    np.testing.assert_array_equal(np.asarray(out["tagged_steps"]), [0, 4, 0])


def test_zero_reward_case_is_defined():
    out = social_outcomes(SocialCounters.zeros(4), 7)
    assert float(out["equality"]) == 1.0  # nobody has more than anybody else
    assert float(out["sustainability"]) == 0.0
    assert float(out["efficiency"]) == 0.0 and float(out["peace"]) == 4.0
    assert float(equality(jnp.array([5.0, 0.0]))) == pytest.approx(0.5)  # 1 − 10/(2·2·5)
    assert float(equality(jnp.array([2.0, 2.0, 2.0]))) == 1.0


def test_metrics_of_a_scripted_harvest_episode():
    """Agent 0 eats two apples (t = 1, 2), agent 1 zaps it at t = 3; the episode lasts 6."""
    ascii_map = "WWWWWWW\nWPAA PW\nW     W\nWWWWWWW"
    env, params = envs.make("Harvest-Open", num_agents=2, ascii_map=ascii_map, episode_length=6)
    _, state = env.reset(jax.random.PRNGKey(0), params)
    state = state.replace(pos=jnp.array([[1, 1], [1, 5]]), orient=jnp.array([1, 3]))
    assert int(env._map_view(state)[1, 2]) == APPLE
    actions = [[FORWARD, NOOP], [FORWARD, NOOP], [NOOP, FIRE_ZAP]] + [[NOOP, NOOP]] * 3
    step = jax.jit(env.step)
    for t, action in enumerate(actions):
        _, state, _, _, truncated, info = step(
            jax.random.PRNGKey(t), state, jnp.asarray(action), params
        )
    assert bool(truncated)  # the last step ends the episode; info describes that episode
    social = {k: np.asarray(v) for k, v in info["social"].items()}
    np.testing.assert_array_equal(social["returns"], [2, 0])
    np.testing.assert_array_equal(social["apples_eaten"], [2, 0])
    np.testing.assert_array_equal(social["zaps_given"], [0, 1])
    np.testing.assert_array_equal(social["zaps_received"], [1, 0])
    np.testing.assert_array_equal(social["tagged_steps"], [4, 0])  # out after steps 3..6
    assert social["efficiency"] == pytest.approx(2 / 6)
    assert social["equality"] == pytest.approx(1 - 4 / 8)
    assert social["sustainability"] == pytest.approx(1.5)
    assert social["peace"] == pytest.approx((2 * 6 - 4) / 6)
    assert int(state.step_count) == 0  # auto-reset started the next episode
