"""Gridworld dynamics: determinism, vmap, auto-reset, contexts, noisy TV, sticky actions,
MiniGrid's rules on a hand-made layout, observations equal to MiniGrid's ``gen_obs``,
and the errors for unknown names and bad parameters."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from minigrid.core.constants import IDX_TO_COLOR
from minigrid.core.grid import Grid
from minigrid.core.mission import MissionSpace
from minigrid.core.world_object import Ball, Box, Door, Floor, Goal, Key, Lava, Wall
from minigrid.minigrid_env import MiniGridEnv

import envs
from envs.gridworld import GridWorld, Layout, Task
from envs.gridworld import objects as O
from envs.gridworld.doorkey import DoorKey
from envs.gridworld.empty import Empty
from envs.gridworld.env import DONE, DROP, FORWARD, LEFT, PICKUP, RIGHT, TOGGLE, WATCH_TV
from envs.gridworld.fourrooms import FourRooms
from envs.gridworld.keycorridor import KeyCorridor
from envs.gridworld.multiroom import MultiRoom
from envs.gridworld.obstructedmaze import ObstructedMaze

YELLOW, RED, GREEN = O.COLOUR["yellow"], O.COLOUR["red"], O.COLOUR["green"]


class FixedTask(Task):
    """One hand-made layout, for rule checks."""

    description = "test layout"

    def __init__(self, rows: list[list[int]], agent_pos, agent_dir=0, target=0, max_steps=100):
        self._grid = np.array(rows, np.uint8)
        self.height, self.width = self._grid.shape
        self.max_steps = max_steps
        self._pos, self._dir, self._target = agent_pos, agent_dir, target

    def generate(self, key):
        return Layout(
            jnp.asarray(self._grid),
            jnp.asarray(self._pos, jnp.int32),
            jnp.asarray(self._dir, jnp.int32),
            jnp.asarray(self._target, jnp.uint8),
        )


W, E, G, LV = O.WALL, O.EMPTY, O.GOAL, O.LAVA
LOCKED_YELLOW = O.door(YELLOW, O.DOOR_LOCKED)
# ######
# #A.LG#    agent faces right; a locked yellow door before the goal
# #ry..#    a red key and a yellow key below
# ######
RULES = [
    [W, W, W, W, W, W],
    [W, E, E, LOCKED_YELLOW, G, W],
    [W, O.key(RED), O.key(YELLOW), E, E, W],
    [W, W, W, W, W, W],
]


def run(env, actions, key=0):
    """Roll ``actions`` through ``step_env`` (no auto-reset); returns per-step outputs."""
    step = jax.jit(env.step_env)
    _, state = env.reset(jax.random.PRNGKey(key))
    out = []
    for i, a in enumerate(actions):
        _obs, state, reward, term, trunc, info = step(
            jax.random.PRNGKey(i), state, a, env.default_params
        )
        out.append((state, float(reward), bool(term), bool(trunc), int(info["event"])))
    return out


def test_pickup_drop_toggle_and_locked_door():
    env = GridWorld(FixedTask(RULES, (1, 1)), "rules")
    actions = [
        RIGHT,
        PICKUP,
        LEFT,
        FORWARD,
        TOGGLE,
        FORWARD,
        DROP,
        RIGHT,
        PICKUP,
        RIGHT,
        DROP,
        LEFT,
        PICKUP,
        LEFT,
        TOGGLE,
        TOGGLE,
        TOGGLE,
        FORWARD,
        FORWARD,
    ]
    out = run(env, actions)
    caption = [env.caption(e) for *_, e in out]
    state = [s for s, *_ in out]
    assert caption[1] == "You pick up the red key." and int(state[1].carrying) == O.key(RED)
    assert caption[4] == "The locked door does not open."  # wrong key
    assert caption[5] == "You bump into an obstacle." and state[5].agent_pos.tolist() == [1, 2]
    assert caption[6] == "" and int(state[6].carrying) == O.key(RED)  # cannot drop on a door
    assert int(state[8].carrying) == O.key(RED), "cannot pick up with full hands"
    assert caption[10] == "You drop the red key." and int(state[10].carrying) == O.EMPTY
    assert caption[12] == "You pick up the yellow key."
    assert caption[14:17] == [
        "You unlock the yellow door.",
        "You close the yellow door.",
        "The yellow door opens.",
    ]
    assert [t for _, _, t, _, _ in out] == [False] * 18 + [True]
    assert caption[18] == "You reach the goal."
    assert out[-1][1] == pytest.approx(1 - 0.9 * 19 / 100)
    assert all(r == 0 for _, r, *_ in out[:-1])


def test_boxes_balls_target_and_lava():
    grid = [
        [W, W, W, W, W],
        [W, O.box(GREEN, RED), E, O.box(GREEN), W],
        [W, LV, E, O.ball(RED), W],
        [W, W, W, W, W],
    ]
    env = GridWorld(FixedTask(grid, (1, 2), agent_dir=2, target=O.ball(RED)), "boxes")
    out = run(env, [TOGGLE, RIGHT, RIGHT, PICKUP, DROP, TOGGLE, DONE])
    cell = lambda i, c: int(out[i][0].grid.reshape(env.padded_shape)[env.pad + 1, env.pad + c])  # noqa: E731
    assert env.caption(out[0][4]) == "You open the green box." and cell(0, 1) == O.key(RED)
    assert env.caption(out[3][4]) == "You pick up the green box."  # boxes can be carried
    assert env.caption(out[4][4]) == "You drop the green box." and cell(4, 3) == O.box(GREEN)
    assert cell(5, 3) == O.EMPTY, "an empty box vanishes when opened"
    assert out[6][4] == 0 and not any(t for _, _, t, _, _ in out)
    # The target ball: picking it up is success.
    env2 = GridWorld(FixedTask(grid, (2, 2), agent_dir=0, target=O.ball(RED)), "ball")
    out = run(env2, [PICKUP])
    assert out[0][2] and out[0][1] == pytest.approx(1 - 0.9 / 100)
    out = run(GridWorld(FixedTask(grid, (2, 2), agent_dir=2), "lava"), [FORWARD])
    assert out[0][2] and out[0][1] == 0.0 and out[0][4] == O.EVENT_LAVA


def test_truncation_at_max_steps():
    env = GridWorld(FixedTask(RULES, (1, 1), max_steps=5), "trunc")
    out = run(env, [LEFT] * 5)
    assert [tr for *_, tr, _ in out] == [False] * 4 + [True]
    assert not any(t for _, _, t, _, _ in out) and all(r == 0 for _, r, *_ in out)
    assert envs.make("DoorKey-5x5", max_steps=7)[1].max_steps_in_episode == 7


# --- the functional contract on a real task ----------------------------------------------
# One env (noisy TV and sticky actions on, so step keys matter) and its jitted functions,
# shared by the tests below: each jit compiles once per session.
SHARED: dict = {}


def shared():
    if not SHARED:
        env, params = envs.make("DoorKey-5x5", sticky_actions=0.3, noisy_tv=True)
        SHARED.update(
            env=env,
            params=params,
            reset=jax.jit(env.reset),
            step=jax.jit(env.step),
            vreset=jax.jit(jax.vmap(env.reset, in_axes=(0, None))),
            vstep=jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None))),
            vstep_env=jax.jit(jax.vmap(env.step_env, in_axes=(0, 0, 0, None))),
        )
    return SHARED


def rollout(key, n=40):
    sh = shared()
    env, params = sh["env"], sh["params"]
    k_reset, k_loop = jax.random.split(key)
    obs, state = sh["reset"](k_reset, params)
    observations = [obs]
    for k in jax.random.split(k_loop, n):
        k_act, k_step = jax.random.split(k)
        obs, state, *_ = sh["step"](k_step, state, env.action_space().sample(k_act), params)
        observations.append(obs)
    return np.stack(observations)


def test_determinism_under_a_seed():
    a, b, c = (
        rollout(jax.random.PRNGKey(1)),
        rollout(jax.random.PRNGKey(1)),
        rollout(jax.random.PRNGKey(2)),
    )
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_vmapped_step_equals_single_steps():
    sh = shared()
    env, params = sh["env"], sh["params"].replace(max_steps_in_episode=2)  # params are traced
    n = 8
    keys = jax.random.split(jax.random.PRNGKey(3), n)
    _, states = sh["vreset"](keys, params)
    actions = jax.random.randint(jax.random.PRNGKey(4), (n,), 0, env.num_actions)
    for _ in range(3):  # long enough for sticky actions and auto-resets to kick in
        step_keys = jax.random.split(keys[0], n)
        batched = jax.tree.map(np.asarray, sh["vstep"](step_keys, states, actions, params))
        for i in range(n):
            single = sh["step"](
                step_keys[i], jax.tree.map(lambda x, i=i: x[i], states), actions[i], params
            )
            jax.tree.map(
                lambda b, s, i=i: np.testing.assert_array_equal(b[i], np.asarray(s)),
                batched,
                single,
            )
        states, keys = batched[1], jax.random.split(step_keys[-1], n)


def test_auto_reset_and_final_observation():
    sh = shared()
    env, params = sh["env"], sh["params"].replace(max_steps_in_episode=3)
    obs, state = sh["reset"](jax.random.PRNGKey(0), params)
    for t in range(3):
        key = jax.random.PRNGKey(10 + t)
        obs, new_state, _reward, term, trunc, info = sh["step"](key, state, LEFT, params)
        k_step, k_reset = jax.random.split(key)
        obs_st, *_ = env.step_env(k_step, state, LEFT, params)
        np.testing.assert_array_equal(info["final_observation"], obs_st)
        if t < 2:
            assert not trunc and np.array_equal(obs, obs_st) and int(new_state.step_count) == t + 1
        else:
            obs_re, state_re = sh["reset"](k_reset, params)
            assert bool(trunc) and not bool(term)
            np.testing.assert_array_equal(obs, obs_re)
            assert int(new_state.step_count) == 0
            np.testing.assert_array_equal(new_state.grid, state_re.grid)
        state = new_state


# --- contexts ---------------------------------------------------------------------------
@pytest.mark.parametrize("contexts", [0, 1, 5])
def test_contexts(contexts):
    env, _params = envs.make("DoorKey-8x8", contexts=contexts, env_seed=3)
    keys = jax.random.split(jax.random.PRNGKey(0), 300)
    _, states = jax.jit(jax.vmap(env.reset))(keys)
    layouts = {
        bytes(np.asarray(g)) + bytes(np.asarray(p))
        for g, p in zip(states.grid, states.agent_pos, strict=True)
    }
    if contexts == 0:
        assert len(layouts) > 250 and np.all(np.asarray(states.layout_id) == -1)
    else:
        assert len(layouts) == contexts
        assert set(np.asarray(states.layout_id).tolist()) == set(range(contexts))
    if contexts == 1:  # auto-reset draws from the same pool
        _, state = env.reset(jax.random.PRNGKey(1))
        _, after, *_ = env.step(
            jax.random.PRNGKey(2), state.replace(step_count=jnp.int32(10**6)), LEFT
        )
        np.testing.assert_array_equal(after.grid, state.grid)
        assert int(after.step_count) == 0
    if contexts == 5:  # the pool depends on env_seed
        other = envs.make("DoorKey-8x8", contexts=5, env_seed=4)[0].layout_pool()
        assert not np.array_equal(other.grid, env.layout_pool().grid)


# --- noisy TV and sticky actions -----------------------------------------------------------
def test_noisy_tv_only_when_watching():
    sh = shared()
    noisy, params = sh["env"], sh["params"]
    clean, _ = envs.make("DoorKey-5x5")
    s = noisy.tv_size
    observe = jax.jit(jax.vmap(clean.observe))
    keys = jax.random.split(jax.random.PRNGKey(0), 64)
    _, states = sh["vreset"](keys, params)  # step_count 0: the first step is never sticky
    outside = np.ones((noisy.view_size, noisy.view_size), bool)
    outside[:s, :s] = False
    for action in range(8):
        obs, after, *_, info = sh["vstep_env"](keys, states, jnp.full(64, action), params)
        obs, expected = np.asarray(obs), np.asarray(observe(after, keys))
        np.testing.assert_array_equal(obs[:, outside], expected[:, outside])
        patch_differs = np.any(obs[:, :s, :s] != expected[:, :s, :s], axis=(1, 2, 3))
        if action == WATCH_TV:
            assert patch_differs.all() and np.all(np.asarray(info["event"]) == O.EVENT_TV)
            # Watching TV changes nothing in the world.
            for field in ("grid", "agent_pos", "agent_dir", "carrying"):
                np.testing.assert_array_equal(getattr(after, field), getattr(states, field))
        else:
            assert not patch_differs.any()
    assert noisy.num_actions == 8 and clean.num_actions == 7


def test_sticky_actions():
    always = GridWorld(FixedTask(RULES, (1, 1)), "sticky", sticky_actions=1.0)
    params = always.default_params
    _, state = always.reset(jax.random.PRNGKey(0))
    _, state, *_ = always.step_env(
        jax.random.PRNGKey(1), state, LEFT, params
    )  # first step: never sticky
    _, state, *_ = always.step_env(jax.random.PRNGKey(2), state, RIGHT, params)
    assert int(state.agent_dir) == 2, "RIGHT was replaced by the previous LEFT"

    sh = shared()  # sticky_actions=0.3
    keys = jax.random.split(jax.random.PRNGKey(3), 4000)
    _, states = sh["vreset"](keys, sh["params"])
    states = states.replace(
        step_count=jnp.ones_like(states.step_count),
        prev_action=jnp.full_like(states.prev_action, LEFT),
    )
    _, after, *_ = sh["vstep_env"](keys, states, jnp.full(4000, RIGHT), sh["params"])
    repeated = np.mean(np.asarray(after.prev_action) == LEFT)
    assert 0.26 < repeated < 0.34


# --- observations equal MiniGrid's own -----------------------------------------------------
class Blank(MiniGridEnv):
    """A MiniGrid env whose grid, agent and carried object are set from outside."""

    def __init__(self, width: int, height: int) -> None:
        super().__init__(
            mission_space=MissionSpace(mission_func=lambda: ""),
            width=width,
            height=height,
            max_steps=10**6,
            see_through_walls=False,
            agent_view_size=7,
        )

    def _gen_grid(self, width, height):
        self.grid = Grid(width, height)
        self.agent_pos, self.agent_dir = (1, 1), 0


def to_minigrid(code: int):
    """The MiniGrid object of one of our cell codes (None for empty)."""
    obj, colour, state = (int(v) for v in O.TABLES["obs"][code])
    kind, colour_name = O.OBJECTS[obj], IDX_TO_COLOR[colour]
    if kind == "empty":
        return None
    if kind == "box":
        box = Box(colour_name)
        inside = int(O.TABLES["toggled"][code])
        box.contains = None if inside == O.EMPTY else to_minigrid(inside)
        return box
    simple = {"wall": Wall, "goal": Goal, "lava": Lava}
    if kind in simple:
        return simple[kind]()
    if kind == "door":
        return Door(colour_name, is_open=state == O.DOOR_OPEN, is_locked=state == O.DOOR_LOCKED)
    return {"key": Key, "ball": Ball, "floor": Floor}[kind](colour_name)


def load(mg: Blank, env: GridWorld, state) -> None:
    h, w = env.padded_shape
    p = env.pad
    grid = np.asarray(state.grid).reshape(h, w)[p : h - p, p : w - p]
    for r in range(grid.shape[0]):
        for c in range(grid.shape[1]):
            mg.grid.set(c, r, to_minigrid(int(grid[r, c])))
    mg.agent_pos = (int(state.agent_pos[1]), int(state.agent_pos[0]))
    mg.agent_dir = int(state.agent_dir)
    mg.carrying = to_minigrid(int(state.carrying))


@pytest.mark.parametrize("name", ["DoorKey-8x8", "KeyCorridorS3R3", "ObstructedMaze-2Dlh"])
def test_observations_and_moves_match_minigrid(name):
    """Step our env and MiniGrid side by side from the same layout with the same actions."""
    env, params = envs.make(name)
    mg = Blank(env.task.width, env.task.height)
    mg.reset(seed=0)
    step = jax.jit(env.step_env)
    reset = jax.jit(env.reset)
    rng = np.random.default_rng(0)
    probs = np.array([0.2, 0.2, 0.35, 0.1, 0.05, 0.1, 0.0])
    occluded = 0
    for episode in range(3):
        obs, state = reset(jax.random.PRNGKey(episode))
        load(mg, env, state)
        np.testing.assert_array_equal(np.asarray(obs), mg.gen_obs()["image"].transpose(1, 0, 2))
        for t in range(60):
            action = int(rng.choice(7, p=probs))
            obs, state, _reward, term, _, _ = step(jax.random.PRNGKey(t), state, action, params)
            mg_obs, *_ = mg.step(action)
            image = mg_obs["image"].transpose(1, 0, 2)
            np.testing.assert_array_equal(
                np.asarray(obs), image, err_msg=f"{name} ep {episode} t {t}"
            )
            assert (int(state.agent_pos[1]), int(state.agent_pos[0])) == tuple(
                int(v) for v in mg.agent_pos
            )
            assert int(state.agent_dir) == mg.agent_dir
            occluded += int(np.sum(image[..., 0] == 0))
            if bool(term):
                break
    assert occluded > 0, "some views were occluded by walls or doors"


def test_fully_observable_grid_matches_minigrid_fully_obs_wrapper():
    """fully_observable=True: the whole grid as MiniGrid's FullyObsWrapper encodes it (the
    agent's cell shows agent, red, direction), step for step, in the observation space."""
    from minigrid.wrappers import FullyObsWrapper

    env, params = envs.make("DoorKey-8x8", fully_observable=True)
    space = env.observation_space(params)
    assert space.shape == (8, 8, 3)
    mg = Blank(env.task.width, env.task.height)
    mg.reset(seed=0)
    wrapper = FullyObsWrapper(mg)
    step, reset = jax.jit(env.step_env), jax.jit(env.reset)
    rng = np.random.default_rng(1)
    obs, state = reset(jax.random.PRNGKey(0))
    load(mg, env, state)
    directions = set()
    for t in range(40):
        expected = wrapper.observation(mg.gen_obs())["image"].transpose(1, 0, 2)
        np.testing.assert_array_equal(np.asarray(obs), expected, err_msg=f"t {t}")
        assert space.contains(np.asarray(obs))
        directions.add(int(state.agent_dir))
        action = int(rng.choice(3))  # turns and forward: the agent's cell and direction move
        obs, state, *_ = step(jax.random.PRNGKey(t), state, action, params)
        mg.step(action)
    assert len(directions) > 1


# --- errors ------------------------------------------------------------------------------
def test_unknown_name_names_close_matches():
    with pytest.raises(KeyError, match="DoorKey-8x8"):
        envs.make("DoorKey-8x9")
    with pytest.raises(KeyError, match="KeyCorridorS3R3"):
        envs.make("KeyCorridorS3R4")


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Empty(size=2), "size"),
        (lambda: DoorKey(size=3), "size"),
        (lambda: FourRooms(size=4), "size"),
        (lambda: KeyCorridor(room_size=2), "room_size"),
        (lambda: KeyCorridor(num_rows=0), "num_rows"),
        (lambda: MultiRoom(num_rooms=0), "num_rooms"),
        (lambda: MultiRoom(num_rooms=2, max_room_size=3), "max_room_size"),
        (lambda: ObstructedMaze(variant="3Q"), "variant"),
        (lambda: envs.make("DoorKey-5x5", contexts=-1), "contexts"),
        (lambda: envs.make("FourRooms", contexts=1.5), "contexts"),
        (lambda: envs.make("DoorKey-5x5", sticky_actions=1.5), "sticky_actions"),
        (lambda: envs.make("DoorKey-5x5", sticky_actions=-0.1), "sticky_actions"),
        (lambda: envs.make("DoorKey-5x5", noisy_tv="yes"), "noisy_tv"),
        (lambda: envs.make("DoorKey-5x5", fully_observable="yes"), "fully_observable"),
        (lambda: envs.make("DoorKey-5x5", noisy_tv=1), "noisy_tv"),
    ],
)
def test_bad_parameters_name_the_field(build, field):
    with pytest.raises(ValueError, match=field):
        build()
