"""Scripted cooperator and defector policies, for Schelling diagrams and baselines.

``policy = scripted_policy(env, **options)``; ``actions = policy(key, state, cooperator)``
with ``cooperator`` a bool ``[N]`` mask (True: that agent cooperates). Pure JAX (jit/vmap),
deterministic given the key; the bots read the true state (they are measuring devices, not
learners) and never zap. ``options`` are the substrate's constants below
(:func:`policy_options` lists them with their defaults).

* Harvest: both walk to the nearest apple they may take and eat it; what they may take
  is set by the live apples within radius 2 of it (at most 12), which is also what sets
  the regrowth of its cell once eaten (Melting Pot's ``DensityRegrow``: none with 0 live
  neighbours, the top rate, 0.025 per step on Open, only with ≥ 3). A cooperator takes only
  apples with at least ``keep`` (default ``HARVEST_KEEP`` = 4) neighbours, so every cell it
  empties keeps ≥ 3 and regrows at the top rate; since entering an apple's cell eats it, a
  cooperator never steps onto an apple it spares (those moves count as blocked, and a
  random move onto one becomes a no-op; ``walk_around`` = 0 lets it, and the restraint
  leaks). A defector takes any apple with at least ``take``
  (default ``HARVEST_TAKE`` = 2) neighbours: it over-harvests patches below the top
  regrowth tier (their empty cells regrow 5× slower or not at all) and free-rides on the
  density the cooperators keep. ``take`` = 0 (also the last apple of a patch) is a
  defector that strips every patch it visits; among restrained cooperators it kills the
  regrowth it lives on within the episode and earns less than full cooperators do.
* Clean Up: a defector only harvests; a cooperator cleans while the river's waste share
  is above ``clean_above`` (default ``CLEANUP_CLEAN_ABOVE``; it walks to the nearest
  waste, turns to it and fires the cleaning beam) and harvests otherwise.
* Coins: a cooperator only picks up coins of its own colour, a defector any coin
  (no options).

Navigation is greedy (step along the longer axis towards the target, else the other
axis, else a random move), which suffices on maps without interior walls (Harvest-Open,
Clean Up, Coins); on Harvest-Closed / Partnership bots may stall at the walls.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from envs.social.base import (
    APPLE,
    BACKWARD,
    COIN_0,
    COIN_1,
    DIR_STEPS,
    FIRE_CLEAN,
    FORWARD,
    NOOP,
    STEP_LEFT,
    STEP_RIGHT,
    TURN_LEFT,
    TURN_RIGHT,
    WALL,
    WASTE,
    GridSocialEnv,
    SocialState,
)
from envs.social.cleanup import CleanUp
from envs.social.coins import Coins
from envs.social.harvest import Harvest

HARVEST_KEEP = 4  # live apples within radius 2 an apple needs for a cooperator to eat it
HARVEST_TAKE = 2  # the same for a defector (0: any apple, the last of a patch included)
CLEANUP_CLEAN_ABOVE = 0.2  # a cooperator cleans while waste share exceeds this

Policy = Callable[[jax.Array, SocialState, jax.Array], jax.Array]
# Relative direction (0 ahead, 1 right, 2 behind, 3 left) → move action.
_REL_TO_MOVE = np.array([FORWARD, STEP_RIGHT, BACKWARD, STEP_LEFT], np.int32)


def _nearest(env: GridSocialEnv, state: SocialState, cells: jax.Array, eligible: jax.Array, key):
    """Nearest eligible cell per agent (Manhattan, random tie-break): (row-col [N,2], found [N])."""
    rowcol = env._rowcol(cells)  # [K, 2]
    dist = jnp.abs(state.pos[:, None, :] - rowcol[None]).sum(-1).astype(jnp.float32)
    dist = dist + 0.1 * jax.random.uniform(key, dist.shape)
    dist = jnp.where(eligible, dist, jnp.inf)
    best = jnp.argmin(dist, axis=1)
    return rowcol[best], jnp.isfinite(dist.min(axis=1))


def _walk(
    env: GridSocialEnv, state: SocialState, target, found, key, avoid: jax.Array | None = None
) -> jax.Array:
    """Greedy move actions towards ``target`` [N, 2]; a random move when stuck or idle.

    ``avoid`` (bool ``[N, cells]`` over the padded grid), when given, marks cells an agent
    must not enter: those directions count as blocked, and a random move into one becomes
    a no-op.
    """
    n = env.num_agents
    delta = target - state.pos
    vertical = jnp.where(delta[:, 0] < 0, 0, 2)  # N or S
    horizontal = jnp.where(delta[:, 1] < 0, 3, 1)  # W or E
    rows_first = jnp.abs(delta[:, 0]) >= jnp.abs(delta[:, 1])
    first = jnp.where(rows_first, vertical, horizontal)
    second = jnp.where(rows_first, horizontal, vertical)
    has_second = jnp.where(rows_first, delta[:, 1] != 0, delta[:, 0] != 0)
    occupied = env._agent_layer(state)

    def free(direction):
        cell = env._flat(state.pos + jnp.asarray(DIR_STEPS)[direction])
        tile = state.tiles[cell]
        ok = (tile != WALL) & (occupied[cell] == 0)  # waste does not block (env v1)
        return ok if avoid is None else ok & ~avoid[jnp.arange(n), cell]

    k_dir, k_noise = jax.random.split(key)
    random_dir = jax.random.randint(k_dir, (n,), 0, 4)
    direction = jnp.where(
        free(first), first, jnp.where(has_second & free(second), second, random_dir)
    )
    direction = jnp.where(found, direction, random_dir)
    # A little noise unsticks agents that block each other.
    direction = jnp.where(jax.random.uniform(k_noise, (n,)) < 0.05, random_dir, direction)
    action = jnp.asarray(_REL_TO_MOVE)[(direction - state.orient) & 3]
    arrived = found & (delta == 0).all(-1)
    if avoid is not None:
        entered = env._flat(state.pos + jnp.asarray(DIR_STEPS)[direction])
        arrived = arrived | avoid[jnp.arange(n), entered]
    return jnp.where(arrived, NOOP, action)


def harvest_policy(
    env: Harvest, keep: int = HARVEST_KEEP, take: int = HARVEST_TAKE, walk_around: int = 1
) -> Policy:
    """Cooperators take apples with ≥ ``keep`` live neighbours (radius 2), defectors with
    ≥ ``take``; with ``walk_around`` cooperators never step onto the apples they spare."""
    cells = jnp.asarray(env._apple_cells)

    def policy(key, state, cooperator):
        k_pick, k_walk = jax.random.split(key)
        live = state.tiles[cells] == APPLE
        count = env.apple_neighbours(state)
        plenty, greedy = count >= keep, count >= take
        eligible = live[None, :] & jnp.where(cooperator[:, None], plenty[None, :], greedy[None, :])
        target, found = _nearest(env, state, cells, eligible, k_pick)
        # Entering an apple's cell eats it, so a cooperator walks around the apples it
        # leaves (and waits when no apple is eligible and its random moves never enter one).
        if not walk_around:
            return _walk(env, state, target, found, k_walk)
        spared = jnp.zeros(state.tiles.shape, bool).at[cells].set(live & ~plenty)
        avoid = cooperator[:, None] & spared[None, :]
        return _walk(env, state, target, found, k_walk, avoid)

    return policy


def cleanup_policy(env: CleanUp, clean_above: float = CLEANUP_CLEAN_ABOVE) -> Policy:
    """Defectors harvest; cooperators clean while the river's waste share exceeds
    ``clean_above``."""
    apples = jnp.asarray(env._apple_cells)
    river = jnp.asarray(env._waste_cells)
    beam = jnp.asarray(env._beam_offsets["clean"])  # [4, rays, L]

    def policy(key, state, cooperator):
        k_apple, k_waste, k_walk = jax.random.split(key, 3)
        n = env.num_agents
        live = state.tiles[apples] == APPLE
        apple_target, apple_found = _nearest(
            env, state, apples, jnp.broadcast_to(live, (n, len(env._apple_cells))), k_apple
        )
        waste = state.tiles[river] == WASTE
        waste_target, waste_found = _nearest(
            env, state, river, jnp.broadcast_to(waste, (n, len(env._waste_cells))), k_waste
        )
        cleaning = cooperator & (env.waste_fraction(state) > clean_above) & waste_found
        target = jnp.where(cleaning[:, None], waste_target, apple_target)
        found = jnp.where(cleaning, waste_found, apple_found)
        walk = _walk(env, state, target, found, k_walk)
        # Waste the beam would reach in each of the 4 facings (walls stop the rays).
        cells = env._flat(state.pos)[:, None, None, None] + beam[None]  # [N, 4, rays, L]
        tiles = state.tiles[cells]
        open_ = jnp.cumprod(tiles != WALL, axis=-1).astype(bool)
        reach = ((tiles == WASTE) & open_).any((-1, -2))  # [N, 4]
        here = jnp.take_along_axis(reach, state.orient[:, None], 1)[:, 0]
        best = jnp.argmax(reach, axis=1)
        turn = jnp.where(((best - state.orient) & 3) == 3, TURN_LEFT, TURN_RIGHT)
        ready = state.clean_cooldown == 0
        clean = jnp.where(here, jnp.where(ready, FIRE_CLEAN, NOOP), turn)
        return jnp.where(cleaning & reach.any(1), clean, walk)

    return policy


def coins_policy(env: Coins) -> Policy:
    """Cooperators only pick up their own colour."""
    cells = jnp.asarray(env._pad_index)

    def policy(key, state, cooperator):
        k_pick, k_walk = jax.random.split(key)
        tile = state.tiles[cells]
        own = jnp.stack([tile == COIN_0, tile == COIN_1])  # [2, H*W]
        any_coin = (tile == COIN_0) | (tile == COIN_1)
        eligible = jnp.where(cooperator[:, None], own, any_coin[None, :])
        target, found = _nearest(env, state, cells, eligible, k_pick)
        return _walk(env, state, target, found, k_walk)

    return policy


_FACTORIES: tuple[tuple[type, Callable[..., Policy], dict[str, float]], ...] = (
    (Harvest, harvest_policy, {"keep": HARVEST_KEEP, "take": HARVEST_TAKE, "walk_around": 1}),
    (CleanUp, cleanup_policy, {"clean_above": CLEANUP_CLEAN_ABOVE}),
    (Coins, coins_policy, {}),
)


def _factory(env: GridSocialEnv) -> tuple[Callable[..., Policy], dict[str, float]]:
    for cls, factory, defaults in _FACTORIES:
        if isinstance(env, cls):
            return factory, defaults
    raise ValueError(f"env: no scripted policies for {env.name!r}")


def policy_options(env: GridSocialEnv) -> dict[str, float]:
    """The options of ``env``'s scripted policies with their defaults (may be empty)."""
    return dict(_factory(env)[1])


def scripted_policy(env: GridSocialEnv, **options: float) -> Policy:
    """The cooperator/defector policy of ``env``'s substrate, with ``options`` overriding
    the defaults of :func:`policy_options`."""
    factory, defaults = _factory(env)
    for key, value in options.items():
        if key not in defaults:
            from envs.names import did_you_mean

            known = ", ".join(defaults) or "none"
            raise ValueError(
                f"policy option {key!r}: unknown for {env.name} (options: {known})."
                f"{did_you_mean(key, list(defaults))}"
            )
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError(f"policy option {key!r}: expected a number, got {value!r}")
    return factory(env, **options)
