"""Coins (Melting Pot ``meltingpot/configs/substrates/coins.py``, Lerer & Peysakhovich 2017).

Two agents, each with a colour. Coins of either colour appear on empty cells; entering a
coin picks it up for +1, and picking up the OTHER agent's colour costs that agent −2
(``get_prefabs``: rewardSelfForMatch 1, rewardSelfForMismatch 1, rewardOtherForMatch 0,
rewardOtherForMismatch −2); a coin appearing under a standing agent is picked up at once.
Every coin cell starts empty (``initialState: coinWait``), gets one regrowth draw when the
episode starts (dmlab2d runs the updaters once at the start) and regrows with probability
0.0005 per step, after the moves and not in the step it was picked up, as a coin of a
uniformly random colour (``ChoiceCoinRegrow``). The map is an open room whose interior width and height are
drawn every episode from [10, 15] (``get_ascii_map``), with the two spawn points at
interior (1, w−2) and (h−2, 1). No beams; 7 actions (no zap). Episodes: from step 300
on, ended with probability 0.05 at steps 399, 499, ..., at most 5000.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from envs.social.base import (
    COIN_0,
    COIN_1,
    EMPTY,
    EV_COIN_OTHER,
    EV_COIN_OWN,
    EV_NONE,
    WALL,
    GridSocialEnv,
    MapLayout,
    SocialParams,
    SocialState,
    check_num_agents,
)
from envs.social.metrics import SocialCounters

REGROW_RATE = 0.0005
REWARD_SELF = 1.0
REWARD_OTHER_FOR_MISMATCH = -2.0


class Coins(GridSocialEnv):
    """The two-player Coins game on a room of random size."""

    actions = 7
    default_end_probability = 0.05
    default_min_steps = 300
    regrowth_wait = 1  # a coin picked up in a step regrows at the earliest in the next one

    def __init__(
        self,
        name: str = "Coins",
        num_agents: int = 2,
        min_width: int = 10,
        max_width: int = 15,
        min_height: int = 10,
        max_height: int = 15,
        regrow_rate: float = REGROW_RATE,
        episode_length: int | None = None,
    ) -> None:
        check_num_agents(num_agents, exactly=2)
        for field_name, low, high in (
            ("min_width", min_width, max_width),
            ("min_height", min_height, max_height),
        ):
            if low < 4:
                raise ValueError(f"{field_name}: must be at least 4, got {low}")
            if low > high:
                raise ValueError(f"{field_name}: {low} is larger than its maximum {high}")
        if not 0.0 <= regrow_rate <= 1.0:
            raise ValueError(f"regrow_rate: must lie in [0, 1], got {regrow_rate}")
        self.size_range = (min_height, max_height, min_width, max_width)
        self.regrow_rate = regrow_rate
        tiles = np.full((max_height + 2, max_width + 2), WALL, np.uint8)
        tiles[1:-1, 1:-1] = EMPTY
        # The largest room's spawn points; each episode places its own (see reset_env).
        spawns = np.array(
            [2 * (max_width + 2) + max_width - 1, (max_height - 1) * (max_width + 2) + 2]
        )
        layout = MapLayout(
            tiles=tiles,
            spawn_groups=(spawns.astype(np.int32),),
            apple_cells=np.zeros_like(tiles, bool),
            waste_cells=np.zeros_like(tiles, bool),
            coin_cells=tiles == EMPTY,
        )
        super().__init__(name, layout, num_agents, (0, 0), episode_length)

    def _room(self, aux: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(inside the room, spawn cell) masks [H, W] of an episode's room size ``aux``."""
        h, w = aux[0], aux[1]
        rows = jnp.arange(self.layout.height)[:, None]
        cols = jnp.arange(self.layout.width)[None, :]
        inside = (rows >= 1) & (rows <= h) & (cols >= 1) & (cols <= w)
        spawn = ((rows == 2) & (cols == w - 1)) | ((rows == h - 1) & (cols == 2))
        return inside, spawn

    def reset_env(self, key: jax.Array, params: SocialParams) -> tuple[jax.Array, SocialState]:
        k_h, k_w, k_order, k_orient, k_grow = jax.random.split(key, 5)
        min_h, max_h, min_w, max_w = self.size_range
        aux = jnp.stack(
            [
                jax.random.randint(k_h, (), min_h, max_h + 1),
                jax.random.randint(k_w, (), min_w, max_w + 1),
            ]
        ).astype(jnp.int32)
        inside, _ = self._room(aux)
        room = jnp.where(inside, EMPTY, WALL).astype(jnp.uint8).ravel()
        tiles = jnp.asarray(self._initial_tiles).at[jnp.asarray(self._pad_index)].set(room)
        h, w = aux[0], aux[1]
        spawn_pos = jnp.stack([jnp.stack([2, w - 1]), jnp.stack([h - 1, 2])]).astype(jnp.int32)
        swap = jax.random.bernoulli(k_order)
        pos = jnp.where(swap, spawn_pos[::-1], spawn_pos)
        state = SocialState(
            tiles=tiles,
            pos=pos,
            orient=jax.random.randint(k_orient, (2,), 0, 4),
            removed=jnp.zeros((2,), jnp.int32),
            zap_cooldown=jnp.zeros((2,), jnp.int32),
            clean_cooldown=jnp.zeros((2,), jnp.int32),
            step_count=jnp.zeros((), jnp.int32),
            counters=SocialCounters.zeros(2),
            aux=aux,
            eaten_at=self._initial_eaten_at(),
            neighbour_counts=jnp.zeros((2, 1), jnp.int32),
        )
        # dmlab2d runs one round of updaters when an episode starts, so ``ChoiceCoinRegrow``
        # has had one chance per cell to place a coin before the first observation.
        state = self._grow(state, k_grow)
        return self.observe(state), state

    def _collect(
        self, state: SocialState, present: jax.Array, t: jax.Array
    ) -> tuple[SocialState, jax.Array, jax.Array]:
        cell = self._flat(state.pos)
        tile = state.tiles[cell]
        picked = present & ((tile == COIN_0) | (tile == COIN_1))
        own = picked & (tile == COIN_0 + jnp.arange(2))
        other = picked & ~own
        # The collector gets +1 either way; the owner of a mismatched coin gets −2.
        reward = REWARD_SELF * picked + REWARD_OTHER_FOR_MISMATCH * other[::-1]
        where = jnp.where(picked, cell, self.sink)
        tiles = state.tiles.at[where].set(EMPTY)
        eaten_at = state.eaten_at.at[where].set(t)
        counters = state.counters.replace(
            coins_own=state.counters.coins_own + own,
            coins_other=state.counters.coins_other + other,
        )
        events = jnp.where(own, EV_COIN_OWN, jnp.where(other, EV_COIN_OTHER, EV_NONE))
        state = state.replace(tiles=tiles, counters=counters, eaten_at=eaten_at)
        return state, reward.astype(jnp.float32), events

    def _grow(self, state: SocialState, key: jax.Array) -> SocialState:
        k_grow, k_colour = jax.random.split(key)
        inside, spawn = self._room(state.aux)
        current = self._map_view(state)
        shape = current.shape
        t = state.step_count + 1
        waited = (t - state.eaten_at[jnp.asarray(self._pad_index)]).reshape(shape) >= 1
        grows = (
            inside
            & ~spawn
            & (current == EMPTY)
            & waited
            & (jax.random.uniform(k_grow, shape) < self.regrow_rate)
        )
        colour = jnp.where(jax.random.bernoulli(k_colour, 0.5, shape), COIN_1, COIN_0)
        new = jnp.where(grows, colour, current).astype(jnp.uint8).ravel()
        return state.replace(tiles=state.tiles.at[jnp.asarray(self._pad_index)].set(new))
