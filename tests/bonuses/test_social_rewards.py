"""Social rewards against their formulas on scripted rewards and policies (no env, no agent)."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest

import agents.bonuses
from agents.bonuses.base import Transitions


def _batch(reward, done=None, **extra) -> Transitions:
    """A ``[T, E·N]`` batch with only what the social rewards read."""
    reward = np.asarray(reward, np.float32)
    t, b = reward.shape
    done = np.zeros((t, b), bool) if done is None else np.asarray(done)
    zeros = np.zeros((t, b, 1), np.float32)
    return Transitions(
        obs=jnp.asarray(zeros),
        action=jnp.asarray(extra.pop("action", np.zeros((t, b), np.int32))),
        next_obs=jnp.asarray(zeros),
        done=jnp.asarray(done),
        event=jnp.zeros((t, b), jnp.int32),
        reward=jnp.asarray(reward),
        **{k: jnp.asarray(v) for k, v in extra.items()},
    )


def _bound(name: str, num_agents: int, **kwargs):
    bonus = agents.bonuses.make(name, **kwargs)
    bonus.bind(num_agents)
    return bonus


def _inequity_reference(rewards, done, alpha, beta, decay):
    """u_i − r_i by the formula, one env: rewards [T, N], done [T]."""
    t_len, n = rewards.shape
    e = np.zeros(n)
    out = np.zeros((t_len, n))
    for t in range(t_len):
        e = decay * e + rewards[t]
        for i in range(n):
            envy = sum(max(e[j] - e[i], 0) for j in range(n) if j != i)
            guilt = sum(max(e[i] - e[j], 0) for j in range(n) if j != i)
            out[t, i] = -alpha / (n - 1) * envy - beta / (n - 1) * guilt
        if done[t]:
            e = np.zeros(n)
    return out


def test_inequity_aversion_matches_the_formula_across_rollouts_and_episode_ends():
    rng = np.random.default_rng(0)
    n, envs, t_len = 3, 2, 12
    rewards = (rng.random((2 * t_len, envs, n)) < 0.3) * rng.choice(
        [1.0, -2.0], (2 * t_len, envs, n)
    )
    done = np.zeros((2 * t_len, envs), bool)
    done[7, 0] = done[15, 1] = True  # episode ends inside and across the two rollouts
    bonus = _bound("inequity_aversion", n, alpha=5.0, beta=0.05, gamma=0.99, lam=0.975)
    assert (bonus.alpha, bonus.beta) == (5.0, 0.05)  # the paper's defaults
    state = bonus.init(None, None, None, envs * n)
    got = []
    for half in (slice(0, t_len), slice(t_len, 2 * t_len)):  # state carries e across rollouts
        batch = _batch(rewards[half].reshape(t_len, -1), np.repeat(done[half], n, axis=1))
        before = state
        r_int, state, _ = bonus.reward_and_update(state, batch)
        # reward() (pure) and reward_and_update() agree on the same pre-update state.
        np.testing.assert_array_equal(r_int, bonus.reward(before, batch))
        got.append(np.asarray(r_int).reshape(t_len, envs, n))
    got = np.concatenate(got)
    for e in range(envs):
        want = _inequity_reference(rewards[:, e], done[:, e], 5.0, 0.05, 0.99 * 0.975)
        np.testing.assert_allclose(got[:, e], want, rtol=1e-5, atol=1e-6)


def test_inequity_aversion_zero_reward_step_has_zero_penalty():
    n = 7
    bonus = _bound("inequity_aversion", n)
    batch = _batch(np.zeros((5, n)))
    np.testing.assert_array_equal(bonus.reward(bonus.init(None, None, None, n), batch), 0.0)
    # Hand-computed: one agent of three eats an apple (r = [1, 0, 0]) at the first step.
    bonus3 = _bound("inequity_aversion", 3)
    r = bonus3.reward(bonus3.init(None, None, None, 3), _batch([[1.0, 0.0, 0.0]]))
    np.testing.assert_allclose(r[0], [-0.05 * 2 / 2, -5 * 1 / 2, -5 * 1 / 2], rtol=1e-6)


def test_svo_matches_the_formula():
    n, w, theta = 4, 0.5, 45.0
    bonus = _bound("svo", n, w=w, theta_deg=theta)
    rewards = np.array(
        [
            [1.0, 0.0, 0.0, 0.0],  # agent 0 alone: angle 0° for it, 90° for the others
            [1.0, 1.0, 1.0, 1.0],  # equal: 45° for everyone, no penalty at θ = 45°
            [0.0, 0.0, 0.0, 0.0],  # nothing happens: θ defined, no penalty
            [-2.0, 1.0, 0.0, 0.0],  # Coins-style negative reward
        ]
    )
    got = np.asarray(bonus.reward(bonus.init(None, None, None, n), _batch(rewards)))
    for t, r in enumerate(rewards):
        for i in range(n):
            others = (r.sum() - r[i]) / (n - 1)
            angle = math.radians(theta) if r[i] == 0 and others == 0 else math.atan2(others, r[i])
            want = -w * abs(math.radians(theta) - angle)
            assert got[t, i] == pytest.approx(want, abs=1e-6), (t, i)
    assert got[0, 0] == pytest.approx(-w * math.pi / 4) and got[0, 1] == pytest.approx(
        -w * math.pi / 4
    )
    np.testing.assert_allclose(got[1:3], 0.0, atol=1e-7)
    # Selfish agents (θ = 0) are not penalised for rewards they get alone.
    selfish = _bound("svo", n, theta_deg=0.0)
    assert float(selfish.reward(None, _batch(rewards[:1]))[0, 0]) == pytest.approx(0.0, abs=1e-7)


def test_social_influence_matches_brute_force_kl():
    rng = np.random.default_rng(1)
    n, a, t_len, envs = 3, 4, 2, 2
    logits = rng.normal(size=(t_len, envs * n, a)).astype(np.float32)
    action = rng.integers(0, a, size=(t_len, envs * n)).astype(np.int32)
    cf = rng.normal(size=(t_len, envs * n, n, a, a)).astype(np.float32)
    bonus = _bound("social_influence", n)
    batch = _batch(
        np.zeros((t_len, envs * n)), action=action, logits=logits, counterfactual_logits=cf
    )
    got = np.asarray(bonus.reward(bonus.init(None, None, None, envs * n), batch))

    def softmax(x):
        z = np.exp(x - x.max())
        return z / z.sum()

    for t in range(t_len):
        for e in range(envs):
            for k in range(n):
                p_k = softmax(logits[t, e * n + k].astype(np.float64))
                total = 0.0
                for j in range(n):
                    if j == k:
                        continue
                    rows = cf[t, e * n + j, k].astype(np.float64)  # [c, a]
                    cond = softmax(rows[action[t, e * n + k]])
                    marginal = sum(p_k[c] * softmax(rows[c]) for c in range(a))
                    total += float((cond * np.log(cond / marginal)).sum())
                assert got[t, e * n + k] == pytest.approx(total, rel=1e-4, abs=1e-6)
    # No influence when the other policies ignore k's action.
    same = np.broadcast_to(cf[:, :, :, :1], cf.shape)
    flat = _batch(
        np.zeros((t_len, envs * n)), action=action, logits=logits, counterfactual_logits=same
    )
    np.testing.assert_allclose(bonus.reward(None, flat), 0.0, atol=1e-6)


@pytest.mark.parametrize("name", ["inequity_aversion", "svo", "social_influence"])
def test_social_rewards_refuse_use_outside_ippo(name):
    bonus = agents.bonuses.make(name)
    assert bonus.social
    with pytest.raises(ValueError, match="agent=ippo"):
        bonus.init(None, None, None, 4)
