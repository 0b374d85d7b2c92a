"""Social-outcome metrics (Perolat et al. 2017) against hand-computed values.

The same metrics on a scripted episode through ``env.step``:
``tests/envs/test_social_envs.py::test_metrics_of_a_scripted_harvest_episode``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

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
