"""Count-based bonuses: ``count`` (b = 1/√N(s')) and ``episodic_count`` (b = 1/√N_e(s')).

References:
    Strehl & Littman 2008, "An analysis of model-based Interval Estimation for Markov
    Decision Processes" (the 1/√N bonus);
    Tang et al. 2017, "#Exploration: A Study of Count-Based Exploration for Deep
    Reinforcement Learning" (SimHash keys: sign of a fixed Gaussian projection, k bits);
    Henaff, Jiang, Raileanu 2023, "A Study of Global and Episodic Bonuses for Exploration in
    Contextual MDPs" (the episodic count as the episodic half of global × episodic).

Counting inside jit
-------------------
Counts live in fixed-size open-addressing hash tables (``keys: uint32[S, 2]``,
``counts: int32[S]``, a count of 0 marks an empty slot), never Python dicts.

* The key of an observation is a 64-bit hash (two uint32 words). ``key="exact"`` hashes
  every element of the observation (its bit pattern: uint8 grid codes, or the float32 bits
  of vector observations) with per-position random salts and a MurmurHash3 finaliser, so
  counting is *exact up to 64-bit hash collisions* (observations differing in a single
  element never collide, since the finaliser is a bijection). ``key="simhash"`` first maps
  the observation to ``simhash_bits`` bits ``sign(A x)`` with a fixed Gaussian ``A``
  (Tang et al. 2017) and counts those codes the same way, so similar observations share a
  count.
* Slots are found by linear probing from ``h₁ mod S`` over at most ``max_probes`` slots. No
  key is ever deleted (episodic tables are cleared as a whole), so a key, when present,
  sits before the first empty slot of its probe sequence. A new key that finds no empty
  slot within ``max_probes`` is not stored (counted in the ``overflow_visits`` metric): it
  keeps looking new. Size tables so that this stays at zero.
* A batch is counted in one vectorised pass, not one visit at a time: a stable sort of the
  visits by key gives each visit its rank among the earlier visits of the same key in the
  batch, and new keys are inserted in parallel rounds (conflicting claims to one slot are
  resolved by the lowest visit index; losers probe again).

Which count
-----------
The bonus uses N *after* counting the current visit (N ≥ 1, so b ≤ 1). Visits are ordered
as in a rollout: time-major, and within a time step by env index. ``reward(state, batch)``
returns exactly the counts ``update(state, batch)`` will have produced at each visit, i.e.
``N = N_table(s') + (number of visits of s' in the batch up to and including this one)``.
Global counts count reached states ``next_obs``. Episodic counts also count the first
observation of each episode (``obs`` at an episode start, ``count_start_obs=True``), so
returning to the start state is not rewarded as new; the episodic table of env n is
cleared after a transition with ``done``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from agents.bonuses import register
from agents.bonuses.base import Bonus, Metrics, Transitions
from envs.spaces import Box, Discrete


# --------------------------------------------------------------------------- hashing
def _fmix32(h: jax.Array) -> jax.Array:
    """MurmurHash3's 32-bit finaliser: a bijection with good avalanche."""
    h = h ^ (h >> 16)
    h = h * jnp.uint32(0x85EBCA6B)
    h = h ^ (h >> 13)
    h = h * jnp.uint32(0xC2B2AE35)
    return h ^ (h >> 16)


def obs_words(obs: jax.Array, lead_dims: int) -> jax.Array:
    """The observation's elements as uint32 words ``[..., D]`` (floats by their bit pattern)."""
    flat = obs.reshape(*obs.shape[:lead_dims], -1)
    if jnp.issubdtype(flat.dtype, jnp.floating):
        # +0.0 == -0.0 should share a key; adding 0.0 maps -0.0 to +0.0.
        return jax.lax.bitcast_convert_type(flat.astype(jnp.float32) + 0.0, jnp.uint32)
    return flat.astype(jnp.uint32)


def hash_words(words: jax.Array, salts: jax.Array) -> jax.Array:
    """64-bit key ``uint32[..., 2]`` of words ``[..., D]`` with salts ``uint32[2, D]``.

    Each word is salted by its position and finalised, then the words are summed (mod 2³²)
    and finalised again; two independent salt rows give the two halves of the key.
    """
    parts = []
    for row in range(2):
        mixed = _fmix32(words ^ salts[row])
        parts.append(_fmix32(jnp.sum(mixed, axis=-1, dtype=jnp.uint32) + jnp.uint32(row)))
    return jnp.stack(parts, axis=-1)


@struct.dataclass
class Hasher:
    """Fixed random parameters of the keying (part of the state so it is checkpointed)."""

    salts: jax.Array  # uint32[2, D] (D = obs size for exact keys, simhash_bits for SimHash)
    projection: jax.Array  # f32[k, obs size] for SimHash; f32[0, obs size] for exact keys


def make_hasher(key: jax.Array, obs_space: Box, mode: str, simhash_bits: int) -> Hasher:
    """Draw the salts (and the SimHash projection) for observations of ``obs_space``."""
    size = int(np.prod(obs_space.shape))
    k_salt, k_proj = jax.random.split(key)
    if mode == "exact":
        salts = jax.random.bits(k_salt, (2, size), jnp.uint32)
        projection = jnp.zeros((0, size), jnp.float32)
    elif mode == "simhash":
        salts = jax.random.bits(k_salt, (2, simhash_bits), jnp.uint32)
        projection = jax.random.normal(k_proj, (simhash_bits, size), jnp.float32)
    else:
        raise ValueError(f"unknown count key {mode!r}; expected 'exact' or 'simhash'")
    return Hasher(salts=salts, projection=projection)


def obs_keys(hasher: Hasher, obs: jax.Array, lead_dims: int = 2) -> jax.Array:
    """Keys ``uint32[..., 2]`` of observations ``[*lead, *obs_shape]``."""
    if hasher.projection.shape[0] == 0:
        return hash_words(obs_words(obs, lead_dims), hasher.salts)
    flat = obs.reshape(*obs.shape[:lead_dims], -1).astype(jnp.float32)
    bits = (flat @ hasher.projection.T > 0).astype(jnp.uint32)
    return hash_words(bits, hasher.salts)


# --------------------------------------------------------------------------- hash table
@struct.dataclass
class HashTable:
    """Open-addressing table; ``counts == 0`` marks an empty slot."""

    keys: jax.Array  # uint32[S, 2]
    counts: jax.Array  # int32[S]


def empty_table(size: int, lead: tuple[int, ...] = ()) -> HashTable:
    """A table of ``size`` empty slots (with optional leading axes, e.g. one per env)."""
    return HashTable(
        keys=jnp.zeros((*lead, size, 2), jnp.uint32), counts=jnp.zeros((*lead, size), jnp.int32)
    )


def _probe(table: HashTable, key: jax.Array, max_probes: int):
    """Slot of ``key`` (or the first empty slot of its probe sequence): slot, found, usable."""
    size = table.counts.shape[0]
    n = min(max_probes, size)
    start = (key[0] % jnp.uint32(size)).astype(jnp.int32)
    pos = (start + jnp.arange(n, dtype=jnp.int32)) % size
    stored, counts = table.keys[pos], table.counts[pos]
    match = (counts > 0) & (stored[:, 0] == key[0]) & (stored[:, 1] == key[1])
    hit = match | (counts == 0)
    first = jnp.argmax(hit)
    return pos[first], match[first], hit[first]


def lookup(table: HashTable, keys: jax.Array, max_probes: int) -> jax.Array:
    """Stored counts ``int32[M]`` of keys ``[M, 2]`` (0 when absent)."""
    slot, found, _ = jax.vmap(_probe, (None, 0, None))(table, keys, max_probes)
    return jnp.where(found, table.counts[slot], 0)


def occurrences(keys: jax.Array, segment: jax.Array, valid: jax.Array):
    """For visits ``[M]`` in order: rank (1-based) among earlier valid visits with the same
    key and segment, size of that group, and whether the visit is the group's first."""
    m = keys.shape[0]
    idx = jnp.arange(m, dtype=jnp.int32)
    invalid = (~valid).astype(jnp.int32)
    # lexsort: the last key is the primary one; the visit index keeps the sort stable.
    order = jnp.lexsort((idx, keys[:, 1], keys[:, 0], segment, invalid))
    sk, sseg, sinv = keys[order], segment[order], invalid[order]
    same = (
        (sk[1:, 0] == sk[:-1, 0])
        & (sk[1:, 1] == sk[:-1, 1])
        & (sseg[1:] == sseg[:-1])
        & (sinv[1:] == sinv[:-1])
    )
    new = jnp.concatenate([jnp.ones((1,), bool), ~same])
    start = jax.lax.cummax(jnp.where(new, idx, 0))
    group = jnp.cumsum(new) - 1
    size = jax.ops.segment_sum(jnp.ones((m,), jnp.int32), group, num_segments=m)[group]
    rank = jnp.zeros((m,), jnp.int32).at[order].set(idx - start + 1)
    return (
        rank,
        jnp.zeros((m,), jnp.int32).at[order].set(size),
        jnp.zeros((m,), bool).at[order].set(new),
    )


def insert(table: HashTable, keys: jax.Array, valid: jax.Array, max_probes: int):
    """Add one visit per valid key ``[M, 2]``; returns the table and the visits dropped."""
    size_s = table.counts.shape[0]
    m = keys.shape[0]
    slot, found, _ = jax.vmap(_probe, (None, 0, None))(table, keys, max_probes)
    # Known keys: scatter-add accumulates repeated visits of the same slot.
    table = table.replace(
        counts=table.counts.at[jnp.where(valid & found, slot, size_s)].add(1, mode="drop")
    )
    _, group_size, leader = occurrences(keys, jnp.zeros((m,), jnp.int32), valid)
    pending = valid & leader & ~found
    idx = jnp.arange(m, dtype=jnp.int32)

    def cond(carry):
        return jnp.any(carry[1])

    def body(carry):
        tab, pend, dropped = carry
        slot, _, usable = jax.vmap(_probe, (None, 0, None))(tab, keys, max_probes)
        lost = pend & ~usable
        claim = pend & usable
        # Several new keys may claim one empty slot: the lowest visit index wins this round.
        winner = (
            jnp.full((size_s,), m, jnp.int32)
            .at[jnp.where(claim, slot, size_s)]
            .min(idx, mode="drop")
        )
        won = claim & (winner[slot] == idx)
        where = jnp.where(won, slot, size_s)
        tab = HashTable(
            keys=tab.keys.at[where].set(keys, mode="drop"),
            counts=tab.counts.at[where].set(group_size, mode="drop"),
        )
        dropped = dropped + jnp.sum(jnp.where(lost, group_size, 0))
        return tab, pend & ~won & ~lost, dropped

    table, _, dropped = jax.lax.while_loop(cond, body, (table, pending, jnp.int32(0)))
    return table, dropped


# --------------------------------------------------------------------------- bonuses
@struct.dataclass
class CountState:
    """State of ``count``: one table for all envs and all of training."""

    hasher: Hasher
    table: HashTable
    overflow: jax.Array  # int32: visits never stored because the table was locally full


@struct.dataclass
class EpisodicCountState:
    """State of ``episodic_count``: one table per env, cleared at episode ends."""

    hasher: Hasher
    table: HashTable  # leaves [N, S, ...]
    fresh: jax.Array  # bool[N]: the next obs of env n starts an episode
    overflow: jax.Array


def _inv_sqrt(n: jax.Array) -> jax.Array:
    return jax.lax.rsqrt(jnp.maximum(n, 1).astype(jnp.float32))


class GlobalCount(Bonus):
    """``count``: b(s') = 1/√N(s'), N counted over all of training (all envs)."""

    name = "count"
    episodic = False

    def __init__(
        self,
        key: str = "exact",
        table_size: int = 2**16,
        simhash_bits: int = 32,
        max_probes: int = 64,
    ):
        if key not in ("exact", "simhash"):
            raise ValueError(f"count: key must be 'exact' or 'simhash', got {key!r}")
        self.key, self.table_size = key, int(table_size)
        self.simhash_bits, self.max_probes = int(simhash_bits), int(max_probes)

    def init(self, key: jax.Array, obs_space: Box, action_space: Discrete, num_envs: int):
        return CountState(
            hasher=make_hasher(key, obs_space, self.key, self.simhash_bits),
            table=empty_table(self.table_size),
            overflow=jnp.zeros((), jnp.int32),
        )

    def counts(self, state: CountState, batch: Transitions) -> jax.Array:
        """N(s') ``int32[T, N]`` after each visit of the batch, in rollout order."""
        t, n = batch.done.shape
        keys = obs_keys(state.hasher, jnp.asarray(batch.next_obs)).reshape(t * n, 2)
        rank, _, _ = occurrences(keys, jnp.zeros((t * n,), jnp.int32), jnp.ones((t * n,), bool))
        return (lookup(state.table, keys, self.max_probes) + rank).reshape(t, n)

    def reward(self, state: CountState, batch: Transitions) -> jax.Array:
        return _inv_sqrt(self.counts(state, batch))

    def update(self, state: CountState, batch: Transitions) -> tuple[CountState, Metrics]:
        t, n = batch.done.shape
        keys = obs_keys(state.hasher, jnp.asarray(batch.next_obs)).reshape(t * n, 2)
        table, dropped = insert(state.table, keys, jnp.ones((t * n,), bool), self.max_probes)
        state = state.replace(table=table, overflow=state.overflow + dropped)
        return state, {
            "distinct_keys": jnp.sum(table.counts > 0).astype(jnp.float32),
            "overflow_visits": state.overflow.astype(jnp.float32),
        }


class EpisodicCount(Bonus):
    """``episodic_count``: b(s') = 1/√N_e(s'), N_e counted within the current episode."""

    name = "episodic_count"
    episodic = True

    def __init__(
        self,
        key: str = "exact",
        table_size: int = 1024,
        simhash_bits: int = 32,
        max_probes: int = 64,
        count_start_obs: bool = True,
    ):
        if key not in ("exact", "simhash"):
            raise ValueError(f"episodic_count: key must be 'exact' or 'simhash', got {key!r}")
        self.key, self.table_size = key, int(table_size)
        self.simhash_bits, self.max_probes = int(simhash_bits), int(max_probes)
        self.count_start_obs = bool(count_start_obs)

    def init(self, key: jax.Array, obs_space: Box, action_space: Discrete, num_envs: int):
        return EpisodicCountState(
            hasher=make_hasher(key, obs_space, self.key, self.simhash_bits),
            table=empty_table(self.table_size, (num_envs,)),
            fresh=jnp.ones((num_envs,), bool),
            overflow=jnp.zeros((), jnp.int32),
        )

    def counts_and_update(
        self, state: EpisodicCountState, batch: Transitions
    ) -> tuple[jax.Array, EpisodicCountState]:
        """N_e(s') ``int32[T, N]`` after each visit, and the state after the batch."""
        done = jnp.asarray(batch.done, bool)
        t, n = done.shape
        next_keys = obs_keys(state.hasher, jnp.asarray(batch.next_obs))  # [T, N, 2]
        start_keys = obs_keys(state.hasher, jnp.asarray(batch.obs))
        prev_done = jnp.concatenate([state.fresh[None], done[:-1]], axis=0)
        starts = prev_done & self.count_start_obs
        # Episode segment of each step within the batch: dones strictly before it.
        seg = (jnp.cumsum(done, axis=0) - done).astype(jnp.int32)
        # Interleave [start obs of step t, next obs of step t] → a stream of 2T visits per env.
        keys = jnp.stack([start_keys, next_keys], axis=1).reshape(2 * t, n, 2)
        valid = jnp.stack([starts, jnp.ones_like(done)], axis=1).reshape(2 * t, n)
        segment = jnp.repeat(seg, 2, axis=0)
        last_seg = jnp.sum(done, axis=0).astype(jnp.int32)

        def per_env(table, keys, valid, segment, last_seg, any_done):
            rank, _, _ = occurrences(keys, segment, valid)
            base = jnp.where(segment == 0, lookup(table, keys, self.max_probes), 0)
            n_e = (base + rank)[1::2]
            # After the batch the table holds only the visits after the env's last done.
            table = table.replace(counts=jnp.where(any_done, 0, table.counts))
            table, dropped = insert(table, keys, valid & (segment == last_seg), self.max_probes)
            return n_e, table, dropped

        n_e, table, dropped = jax.vmap(per_env, in_axes=(0, 1, 1, 1, 0, 0), out_axes=(1, 0, 0))(
            state.table, keys, valid, segment, last_seg, jnp.any(done, axis=0)
        )
        state = state.replace(
            table=table, fresh=done[-1], overflow=state.overflow + jnp.sum(dropped)
        )
        return n_e, state

    def reward(self, state: EpisodicCountState, batch: Transitions) -> jax.Array:
        return _inv_sqrt(self.counts_and_update(state, batch)[0])

    def update(self, state, batch):
        _, state = self.counts_and_update(state, batch)
        return state, self._metrics(state)

    def reward_and_update(self, state, batch):
        n_e, state = self.counts_and_update(state, batch)
        return _inv_sqrt(n_e), state, self._metrics(state)

    @staticmethod
    def _metrics(state: EpisodicCountState) -> Metrics:
        return {
            "episodic_distinct_keys": jnp.mean(jnp.sum(state.table.counts > 0, axis=-1)).astype(
                jnp.float32
            ),
            "overflow_visits": state.overflow.astype(jnp.float32),
        }


register("count", GlobalCount)
register("episodic_count", EpisodicCount)
