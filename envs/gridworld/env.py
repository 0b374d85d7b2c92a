"""The gridworld environment: MiniGrid semantics in pure JAX.

Actions (MiniGrid's): 0 left, 1 right, 2 forward, 3 pickup, 4 drop, 5 toggle, 6 done,
and 7 "watch TV" when ``noisy_tv=True``. Observations are MiniGrid's egocentric
``view × view × 3`` (object, colour, state) image, indexed ``[row, col]`` with the agent
at the bottom centre looking up (MiniGrid's own ``image`` is indexed ``[col, row]``).
Reward ``1 − 0.9·t/T`` on success, else 0.

Two axes beyond MiniGrid:

* ``contexts=K``: ``K=0`` draws a fresh layout every episode (MiniGrid's behaviour);
  ``K≥1`` draws each episode's layout from a fixed pool of K layouts generated from
  ``env_seed`` (``K=1`` is a singleton MDP). Henaff, Jiang & Raileanu (2023) need both.
* ``noisy_tv=True``: an extra action turns a TV on for that step; while on, a
  ``tv_size × tv_size`` patch in the top-left corner of the observation is filled with
  fresh uniform noise (Burda et al. 2019; Jarrett et al. 2022). ``sticky_actions=p``
  repeats the previous action with probability p (Machado et al. 2018).

Grids are stored flat and padded by ``view − 1`` cells of wall on every side, so the
egocentric view is one gather with precomputed offsets, with no bounds checks.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.core import Environment, EnvParams
from envs.gridworld import objects as O
from envs.gridworld.layout import Layout, Task
from envs.spaces import Box, Discrete

LEFT, RIGHT, FORWARD, PICKUP, DROP, TOGGLE, DONE, WATCH_TV = range(8)
ACTION_NAMES = ("left", "right", "forward", "pickup", "drop", "toggle", "done", "watch_tv")
# MiniGrid's DIR_TO_VEC as (row, col) steps: right, down, left, up.
DIR_STEPS = np.array([(0, 1), (1, 0), (0, -1), (-1, 0)], np.int32)


@struct.dataclass
class GridParams(EnvParams):
    """Traced parameters; the layout pool is empty (``None``) when ``contexts=0``."""

    max_steps_in_episode: int = 100
    pool_grid: jax.Array | None = None  # uint8 [K, Hp*Wp]
    pool_agent_pos: jax.Array | None = None  # int32 [K, 2]
    pool_agent_dir: jax.Array | None = None  # int32 [K]
    pool_target: jax.Array | None = None  # uint8 [K]


@struct.dataclass
class GridState:
    """Everything that changes during an episode."""

    grid: jax.Array  # uint8 [Hp*Wp] padded, flat
    agent_pos: jax.Array  # int32 [2] (row, col) in unpadded coordinates
    agent_dir: jax.Array  # int32
    carrying: jax.Array  # uint8 code; EMPTY when empty-handed
    target: jax.Array  # uint8 code to pick up for success, 0 = reach the goal
    step_count: jax.Array  # int32
    prev_action: jax.Array  # int32, for sticky actions
    layout_id: jax.Array  # int32 index in the pool, -1 for a fresh layout
    tv_on: jax.Array  # bool: the TV was on at this step


class GridWorld(Environment):
    """A MiniGrid-style task as a functional environment."""

    def __init__(
        self,
        task: Task,
        name: str,
        contexts: int = 0,
        noisy_tv: bool = False,
        sticky_actions: float = 0.0,
        see_through_walls: bool = False,
        fully_observable: bool = False,
        view_size: int = 7,
        tv_size: int = 3,
        env_seed: int = 0,
        max_steps: int | None = None,
    ) -> None:
        if isinstance(contexts, bool) or not isinstance(contexts, int | np.integer) or contexts < 0:
            raise ValueError(
                f"contexts must be an integer ≥ 0 (0 = fresh layout every episode), got {contexts!r}"
            )
        if not isinstance(noisy_tv, bool | np.bool_):
            raise ValueError(f"noisy_tv must be true or false, got {noisy_tv!r}")
        if not 0.0 <= float(sticky_actions) <= 1.0:
            raise ValueError(
                f"sticky_actions must be a probability in [0, 1], got {sticky_actions!r}"
            )
        if not isinstance(fully_observable, bool | np.bool_):
            raise ValueError(f"fully_observable must be true or false, got {fully_observable!r}")
        if view_size < 3 or view_size % 2 == 0:
            raise ValueError(f"view_size must be odd and ≥ 3, got {view_size!r}")
        if not 1 <= tv_size <= view_size:
            raise ValueError(f"tv_size must be in [1, view_size={view_size}], got {tv_size!r}")
        if max_steps is not None and max_steps < 1:
            raise ValueError(f"max_steps must be ≥ 1, got {max_steps!r}")
        self.task = task
        self._name = name
        self.contexts = int(contexts)
        self.noisy_tv = bool(noisy_tv)
        self.sticky_actions = float(sticky_actions)
        self.see_through_walls = bool(see_through_walls)
        self.fully_observable = bool(fully_observable)
        self.view_size = view_size
        self.tv_size = tv_size
        self.env_seed = env_seed
        self.max_steps = max_steps or task.max_steps
        self.pad = view_size - 1
        self.padded_shape = (task.height + 2 * self.pad, task.width + 2 * self.pad)
        self._view_offsets = jnp.asarray(self._make_view_offsets())
        self._dir_offsets = jnp.asarray(DIR_STEPS[:, 0] * self.padded_shape[1] + DIR_STEPS[:, 1])
        self._tables = {k: jnp.asarray(v) for k, v in O.TABLES.items()}
        self._pickup_event = jnp.asarray(O.PICKUP_EVENT)
        self._drop_event = jnp.asarray(O.DROP_EVENT)
        self._params = self._make_params()

    # --- set-up ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def default_params(self) -> GridParams:
        return self._params

    def _make_view_offsets(self) -> np.ndarray:
        """Flat offsets from the agent's padded index to each view cell, per direction."""
        v = self.view_size
        rows = np.arange(v)[:, None]
        cols = np.arange(v)[None, :]
        forward = (v - 1) - rows  # cells ahead of the agent
        lateral = cols - v // 2  # cells to the agent's right
        width = self.padded_shape[1]
        offsets = np.zeros((4, v, v), np.int32)
        for d in range(4):
            f = DIR_STEPS[d]
            r = DIR_STEPS[(d + 1) % 4]  # the agent's right-hand side
            dr = forward * f[0] + lateral * r[0]
            dc = forward * f[1] + lateral * r[1]
            offsets[d] = dr * width + dc
        return offsets

    def pad_grid(self, grid: jax.Array) -> jax.Array:
        """Unpadded ``[H, W]`` grid → flat padded grid, walls all around."""
        return jnp.pad(grid, self.pad, constant_values=O.WALL).reshape(-1)

    def _make_params(self) -> GridParams:
        params = GridParams(max_steps_in_episode=self.max_steps)
        if self.contexts == 0:
            return params
        keys = jax.random.split(jax.random.PRNGKey(self.env_seed), self.contexts)
        pool = jax.jit(jax.vmap(self.task.generate))(keys)
        return params.replace(
            pool_grid=jax.vmap(self.pad_grid)(pool.grid),
            pool_agent_pos=pool.agent_pos,
            pool_agent_dir=pool.agent_dir,
            pool_target=pool.target.astype(jnp.uint8),
        )

    def layout_pool(self, params: GridParams | None = None) -> Layout | None:
        """The K layouts of the pool (unpadded), or None when ``contexts=0``."""
        params = self.default_params if params is None else params
        if params.pool_grid is None:
            return None
        h, w = self.padded_shape
        p = self.pad
        grids = params.pool_grid.reshape(-1, h, w)[:, p : h - p, p : w - p]
        return Layout(grids, params.pool_agent_pos, params.pool_agent_dir, params.pool_target)

    def observation_space(self, params: EnvParams | None = None) -> Box:
        if self.fully_observable:  # the whole grid; the agent's cell holds its direction (0-3)
            shape = (self.task.height, self.task.width, 3)
            high = np.array([O.NUM_OBJECTS - 1, O.NUM_COLOURS - 1, 3], np.uint8)
        else:
            shape = (self.view_size, self.view_size, 3)
            high = np.array([O.NUM_OBJECTS - 1, O.NUM_COLOURS - 1, O.NUM_STATES - 1], np.uint8)
        return Box(0, np.broadcast_to(high, shape), shape, jnp.uint8)

    def action_space(self, params: EnvParams | None = None) -> Discrete:
        return Discrete(8 if self.noisy_tv else 7)

    def caption(self, event: int) -> str:
        return O.CAPTIONS[int(event)]

    @property
    def captions(self) -> tuple[str, ...]:
        return O.CAPTIONS

    @property
    def diagnostic_events(self) -> dict[str, int]:
        return {"tv": O.EVENT_TV} if self.noisy_tv else {}

    # --- dynamics ---------------------------------------------------------------------
    def _state_from_layout(self, grid_flat, agent_pos, agent_dir, target, layout_id) -> GridState:
        return GridState(
            grid=grid_flat,
            agent_pos=agent_pos.astype(jnp.int32),
            agent_dir=agent_dir.astype(jnp.int32),
            carrying=jnp.asarray(O.EMPTY, jnp.uint8),
            target=target.astype(jnp.uint8),
            step_count=jnp.zeros((), jnp.int32),
            prev_action=jnp.zeros((), jnp.int32),
            layout_id=jnp.asarray(layout_id, jnp.int32),
            tv_on=jnp.zeros((), bool),
        )

    def reset_env(self, key: jax.Array, params: GridParams) -> tuple[jax.Array, GridState]:
        if self.contexts == 0:
            layout = self.task.generate(key)
            state = self._state_from_layout(
                self.pad_grid(layout.grid), layout.agent_pos, layout.agent_dir, layout.target, -1
            )
        else:
            i = jax.random.randint(key, (), 0, params.pool_grid.shape[0])
            state = self._state_from_layout(
                params.pool_grid[i],
                params.pool_agent_pos[i],
                params.pool_agent_dir[i],
                params.pool_target[i],
                i,
            )
        return self.observe(state, key), state

    def _flat_index(self, pos: jax.Array) -> jax.Array:
        return (pos[0] + self.pad) * self.padded_shape[1] + (pos[1] + self.pad)

    def step_env(self, key, state: GridState, action, params: GridParams):
        t = self._tables
        action = jnp.asarray(action, jnp.int32)
        if self.sticky_actions > 0.0:
            key, sticky_key = jax.random.split(key)
            repeat = jax.random.uniform(sticky_key) < self.sticky_actions
            action = jnp.where(repeat & (state.step_count > 0), state.prev_action, action)

        here = self._flat_index(state.agent_pos)
        ahead = here + self._dir_offsets[state.agent_dir]
        front = state.grid[ahead]
        carrying = state.carrying
        empty_handed = carrying == O.EMPTY

        # Movement.
        turn = jnp.where(action == LEFT, -1, jnp.where(action == RIGHT, 1, 0))
        agent_dir = (state.agent_dir + turn) % 4
        moves = (action == FORWARD) & t["can_overlap"][front]
        agent_pos = jnp.where(
            moves, state.agent_pos + jnp.asarray(DIR_STEPS)[state.agent_dir], state.agent_pos
        )
        reached_goal = moves & (front == O.GOAL)
        into_lava = moves & (front == O.LAVA)
        bumped = (action == FORWARD) & ~moves

        # Interactions change at most the cell ahead and what the agent carries.
        picks = (action == PICKUP) & t["can_pickup"][front] & empty_handed
        drops = (action == DROP) & ~empty_handed & (front == O.EMPTY)
        is_door = (front >= O.door(0, 0)) & (front <= O.door(O.NUM_COLOURS - 1, O.DOOR_LOCKED))
        door_colour = (front.astype(jnp.int32) - O.door(0, 0)) // 3
        locked = is_door & ((front.astype(jnp.int32) - O.door(0, 0)) % 3 == O.DOOR_LOCKED)
        has_key = carrying.astype(jnp.int32) == O.key(0) + door_colour
        toggles = action == TOGGLE
        unlocks = toggles & locked & has_key
        toggled = jnp.where(
            locked,
            jnp.where(has_key, (O.door(0, O.DOOR_OPEN) + 3 * door_colour).astype(jnp.uint8), front),
            t["toggled"][front],
        )
        new_front = jnp.where(picks, jnp.uint8(O.EMPTY), front)
        new_front = jnp.where(drops, carrying, new_front)
        new_front = jnp.where(toggles, toggled, new_front)
        grid = state.grid.at[ahead].set(new_front)
        carrying = jnp.where(picks, front, jnp.where(drops, jnp.uint8(O.EMPTY), carrying))

        picked_target = picks & (front == state.target) & (state.target != 0)
        success = reached_goal | picked_target
        step_count = state.step_count + 1
        terminated = success | into_lava
        truncated = (step_count >= params.max_steps_in_episode) & ~terminated
        reward = jnp.where(
            success, 1.0 - 0.9 * (step_count / params.max_steps_in_episode), 0.0
        ).astype(jnp.float32)

        tv_on = (action == WATCH_TV) if self.noisy_tv else jnp.zeros((), bool)
        event = self._event(
            front,
            carrying_before=state.carrying,
            picks=picks,
            drops=drops,
            toggles=toggles,
            unlocks=unlocks,
            locked=locked,
            is_door=is_door,
            reached_goal=reached_goal,
            into_lava=into_lava,
            bumped=bumped,
            tv_on=tv_on,
        )
        before = state
        state = state.replace(
            grid=grid,
            agent_pos=agent_pos,
            agent_dir=agent_dir,
            carrying=carrying,
            step_count=step_count,
            prev_action=action,
            tv_on=tv_on,
        )
        # The task's hooks (Task.terminate / Task.reward); the defaults return their inputs.
        success, terminated = self.task.terminate(before, state, action, success, terminated)
        truncated = (step_count >= params.max_steps_in_episode) & ~terminated
        reward = jnp.asarray(
            self.task.reward(before, state, action, success, reward, params), jnp.float32
        )
        info = {
            "success": success,
            "event": event,
            "privileged": {
                "agent_pos": agent_pos,
                "agent_dir": agent_dir,
                "layout_id": state.layout_id,
            },
        }
        return self.observe(state, key), state, reward, terminated, truncated, info

    def _event(
        self,
        front,
        *,
        carrying_before,
        picks,
        drops,
        toggles,
        unlocks,
        locked,
        is_door,
        reached_goal,
        into_lava,
        bumped,
        tv_on,
    ) -> jax.Array:
        front_i = front.astype(jnp.int32)
        colour = (front_i - O.door(0, 0)) // 3
        opens = toggles & is_door & ~locked & ((front_i - O.door(0, 0)) % 3 == O.DOOR_CLOSED)
        closes = toggles & is_door & ((front_i - O.door(0, 0)) % 3 == O.DOOR_OPEN)
        is_box = front_i >= O.box(0)
        opens_box = toggles & is_box
        event = jnp.zeros((), jnp.int32)
        event = jnp.where(bumped, O.EVENT_BUMP, event)
        event = jnp.where(reached_goal, O.EVENT_GOAL, event)
        event = jnp.where(into_lava, O.EVENT_LAVA, event)
        event = jnp.where(picks, self._pickup_event[front_i], event)
        event = jnp.where(drops, self._drop_event[carrying_before.astype(jnp.int32)], event)
        event = jnp.where(unlocks, O.EVENT_UNLOCK + colour, event)
        event = jnp.where(toggles & locked & ~unlocks, O.EVENT_LOCKED, event)
        event = jnp.where(opens, O.EVENT_OPEN + colour, event)
        event = jnp.where(closes, O.EVENT_CLOSE + colour, event)
        event = jnp.where(opens_box, O.EVENT_OPEN_BOX + (front_i - O.box(0)) // 7, event)
        return jnp.where(tv_on, O.EVENT_TV, event)

    # --- observation ------------------------------------------------------------------
    def observe(self, state: GridState, key: jax.Array) -> jax.Array:
        """The egocentric ``view × view × 3`` uint8 image of ``state`` (MiniGrid's view), or
        with ``fully_observable`` the whole ``height × width × 3`` grid (MiniGrid's
        ``FullyObsWrapper``: the agent's cell shows (agent, red, direction))."""
        if self.fully_observable:
            obs = self._full_grid(state)
            return self._tv_noise(obs, state.tv_on, key) if self.noisy_tv else obs
        v = self.view_size
        index = self._flat_index(state.agent_pos) + self._view_offsets[state.agent_dir]
        codes = state.grid[index]
        # MiniGrid shows what the agent carries in its own cell (empty-handed: empty).
        codes = codes.at[v - 1, v // 2].set(state.carrying)
        if not self.see_through_walls:
            visible = self._visibility(self._tables["see_behind"][codes])
            codes = jnp.where(visible, codes, jnp.uint8(O.UNSEEN))
        obs = self._tables["obs"][codes]
        if self.noisy_tv:
            obs = self._tv_noise(obs, state.tv_on, key)
        return obs

    def _full_grid(self, state: GridState) -> jax.Array:
        h, w = self.padded_shape
        p = self.pad
        obs = self._tables["obs"][state.grid.reshape(h, w)[p : h - p, p : w - p]]
        agent = jnp.stack(
            [
                jnp.uint8(O.OBJ["agent"]),
                jnp.uint8(O.COLOUR["red"]),
                state.agent_dir.astype(jnp.uint8),
            ]
        )
        return obs.at[state.agent_pos[0], state.agent_pos[1]].set(agent)

    def _visibility(self, transparent: jax.Array) -> jax.Array:
        """MiniGrid's ``Grid.process_vis`` on the agent-aligned view, as row bitmasks.

        Row by row from the agent's row upwards: light spreads right then left through
        transparent cells, then one row up to the cell above and its two diagonals. Each
        row is one ``int32`` whose bit ``c`` is column ``c``, so a sweep along a row is
        ``view - 1`` shift-and-or steps, and the rows run in a ``lax.scan``: written as
        per-cell scalars (the first version) XLA fused the whole dependency chain into
        the consumer of every view cell and recomputed it per cell, which made the
        occluded observation ~6× slower (docs/performance.md).
        """
        v = self.view_size
        full = (1 << v) - 1
        bits = transparent.astype(jnp.int32)
        rows_transparent = bits[:, 0]
        for c in range(1, v):
            rows_transparent = rows_transparent | (bits[:, c] << c)

        def row(reach, t):
            lit = reach
            for _ in range(v - 1):  # rightwards: column c lights c + 1
                lit = lit | (((lit & t) << 1) & full)
            for _ in range(v - 1):  # then leftwards: column c lights c - 1
                lit = lit | ((lit & t) >> 1)
            through = lit & t
            return (through | (through << 1) | (through >> 1)) & full, lit

        _, rows = jax.lax.scan(
            row, jnp.int32(1 << (v // 2)), rows_transparent, reverse=True, unroll=False
        )
        return ((rows[:, None] >> jnp.arange(v, dtype=jnp.int32)) & 1).astype(bool)

    def _tv_noise(self, obs: jax.Array, tv_on: jax.Array, key: jax.Array) -> jax.Array:
        s = self.tv_size
        high = jnp.asarray([O.NUM_OBJECTS, O.NUM_COLOURS, O.NUM_STATES], jnp.int32)
        noise = (jax.random.randint(key, (s, s, 3), 0, 1 << 16) % high).astype(jnp.uint8)
        patch = jnp.where(tv_on, noise, obs[:s, :s])
        return obs.at[:s, :s].set(patch)

    # --- rendering --------------------------------------------------------------------
    def render(self, state: GridState, tile_size: int = 16, highlight: bool = True) -> np.ndarray:
        """RGB uint8 image of the full grid (MiniGrid-like tiles)."""
        from envs.gridworld.render import render_grid

        h, w = self.padded_shape
        p = self.pad
        grid = np.asarray(state.grid).reshape(h, w)[p : h - p, p : w - p]
        view = None
        if highlight:
            view = np.asarray(
                self._flat_index(state.agent_pos) + self._view_offsets[state.agent_dir]
            )
            rows, cols = view // w - p, view % w - p
            view = (rows, cols)
        return render_grid(grid, np.asarray(state.agent_pos), int(state.agent_dir), tile_size, view)
