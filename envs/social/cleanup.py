"""Clean Up (Melting Pot ``meltingpot/configs/substrates/clean_up.py``; Hughes et al. 2018).

Facts from the config and ``meltingpot/lua/levels/clean_up/components.lua``:

* apples grow on the orchard cells (``B``, ``T``; none at the start: ``initialState:
  appleWait``); entering one eats it for +1, and so does standing on one when it grows;
* at the start of each step (``AppleGrow`` is a component update, run before the moves)
  an empty orchard cell grows an apple with probability
  ``0.05 · min(1, (f − 0.4) / (0 − 0.4))`` (``AppleGrow``: maxAppleGrowthRate 0.05,
  thresholdDepletion 0.4, thresholdRestoration 0), f = waste cells / river cells that can
  hold waste (``H`` and ``F``; ``RiverMonitor``); no growth once f ≥ 0.4;
* waste: ``F`` cells start polluted, ``H`` cells clean; after step 50
  (``delayStartOfDirtSpawning``), at the start of each step, one clean cell drawn
  uniformly (an agent on it or not) is polluted with probability 0.5 (``DirtSpawner``);
  waste does not block movement (it lies on ``upperPhysical``, the avatars on
  ``superOverlay``);
* cleaning beam (``Cleaner``): length 3, radius 1, cooldown 2; each ray cleans the first
  waste it meets and stops there; walls stop it; it passes through agents;
* zapper (``Zapper``): length 3, radius 1, cooldown 10, ``framesTillRespawn`` 50 (zapped
  agents miss 51 steps), no reward or penalty;
* 7 players spawn at ``P``; 9 actions; episodes: from step 1000 on, ended with
  probability 0.2 at steps 1099, 1199, ..., at most 5000.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from envs.core import compute_where
from envs.social.base import (
    APPLE,
    EMPTY,
    RIVER,
    WALL,
    WASTE,
    BeamSpec,
    GridSocialEnv,
    SocialState,
    Symbol,
    check_num_agents,
    named_map,
    parse_map,
)

MAX_APPLE_GROWTH_RATE = 0.05
THRESHOLD_DEPLETION = 0.4
THRESHOLD_RESTORATION = 0.0
DIRT_SPAWN_PROBABILITY = 0.5
DIRT_SPAWN_DELAY = 50

MAP_CLEANUP = """
WWWWWWWWWWWWWWWWWWWWWWWWWWWWWW
WHFFFHFFHFHFHFHFHFHFHHFHFFFHFW
WHFHFHFFHFHFHFHFHFHFHHFHFFFHFW
WHFFHFFHHFHFHFHFHFHFHHFHFFFHFW
WHFHFHFFHFHFHFHFHFHFHHFHFFFHFW
WHFFFFFFHFHFHFHFHFHFHHFHFFFHFW
W==============+~FHHHHHHf====W
W   P    P      ===+~SSf     W
W     P     P   P  <~Sf  P   W
W             P   P<~S>      W
W   P    P         <~S>   P  W
W               P  <~S>P     W
W     P           P<~S>      W
W           P      <~S> P    W
W  P             P <~S>      W
W^T^T^T^T^T^T^T^T^T;~S,^T^T^TW
WBBBBBBBBBBBBBBBBBBBssBBBBBBBW
WBBBBBBBBBBBBBBBBBBBBBBBBBBBBW
WBBBBBBBBBBBBBBBBBBBBBBBBBBBBW
WBBBBBBBBBBBBBBBBBBBBBBBBBBBBW
WWWWWWWWWWWWWWWWWWWWWWWWWWWWWW
"""

# A tiny map for tests and quick checks (not a Melting Pot map).
MAP_SMALL = """
WWWWWWWWWW
WHFHHFHHFW
WH~~~~~~HW
W P  P  PW
W P    P W
WBBBBBBBBW
WWWWWWWWWW
"""

_SAND = Symbol(EMPTY)
LEGEND = {
    "W": Symbol(WALL),
    "P": Symbol(EMPTY, spawn_group=0),
    "B": Symbol(EMPTY, apple=True),
    "T": Symbol(EMPTY, apple=True),
    "~": Symbol(RIVER),
    "S": Symbol(RIVER),
    "H": Symbol(RIVER, waste=True),
    "F": Symbol(WASTE, waste=True),
    # Sand, grass and their shadow / edge decorations: floor.
    **{ch: _SAND for ch in " s+f;,^=><"},
}


class CleanUp(GridSocialEnv):
    """Clean Up: a public-good game; the river must be cleaned for apples to grow."""

    actions = 9
    default_end_probability = 0.2
    default_min_steps = 1000

    def __init__(
        self,
        name: str = "CleanUp",
        num_agents: int = 7,
        ascii_map: str = "default",
        episode_length: int | None = None,
        zap_timeout: int = 50,
        zap_cooldown: int = 10,
        clean_cooldown: int = 2,
        beam_length: int = 3,
        max_apple_growth_rate: float = MAX_APPLE_GROWTH_RATE,
        threshold_depletion: float = THRESHOLD_DEPLETION,
        threshold_restoration: float = THRESHOLD_RESTORATION,
        dirt_spawn_probability: float = DIRT_SPAWN_PROBABILITY,
        dirt_spawn_delay: int = DIRT_SPAWN_DELAY,
    ) -> None:
        check_num_agents(num_agents)
        layout = parse_map(
            named_map(ascii_map, {"default": MAP_CLEANUP, "small": MAP_SMALL}), LEGEND
        )
        if not layout.waste_cells.any():
            raise ValueError("ascii_map: a Clean Up map needs river cells that hold waste (H or F)")
        self.zap = BeamSpec(length=beam_length, radius=1, cooldown=zap_cooldown)
        self.clean = BeamSpec(length=beam_length, radius=1, cooldown=clean_cooldown)
        self.zap_timeout = zap_timeout
        self.max_apple_growth_rate = max_apple_growth_rate
        self.threshold_depletion = threshold_depletion
        self.threshold_restoration = threshold_restoration
        self.dirt_spawn_probability = dirt_spawn_probability
        self.dirt_spawn_delay = dirt_spawn_delay
        super().__init__(name, layout, num_agents, (0,) * num_agents, episode_length)
        self._apple_cells = self._pad_index[np.flatnonzero(layout.apple_cells)]
        self._waste_cells = self._pad_index[np.flatnonzero(layout.waste_cells)]

    def _collect(self, state: SocialState, present: jax.Array, t: jax.Array):
        return self._eat_apples(state, present, t)

    def waste_fraction(self, state: SocialState) -> jax.Array:
        """Share of the river's waste-holding cells that hold waste."""
        return (state.tiles[jnp.asarray(self._waste_cells)] == WASTE).mean()

    def apple_growth_probability(self, waste_fraction: jax.Array) -> jax.Array:
        """``AppleGrow``: linear from the maximum at f = 0 to zero at the depletion threshold."""
        interpolation = (waste_fraction - self.threshold_depletion) / (
            self.threshold_restoration - self.threshold_depletion
        )
        return jnp.maximum(self.max_apple_growth_rate * jnp.minimum(interpolation, 1.0), 0.0)

    def _grow_before(self, state: SocialState, key: jax.Array) -> SocialState:
        # ``AppleGrow`` and ``DirtSpawner`` are component updates: they run at the start of
        # a frame, before the avatars move.
        k_apple, k_spawn, k_pick = jax.random.split(key, 3)
        apples = jnp.asarray(self._apple_cells)
        probability = self.apple_growth_probability(self.waste_fraction(state))
        # A draw below probability 0 never succeeds, and most of the time the river is
        # too polluted for growth: under vmap only the envs where apples can grow draw.
        grows = (state.tiles[apples] == EMPTY) & compute_where(
            probability > 0,
            lambda k, p: jax.random.uniform(k, apples.shape) < p,
            jnp.zeros(apples.shape, bool),
            k_apple,
            probability,
        )
        tiles = state.tiles.at[jnp.where(grows, apples, self.sink)].set(APPLE)
        # One clean river cell, drawn uniformly (an agent standing on it or not: waste lies
        # below the avatars' layer), is polluted with probability p.
        river = jnp.asarray(self._waste_cells)
        clean = tiles[river] == RIVER
        started = state.step_count + 1 > self.dirt_spawn_delay
        spawn = started & (jax.random.uniform(k_spawn) < self.dirt_spawn_probability) & clean.any()
        # The cell drawn matters only where waste spawns: only those envs draw it. Clean
        # cells rank first (noise + 1).
        pick = compute_where(
            spawn,
            # The cells are built inside: a closure must not capture a traced array.
            lambda k, c: jnp.asarray(self._waste_cells)[
                jnp.argmax(jax.random.uniform(k, c.shape) + c)
            ],
            river[0],
            k_pick,
            clean,
        )
        tiles = tiles.at[jnp.where(spawn, pick, self.sink)].set(WASTE)
        return state.replace(tiles=tiles)
