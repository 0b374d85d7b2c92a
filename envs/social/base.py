"""The multi-agent base class and the shared gridworld engine of the social dilemmas.

Contract (also in :mod:`envs.core`'s docstring): the single-agent functions with a leading
agent axis ``N``::

    obs, state = env.reset(key, params)                      # obs uint8 [N, 11, 11, 4]
    obs, state, reward, terminated, truncated, info = env.step(key, state, action, params)
    # action int32 [N], reward float32 [N], terminated / truncated bool [] (whole episode)

Auto-reset is :meth:`envs.core.Environment.step`'s (generic over pytrees, so it serves
``[N, ...]`` observations unchanged). ``info`` always holds ``final_observation``
``[N, 11, 11, 4]``, ``event`` int32 ``[N]`` (caption table :attr:`SocialEnv.captions`,
``env.caption(code, agent)`` → "Agent 3 eats an apple."), ``success`` bool ``[]`` (always
False: these games have no goal), ``social`` (the episode-so-far outcome metrics of
:func:`envs.social.metrics.social_outcomes`, per-agent counters ``[N]`` and the Perolat
et al. 2017 scalars; at a step with ``terminated | truncated`` they describe the finished
episode) and ``privileged`` (positions, orientations, tagged-out timers, apple / waste /
coin counts; for analysis only, never for agents).

The engine below implements what the three substrates share in Melting Pot
(``meltingpot/lua/modules/avatar_library.lua``): avatars with an orientation, Melting
Pot's action set (0 no-op, 1 forward, 2 backward, 3 step left, 4 step right, 5 turn left,
6 turn right, 7 fire zap, 8 fire clean), the 11×11 egocentric window (9 ahead, 1 behind,
5 to each side), beams of length L and radius R that stop at walls (``Zapper``,
``Cleaner``), removal of zapped avatars for ``framesTillRespawn + 1`` steps and respawn at
a random free spawn point, collection of what lies under a present avatar, and
``StochasticIntervalEpisodeEnding``. ``tests/conformance/test_meltingpot.py`` checks these
against Melting Pot's own substrates run by ``dmlab2d``. Everything is stacked
over agents and vectorised: one gather per observation, one scatter per agent layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.core import Environment, EnvParams, Info, compute_where
from envs.social.metrics import SocialCounters, social_outcomes
from envs.spaces import Box, Discrete

# Object codes of observation channel 0 (shared by every social env).
EMPTY, WALL, APPLE, RIVER, WASTE, COIN_0, COIN_1 = range(7)
OBJECT_NAMES = ("empty", "wall", "apple", "river", "waste", "coin of agent 0", "coin of agent 1")

NOOP, FORWARD, BACKWARD, STEP_LEFT, STEP_RIGHT, TURN_LEFT, TURN_RIGHT, FIRE_ZAP, FIRE_CLEAN = range(
    9
)
ACTION_NAMES = (
    "noop",
    "forward",
    "backward",
    "step_left",
    "step_right",
    "turn_left",
    "turn_right",
    "fire_zap",
    "fire_clean",
)
# Orientation 0 N, 1 E, 2 S, 3 W as (row, col) steps (Melting Pot's _COMPASS order).
DIR_STEPS = np.array([(-1, 0), (0, 1), (1, 0), (0, -1)], np.int32)
# Move actions 1..4 → direction relative to the facing (forward, backward, left, right).
_MOVE_REL = np.array([0, 0, 2, 3, 1, 0, 0, 0, 0], np.int32)

VIEW_AHEAD, VIEW_BEHIND, VIEW_SIDE = 9, 1, 5
VIEW_ROWS, VIEW_COLS = VIEW_AHEAD + 1 + VIEW_BEHIND, 2 * VIEW_SIDE + 1
OBS_CHANNELS = 4  # object, agent id + 1, agent orientation relative to the viewer + 1, self
PAD = VIEW_AHEAD  # walls around the map so every view and beam is an unchecked gather

# Events (one code per agent per step; the most salient wins, in this order).
EV_NONE, EV_ZAPPED, EV_EAT, EV_COIN_OWN, EV_COIN_OTHER, EV_CLEAN, EV_ZAP, EV_RESPAWN = range(8)
CAPTIONS = (
    "",
    "Agent {agent} is zapped.",
    "Agent {agent} eats an apple.",
    "Agent {agent} picks up a coin of its own colour.",
    "Agent {agent} picks up a coin of the other agent's colour.",
    "Agent {agent} cleans the river.",
    "Agent {agent} zaps another agent.",
    "Agent {agent} respawns.",
)


@dataclass(frozen=True)
class BeamSpec:
    """A Melting Pot beam (``Zapper`` / ``Cleaner`` kwargs)."""

    length: int
    radius: int
    cooldown: int


@dataclass(frozen=True)
class MapLayout:
    """A parsed ASCII map: static numpy arrays, baked into the compiled step as constants."""

    tiles: np.ndarray  # uint8 [H, W] initial object codes
    spawn_groups: tuple[np.ndarray, ...]  # flat (unpadded) indices of each group's cells
    apple_cells: np.ndarray  # bool [H, W] cells where apples can grow
    waste_cells: np.ndarray  # bool [H, W] river cells where waste can appear
    coin_cells: np.ndarray  # bool [H, W] cells where coins can appear

    @property
    def height(self) -> int:
        return self.tiles.shape[0]

    @property
    def width(self) -> int:
        return self.tiles.shape[1]


@dataclass(frozen=True)
class Symbol:
    """What one ASCII character of a map stands for."""

    tile: int = EMPTY
    spawn_group: int | None = None
    apple: bool = False  # an apple can grow here
    waste: bool = False  # waste can appear here (river)
    coin: bool = False  # a coin can appear here


def parse_map(
    ascii_map: str, legend: dict[str, Symbol], field_name: str = "ascii_map"
) -> MapLayout:
    """Parse an ASCII map; ``ValueError`` naming ``field_name`` for a bad one."""
    rows = [row for row in ascii_map.strip("\n").split("\n")]
    if not rows or not rows[0]:
        raise ValueError(f"{field_name}: the map is empty")
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise ValueError(f"{field_name}: the map is not rectangular (row lengths {sorted(widths)})")
    unknown = sorted({ch for row in rows for ch in row} - set(legend))
    if unknown:
        raise ValueError(
            f"{field_name}: unknown map symbol(s) {unknown}; known: {''.join(sorted(legend))!r}"
        )
    height, width = len(rows), len(rows[0])
    tiles = np.zeros((height, width), np.uint8)
    apple = np.zeros((height, width), bool)
    waste = np.zeros((height, width), bool)
    coin = np.zeros((height, width), bool)
    groups: dict[int, list[int]] = {}
    for r, row in enumerate(rows):
        for c, ch in enumerate(row):
            sym = legend[ch]
            tiles[r, c] = sym.tile
            apple[r, c], waste[r, c], coin[r, c] = sym.apple, sym.waste, sym.coin
            if sym.spawn_group is not None:
                groups.setdefault(sym.spawn_group, []).append(r * width + c)
    num_groups = max(groups, default=-1) + 1
    spawn_groups = tuple(np.array(groups.get(g, []), np.int32) for g in range(num_groups))
    return MapLayout(tiles, spawn_groups, apple, waste, coin)


@struct.dataclass
class SocialParams(EnvParams):
    """Traced parameters: Melting Pot's ``StochasticIntervalEpisodeEnding`` and the cap.

    From step ``min_steps`` on, at every step t with t + 1 a multiple of ``interval``
    (Melting Pot's frame counter runs one ahead) the episode ends with probability
    ``end_probability``; it always ends at ``max_steps_in_episode``
    (``maxEpisodeLengthFrames``). ``end_probability=0`` gives a fixed length.
    """

    max_steps_in_episode: int = 5000
    min_steps: int = 1000
    interval: int = 100
    end_probability: float = 0.15


@struct.dataclass
class SocialState:
    """Everything that changes during an episode (agent axis first)."""

    tiles: jax.Array  # uint8 [(H+2P)*(W+2P)+2] padded flat map, then the sink and the void
    pos: jax.Array  # int32 [N, 2] (row, col), unpadded; meaningless while removed
    orient: jax.Array  # int32 [N] 0 N, 1 E, 2 S, 3 W
    removed: jax.Array  # int32 [N] steps left out of the game after a zap (0 = present)
    zap_cooldown: jax.Array  # int32 [N]
    clean_cooldown: jax.Array  # int32 [N]
    step_count: jax.Array  # int32
    counters: SocialCounters  # per-episode social counters
    aux: jax.Array  # int32 [2] per-episode values of a substrate (Coins: map height, width)
    # int32, per padded cell: the step an apple there was last eaten (Harvest's regrowth
    # wait); a one-cell dummy in substrates without that rule.
    eaten_at: jax.Array
    # int32 [2, K]: Harvest's live-neighbour counts of its apple cells at the start of the
    # previous step (row 0) and of this step (row 1); [2, 1] dummy elsewhere.
    neighbour_counts: jax.Array


class SocialEnv(Environment):
    """Base of every social env: a leading agent axis, auto-reset from ``Environment``.

    Subclasses set :attr:`num_agents` and implement ``reset_env`` / ``step_env`` with
    ``[N, ...]`` arrays; ``step`` (auto-reset, ``final_observation``) is inherited.
    """

    num_agents: int = 2

    @property
    def agent_ids(self) -> tuple[str, ...]:
        """PettingZoo names of the agents, in axis order."""
        return tuple(f"player_{i}" for i in range(self.num_agents))

    @property
    def captions(self) -> tuple[str, ...]:
        return CAPTIONS

    def caption(self, event: int, agent: int | None = None) -> str:
        """Text of an event code; ``agent`` fills in who ("Agent 3 eats an apple.")."""
        text = CAPTIONS[int(event)]
        return text.format(agent="?" if agent is None else int(agent))

    def describe_events(self, events: Any) -> list[str]:
        """Captions of one step's ``info["event"]`` (``[N]``), skipping agents with none."""
        return [self.caption(e, i) for i, e in enumerate(np.asarray(events)) if e != EV_NONE]


class GridSocialEnv(SocialEnv):
    """The shared engine: movement, views, beams, removal/respawn, episode ending.

    Subclasses give a :class:`MapLayout`, the per-agent spawn group, the beams and the
    substrate's rules via :meth:`_collect` (eating, picking up), :meth:`_grow_before` and :meth:`_grow`
    (regrowth, pollution).
    """

    zap: BeamSpec | None = None
    clean: BeamSpec | None = None
    zap_timeout: int = 0  # framesTillRespawn
    actions: int = 8
    default_end_probability: float = 0.15
    default_min_steps: int = 1000
    # Steps from collecting an apple or coin to the first step its cell may regrow (0: no
    # record kept). Melting Pot's state updaters skip an object that changed state in the
    # same frame; Harvest's apples pass through one more wait state.
    regrowth_wait: int = 0

    def __init__(
        self,
        name: str,
        layout: MapLayout,
        num_agents: int,
        agent_spawn_group: tuple[int, ...],
        episode_length: int | None = None,
    ) -> None:
        self._name = name
        self.num_agents = num_agents
        self.layout = layout
        self.agent_spawn_group = agent_spawn_group
        self.episode_length = episode_length
        h, w = layout.height, layout.width
        self.padded_width = w + 2 * PAD
        self.padded_size = (h + 2 * PAD) * self.padded_width
        padded = np.full((h + 2 * PAD, self.padded_width), WALL, np.uint8)
        padded[PAD : PAD + h, PAD : PAD + w] = layout.tiles
        # Two extra cells at the end: the sink, where masked scatters write (never read),
        # and the void, an always-empty cell a removed agent's view points at.
        self._initial_tiles = np.concatenate([padded.ravel(), np.array([WALL, EMPTY], np.uint8)])
        self.sink = self.padded_size
        self.void = self.padded_size + 1
        self._pad_index = self._padded_flat_index(np.arange(h * w))  # unpadded → padded flat
        self._spawn_padded = tuple(self._pad_index[g] for g in layout.spawn_groups)
        self._view_offsets = self._build_view_offsets()
        self._beam_offsets = {
            kind: self._build_beam_offsets(spec)
            for kind, spec in (("zap", self.zap), ("clean", self.clean))
            if spec is not None
        }
        if self.zap_timeout and (not layout.spawn_groups or not len(layout.spawn_groups[0])):
            raise ValueError(
                "ascii_map: no ordinary spawn point (P) for zapped agents to respawn at"
            )
        for g in set(agent_spawn_group):
            if g >= len(layout.spawn_groups) or len(layout.spawn_groups[g]) < sum(
                1 for a in agent_spawn_group if a == g
            ):
                raise ValueError(
                    f"ascii_map: not enough spawn points for num_agents={num_agents} "
                    f"(spawn group {g})"
                )

    # ----- static geometry -------------------------------------------------------------
    def _padded_flat_index(self, flat: np.ndarray) -> np.ndarray:
        rows, cols = np.divmod(flat, self.layout.width)
        return ((rows + PAD) * self.padded_width + cols + PAD).astype(np.int32)

    def _build_view_offsets(self) -> np.ndarray:
        """Flat offsets [4, 11*11] of the egocentric window for each orientation."""
        offsets = np.zeros((4, VIEW_ROWS * VIEW_COLS), np.int32)
        for o in range(4):
            fwd, right = DIR_STEPS[o], DIR_STEPS[(o + 1) % 4]
            for r in range(VIEW_ROWS):
                for c in range(VIEW_COLS):
                    dr, dc = (VIEW_AHEAD - r) * fwd + (c - VIEW_SIDE) * right
                    offsets[o, r * VIEW_COLS + c] = dr * self.padded_width + dc
        return offsets

    def _build_beam_offsets(self, spec: BeamSpec) -> np.ndarray:
        """Flat offsets [4, rays, length] of a beam, each ray in the order it travels.

        Melting Pot (``Zapper:getWhoZappable``) sends a forward ray of length L from each
        lateral offset x ∈ [−R, R] (length L − |x|) plus sideways rays of length R. Here a
        lateral ray starts at its side cell and then goes forward, so a wall beside the
        agent blocks that whole side ray. Unused slots of shorter rays repeat the ray's
        last cell, which leaves the hit set unchanged.
        """
        rays = []
        for x in range(-spec.radius, spec.radius + 1):
            if x == 0:
                cells = [(d, 0) for d in range(1, spec.length + 1)]
            else:
                side = np.sign(x)
                cells = [(0, side * s) for s in range(1, abs(x) + 1)]
                cells += [(d, x) for d in range(1, spec.length - abs(x) + 1)]
            rays.append(cells)
        longest = max(len(r) for r in rays)
        offsets = np.zeros((4, len(rays), longest), np.int32)
        for o in range(4):
            fwd, right = DIR_STEPS[o], DIR_STEPS[(o + 1) % 4]
            for i, cells in enumerate(rays):
                cells = cells + [cells[-1]] * (longest - len(cells))
                for k, (ahead, lateral) in enumerate(cells):
                    dr, dc = ahead * fwd + lateral * right
                    offsets[o, i, k] = dr * self.padded_width + dc
        return offsets

    # ----- Environment API ---------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def default_params(self) -> SocialParams:
        if self.episode_length is not None:
            return SocialParams(
                max_steps_in_episode=self.episode_length,
                min_steps=self.episode_length,
                end_probability=0.0,
            )
        return SocialParams(
            min_steps=self.default_min_steps, end_probability=self.default_end_probability
        )

    def observation_space(self, params: EnvParams | None = None) -> Box:
        """Space of ONE agent's observation; ``obs`` stacks N of them."""
        return Box(0, 255, (VIEW_ROWS, VIEW_COLS, OBS_CHANNELS), jnp.uint8)

    def action_space(self, params: EnvParams | None = None) -> Discrete:
        """Space of ONE agent's action; ``action`` stacks N of them."""
        return Discrete(self.actions)

    def reset_env(self, key: jax.Array, params: SocialParams) -> tuple[jax.Array, SocialState]:
        key_spawn, key_orient = jax.random.split(key)
        n = self.num_agents
        tiles = jnp.asarray(self._initial_tiles)
        flat = jnp.zeros((n,), jnp.int32)
        for g, cells in enumerate(self._spawn_padded):
            members = np.array([i for i in range(n) if self.agent_spawn_group[i] == g], np.int32)
            if len(members) == 0:
                continue
            noise = jax.random.uniform(jax.random.fold_in(key_spawn, g), (len(cells),))
            _, order = jax.lax.top_k(noise, len(members))  # distinct random spawn points
            flat = flat.at[members].set(jnp.asarray(cells)[order])
        state = SocialState(
            tiles=tiles,
            pos=self._rowcol(flat),
            orient=jax.random.randint(key_orient, (n,), 0, 4),
            removed=jnp.zeros((n,), jnp.int32),
            zap_cooldown=jnp.zeros((n,), jnp.int32),
            clean_cooldown=jnp.zeros((n,), jnp.int32),
            step_count=jnp.zeros((), jnp.int32),
            counters=SocialCounters.zeros(n),
            aux=jnp.zeros((2,), jnp.int32),
            eaten_at=self._initial_eaten_at(),
            neighbour_counts=jnp.zeros((2, 1), jnp.int32),
        )
        state = self._after_reset(state)
        return self.observe(state), state

    def _flat(self, pos: jax.Array) -> jax.Array:
        return (pos[..., 0] + PAD) * self.padded_width + pos[..., 1] + PAD

    def _rowcol(self, flat: jax.Array) -> jax.Array:
        r, c = jnp.divmod(flat, self.padded_width)
        return jnp.stack([r - PAD, c - PAD], -1).astype(jnp.int32)

    def _agent_layer(self, state: SocialState, base: jax.Array | None = None) -> jax.Array:
        """Padded flat layer: 0 empty, else ``(agent + 1) << 2 | orientation``.

        With ``base`` (the tiles as int32) the codes are added above its 3 object bits.
        """
        present = state.removed == 0
        where = jnp.where(present, self._flat(state.pos), self.sink)
        code = ((jnp.arange(self.num_agents, dtype=jnp.int32) + 1) << 2) | state.orient
        if base is None:
            return jnp.zeros(self.padded_size + 2, jnp.int32).at[where].set(code)
        return base.at[where].add(code << 3)

    def observe(self, state: SocialState) -> jax.Array:
        """Every agent's symbolic egocentric window, uint8 [N, 11, 11, 4].

        One gather of the map (all N windows) and no map-sized layer: an agent is found in a
        window by comparing the window's cell indices with the N agents' cells (present
        agents stand on distinct cells, so at most one matches). Building an int32 copy of
        the map with the agents scattered onto it, the previous way, cost more than the
        whole gather.
        """
        present = state.removed == 0
        flat = self._flat(state.pos)
        origin = jnp.where(present, flat, self.void)  # removed: see nothing
        idx = origin[:, None] + jnp.where(
            present[:, None], jnp.asarray(self._view_offsets)[state.orient], 0
        )
        tiles = state.tiles[idx]
        agent = ((jnp.arange(self.num_agents, dtype=jnp.int32) + 1) << 2) | state.orient
        here = (idx[:, :, None] == flat[None, None, :]) & present[None, None, :]
        code = jnp.where(here, agent, 0).max(-1)  # (agent + 1) << 2 | orientation, or 0
        rel_orient = jnp.where(code > 0, ((code - state.orient[:, None]) & 3) + 1, 0)
        centre = np.zeros(VIEW_ROWS * VIEW_COLS, np.int32)
        centre[VIEW_AHEAD * VIEW_COLS + VIEW_SIDE] = 1
        ready = (state.zap_cooldown == 0) if self.zap is not None else present
        self_mark = jnp.asarray(centre) * ((1 + ready) * present)[:, None]
        obs = jnp.stack([tiles, code >> 2, rel_orient, self_mark], -1).astype(jnp.uint8)
        return obs.reshape(self.num_agents, VIEW_ROWS, VIEW_COLS, OBS_CHANNELS)

    def step_env(
        self, key: jax.Array, state: SocialState, action: jax.Array, params: SocialParams
    ) -> tuple[jax.Array, SocialState, jax.Array, jax.Array, jax.Array, Info]:
        n = self.num_agents
        k_move, k_respawn, k_grow, k_end, k_orient, k_pre = jax.random.split(key, 6)
        action = jnp.asarray(action, jnp.int32)
        present = state.removed == 0
        # 0. Substrate dynamics that Melting Pot runs as component updates at the start of
        #    a frame, before any updater (Clean Up's apple growth and pollution). What grows
        #    under a present avatar is collected at once (its contact fires on the change).
        state = self._grow_before(state, k_pre)
        state, reward, events = self._collect(state, present, state.step_count + 1)
        # 1. Turn and move (Melting Pot's ``Avatar`` updater, priority 150).
        turn = jnp.where(action == TURN_LEFT, -1, jnp.where(action == TURN_RIGHT, 1, 0))
        orient = jnp.where(present, (state.orient + turn) % 4, state.orient)
        moving = present & (action >= FORWARD) & (action <= STEP_RIGHT)
        direction = (orient + jnp.asarray(_MOVE_REL)[action]) % 4
        target = state.pos + jnp.asarray(DIR_STEPS)[direction]
        target_flat = self._flat(target)
        target_tile = state.tiles[target_flat]
        # Only walls block: Melting Pot's waste lies below the avatars' layer.
        passable = target_tile != WALL
        cur_flat = jnp.where(present, self._flat(state.pos), -1)
        # A move fails into a cell held by any present agent at the start of the step, and
        # among agents stepping into the same cell a random one wins.
        held = (target_flat[:, None] == cur_flat[None, :]).any(1)
        want = moving & passable & ~held
        priority = jax.random.uniform(k_move, (n,))
        same = (target_flat[:, None] == target_flat[None, :]) & want[None, :]
        beaten = (same & (priority[None, :] > priority[:, None])).any(1)
        moved = want & ~beaten
        pos = jnp.where(moved[:, None], target, state.pos)
        state = state.replace(pos=pos, orient=orient)
        # 2. Entering a cell collects what lies there (eat an apple, pick up a coin).
        state, entered, entered_events = self._collect(state, present, state.step_count + 1)
        reward = reward + entered
        events = jnp.where(entered_events != EV_NONE, entered_events, events)
        counters = state.counters
        # 3. Beams (priority 140): zap first, then clean, from the new positions.
        zapped = jnp.zeros((n,), bool)
        if self.zap is not None:
            fire, zap_cooldown = _cool(state.zap_cooldown, present, action == FIRE_ZAP, self.zap)
            hit_matrix = self._zap_hits(state, fire & present)  # [firer, target]
            zapped = hit_matrix.any(0)
            counters = counters.replace(
                zaps_given=counters.zaps_given + hit_matrix.sum(1),
                zaps_received=counters.zaps_received + zapped,
            )
            events = jnp.where(hit_matrix.any(1) & (events == EV_NONE), EV_ZAP, events)
            state = state.replace(zap_cooldown=zap_cooldown)
        if self.clean is not None:
            fire, clean_cooldown = _cool(
                state.clean_cooldown, present, action == FIRE_CLEAN, self.clean
            )
            state, cleaned = self._clean_hits(state, fire & present)
            counters = counters.replace(waste_cleaned=counters.waste_cleaned + cleaned)
            events = jnp.where((cleaned > 0) & (events == EV_NONE), EV_CLEAN, events)
            state = state.replace(clean_cooldown=clean_cooldown)
        # 4. Removal and respawn (priority 135). Melting Pot's respawn updater starts
        #    ``framesTillRespawn`` frames after the one that follows the zap, so a zapped
        #    avatar misses ``framesTillRespawn + 1`` observations.
        was_out = state.removed > 0
        removed = jnp.where(was_out, state.removed - 1, 0)
        respawn = was_out & (removed == 0)
        removed = jnp.where(zapped, self.zap_timeout + 1, removed)
        state = state.replace(removed=removed)
        state = self._respawn(state, respawn, k_respawn, k_orient)
        events = jnp.where(respawn & (events == EV_NONE), EV_RESPAWN, events)
        events = jnp.where(zapped, EV_ZAPPED, events)
        # 5. Substrate dynamics run as updaters after the moves (Harvest's regrowth,
        #    Coins' regrowth); again, what appears under a present avatar is collected.
        state = self._grow(state, k_grow)
        state, grown, grown_events = self._collect(state, state.removed == 0, state.step_count + 1)
        reward = reward + grown
        events = jnp.where((grown_events != EV_NONE) & (events == EV_NONE), grown_events, events)
        # 6. Episode ending (``StochasticIntervalEpisodeEnding``) and the counters. Its
        #    frame counter runs one ahead of the step count, so checks fall on steps t
        #    with (t + 1) a multiple of the interval, from the minimum on: 1099, 1199, ...
        t = state.step_count + 1
        at_check = (t >= params.min_steps) & ((t + 1) % params.interval == 0)
        ended = at_check & (jax.random.uniform(k_end) < params.end_probability)
        truncated = ended | (t >= params.max_steps_in_episode)
        counters = counters.record(reward, state.removed > 0, t)
        state = state.replace(step_count=t, counters=counters)
        info: Info = {
            "event": events.astype(jnp.int32),
            "success": jnp.zeros((), bool),
            "social": social_outcomes(counters, t),
            "privileged": self.privileged(state),
        }
        terminated = jnp.zeros((), bool)
        return self.observe(state), state, reward, terminated, truncated, info

    # ----- pieces ------------------------------------------------------------------------
    def _beam_cells(self, state: SocialState, kind: str) -> jax.Array:
        offsets = jnp.asarray(self._beam_offsets[kind])[state.orient]  # [N, rays, L]
        return self._flat(state.pos)[:, None, None] + offsets

    def _zap_hits(self, state: SocialState, fire: jax.Array) -> jax.Array:
        """bool [N firer, N target]: rays stop at walls and at the first agent they hit."""
        cells = self._beam_cells(state, "zap")
        open_ = jnp.cumprod(state.tiles[cells] != WALL, axis=-1).astype(bool)
        code = self._agent_layer(state)[cells]
        occupied = (code > 0) & open_
        first = occupied & (jnp.cumsum(occupied, axis=-1) == 1)
        target = jnp.where(first, (code >> 2) - 1, -1)  # [N, rays, L]
        hits = (target[..., None] == jnp.arange(self.num_agents)).any((1, 2))
        return hits & fire[:, None]

    def _clean_hits(self, state: SocialState, fire: jax.Array) -> tuple[SocialState, jax.Array]:
        """Cleaning rays stop at walls and at the first waste they clean."""
        cells = self._beam_cells(state, "clean")
        tiles = state.tiles[cells]
        open_ = jnp.cumprod(tiles != WALL, axis=-1).astype(bool)
        waste = (tiles == WASTE) & open_
        first = waste & (jnp.cumsum(waste, axis=-1) == 1) & fire[:, None, None]
        target = jnp.where(first, cells, self.sink)
        new_tiles = state.tiles.at[target.ravel()].set(RIVER)
        return state.replace(tiles=new_tiles), first.sum((1, 2)).astype(jnp.int32)

    def _respawn(
        self, state: SocialState, respawn: jax.Array, key: jax.Array, key_orient: jax.Array
    ) -> SocialState:
        """Put each respawning agent on a distinct random free spawn point of its group."""
        if not self.zap_timeout:
            return state
        # Few envs have an agent respawning at a given step: under vmap only those run the
        # draw below (the others keep their positions, as the select gave them).
        pos, orient = compute_where(
            respawn.any(),
            self._respawn_draw,
            (state.pos, state.orient),
            state,
            respawn,
            key,
            key_orient,
        )
        return state.replace(pos=pos, orient=orient)

    def _respawn_draw(
        self, state: SocialState, respawn: jax.Array, key: jax.Array, key_orient: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """New ``(pos, orient)`` of every agent: respawning ones placed, the others kept."""
        # Respawning agents are not on the map yet: their stale positions hold nobody.
        layer = self._agent_layer(state.replace(removed=jnp.where(respawn, 1, state.removed)))
        cells = jnp.asarray(self._respawn_cells)
        free = layer[cells] == 0
        noise = jax.random.uniform(key, (len(self._respawn_cells),)) + free  # free first
        k = min(self.num_agents, len(self._respawn_cells))
        _, order = jax.lax.top_k(noise, k)
        rank = jnp.cumsum(respawn) - 1
        chosen = cells[order[jnp.clip(rank, 0, k - 1)]]
        pos = jnp.where(respawn[:, None], self._rowcol(chosen), state.pos)
        orient = jnp.where(
            respawn, jax.random.randint(key_orient, respawn.shape, 0, 4), state.orient
        )
        return pos, orient

    @property
    def _respawn_cells(self) -> np.ndarray:
        # Melting Pot's ``postInitialSpawnGroup`` is the ordinary spawn group (group 0).
        return self._spawn_padded[0]

    def privileged(self, state: SocialState) -> dict[str, jax.Array]:
        """Facts for analysis only (agents never read them)."""
        inside = state.tiles[jnp.asarray(self._pad_index)]
        return {
            "position": state.pos,
            "orientation": state.orient,
            "removed": state.removed,
            "apples": (inside == APPLE).sum().astype(jnp.int32),
            "waste": (inside == WASTE).sum().astype(jnp.int32),
            "coins": ((inside == COIN_0) | (inside == COIN_1)).sum().astype(jnp.int32),
        }

    def _map_view(self, state: SocialState) -> jax.Array:
        """The unpadded map, uint8 [H, W]."""
        return state.tiles[jnp.asarray(self._pad_index)].reshape(
            self.layout.height, self.layout.width
        )

    def _collect(
        self, state: SocialState, present: jax.Array, t: jax.Array
    ) -> tuple[SocialState, jax.Array, jax.Array]:
        """Present agents collect what lies on their cell; (state, reward [N], events [N]).

        Called after every phase that can put something under an avatar: entering a cell
        and an apple or coin appearing under a standing avatar both collect it, as
        Melting Pot's contact callbacks (``Edible.onEnter``, ``Coin.onEnter``) do.
        """
        raise NotImplementedError

    def _eat_apples(
        self, state: SocialState, present: jax.Array, t: jax.Array
    ) -> tuple[SocialState, jax.Array, jax.Array]:
        """Melting Pot's ``Edible.onEnter``: an apple on a present agent's cell is eaten (+1)."""
        cell = self._flat(state.pos)
        eats = present & (state.tiles[cell] == APPLE)
        where = jnp.where(eats, cell, self.sink)
        tiles = state.tiles.at[where].set(EMPTY)
        eaten_at = state.eaten_at
        if self.regrowth_wait:  # substrates with a regrowth wait record the step
            eaten_at = eaten_at.at[where].set(t)
        counters = state.counters.replace(apples_eaten=state.counters.apples_eaten + eats)
        events = jnp.where(eats, EV_EAT, EV_NONE)
        state = state.replace(tiles=tiles, counters=counters, eaten_at=eaten_at)
        return state, eats.astype(jnp.float32), events

    def _after_reset(self, state: SocialState) -> SocialState:
        """Substrate-specific additions to a fresh state."""
        return state

    def _grow_before(self, state: SocialState, key: jax.Array) -> SocialState:
        """Substrate dynamics at the start of a step (before the moves)."""
        return state

    def _grow(self, state: SocialState, key: jax.Array) -> SocialState:
        """Substrate dynamics after the moves, beams and respawns."""
        return state

    def _initial_eaten_at(self) -> jax.Array:
        if not self.regrowth_wait:
            return jnp.full((1,), -1, jnp.int32)  # unused
        return jnp.full((self.padded_size + 2,), -self.regrowth_wait, jnp.int32)

    def render(self, state: SocialState, cell: int = 8) -> np.ndarray:
        """RGB frame of the whole map (uint8 [H·cell, W·cell, 3]) for pictures and GIFs."""
        from envs.social.render import render_frame

        return render_frame(self, state, cell)


def _cool(
    cooldown: jax.Array, present: jax.Array, want: jax.Array, spec: BeamSpec
) -> tuple[jax.Array, jax.Array]:
    """Melting Pot's beam timer (``Zapper``/``Cleaner`` updaters, present agents only):
    while cooling, count down and do not fire; when ready, firing resets it to the
    cooldown, so shots are at least ``cooldown + 1`` steps apart."""
    cooling = cooldown > 0
    fire = present & want & ~cooling
    new = jnp.where(cooling, cooldown - 1, jnp.where(fire, spec.cooldown, 0))
    return fire, jnp.where(present, new, cooldown)


def named_map(ascii_map: str, named: dict[str, str]) -> str:
    """The map text of ``ascii_map``: a name from ``named`` or an ASCII map itself."""
    if ascii_map in named:
        return named[ascii_map]
    if "\n" not in ascii_map.strip("\n"):
        from envs.names import did_you_mean

        raise ValueError(
            f"ascii_map: unknown named map {ascii_map!r}."
            + did_you_mean(ascii_map, named)
            + f" Known: {', '.join(named)} (or pass an ASCII map of several rows)"
        )
    return ascii_map


def check_num_agents(num_agents: int, minimum: int = 2, exactly: int | None = None) -> None:
    """``ValueError`` naming ``num_agents`` for a count the substrate does not allow."""
    if exactly is not None and num_agents != exactly:
        raise ValueError(
            f"num_agents: this substrate needs exactly {exactly} agents, got {num_agents}"
        )
    if num_agents < minimum:
        raise ValueError(f"num_agents: at least {minimum} agents are needed, got {num_agents}")


__all__ = [
    "ACTION_NAMES",
    "BeamSpec",
    "GridSocialEnv",
    "MapLayout",
    "SocialEnv",
    "SocialParams",
    "SocialState",
    "Symbol",
    "check_num_agents",
    "named_map",
    "parse_map",
]
