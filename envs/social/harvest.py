"""Commons Harvest: Open, Closed and Partnership (Melting Pot; Perolat et al. 2017).

Facts from ``meltingpot/configs/substrates/commons_harvest__{open,closed,partnership}.py``
and ``meltingpot/lua/levels/commons_harvest/components.lua`` (``DensityRegrow``):

* every ``A`` cell starts with an apple; entering it eats the apple for +1 (``Edible``),
  and so does standing on the cell when the apple regrows;
* an eaten apple regrows each step (after the moves; not in the step it was eaten nor the
  next, and with the count at the start of the previous step) with a probability set by
  the number of live apples
  within Euclidean radius 2 (``APPLE_RESPAWN_RADIUS = 2.0``, ``queryDisc``): index
  ``min(count, 3)`` of ``REGROWTH_PROBABILITIES`` — Open ``[0, 0.0025, 0.005, 0.025]``,
  Closed / Partnership ``[0, 0.001, 0.005, 0.025]``; apples may regrow under an agent;
* zapper (``Zapper``): Open beam length 3, radius 1, cooldown 2, zapped agents out for 4
  steps; Closed / Partnership length 4, radius 1, cooldown 1, out for 100 steps (an agent
  misses ``framesTillRespawn + 1`` steps: 5 and 101); no reward or penalty for zapping;
* 7 players; the first two spawn at the inside spawn points ``Q``, the others (and every
  respawn) at ``P``; 8 actions;
* episodes: from step 1000 on, ended with probability 0.15 at steps 1099, 1199, ...
  (``StochasticIntervalEpisodeEnding``), at most 5000 (``maxEpisodeLengthFrames``).

Partnership's ``I`` tiles punish only the scenario role ``putative_cooperator``
(``rolesToRewards``); in the substrate every role is ``none``, so they are floor here.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from envs.social.base import (
    APPLE,
    EMPTY,
    WALL,
    BeamSpec,
    GridSocialEnv,
    SocialState,
    Symbol,
    check_num_agents,
    named_map,
    parse_map,
)

APPLE_RESPAWN_RADIUS = 2.0
REGROWTH_OPEN = (0.0, 0.0025, 0.005, 0.025)
REGROWTH_CLOSED = (0.0, 0.001, 0.005, 0.025)
REGROWTH_WAIT = 2  # steps from eating an apple to the first step it may regrow

MAP_OPEN = """
WWWWWWWWWWWWWWWWWWWWWWWW
WAAA    A      A    AAAW
WAA    AAA    AAA    AAW
WA    AAAAA  AAAAA    AW
W      AAA    AAA      W
W       A      A       W
W  A                A  W
W AAA  Q        Q  AAA W
WAAAAA            AAAAAW
W AAA              AAA W
W  A                A  W
W                      W
W                      W
W                      W
W  PPPPPPPPPPPPPPPPPP  W
W PPPPPPPPPPPPPPPPPPPP W
WPPPPPPPPPPPPPPPPPPPPPPW
WWWWWWWWWWWWWWWWWWWWWWWW
"""

MAP_CLOSED = """
WWWWWWWWWWWWWWWWWWWWWWWW
WAAA    A  WW  A    AAAW
WAA    AAA WW AAA    AAW
WA    AAAAAWWAAAAA    AW
W      AAA WW AAA      W
W       A  WW  A       W
W  A       WW       A  W
W AAA  Q   WW   Q  AAA W
WAAAAA     WW     AAAAAW
W AAA  WWWWWWWWWW  AAA W
W  A       WW       A  W
WWWWWWWWWW WW WWWWWWWWWW
W          WW          W
W  WWWWWWWWWWWWWWWWWW  W
W  PPPPPPPPPPPPPPPPPP  W
W PPPPPPPPPPPPPPPPPPPP W
WPPPPPPPPPPPPPPPPPPPPPPW
WWWWWWWWWWWWWWWWWWWWWWWW
"""

MAP_PARTNERSHIP = """
WWWWWWWWWWWWWWWWWWWWWWWW
WAAA    A  II  A    AAAW
WAA    AAA II AAA    AAW
WA    AAAAAIIAAAAA    AW
W      AAA II AAA      W
W       A  II  A       W
W  A       II       A  W
W AAA  Q   WW   Q  AAA W
WAAAAA     II     AAAAAW
W AAA  WWWWWWWWWW  AAA W
W  A       WW       A  W
WWWWWWWWWW WW WWWWWWWWWW
W          WW          W
W  WWWWWWWWWWWWWWWWWW  W
W  PPPPPPPPPPPPPPPPPP  W
W PPPPPPPPPPPPPPPPPPPP W
WPPPPPPPPPPPPPPPPPPPPPPW
WWWWWWWWWWWWWWWWWWWWWWWW
"""

# A tiny map for tests and quick checks (not a Melting Pot map).
MAP_SMALL = """
WWWWWWWWWW
WAAA  AAAW
WAA Q  AAW
WA     QAW
W PPPPPP W
WWWWWWWWWW
"""

LEGEND = {
    "W": Symbol(WALL),
    " ": Symbol(EMPTY),
    "P": Symbol(EMPTY, spawn_group=0),
    "Q": Symbol(EMPTY, spawn_group=1),
    "A": Symbol(APPLE, apple=True),
    "I": Symbol(EMPTY),  # Partnership's role-based punishment tile: inert for role "none"
}


def disc_offsets(radius: float) -> list[tuple[int, int]]:
    """(dr, dc) within Euclidean ``radius``, centre excluded (``queryDisc``)."""
    r = int(radius)
    return [
        (dr, dc)
        for dr in range(-r, r + 1)
        for dc in range(-r, r + 1)
        if (dr, dc) != (0, 0) and dr * dr + dc * dc <= radius * radius
    ]


class Harvest(GridSocialEnv):
    """Commons Harvest; the variant is set by its map, regrowth table and zapper."""

    actions = 8
    default_end_probability = 0.15
    default_min_steps = 1000
    regrowth_wait = REGROWTH_WAIT

    def __init__(
        self,
        name: str,
        default_map: str,
        regrowth_probabilities: tuple[float, ...],
        zap_length: int,
        zap_cooldown: int,
        zap_timeout: int,
        num_agents: int = 7,
        ascii_map: str = "default",
        episode_length: int | None = None,
    ) -> None:
        check_num_agents(num_agents)
        layout = parse_map(
            named_map(ascii_map, {"default": default_map, "small": MAP_SMALL}), LEGEND
        )
        self.zap = BeamSpec(length=zap_length, radius=1, cooldown=zap_cooldown)
        self.zap_timeout = zap_timeout
        self.regrowth_probabilities = tuple(float(p) for p in regrowth_probabilities)
        inside = 1 if len(layout.spawn_groups) > 1 else 0
        # Melting Pot: the first two player slots start at the inside spawn points.
        groups = tuple(inside if i < 2 else 0 for i in range(num_agents))
        super().__init__(name, layout, num_agents, groups, episode_length)
        apple_flat = np.flatnonzero(layout.apple_cells)
        self._apple_cells = self._pad_index[apple_flat]
        self._neighbour_offsets = np.array(
            [dr * self.padded_width + dc for dr, dc in disc_offsets(APPLE_RESPAWN_RADIUS)],
            np.int32,
        )

    def _collect(self, state: SocialState, present: jax.Array, t: jax.Array):
        return self._eat_apples(state, present, t)

    def apple_neighbours(self, state: SocialState) -> jax.Array:
        """Live apples within radius 2 of every apple cell, int32 [K]."""
        cells = jnp.asarray(self._apple_cells)
        live = state.tiles == APPLE
        return live[cells[:, None] + jnp.asarray(self._neighbour_offsets)].sum(-1)

    def _after_reset(self, state: SocialState) -> SocialState:
        count = self.apple_neighbours(state)
        return state.replace(neighbour_counts=jnp.stack([count, count]))

    def _grow_before(self, state: SocialState, key: jax.Array) -> SocialState:
        # ``DensityRegrow.update`` moves a waiting apple, at the start of every frame, to the
        # wait state of its current neighbour count, and dmlab2d's state updaters act on the
        # states as they were before that frame: the regrowth of step t is drawn with the
        # count at the start of step t - 1 (the end of step t - 2).
        count = self.apple_neighbours(state)
        return state.replace(neighbour_counts=jnp.stack([state.neighbour_counts[1], count]))

    def _grow(self, state: SocialState, key: jax.Array) -> SocialState:
        cells = jnp.asarray(self._apple_cells)
        table = jnp.asarray(self.regrowth_probabilities, jnp.float32)
        count = jnp.minimum(state.neighbour_counts[0], len(self.regrowth_probabilities) - 1)
        # An eaten apple waits in ``appleWait`` for a frame before ``DensityRegrow`` moves it
        # to the state whose updater may regrow it: it cannot regrow in the step it was
        # eaten nor in the next one.
        t = state.step_count + 1
        ready = (state.tiles[cells] == EMPTY) & (t - state.eaten_at[cells] >= REGROWTH_WAIT)
        grows = ready & (jax.random.uniform(key, cells.shape) < table[count])
        tiles = state.tiles.at[jnp.where(grows, cells, self.sink)].set(APPLE)
        return state.replace(tiles=tiles)
