"""IPPO: the agent-axis fold, counterfactual policies, learning on a tiny Coins, resume."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from gather_testlib import assert_gathered_values_match_full_pass

import envs
from agents.configs import IPPOConfig
from agents.ippo import IPPO, IPPONetwork, PerAgentNetwork, from_agent_major, to_agent_major
from agents.ppo import PPO, PPOConfig
from explore.config import load_config
from explore.train import train

# A 4×4 room with coins regrowing fast, 40-step episodes: a random pair picks up 1.1 and 1.4
# coins of its own colour per episode (agent 0, agent 1: the spawn points differ); IPPO
# reached 2.2–2.3 by 80 k agent-steps here.
COINS = dict(
    min_width=4, max_width=4, min_height=4, max_height=4, regrow_rate=0.02, episode_length=40
)
COINS_ARGS = [f"env.{k}={v}" for k, v in COINS.items()]


def test_fold_round_trip():
    x = jnp.arange(3 * 4 * 2 * 5).reshape(3, 4 * 2, 5)  # [T, E·N, ...] with N = 2
    per_agent = to_agent_major(x, 2)
    assert per_agent.shape == (2, 3, 4, 5)
    np.testing.assert_array_equal(per_agent[1, :, 3], x[:, 3 * 2 + 1])  # env 3, agent 1
    np.testing.assert_array_equal(from_agent_major(per_agent), x)


def test_counterfactual_logits_equal_the_policy_with_that_action():
    n, a = 3, 5
    net = IPPONetwork(
        num_actions=a,
        num_agents=n,
        raw_dim=4,
        grid=True,
        encoder="cnn",
        hidden=8,
        joint_action=True,
    )
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 6, (1, 2, 11, 11, 4))
    ids = np.broadcast_to(np.array([0, 2])[None, :, None, None, None], (1, 2, 11, 11, 1))
    prev = rng.integers(0, a + 1, (1, 2, n))  # previous action + 1 of each agent (0 = none)

    def pack(prev):
        planes = np.broadcast_to(prev[:, :, None, None, :], (1, 2, 11, 11, n))
        return jnp.asarray(np.concatenate([raw, ids, planes], -1), jnp.uint8)

    hidden, reset = jnp.zeros((2, 1)), jnp.zeros((1, 2), bool)
    params = net.init(jax.random.PRNGKey(0), hidden, pack(prev), reset)
    cf = net.apply(params, hidden, pack(prev), reset, method=IPPONetwork.counterfactual_logits)
    assert cf.shape == (1, 2, n, a, a)
    for k in range(n):
        for c in range(a):
            changed = prev.copy()
            changed[..., k] = c + 1
            _, logits, _, _ = net.apply(params, hidden, pack(changed), reset)
            np.testing.assert_allclose(cf[:, :, k, c], logits, rtol=1e-5, atol=1e-6)
    # The actual action is one of the counterfactuals: the policy itself.
    _, logits, _, _ = net.apply(params, hidden, pack(prev), reset)
    k, row = 1, prev[0, 0, 1]
    if row > 0:
        np.testing.assert_allclose(cf[0, 0, k, row - 1], logits[0, 0], rtol=1e-5, atol=1e-6)


def test_one_network_per_agent_applies_each_agents_parameters_to_its_rows():
    n, e = 3, 2
    net = IPPONetwork(num_actions=4, num_agents=n, raw_dim=4, grid=True, hidden=8, agent_id=False)
    per_agent = PerAgentNetwork(net, n)
    rng = np.random.default_rng(0)
    obs = jnp.asarray(rng.integers(0, 6, (2, e * n, 11, 11, 4)), jnp.uint8)  # [T, E·N, ...]
    hidden, reset = jnp.zeros((e * n, 1)), jnp.zeros((2, e * n), bool)
    params = per_agent.init(jax.random.PRNGKey(0), hidden, obs, reset)  # vmapped over agents
    leaves = jax.tree.leaves(params)
    assert all(leaf.shape[0] == n for leaf in leaves)
    assert any(not np.allclose(x[0], x[1]) for x in leaves)  # each agent its own draw
    _, logits, v_ext, _ = per_agent.apply(params, hidden, obs, reset)
    for i in range(n):
        rows = np.arange(e) * n + i  # agent i of every env
        mine = jax.tree.map(lambda x, i=i: x[i], params)
        _, want, want_v, _ = net.apply(mine, hidden[rows], obs[:, rows], reset[:, rows])
        np.testing.assert_allclose(logits[:, rows], want, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(v_ext[:, rows], want_v, rtol=1e-5, atol=1e-6)


def test_env_hooks_fold_agents_into_envs_with_ids_and_shared_rewards():
    # Coins everywhere after the first step, so the second step's moves pick some up.
    env, params = envs.make("Coins", **{**COINS, "regrow_rate": 1.0})
    ippo = IPPO(env, params, None, IPPOConfig(num_envs=3, reward="shared"))
    forward = jnp.ones(6, jnp.int32)

    @jax.jit
    def two_steps(key):
        obs, state = ippo._reset_envs(key, 6)  # PPO asks for E·N = 6 "envs"
        _, state, *_ = ippo._step_envs(key, state, jnp.zeros(6, jnp.int32))
        own = PPO._step_envs(ippo, key, state, forward.reshape(3, 2))  # the env's own step
        return obs, own, ippo._step_envs(key, state, forward)

    obs, own, folded = two_steps(jax.random.PRNGKey(3))
    assert obs.shape == (6, 11, 11, 5)  # the env's 4 channels + the agent id
    np.testing.assert_array_equal(obs[:, 0, 0, 4], [0, 1, 0, 1, 0, 1])
    next_obs, _, shared, term, trunc, info = folded
    assert shared.shape == term.shape == trunc.shape == info["event"].shape == (6,)
    rewards = np.asarray(own[2])  # [E, N]
    assert np.any(rewards != 0)
    np.testing.assert_allclose(shared, np.repeat(rewards.mean(1), 2))
    np.testing.assert_array_equal(next_obs[..., :4], np.asarray(own[0]).reshape(6, 11, 11, 4))
    assert info["final_observation"].shape == (6, 11, 11, 5)


def test_ippo_rejects_single_agent_env_and_ppo_rejects_social():
    env, params = envs.make("Empty-5x5")
    with pytest.raises(ValueError, match="agent=ppo"):
        IPPO(env, params, None, IPPOConfig())
    coins, coins_params = envs.make("Coins", **COINS)
    with pytest.raises(ValueError, match="agent=ippo"):
        PPO(coins, coins_params, None, PPOConfig())


def _random_coins_own(episodes: int = 256) -> np.ndarray:
    """Mean coins of its own colour per episode and agent under uniformly random actions."""
    env, params = envs.make("Coins", **COINS)
    length = COINS["episode_length"]

    def episode(key):
        k_reset, k_run = jax.random.split(key)
        _, state = env.reset(k_reset, params)

        def step(carry, key):
            state = carry
            k_act, k_step = jax.random.split(key)
            action = jax.random.randint(k_act, (2,), 0, env.num_actions)
            _, state, _, _, _, info = env.step(k_step, state, action, params)
            return state, info["social"]["coins_own"]

        _, own = jax.lax.scan(step, state, jax.random.split(k_run, length))
        return own[-1]  # the counters at the last step describe the whole episode

    keys = jax.random.split(jax.random.PRNGKey(123), episodes)
    return np.asarray(jax.jit(jax.vmap(episode))(keys)).mean(0)


@pytest.fixture(scope="module")
def coins_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ippo")
    cfg = load_config(
        None,
        [
            "env=Coins",
            *COINS_ARGS,
            "agent=ippo",
            # agent-steps: 60 updates of 16 envs × 64 steps × 2 agents. At 40 updates one
            # agent sat at 1.2–1.5× random depending on float rounding (XLA's -O0 vs -O2);
            # at 60 both reach ~2× in either.
            "total_steps=122880",
            "log_every=10",
            "ippo.num_envs=16",
            "ippo.num_steps=64",
            "ippo.hidden=32",
            "ippo.lr=2.5e-3",
            "ippo.ent_coef=0.01",
            "ippo.ext_coef=1",
        ],
    )
    return train(cfg, [0], out, progress=False)[0]


def test_ippo_learns_to_collect_its_own_coins(coins_run):
    assert coins_run.is_complete()
    metrics = pd.read_parquet(coins_run.path / "metrics.parquet")
    last = metrics[metrics.step == metrics.step.max()].set_index("metric").value
    random_own = _random_coins_own()
    for i in range(2):
        assert last[f"social/coins_own/{i}"] > 1.25 * random_own[i], (last, random_own)
    # Coins is a dilemma: taking the other's coins (+1 for me, −2 for it) is learnt too, so
    # the group return stays near 0 while each agent collects more.
    assert np.isfinite(last["episode_group_return"])
    for name in ("social/efficiency", "social/equality", "social/sustainability", "social/peace"):
        assert np.isfinite(last[name])


@pytest.mark.parametrize("joint_action_input", [False, True])
def test_shared_network_bootstraps_truncations_from_gathered_rows(joint_action_input):
    """With one shared network each row is mapped on its own, so IPPO takes PPO's gathered
    bootstrap values (only truncated steps' final observations are evaluated); wherever GAE
    uses them they equal a full critic pass over every reached observation. One network per
    agent keeps the full pass."""
    # Episodes of 3 steps: 2 envs × 2 agents truncate 4 rows at a time, twice per rollout.
    env, params = envs.make("Coins", **{**COINS, "episode_length": 3})
    cfg = IPPOConfig(
        num_envs=2,
        num_steps=6,
        total_steps=24,
        hidden=8,
        num_minibatches=1,
        update_epochs=1,
        joint_action_input=joint_action_input,
    )
    ippo = IPPO(env, params, None, cfg)
    assert ippo.bootstrap_by_gather
    assert not IPPO(env, params, None, cfg.model_copy(update={"share": False})).bootstrap_by_gather
    assert_gathered_values_match_full_pass(ippo, ippo.cfg.num_envs)
