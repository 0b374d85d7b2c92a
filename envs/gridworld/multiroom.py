"""MultiRoom-N<n>-S<s>: a chain of n rooms (sides 4..s, walls included) in a 25×25 grid,
each joined to the next by a closed door whose colour differs from the previous door's;
the agent starts in the first room, the goal lies in the last (MiniGrid ``MultiRoomEnv``).
``max_steps = 20·n``. N7-S8 and N12-S10 are not registered by MiniGrid itself but by the
exploration papers that use them (RIDE, NovelD) with the same class.

MiniGrid grows the chain room by room: from the last room it picks an exit wall other
than the entry wall, a door cell on it, a size and an offset for the next room, and keeps
the first of 8 such tries that stays inside the grid and clear of earlier rooms (the
overlap test is MiniGrid's, asymmetric quirks included). A chain that dead-ends is thrown
away and the whole layout is drawn again — about 1,150 times per layout for N12-S10,
far too many for a reset that runs under ``vmap`` at every step.

Here each of a few chains grows in parallel inside one ``lax.while_loop`` with the same
proposals (8 tries per room, first valid kept), but a dead end cuts the chain back to a
uniformly chosen shorter prefix instead of discarding it, and the first chain to reach n
rooms is used; the loop stops when one has. The first room is drawn uniformly among the
(position, size) pairs MiniGrid accepts. Differences from MiniGrid's distribution:

* dead ends are repaired rather than restarted, and the quickest chain wins, which
  slightly favours chains that are easy to grow;
* N12-S10 draws room sides with weights ``0.8**(side-4)`` instead of uniformly:
  MiniGrid's accepted N12-S10 layouts are already dominated by small rooms (side 4: 31 %,
  side 10: 5 % over 150 layouts), and the tilt both approximates that marginal and keeps
  the expected number of loop iterations in the tens.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.gridworld import objects as O
from envs.gridworld.layout import Layout, Task, sample_cell

MIN_ROOM_SIZE = 4


@struct.dataclass
class Chain:
    """A partial chain of rooms; entries at index ≥ ``count`` are stale."""

    rooms: jax.Array  # int32 [n, 4]: top row, left col, height, width (walls included)
    entry_wall: jax.Array  # int32 [n]: wall of the room holding its entry door (0 right .. 3 up)
    entry_door: jax.Array  # int32 [n, 2]: (row, col) of the entry door (room 0: unused)
    count: jax.Array  # int32: rooms placed


class MultiRoom(Task):
    """MiniGrid MultiRoom with ``num_rooms`` rooms of side at most ``max_room_size``."""

    description = "traverse the rooms to get to the goal"

    def __init__(
        self,
        num_rooms: int,
        max_room_size: int = 10,
        size: int = 25,
        max_steps: int | None = None,
        size_decay: float = 1.0,
        tries: int = 8,
        parallel_chains: int = 4,
    ) -> None:
        if num_rooms < 1:
            raise ValueError(f"num_rooms must be ≥ 1, got {num_rooms}")
        if max_room_size < MIN_ROOM_SIZE:
            raise ValueError(f"max_room_size must be ≥ {MIN_ROOM_SIZE}, got {max_room_size}")
        if size < max_room_size + 1:
            raise ValueError(f"size must exceed max_room_size, got size={size}")
        if not 0.0 < size_decay <= 1.0:
            raise ValueError(f"size_decay must be in (0, 1], got {size_decay}")
        self.num_rooms = num_rooms
        self.max_room_size = max_room_size
        self.height = self.width = size
        self.max_steps = max_steps or 20 * num_rooms
        self.tries = tries
        self.parallel_chains = parallel_chains
        sides = np.arange(MIN_ROOM_SIZE, max_room_size + 1)
        self._size_logits = jnp.asarray((sides - MIN_ROOM_SIZE) * np.log(size_decay), jnp.float32)

    # --- chain growth -------------------------------------------------------------------
    # One uniform draw per step, turned into integers by hand: each jax.random call adds
    # its own hash to the graph, and this loop body is compiled for every MultiRoom task.
    def _categorical(self, u: jax.Array, logits: jax.Array) -> jax.Array:
        """Inverse-CDF sample of ``logits`` (last axis) from uniforms ``u`` in [0, 1)."""
        cdf = jnp.cumsum(jax.nn.softmax(logits))
        return jnp.sum(cdf < (1.0 - u)[..., None] * cdf[-1], axis=-1).astype(jnp.int32)

    def _first_room(self, u: jax.Array) -> jax.Array:
        """(top, left, height, width) from two uniforms, uniform among the pairs MiniGrid's
        first room accepts (weighted by the side prior)."""
        num_sides = self._size_logits.shape[0]
        sides = jnp.arange(MIN_ROOM_SIZE, MIN_ROOM_SIZE + num_sides)[:, None]
        # MiniGrid draws both corner coordinates in [0, width - 2).
        starts = jnp.arange(self.width - 2)[None, :]
        rooms = []
        for axis_u, fits in zip(
            u,
            (starts + sides < self.height, starts + sides <= self.width),
            strict=True,  # rows: strict
        ):
            logits = jnp.where(fits, self._size_logits[:, None], -jnp.inf).reshape(-1)
            flat = self._categorical(axis_u, logits)
            rooms.append((flat % starts.shape[1], MIN_ROOM_SIZE + flat // starts.shape[1]))
        (top, height), (left, width) = rooms
        return jnp.stack([top, left, height, width]).astype(jnp.int32)

    def _new_chain(self, key: jax.Array) -> Chain:
        n = self.num_rooms
        return Chain(
            rooms=jnp.zeros((n, 4), jnp.int32)
            .at[0]
            .set(self._first_room(jax.random.uniform(key, (2,)))),
            entry_wall=jnp.full((n,), 2, jnp.int32),  # MiniGrid's first call passes wall 2
            entry_door=jnp.zeros((n, 2), jnp.int32),
            count=jnp.ones((), jnp.int32),
        )

    def _grow(self, chain: Chain, key: jax.Array) -> Chain:
        """One step: add a room after the last one, or cut back after a dead end."""
        k = self.tries
        u = jax.random.uniform(key, (8, k))

        def integer(x, low, high):  # uniform in [low, high)
            return low + jnp.floor(x * (high - low)).astype(jnp.int32)

        last = chain.count - 1
        top, left, height, width = (chain.rooms[last, i] for i in range(4))
        entry = chain.entry_wall[last]
        w3 = integer(u[0], 0, 3)
        exit_wall = w3 + (w3 >= entry)  # uniform over the three other walls
        along_row = top + integer(u[1], 1, height - 1)
        along_col = left + integer(u[2], 1, width - 1)
        door_row = jnp.where(
            exit_wall % 2 == 0, along_row, jnp.where(exit_wall == 1, top + height - 1, top)
        )
        door_col = jnp.where(
            exit_wall % 2 == 1, along_col, jnp.where(exit_wall == 0, left + width - 1, left)
        )
        new_entry = (exit_wall + 2) % 4
        new_h = MIN_ROOM_SIZE + self._categorical(u[3], self._size_logits)
        new_w = MIN_ROOM_SIZE + self._categorical(u[4], self._size_logits)
        offset_row = integer(u[5], door_row - new_h + 2, door_row)
        offset_col = integer(u[6], door_col - new_w + 2, door_col)
        new_top = jnp.select(
            [new_entry == 1, new_entry == 3], [door_row - new_h + 1, door_row], offset_row
        )
        new_left = jnp.select(
            [new_entry == 0, new_entry == 2], [door_col - new_w + 1, door_col], offset_col
        )
        inside = (new_top >= 0) & (new_left >= 0) & (new_left + new_w <= self.width)
        inside &= new_top + new_h < self.height
        r = chain.rooms
        apart = (
            (new_left[:, None] + new_w[:, None] < r[None, :, 1])
            | (r[None, :, 1] + r[None, :, 3] <= new_left[:, None])
            | (new_top[:, None] + new_h[:, None] < r[None, :, 0])
            | (r[None, :, 0] + r[None, :, 2] <= new_top[:, None])
        )
        # Every earlier room but the one being left (MiniGrid's roomList[:-1]).
        older = jnp.arange(self.num_rooms)[None, :] < last
        valid = inside & jnp.all(apart | ~older, axis=1)
        found = jnp.any(valid)
        pick = jnp.argmax(valid)

        grown = Chain(
            rooms=r.at[chain.count].set(
                jnp.stack([new_top[pick], new_left[pick], new_h[pick], new_w[pick]])
            ),
            entry_wall=chain.entry_wall.at[chain.count].set(new_entry[pick]),
            entry_door=chain.entry_door.at[chain.count].set(
                jnp.stack([door_row[pick], door_col[pick]])
            ),
            count=chain.count + 1,
        )
        # A dead end: keep a uniform prefix of 1 .. count-1 rooms, or redraw a lone first room.
        cut = chain.replace(count=integer(u[7, 0], 1, jnp.maximum(chain.count, 2)))
        restart = chain.replace(rooms=r.at[0].set(self._first_room(u[7, 1:3])))
        fallback = jax.tree.map(lambda a, b: jnp.where(chain.count == 1, a, b), restart, cut)
        nxt = jax.tree.map(lambda a, b: jnp.where(found, a, b), grown, fallback)
        finished = chain.count >= self.num_rooms
        return jax.tree.map(lambda a, b: jnp.where(finished, a, b), chain, nxt)

    def sample_chain(self, key: jax.Array) -> Chain:
        """A complete chain of ``num_rooms`` rooms (loops until one of the chains has it)."""
        k_init, k_loop = jax.random.split(key)
        chains = jax.vmap(self._new_chain)(jax.random.split(k_init, self.parallel_chains))

        def unfinished(carry):
            return ~jnp.any(carry[0].count >= self.num_rooms)

        def body(carry):
            chains, k = carry
            k, k_step = jax.random.split(k)
            steps = jax.random.split(k_step, self.parallel_chains)
            return jax.vmap(self._grow)(chains, steps), k

        chains, _ = jax.lax.while_loop(unfinished, body, (chains, k_loop))
        best = jnp.argmax(chains.count >= self.num_rooms)
        return jax.tree.map(lambda a: a[best], chains)

    # --- layout -------------------------------------------------------------------------
    def generate(self, key: jax.Array) -> Layout:
        k_chain, k_colour, k_agent, k_dir, k_goal = jax.random.split(key, 5)
        chain = self.sample_chain(k_chain)
        rows = jnp.arange(self.height)[None, :, None]
        cols = jnp.arange(self.width)[None, None, :]
        top, left, height, width = (chain.rooms[:, i, None, None] for i in range(4))
        in_rect = (rows >= top) & (rows < top + height) & (cols >= left) & (cols < left + width)
        on_wall = (
            (rows == top) | (rows == top + height - 1) | (cols == left) | (cols == left + width - 1)
        )
        grid = jnp.where(jnp.any(in_rect & on_wall, axis=0), jnp.uint8(O.WALL), jnp.uint8(O.EMPTY))
        if self.num_rooms > 1:
            # Each door differs in colour from the previous one: add 1..5 modulo 6.
            steps = jax.random.randint(k_colour, (self.num_rooms - 1,), 1, O.NUM_COLOURS)
            first = jax.random.randint(jax.random.fold_in(k_colour, 1), (), 0, O.NUM_COLOURS)
            colours = (first + jnp.cumsum(steps) - steps[0]) % O.NUM_COLOURS
            codes = (O.door(0, O.DOOR_CLOSED) + 3 * colours).astype(jnp.uint8)
            doors = chain.entry_door[1:]
            grid = grid.at[doors[:, 0], doors[:, 1]].set(codes)
        agent_pos = sample_cell(k_agent, in_rect[0] & (grid == O.EMPTY))
        goal_pos = sample_cell(k_goal, in_rect[-1] & (grid == O.EMPTY))
        grid = grid.at[goal_pos[0], goal_pos[1]].set(jnp.uint8(O.GOAL))
        return Layout(
            grid=grid,
            agent_pos=agent_pos,
            agent_dir=jax.random.randint(k_dir, (), 0, 4),
            target=jnp.zeros((), jnp.uint8),
        )
