"""Layouts and the helpers task generators use to build them inside jit.

A task is a pure function ``generate(key) -> Layout`` over fixed-size arrays, so layouts can
be drawn afresh at every reset (``contexts=0``) or once into a pool (``contexts=K``). The
helpers (all jittable): :func:`room` (a walled room), :func:`place` (set one cell),
:func:`sample_cell` / :func:`sample_cell_from_bits` (a uniform free cell of a mask),
:func:`region_mask` (a rectangle); cell codes come from :mod:`envs.gridworld.objects`
(``O.WALL``, ``O.GOAL``, ``O.key(colour)``, ``O.door(colour, state)``, ...). Preview a layout
with :func:`envs.gridworld.preview`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from envs.gridworld import objects as O


@struct.dataclass
class Layout:
    """One episode's world before the first step (unpadded ``[H, W]`` grid)."""

    grid: jax.Array  # uint8 [H, W] cell codes
    agent_pos: jax.Array  # int32 [2] (row, col)
    agent_dir: jax.Array  # int32: 0 right, 1 down, 2 left, 3 up (MiniGrid's DIR_TO_VEC order)
    # Code of the object whose pickup ends the episode with success; 0 = reach the goal.
    target: (
        jax.Array
    )  # uint8 (a cell code of envs.gridworld.objects, e.g. O.ball(O.COLOUR["blue"]))


class Task:
    """A family of layouts: sizes are static, ``generate`` is pure and jittable.

    A task may also change what a step means through two hooks, called inside the jitted
    step with the states before and after it (:class:`envs.gridworld.env.GridState`: the
    padded flat ``grid``, ``agent_pos`` (row, col), ``agent_dir``, ``carrying``, ``target``,
    ``step_count``, ...). Both must be pure JAX; the defaults keep MiniGrid's rules.
    """

    #: grid height and width, static
    height: int
    width: int
    #: MiniGrid's episode limit for the task
    max_steps: int
    #: one line for the registry listing and LLM prompts
    description: str = ""

    def generate(self, key: jax.Array) -> Layout:
        """Draw a layout."""
        raise NotImplementedError

    def terminate(
        self, before: Any, after: Any, action: jax.Array, success: jax.Array, terminated: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """``(success, terminated)`` of a step (bool scalars). The defaults given: success when
        the goal is reached or the target picked up; terminated on success or lava. The
        episode is truncated at ``max_steps`` unless terminated."""
        return success, terminated

    def reward(
        self,
        before: Any,
        after: Any,
        action: jax.Array,
        success: jax.Array,
        reward: jax.Array,
        params: Any,
    ) -> jax.Array:
        """The step's float32 reward. The default given: MiniGrid's ``1 − 0.9·t/T`` on success
        (``t`` = ``after.step_count``, ``T`` = ``params.max_steps_in_episode``), else 0."""
        return reward


def room(height: int, width: int) -> jax.Array:
    """An empty room enclosed by walls."""
    grid = jnp.full((height, width), O.EMPTY, jnp.uint8)
    grid = grid.at[0, :].set(O.WALL).at[-1, :].set(O.WALL)
    return grid.at[:, 0].set(O.WALL).at[:, -1].set(O.WALL)


def _cell_at_rank(rank: jax.Array, flat: jax.Array, width: int) -> jax.Array:
    """(row, col) of the ``rank``-th True cell of a flat mask (a prefix sum, no sort)."""
    index = jnp.argmax(jnp.cumsum(flat, dtype=jnp.int32) > rank)
    return jnp.stack([index // width, index % width]).astype(jnp.int32)


def sample_cell(key: jax.Array, mask: jax.Array) -> jax.Array:
    """A uniform cell among ``mask`` (bool ``[H, W]``); returns (row, col).

    One random integer and a prefix sum: cheaper inside a vmapped reset than one uniform
    per cell. The mask must have at least one True cell.
    """
    flat = mask.reshape(-1)
    count = jnp.sum(flat, dtype=jnp.int32)
    rank = jax.random.randint(key, (), 0, jnp.maximum(count, 1))
    return _cell_at_rank(rank, flat, mask.shape[1])


def sample_cell_from_bits(bits: jax.Array, mask: jax.Array) -> jax.Array:
    """:func:`sample_cell` driven by one random uint32 (a draw from ``jax.random.bits``).

    Generators that need several draws take them from one ``bits`` call: threefry calls
    dominate a vmapped reset on the CPU. The modulo bias is below 2⁻²⁴ for grids < 256 cells.
    """
    flat = mask.reshape(-1)
    count = jnp.maximum(jnp.sum(flat, dtype=jnp.uint32), 1)
    return _cell_at_rank((bits % count).astype(jnp.int32), flat, mask.shape[1])


def region_mask(
    height: int,
    width: int,
    top: int | jax.Array,
    left: int | jax.Array,
    bottom: int | jax.Array,
    right: int | jax.Array,
) -> jax.Array:
    """Bool mask of rows ``[top, bottom)`` and cols ``[left, right)`` (bounds may be traced)."""
    rows = jnp.arange(height)[:, None]
    cols = jnp.arange(width)[None, :]
    return (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)


def place(grid: jax.Array, pos: jax.Array, code: int | jax.Array) -> jax.Array:
    """Set the cell at ``pos`` (row, col) to ``code``."""
    return grid.at[pos[0], pos[1]].set(jnp.asarray(code, jnp.uint8))
