"""Multi-objective envs: step-for-step equality with MO-Gymnasium, the known fronts, the contract."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from twins import MO_GYMNASIUM_TWINS

import envs
from envs.multiobjective import MOEnvironment, is_multiobjective
from envs.multiobjective.base import discounted_sum
from envs.multiobjective.deep_sea_treasure import DeepSeaTreasure

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pygame's pkg_resources deprecation warning
    import mo_gymnasium as mo_gym

# our registry name -> (MO-Gymnasium id, its kwargs)
PEERS = MO_GYMNASIUM_TWINS
DST = ["DeepSeaTreasure", "DeepSeaTreasure-Concave", "DeepSeaTreasure-Mirrored"]
UP, DOWN, LEFT, RIGHT = range(4)


def peer(name: str, **kwargs):
    env_id, peer_kwargs = PEERS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mo_gym.make(env_id, **peer_kwargs, **kwargs)


_COMPILED: dict = {}


def ours(name: str, **overrides):
    """Our env, its params and its jitted public ``step`` (auto-reset), built once per config."""
    key = (name, tuple(sorted(overrides.items())))
    if key not in _COMPILED:
        env, params = envs.make(name, **overrides)
        _COMPILED[key] = (env, params, jax.jit(env.reset), jax.jit(env.step), jax.jit(env.step_env))
    return _COMPILED[key]


def assert_same_step(ours_out, theirs, where: str) -> None:
    obs, reward, terminated, truncated = ours_out
    t_obs, t_reward, t_terminated, t_truncated = theirs
    obs, reward = np.asarray(obs), np.asarray(reward)
    assert obs.dtype == t_obs.dtype and np.array_equal(obs, t_obs), f"{where}: obs {obs} != {t_obs}"
    assert reward.dtype == t_reward.dtype == np.float32, where
    assert np.array_equal(reward, t_reward), f"{where}: reward {reward} != {t_reward}"
    assert bool(terminated) == bool(t_terminated), f"{where}: terminated"
    assert bool(truncated) == bool(t_truncated), f"{where}: truncated"


def compare_via_public_step(name: str, actions, **overrides) -> dict[str, int]:
    """Run ``actions`` through our ``env.step`` (auto-reset) and MO-Gymnasium side by side.

    When an episode ends, our ``info["final_observation"]`` must be MO-Gymnasium's last
    observation and our returned observation its next ``reset()``. Returns counts of
    episode endings, for the callers to check the sequence exercised them.
    """
    _, params, reset, step, _ = ours(name, **overrides)
    ref = peer(name, **overrides)
    key = jax.random.PRNGKey(0)
    obs, state = reset(key, params)
    t_obs, _ = ref.reset(seed=0)
    assert np.array_equal(np.asarray(obs), t_obs)
    counts = {"terminated": 0, "truncated": 0}
    for t, action in enumerate(actions):
        key, k = jax.random.split(key)
        obs, state, reward, terminated, truncated, info = step(k, state, jnp.int32(action), params)
        t_obs, t_reward, t_term, t_trunc, _ = ref.step(int(action))
        done = t_term or t_trunc
        shown = info["final_observation"] if done else obs
        assert_same_step(
            (shown, reward, terminated, truncated),
            (t_obs, t_reward, t_term, t_trunc),
            f"{name} step {t}",
        )
        assert bool(info["success"]) == bool(t_term)  # reaching a treasure / a leaf
        if done:
            counts["terminated" if t_term else "truncated"] += 1
            t_obs, _ = ref.reset()
            assert np.array_equal(np.asarray(obs), t_obs), f"{name} step {t}: auto-reset obs"
    return counts


def shortest_path(name: str, treasure: int) -> list[int]:
    """Scripted path to the ``treasure``-th treasure: right along the surface, then down."""
    rows = (1, 2, 3, 4, 4, 4, 7, 7, 9, 10)
    return [RIGHT] * treasure + [DOWN] * rows[treasure]


# --- Deep Sea Treasure -------------------------------------------------------------------
def test_dst_maps_are_mo_gymnasiums():
    from mo_gymnasium.envs.deep_sea_treasure import deep_sea_treasure as ref

    for name, ref_map in zip(
        DST, [ref.DEFAULT_MAP, ref.CONCAVE_MAP, ref.MIRRORED_MAP], strict=True
    ):
        env, _ = envs.make(name)
        assert np.array_equal(env.map, ref_map), name


@pytest.mark.parametrize("name", DST)
def test_dst_equals_mo_gymnasium_step_for_step(name):
    # Scripted: every treasure by its shortest path, bumps into the edge and the seabed,
    # and 100 steps pushing against the surface (MO-Gymnasium's TimeLimit truncates at 100).
    scripted = [a for i in range(10) for a in shortest_path(name, i)]
    scripted += [UP, LEFT, DOWN, DOWN, DOWN, RIGHT, DOWN, LEFT, LEFT, DOWN]  # ends on a treasure
    scripted += [UP] * 100
    counts = compare_via_public_step(name, scripted)
    assert counts["terminated"] >= 11 and counts["truncated"] == 1
    # Random, biased down/right so that deep treasures are reached too.
    rng = np.random.default_rng(1)
    random_actions = rng.choice(4, size=300, p=[0.15, 0.35, 0.15, 0.35])
    counts = compare_via_public_step(name, random_actions)
    assert counts["terminated"] > 5


def test_dst_float_state_equals_mo_gymnasium():
    rng = np.random.default_rng(2)
    counts = compare_via_public_step("DeepSeaTreasure", rng.choice(4, 300), float_state=True)
    assert counts["terminated"] > 0


@pytest.mark.parametrize("name", DST)
def test_dst_front_is_the_shortest_paths_discounted(name):
    env, params, reset, step, _ = ours(name)
    gamma = 0.99
    key = jax.random.PRNGKey(0)
    returns = []
    for i in range(10):
        _, state = reset(key, params)
        rewards = []
        for action in shortest_path(name, i):
            _, state, reward, terminated, _, _ = step(key, state, jnp.int32(action), params)
            rewards.append(np.asarray(reward))
        assert bool(terminated)
        returns.append(discounted_sum(np.stack(rewards), gamma))
    front = env.pareto_front(gamma)
    assert front.shape == (10, 2)
    np.testing.assert_allclose(
        np.sort(np.asarray(returns), axis=0), np.sort(front, axis=0), rtol=1e-6
    )


def test_dst_fronts_match_the_paper_and_mo_gymnasium():
    concave, _ = envs.make("DeepSeaTreasure-Concave")
    # Vamplew et al. (2011): treasures 1..124 at time costs 1, 3, 5, 7, 8, 9, 13, 14, 17, 19.
    expected = np.array(
        [
            [1, -1],
            [2, -3],
            [3, -5],
            [5, -7],
            [8, -8],
            [16, -9],
            [24, -13],
            [50, -14],
            [74, -17],
            [124, -19],
        ],
        float,
    )
    np.testing.assert_array_equal(concave.pareto_front(1.0), expected)
    for name in DST:
        env, _ = envs.make(name)
        ref = peer(name).unwrapped
        for gamma in (1.0, 0.99):
            theirs = np.asarray(ref.pareto_front(gamma))
            theirs = theirs[np.lexsort(theirs.T[::-1])]
            np.testing.assert_allclose(env.pareto_front(gamma), theirs, rtol=1e-12)
    # With strong discounting some convex treasures become dominated: MO-Gymnasium lists
    # them anyway, the true front drops them.
    convex, _ = envs.make("DeepSeaTreasure")
    theirs = np.asarray(peer("DeepSeaTreasure").unwrapped.pareto_front(0.9))
    ours_front = convex.pareto_front(0.9)
    assert len(ours_front) < len(theirs)
    for point in theirs:
        dominated_or_in = np.any(np.all(ours_front >= point - 1e-12, axis=1))
        assert dominated_or_in
    for point in ours_front:
        assert np.any(np.all(np.isclose(theirs, point), axis=1))


# --- Resource Gathering ------------------------------------------------------------------
class _Draws:
    """Stands in for MO-Gymnasium's ``np_random``: hands it our env's draw."""

    def __init__(self) -> None:
        self.value = None

    def random(self) -> float:
        return float(self.value)


def test_resource_gathering_equals_mo_gymnasium_step_for_step():
    env, params, reset, _, step_env = ours("ResourceGathering")
    ref = peer("ResourceGathering")
    draws = _Draws()
    attack_draw = jax.jit(env.attack_draw)
    ref.reset(seed=0)
    ref.unwrapped._np_random = draws
    key = jax.random.PRNGKey(3)
    obs, state = reset(key, params)
    # Scripted: gem and home; gold through the enemy and home; pacing on an enemy cell
    # until killed; then random moves.
    gem = [RIGHT, RIGHT, UP, UP, UP, DOWN, DOWN, DOWN, LEFT, LEFT]
    gold = [UP, UP, UP, UP, DOWN, DOWN, DOWN, DOWN]
    pacing = [UP, UP, UP] + [UP, DOWN] * 60
    rng = np.random.default_rng(4)
    actions = gem + gold + pacing + list(rng.integers(0, 4, 600))
    events = set()
    t_episode = 0
    for t, action in enumerate(actions):
        key, k = jax.random.split(key)
        draws.value = attack_draw(k)
        obs, state, reward, terminated, truncated, info = step_env(
            k, state, jnp.int32(action), params
        )
        t_obs, t_reward, t_term, t_trunc, _ = ref.step(int(action))
        t_episode += 1
        assert_same_step(
            (obs, reward, terminated, truncated), (t_obs, t_reward, t_term, t_trunc), f"step {t}"
        )
        events.add(int(info["event"]))
        if t_term or t_trunc:
            obs, state = reset(k, params)
            t_obs, _ = ref.reset()
            assert np.array_equal(np.asarray(obs), t_obs)
            t_episode = 0
    # Every kind of event happened: gold, gem, killed, home.
    assert events >= {1, 2, 3, 4}


def test_resource_gathering_front_dominates_mo_gymnasiums_candidates():
    # MO-Gymnasium discounts the reward of step k by γ^k; Σ_t γ^t r_t gives γ^(k-1). Its six
    # hand-written candidates are each on or below the true front (the front adds routes
    # they miss; tests/conformance/test_mo_gymnasium.py checks it with an independent solver).
    env, _ = envs.make("ResourceGathering")
    for gamma in (0.99, 0.9, 1.0):
        theirs = np.asarray(peer("ResourceGathering").unwrapped.pareto_front(gamma)) / gamma
        front = env.pareto_front(gamma)
        for point in theirs:
            assert np.any(np.all(front >= point - 1e-12, axis=1)), (gamma, point)
        assert len(front) != len(theirs) or not np.allclose(front, np.sort(theirs, axis=0))


def test_resource_gathering_gem_path_returns_its_front_point():
    env, params, reset, step, _ = ours("ResourceGathering")
    _, state = reset(jax.random.PRNGKey(0), params)
    rewards = []
    # Round the enemies to the gem and back: 10 steps, no enemy cell, so no randomness.
    for action in [RIGHT, RIGHT, UP, UP, UP, DOWN, DOWN, DOWN, LEFT, LEFT]:
        _, state, reward, terminated, _, info = step(
            jax.random.PRNGKey(0), state, jnp.int32(action), params
        )
        rewards.append(np.asarray(reward))
    assert bool(terminated) and bool(info["success"])
    value = discounted_sum(np.stack(rewards), 0.99)
    front = env.pareto_front(0.99)
    assert np.any(np.all(np.isclose(front, value, rtol=1e-6), axis=1)), (value, front)


# --- Fruit Tree --------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [5, 6, 7])
def test_fruit_tree_equals_mo_gymnasium_step_for_step(depth):
    name = f"FruitTree-{depth}"
    # Scripted: every leaf once (its binary path), then random branches.
    scripted = [(leaf >> (depth - 1 - i)) & 1 for leaf in range(2**depth) for i in range(depth)]
    rng = np.random.default_rng(depth)
    counts = compare_via_public_step(name, scripted + list(rng.integers(0, 2, 10 * depth)))
    assert counts["terminated"] == 2**depth + 10 and counts["truncated"] == 0


@pytest.mark.parametrize("depth", [5, 6, 7])
def test_fruit_tree_front_is_every_fruit(depth):
    env, _ = envs.make(f"FruitTree-{depth}")
    ref = peer(f"FruitTree-{depth}").unwrapped
    for gamma in (1.0, 0.99):
        theirs = np.asarray(ref.pareto_front(gamma))
        theirs = theirs[np.lexsort(theirs.T[::-1])]
        front = env.pareto_front(gamma)
        assert front.shape == (2**depth, 6)  # every leaf is Pareto-optimal
        np.testing.assert_allclose(front, theirs, rtol=1e-12)


# --- FourRooms-TwoGoals --------------------------------------------------------------------
# The front does not depend on what the agent sees: see-through views compile faster.
TWO_GOALS = {"see_through_walls": True}


def test_two_goals_front_is_reached_by_the_shortest_plans():
    env, params, reset, step, _ = ours("FourRooms-TwoGoals", **TWO_GOALS)
    gamma = 0.99
    front = env.pareto_front(gamma, params)
    assert front.shape == (2, 2)  # the goal's corner and the ball's corner
    plans = env.shortest_plans(params)
    for i, objective in enumerate(env.objectives):
        _, state = reset(jax.random.PRNGKey(0), params)
        rewards = []
        for action in plans[objective]:
            _, state, reward, terminated, _, info = step(
                jax.random.PRNGKey(1), state, jnp.int32(action), params
            )
            rewards.append(np.asarray(reward))
        rewards = np.stack(rewards)
        assert bool(terminated) and bool(info["success"])
        assert not rewards[:-1].any()  # sparse: nothing before the end
        assert rewards[-1, 1 - i] == 0 and rewards[-1, i] > 0  # only this objective
        value = discounted_sum(rewards, gamma)
        assert np.any(np.all(np.isclose(front, value, rtol=1e-6), axis=1)), (value, front)


def test_two_goals_front_equals_a_forward_search_through_the_env_step():
    """An independent solver: every reachable state, breadth first, through ``step_env``.

    The BFS behind ``pareto_front`` reads the grid; this search only steps the env (every
    action from every distinct state of the previous step). The first step at which each
    objective is paid is the best for it (the reward ``1 − 0.9 t/T`` and ``γ^(t-1)`` both
    fall with ``t``), and an episode pays one objective, so those two points are the front.
    """
    env, params = envs.make("FourRooms-TwoGoals-S11", see_through_walls=True)
    gamma = 0.9
    _, state = env.reset(jax.random.PRNGKey(0), params)
    n_actions = env.num_actions
    capacity = 4 * 11 * 11  # (cell, direction) pairs: nothing else changes before the end
    step = jax.jit(jax.vmap(env.step_env, (None, 0, 0, None)))
    frontier = jax.tree.map(lambda x: np.repeat(np.asarray(x)[None], capacity, 0), state)
    size = 1
    best = np.zeros(2)
    for t in range(1, int(params.max_steps_in_episode) + 1):
        states = jax.tree.map(lambda x: np.repeat(x, n_actions, 0), frontier)
        actions = np.tile(np.arange(n_actions, dtype=np.int32), capacity)
        _, nxt, reward, term, trunc, _ = step(jax.random.PRNGKey(1), states, actions, params)
        live = np.repeat(np.arange(capacity) < size, n_actions)
        reward, ended = np.asarray(reward), np.asarray(term | trunc) & live
        for k in range(2):
            paid = ended & (reward[:, k] > 0)
            if paid.any() and best[k] == 0:
                best[k] = gamma ** (t - 1) * reward[paid, k].max()
        if best.all():
            break
        go = np.flatnonzero(live & ~ended)
        nxt = jax.tree.map(np.asarray, nxt)
        keys = np.concatenate(
            [nxt.agent_pos[go], nxt.agent_dir[go, None], nxt.carrying[go, None]], axis=1
        )
        _, first = np.unique(keys, axis=0, return_index=True)
        keep = go[first]
        size = len(keep)
        assert size <= capacity
        index = np.concatenate([keep, np.full(capacity - size, keep[0])])
        frontier = jax.tree.map(lambda x, i=index: x[i], nxt)
    expected = np.array([[0.0, best[1]], [best[0], 0.0]])
    np.testing.assert_allclose(env.pareto_front(gamma, params), expected, rtol=1e-6)


def test_the_small_two_goals_layout_puts_both_goals_in_other_rooms():
    """FourRooms-TwoGoals-S11 is sized for a CPU but stays an exploration problem."""
    env, params = envs.make("FourRooms-TwoGoals-S11")
    assert env.layout_pool(params).grid.shape[1:] == (11, 11)
    plans = env.shortest_plans(params)
    assert (len(plans["goal"]), len(plans["ball"])) == (13, 17)
    assert env.pareto_front(0.99, params).shape == (2, 2)


def test_two_goals_front_needs_a_single_layout():
    env, _ = envs.make("FourRooms-TwoGoals", contexts=0)  # a fresh layout every episode
    with pytest.raises(NotImplementedError, match="contexts=1"):
        env.pareto_front(0.99)


# --- the contract ------------------------------------------------------------------------
@pytest.mark.parametrize("name", [*PEERS, "FourRooms-TwoGoals"])
def test_contract_spaces_and_shapes(name):
    env, params, reset, step, _ = ours(name, **(TWO_GOALS if name == "FourRooms-TwoGoals" else {}))
    assert isinstance(env, MOEnvironment) and is_multiobjective(env)
    space = env.reward_space(params)
    assert space.shape == (env.reward_dim,) and space.dtype == jnp.float32
    assert env.reward_dim == len(env.objectives) >= 2
    if name in PEERS:  # the same spaces as MO-Gymnasium's
        ref = peer(name).unwrapped
        assert env.reward_dim == ref.reward_dim
        np.testing.assert_array_equal(np.broadcast_to(space.low, space.shape), ref.reward_space.low)
        np.testing.assert_array_equal(
            np.broadcast_to(space.high, space.shape), ref.reward_space.high
        )
        obs_space = env.observation_space(params)
        assert obs_space.shape == ref.observation_space.shape
        assert np.dtype(obs_space.dtype) == ref.observation_space.dtype
        assert env.action_space(params).n == ref.action_space.n
    # One step: reward [m] float32 and every info key the agents read.
    obs, state = reset(jax.random.PRNGKey(0), params)
    out = step(jax.random.PRNGKey(1), state, jnp.int32(0), params)
    _, _, reward, terminated, truncated, info = out
    assert reward.shape == (env.reward_dim,) and reward.dtype == jnp.float32
    assert terminated.dtype == truncated.dtype == jnp.bool_
    assert info["success"].dtype == jnp.bool_ and info["event"].dtype == jnp.int32
    assert info["final_observation"].shape == obs.shape
    assert isinstance(env.caption(int(info["event"])), str)


def test_batched_step_and_auto_reset():
    env, params = envs.make("DeepSeaTreasure-Concave")
    batch = 4
    obs, state = jax.vmap(env.reset, (0, None))(
        jax.random.split(jax.random.PRNGKey(0), batch), params
    )
    step = jax.jit(jax.vmap(env.step, (0, 0, 0, None)))
    keys = jax.random.split(jax.random.PRNGKey(1), batch)
    # Env 0 goes down onto the first treasure (and auto-resets), the others move right.
    actions = jnp.array([DOWN, RIGHT, RIGHT, RIGHT], jnp.int32)
    obs, state, reward, terminated, _, info = step(keys, state, actions, params)
    assert reward.shape == (batch, 2) and reward.dtype == jnp.float32
    np.testing.assert_array_equal(reward, [[1, -1], [0, -1], [0, -1], [0, -1]])
    np.testing.assert_array_equal(terminated, [True, False, False, False])
    np.testing.assert_array_equal(info["final_observation"][0], [1, 0])
    np.testing.assert_array_equal(
        obs, [[0, 0], [0, 1], [0, 1], [0, 1]]
    )  # env 0 is back at the start
    np.testing.assert_array_equal(info["success"], terminated)


def test_bad_options_and_gamma_are_clear_errors():
    with pytest.raises(ValueError, match="version"):
        DeepSeaTreasure(version="flat")
    with pytest.raises(ValueError, match="depth"):
        envs.make("FruitTree-5", depth=4)
    with pytest.raises(ValueError, match="max_steps"):
        envs.make("ResourceGathering", max_steps=0)
    env, _ = envs.make("DeepSeaTreasure")
    for gamma in (0.0, 1.5, "0.9"):
        with pytest.raises(ValueError, match="gamma"):
            env.pareto_front(gamma)
    with pytest.raises(KeyError, match="float_state"):
        envs.make("DeepSeaTreasure", float_stat=True)
    with pytest.raises(KeyError, match="DeepSeaTreasure-Concave"):
        envs.make("DeepSeaTreasure-Concav")
