"""Social dilemmas: the contract, every dynamics rule on scripted states, bad inputs.

Tiny maps and few compiled functions keep this file fast; the probabilities are measured
over many draws of one vmapped, jitted ``_grow``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.social.base import (
    APPLE,
    COIN_0,
    COIN_1,
    EMPTY,
    FIRE_CLEAN,
    FIRE_ZAP,
    FORWARD,
    NOOP,
    RIVER,
    WASTE,
)
from envs.social.harvest import REGROWTH_CLOSED, REGROWTH_OPEN

E, S, W, N_ = 1, 2, 3, 0  # orientations (east, south, west, north)

# One small map serves most scripted tests, so one compiled step serves them all.
TEST_MAP = """
WWWWWWWW
WPAA PPW
W      W
WWWWWWWW
"""
WALLED_MAP = """
WWWWWWWW
WPAW PPW
W      W
WWWWWWWW
"""
CLEANUP_MAP = """
WWWWWWW
WPHFF W
W    PW
WBBBBBW
WWWWWWW
"""
CLEANUP_WALLED_MAP = """
WWWWWWW
WPWFF W
W    PW
WBBBBBW
WWWWWWW
"""
_STEPS: dict[int, object] = {}


def place(env, state, positions, orients):
    """Put the agents at ``positions`` facing ``orients`` (a scripted state)."""
    return state.replace(
        pos=jnp.asarray(positions, jnp.int32), orient=jnp.asarray(orients, jnp.int32)
    )


def set_tile(env, state, rc, code):
    return state.replace(tiles=state.tiles.at[env._flat(jnp.asarray(rc))].set(code))


def run(env, params, state, actions, keys=None):
    """Step ``env`` (with auto-reset) through a list of joint actions; returns per-step tuples."""
    if id(env) not in _STEPS:
        _STEPS[id(env)] = jax.jit(env.step)  # compile once per env object
    step = _STEPS[id(env)]
    out = []
    for t, action in enumerate(actions):
        key = jax.random.PRNGKey(t) if keys is None else keys[t]
        obs, state, reward, term, trunc, info = step(key, state, jnp.asarray(action), params)
        out.append((obs, state, reward, term, trunc, info))
    return out


@pytest.fixture(scope="module")
def harvest():
    """Harvest-Open's rules on TEST_MAP, 3 agents (zap length 3, cooldown 2, out for 4)."""
    return envs.make("Harvest-Open", num_agents=3, ascii_map=TEST_MAP, episode_length=50)


@pytest.fixture(scope="module")
def cleanup():
    return envs.make("CleanUp", num_agents=2, ascii_map=CLEANUP_MAP, episode_length=500)


@pytest.fixture(scope="module")
def batched_rollout(harvest):
    """One compiled vmapped rollout (traced params), shared by two tests."""
    env, _ = harvest

    def rollout(params, reset_key, step_keys, actions):
        _, state = env.reset(reset_key, params)

        def body(state, x):
            k, a = x
            obs, state, reward, _, trunc, info = env.step(k, state, a, params)
            return state, (obs, reward, trunc, info["event"])

        return jax.lax.scan(body, state, (step_keys, actions))[1]

    return rollout, jax.jit(jax.vmap(rollout, (None, 0, 1, 1)))


def rollout_inputs(batch, steps, seed):
    keys = jax.random.split(jax.random.PRNGKey(seed), batch)
    actions = jax.random.randint(jax.random.PRNGKey(seed + 1), (steps, batch, 3), 0, 8)
    step_keys = jax.random.split(jax.random.PRNGKey(seed + 2), steps * batch)
    return keys, step_keys.reshape(steps, batch, 2), actions


# ----- the contract ----------------------------------------------------------------------
def test_shapes_dtypes_and_info_keys(harvest):
    env, params = harvest
    obs, state = env.reset(jax.random.PRNGKey(0), params)
    assert obs.shape == (3, 11, 11, 4) and obs.dtype == jnp.uint8
    assert env.observation_space(params).shape == (11, 11, 4)
    assert env.action_space(params).n == 8
    obs, state, reward, term, trunc, info = run(env, params, state, [[NOOP] * 3])[0]
    assert reward.shape == (3,) and reward.dtype == jnp.float32
    assert term.shape == () and trunc.shape == ()
    assert info["event"].shape == (3,) and info["final_observation"].shape == obs.shape
    assert info["success"].shape == () and not bool(info["success"])
    assert set(info["privileged"]) >= {"position", "orientation", "removed", "apples", "waste"}
    assert set(info["social"]) >= {"efficiency", "equality", "sustainability", "peace"}


def test_vmap_equals_single_steps_across_auto_reset(harvest, batched_rollout):
    env, params = harvest
    params = params.replace(max_steps_in_episode=15, min_steps=15)  # resets at 15, 30, ...
    _, batched = batched_rollout
    keys, step_keys, actions = rollout_inputs(64, 60, seed=3)
    out = batched(params, keys, step_keys, actions)
    for b in range(2):  # the same envs stepped one by one with the single-env step
        _, state = env.reset(keys[b], params)
        steps = run(env, params, state, actions[:, b], keys=step_keys[:, b])
        for t, (obs, _, reward, _, trunc, info) in enumerate(steps):
            np.testing.assert_array_equal(np.asarray(obs), np.asarray(out[0][b, t]))
            np.testing.assert_array_equal(np.asarray(reward), np.asarray(out[1][b, t]))
            assert bool(trunc) == bool(out[2][b, t])
            np.testing.assert_array_equal(np.asarray(info["event"]), np.asarray(out[3][b, t]))
    assert np.asarray(out[2]).sum() == 64 * 4  # truncations at steps 15, 30, 45, 60
    again = batched(params, keys, step_keys, actions)  # determinism
    for x, y in zip(again, out, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_metrics_of_a_scripted_harvest_episode(harvest):
    """Agent 0 eats two apples (t = 1, 2), agent 1 zaps it at t = 3; the episode lasts 6."""
    env, params = harvest
    params = params.replace(max_steps_in_episode=6, min_steps=6)
    _, state = env.reset(jax.random.PRNGKey(0), params)
    state = place(env, state, [(1, 1), (1, 5), (2, 6)], [E, W, N_])
    actions = [[FORWARD, NOOP, NOOP], [FORWARD, NOOP, NOOP], [NOOP, FIRE_ZAP, NOOP]]
    out = run(env, params, state, actions + [[NOOP] * 3] * 3)
    _, state, _, _, truncated, info = out[-1]
    assert bool(truncated)  # the last step ends the episode; info describes that episode
    social = {k: np.asarray(v) for k, v in info["social"].items()}
    np.testing.assert_array_equal(social["returns"], [2, 0, 0])
    np.testing.assert_array_equal(social["apples_eaten"], [2, 0, 0])
    np.testing.assert_array_equal(social["zaps_given"], [0, 1, 0])
    np.testing.assert_array_equal(social["zaps_received"], [1, 0, 0])
    np.testing.assert_array_equal(social["tagged_steps"], [4, 0, 0])  # out after steps 3..6
    assert social["efficiency"] == pytest.approx(2 / 6)
    # Σ_i Σ_j |R_i − R_j| = 4·2 = 8; 2·N·ΣR = 12.
    assert social["equality"] == pytest.approx(1 - 8 / 12)
    assert social["sustainability"] == pytest.approx(1.5)  # agent 0 rewarded at t = 1, 2
    assert social["peace"] == pytest.approx((3 * 6 - 4) / 6)
    assert int(state.step_count) == 0  # auto-reset started the next episode


def test_stochastic_episode_ending_follows_melting_pot(batched_rollout):
    params = envs.make("Harvest-Open", num_agents=3, ascii_map=TEST_MAP)[1]
    assert (params.min_steps, params.interval, params.end_probability) == (1000, 100, 0.15)
    assert params.max_steps_in_episode == 5000
    params = params.replace(min_steps=20, interval=10, end_probability=0.5, max_steps_in_episode=60)
    _, batched = batched_rollout
    truncated = np.asarray(batched(params, *rollout_inputs(64, 60, seed=9))[2])  # [64, 60]
    # Melting Pot checks at steps t ≥ 20 with t + 1 a multiple of 10 (29, 39, ...); cap 60.
    first = truncated.argmax(1) + 1
    assert truncated.any(1).all() and set(np.unique(first)) <= {29, 39, 49, 59, 60}
    assert abs((first == 29).mean() - 0.5) < 0.2 and abs((first == 39).mean() - 0.25) < 0.2


def test_egocentric_view_rotates_with_the_agent(harvest):
    env, params = harvest
    _, state = env.reset(jax.random.PRNGKey(0), params)
    state = place(env, state, [(2, 2), (1, 4), (2, 6)], [N_, W, N_])
    obs = np.asarray(env.observe(state))
    assert obs[0, 9, 5, 1] == 1 and obs[0, 9, 5, 3] >= 1  # itself, at row 9 col 5
    assert obs[0, 8, 5, 0] == APPLE  # (1, 2) is ahead when facing north
    assert obs[0, 10, 5, 0] == 1  # the wall behind it (row 3)
    # Agent 1 (id 2) at (1, 4): one row up, two columns right, facing west = relative 3.
    assert obs[0, 8, 7, 1] == 2 and obs[0, 8, 7, 2] == 4
    state = place(env, state, [(2, 2), (1, 4), (2, 6)], [E, W, N_])
    obs = np.asarray(env.observe(state))
    assert obs[0, 9, 4, 0] == APPLE  # facing east, north is to the left
    assert obs[0, 9, 5, 1] == 1 and obs[0, 8, 5, 0] == EMPTY


# ----- dynamics on scripted states -------------------------------------------------------
def test_entering_an_apple_eats_it_and_one_appearing_under_an_agent_too(harvest):
    env, params = harvest
    _, state = env.reset(jax.random.PRNGKey(0), params)
    state = place(env, state, [(1, 1), (2, 6), (2, 5)], [E, N_, N_])
    _, state, reward, *_, info = run(env, params, state, [[FORWARD, NOOP, NOOP]])[0]
    np.testing.assert_array_equal(np.asarray(reward), [1.0, 0.0, 0.0])
    assert env.caption(int(info["event"][0]), 0) == "Agent 0 eats an apple."
    assert int(env._map_view(state)[1, 2]) == EMPTY
    state = set_tile(env, state, (1, 2), APPLE)  # appears under the standing agent
    _, state, reward, *_ = run(env, params, state, [[NOOP, NOOP, NOOP]])[0]
    assert float(reward[0]) == 1.0 and int(env._map_view(state)[1, 2]) == EMPTY


@pytest.mark.parametrize(
    ("name", "table"), [("Harvest-Open", REGROWTH_OPEN), ("Harvest-Closed", REGROWTH_CLOSED)]
)
def test_regrowth_probability_by_neighbour_count(name, table):
    env, params = envs.make(name, num_agents=2)  # Melting Pot's map
    _, state = env.reset(jax.random.PRNGKey(0), params)
    cells = env._apple_cells
    eaten = np.random.default_rng(1).random(len(cells)) < 0.6
    state = state.replace(tiles=state.tiles.at[cells[eaten]].set(EMPTY))
    live = env.apple_neighbours(state)
    # The regrowth of a step uses the counts recorded at the start of the previous step.
    state = state.replace(neighbour_counts=jnp.stack([live, live]))
    count = np.minimum(np.asarray(live), 3)
    draws = 40_000
    grown = jax.jit(jax.vmap(lambda k: env._grow(state, k).tiles[jnp.asarray(cells)] == APPLE))(
        jax.random.split(jax.random.PRNGKey(2), draws)
    )
    frequency = np.asarray(grown).mean(0)
    for c in range(4):
        members = eaten & (count == c)
        assert members.any(), f"no eaten apple with {c} neighbours in this state"
        trials = members.sum() * draws
        measured = frequency[members].mean()
        sd = np.sqrt(table[c] * (1 - table[c]) / trials)
        assert abs(measured - table[c]) <= 5 * sd + 1e-9, (c, measured, table[c])
    assert frequency[~eaten].min() == 1.0  # live apples stay


def test_waste_share_sets_apple_growth_and_pollution_starts_after_the_delay(cleanup):
    env, params = cleanup
    _, state = env.reset(jax.random.PRNGKey(0), params)
    river, orchard = env._waste_cells, env._apple_cells
    assert len(river) == 3 and len(orchard) == 5
    draws = 20_000
    keys = jax.random.split(jax.random.PRNGKey(3), draws)

    @jax.jit
    def grow_many(state):
        new = jax.vmap(lambda k: env._grow_before(state, k).tiles)(keys)
        apples = (new[:, orchard] == APPLE).mean()
        polluted = (new[:, river] == WASTE).sum(1) - (state.tiles[river] == WASTE).sum()
        return apples, polluted.mean()

    # 0.05 · min(1, (f − 0.4) / (0 − 0.4)), zero from f = 0.4 on.
    for dirty, expected in ((0, 0.05), (1, 0.05 * (0.4 - 1 / 3) / 0.4), (2, 0.0), (3, 0.0)):
        tiles = state.tiles.at[river].set(RIVER).at[river[:dirty]].set(WASTE)
        fraction = float(env.waste_fraction(state.replace(tiles=tiles)))
        assert fraction == pytest.approx(dirty / len(river))
        apples, polluted = grow_many(state.replace(tiles=tiles, step_count=jnp.int32(0)))
        sd = np.sqrt(max(expected, 1e-6) / (draws * len(orchard)))
        assert abs(float(apples) - expected) <= 5 * sd, (dirty, float(apples))
        assert float(polluted) == 0.0  # before step 50: no pollution
    tiles = state.tiles.at[river].set(RIVER)
    _, polluted = grow_many(state.replace(tiles=tiles, step_count=jnp.int32(60)))
    assert abs(float(polluted) - 0.5) < 0.02  # one cell with probability 0.5 per step


def test_zapped_agent_is_out_for_the_timeout_plus_one(harvest):
    env, params = harvest
    timeout = env.zap_timeout
    assert timeout == 4  # Harvest-Open's framesTillRespawn
    _, state = env.reset(jax.random.PRNGKey(0), params)
    # Agent 1 steps east to (1, 4), three cells ahead of agent 0: still in the beam.
    state = place(env, state, [(1, 1), (1, 3), (2, 6)], [E, E, N_])
    actions = [[FIRE_ZAP, FORWARD, NOOP]] + [[NOOP, FORWARD, NOOP]] * (timeout + 2)
    out = run(env, params, state, actions)
    assert env.caption(int(out[0][5]["event"][1]), 1) == "Agent 1 is zapped."
    present = [int(o[1].removed[1]) == 0 for o in out]
    # Removed by step 0 and back after step `timeout + 1` (Melting Pot's respawn updater
    # starts framesTillRespawn frames after the frame that follows the zap).
    assert present == [False] * (timeout + 1) + [True, True]
    for obs, *_ in out[: timeout + 1]:
        assert not np.asarray(obs[1]).any()  # a removed agent sees nothing
        assert not (np.asarray(obs[0])[..., 1] == 2).any()  # and nobody sees it
    back = out[timeout + 1][1]
    assert tuple(np.asarray(back.pos[1])) in {(1, 5), (1, 6)}  # a free spawn point
    assert env.caption(int(out[timeout + 1][5]["event"][1]), 1) == "Agent 1 respawns."
    assert int(out[timeout][5]["social"]["tagged_steps"][1]) == timeout + 1


def test_zap_beam_stops_at_walls_and_at_the_first_agent(harvest):
    open_env, params = harvest
    walled_env, _ = envs.make("Harvest-Open", num_agents=3, ascii_map=WALLED_MAP)
    fire = jnp.array([True, False, False])
    for env, expected in ((open_env, [False, False, True]), (walled_env, [False, False, False])):
        _, state = env.reset(jax.random.PRNGKey(0), params)
        # Agent 2 three cells ahead of agent 0 (beam length 3); agent 1 out of reach.
        state = place(env, state, [(1, 1), (2, 6), (1, 4)], [E, S, W])
        np.testing.assert_array_equal(np.asarray(env._zap_hits(state, fire)).any(0), expected)
    _, state = open_env.reset(jax.random.PRNGKey(0), params)
    state = place(open_env, state, [(1, 1), (1, 2), (1, 3)], [E, W, W])
    hits = np.asarray(open_env._zap_hits(state, fire))
    np.testing.assert_array_equal(hits[0], [False, True, False])  # the first agent shields
    state = place(open_env, state, [(1, 1), (2, 1), (1, 5)], [E, W, W])
    hits = np.asarray(open_env._zap_hits(state, fire))
    np.testing.assert_array_equal(hits[0], [False, True, False])  # radius 1: the side cell


def test_clean_beam_cleans_the_first_waste_and_stops_at_walls(cleanup):
    env, params = cleanup
    _, state = env.reset(jax.random.PRNGKey(0), params)
    state = place(env, state, [(1, 1), (2, 5)], [E, N_])
    _, after, _, _, _, info = run(env, params, state, [[FIRE_CLEAN, NOOP]])[0]
    assert list(np.asarray(env._map_view(after))[1, 2:5]) == [RIVER, RIVER, WASTE]
    assert int(info["social"]["waste_cleaned"][0]) == 1  # the first waste only
    assert env.caption(int(info["event"][0]), 0) == "Agent 0 cleans the river."
    walled, _ = envs.make("CleanUp", num_agents=2, ascii_map=CLEANUP_WALLED_MAP)
    _, state = walled.reset(jax.random.PRNGKey(0), params)
    state = place(walled, state, [(1, 1), (2, 5)], [E, N_])
    state, cleaned = walled._clean_hits(state, jnp.array([True, False]))
    assert list(np.asarray(walled._map_view(state))[1, 3:5]) == [WASTE, WASTE]
    assert int(cleaned[0]) == 0


def test_zap_cooldown_spaces_shots(harvest):
    env, params = harvest
    _, state = env.reset(jax.random.PRNGKey(0), params)
    state = place(env, state, [(1, 1), (2, 6), (2, 5)], [E, N_, N_])
    out = run(env, params, state, [[FIRE_ZAP, NOOP, NOOP]] * 7)
    # Cooldown 2: fire, cool, cool, fire, ... (Melting Pot's Zapper timer).
    assert [int(o[1].zap_cooldown[0]) for o in out] == [2, 1, 0, 2, 1, 0, 2]


def test_coins_rewards_and_regrowth():
    env, params = envs.make(
        "Coins", min_width=5, max_width=5, min_height=5, max_height=5, episode_length=50
    )
    _, state = env.reset(jax.random.PRNGKey(0), params)
    state = place(env, state, [(3, 2), (5, 5)], [E, N_])
    state = set_tile(env, state, (3, 3), COIN_1)  # agent 1's colour
    state = set_tile(env, state, (3, 4), COIN_0)  # agent 0's own colour
    out = run(env, params, state, [[FORWARD, NOOP], [FORWARD, NOOP]])
    np.testing.assert_array_equal(np.asarray(out[0][2]), [1.0, -2.0])
    np.testing.assert_array_equal(np.asarray(out[1][2]), [1.0, 0.0])
    social = out[1][5]["social"]
    assert list(np.asarray(social["coins_own"])) == [1, 0]
    assert list(np.asarray(social["coins_other"])) == [1, 0]
    # No coins at the start (Melting Pot's initialState coinWait), regrowth 0.0005 per cell.
    assert int(env.reset(jax.random.PRNGKey(1), params)[1].tiles.max()) <= 1
    draws = 20_000
    grown = jax.jit(
        jax.vmap(lambda k: jnp.isin(env._map_view(env._grow(state, k)), jnp.array([5, 6])).sum())
    )(jax.random.split(jax.random.PRNGKey(2), draws))
    inside, spawn = env._room(state.aux)
    free = np.asarray(inside & ~spawn & (env._map_view(state) == EMPTY)).sum()
    expected = 0.0005 * free
    measured = float(np.asarray(grown).mean()) - 2  # the two coins placed above
    assert abs(measured - expected) <= 5 * np.sqrt(expected / draws)
    assert COIN_0 != COIN_1


# ----- bad input -------------------------------------------------------------------------
def test_bad_inputs_name_the_field():
    with pytest.raises(ValueError, match="num_agents"):
        envs.make("Harvest-Open", num_agents=1)
    with pytest.raises(ValueError, match="num_agents"):
        envs.make("Coins", num_agents=3)
    with pytest.raises(ValueError, match=r"ascii_map.*not rectangular"):
        envs.make("CleanUp", ascii_map="WWWW\nWPHW\nWW")
    with pytest.raises(ValueError, match=r"ascii_map.*unknown map symbol.*'X'"):
        envs.make("Harvest-Open", ascii_map="WWWW\nWPXW\nWWWW")
    with pytest.raises(ValueError, match=r"ascii_map.*Did you mean: small"):
        envs.make("Harvest-Open", ascii_map="smal")
    with pytest.raises(ValueError, match=r"ascii_map.*spawn points"):
        envs.make("Harvest-Open", num_agents=3, ascii_map="WWWW\nWPPW\nWWWW")
    with pytest.raises(KeyError, match="Did you mean: num_agents"):
        envs.make("CleanUp", num_agent=3)
    with pytest.raises(KeyError, match="Did you mean: Harvest-Open"):
        envs.make("Harvest-Opn")
