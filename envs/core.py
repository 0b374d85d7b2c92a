"""The functional environment contract shared by every environment in the suite.

The shape follows gymnax 1.0 (``gymnax/environments/environment.py``)::

    obs, state = env.reset(key, params)
    obs, state, reward, terminated, truncated, info = env.step(key, state, action, params)

Subclasses implement :meth:`Environment.reset_env` and :meth:`Environment.step_env`;
auto-reset lives here, in one place. After an episode ends, ``step`` returns the first
observation of the next episode and keeps the last one of the finished episode in
``info["final_observation"]`` so agents can bootstrap values at truncations.

``terminated`` and ``truncated`` never both hold here: ``truncated`` means "the time limit
cut an episode that had not ended", ``terminated`` "the episode ended" (goal, death, leaf),
even on the limit's last step. A learner bootstraps the value of ``final_observation``
exactly where ``truncated`` holds and nowhere else, so the two must be exclusive. Gymnasium's
``TimeLimit`` (MiniGrid's and MO-Gymnasium's registrations) sets ``truncated`` on the limit's
last step whether or not the episode also terminated; the Gymnasium and MO-Gymnasium doors
(:mod:`envs.gymnasium`, :mod:`envs.mo_gymnasium`) report that convention
(``terminated=True, truncated=True``).

Multi-objective environments (:mod:`envs.multiobjective.base`) keep this shape and
auto-reset; their ``reward`` is a float32 vector ``[m]`` described by
``env.reward_space(params)``.

Multi-agent environments (social dilemmas, :mod:`envs.social.base`) keep the same two
functions with a leading agent axis N: ``obs [N, ...]``, ``action [N]``, ``reward [N]``,
``info["event"] [N]``; ``terminated`` / ``truncated`` are per episode (all agents end
together), so this class's auto-reset serves them unchanged. ``observation_space`` and
``action_space`` describe ONE agent. Stacked arrays, not dicts, inside JAX (a shared
network is a reshape); dicts keyed by agent name appear only at the PettingZoo door
(:mod:`envs.pettingzoo`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from envs.spaces import Box, Discrete

Info = dict[str, Any]


@struct.dataclass
class EnvParams:
    """Parameters that may vary without recompiling (traced leaves)."""

    max_steps_in_episode: int = 1000


class Environment:
    """Base class: pure, jit- and vmap-able reset/step with auto-reset."""

    #: agents acting at each step; a multi-agent env stacks ``num_agents ≥ 2`` of them on a
    #: leading axis of obs, action, reward and ``info["event"]`` (agents read this to decide
    #: whether they can train the env)
    num_agents: int = 1
    #: whether ``reward`` is a float32 vector of objectives ``[m]`` (described by
    #: ``reward_space(params)``) rather than a scalar
    vector_reward: bool = False
    #: the task the env was built from, or None: a gridworld's ``Task`` (grid ``height`` /
    #: ``width``, which coverage diagnostics need, and the mission text ``description``)
    task: Any = None

    @property
    def default_params(self) -> EnvParams:
        """Parameters used when ``params`` is omitted."""
        return EnvParams()

    @property
    def name(self) -> str:
        """The registered name of the environment."""
        return type(self).__name__

    @property
    def num_actions(self) -> int:
        """Number of discrete actions."""
        return self.action_space(self.default_params).n

    def reset(self, key: jax.Array, params: EnvParams | None = None) -> tuple[jax.Array, Any]:
        """Start an episode; returns ``(obs, state)``."""
        params = self.default_params if params is None else params
        return self.reset_env(key, params)

    def step(
        self,
        key: jax.Array,
        state: Any,
        action: jax.Array,
        params: EnvParams | None = None,
    ) -> tuple[jax.Array, Any, jax.Array, jax.Array, jax.Array, Info]:
        """Advance one step, resetting automatically when the episode ends.

        Under ``jax.vmap`` this dispatches to :meth:`step_batch` (a ``custom_vmap`` rule):
        the vmapped ``step`` is bit for bit what the select-based auto-reset gives, but a
        fresh episode is computed only for the envs whose episode ended. Called on concrete
        (non-traced) values it runs :meth:`step_select` as it is.
        """
        params = self.default_params if params is None else params
        args = (key, state, action, params)
        leaves, tree = jax.tree.flatten(args)
        traced = [isinstance(leaf, jax.core.Tracer) for leaf in leaves]
        if not any(traced):  # eager call: nothing can be vmapped, no wrapper needed
            return self.step_select(key, state, action, params)
        # Only traced leaves are custom_vmap arguments; concrete ones (e.g. default params'
        # Python numbers) stay closed-over constants, as they were without the wrapper.
        num_params = len(jax.tree.leaves(params))

        def merge(dynamic, static=None):
            """All leaves from the traced ones (``static`` or the constant for the others)."""
            it = iter(dynamic)
            return [
                next(it) if t else (leaf if static is None else static)
                for leaf, t in zip(leaves, traced, strict=True)
            ]

        @jax.custom_batching.custom_vmap
        def stepped(*dynamic):
            return self.step_select(*jax.tree.unflatten(tree, merge(dynamic)))

        @stepped.def_vmap
        def batched_rule(axis_size, in_batched, *dynamic):
            batched = merge(in_batched, static=False)
            if any(batched[len(leaves) - num_params :]):
                # Parameters that vary across the batch: step_batch shares one set, so
                # vmap the select-based step as vmap would without this rule.
                in_axes = [0 if b else None for b, t in zip(batched, traced, strict=True) if t]
                out = jax.vmap(stepped.fun, in_axes=in_axes)(*dynamic)
            else:
                full = [
                    leaf if b or i >= len(leaves) - num_params else _broadcast(leaf, axis_size)
                    for i, (leaf, b) in enumerate(zip(merge(dynamic), batched, strict=True))
                ]
                out = self.step_batch(*jax.tree.unflatten(tree, full))
            return out, jax.tree.map(lambda _: True, out)

        return stepped(*[leaf for leaf, t in zip(leaves, traced, strict=True) if t])

    def step_select(
        self,
        key: jax.Array,
        state: Any,
        action: jax.Array,
        params: EnvParams,
    ) -> tuple[jax.Array, Any, jax.Array, jax.Array, jax.Array, Info]:
        """One step with auto-reset as a select: the reference semantics of :meth:`step`.

        Under a plain ``jax.vmap`` this computes a fresh episode for every env at every
        step; :meth:`step` and :meth:`step_batch` give the same results without that cost.
        """
        key_step, key_reset = jax.random.split(key)
        obs_st, state_st, reward, terminated, truncated, info = self.step_env(
            key_step, state, action, params
        )
        obs_re, state_re = self.reset_env(key_reset, params)
        done = jnp.logical_or(terminated, truncated)
        # Select, not cond: under vmap both branches run anyway, and select keeps it branch-free.
        state = jax.tree.map(lambda re, st: jnp.where(done, re, st), state_re, state_st)
        obs = jax.tree.map(lambda re, st: jnp.where(done, re, st), obs_re, obs_st)
        info = dict(info)
        info["final_observation"] = obs_st
        return obs, state, reward, terminated, truncated, info

    def step_batch(
        self,
        keys: jax.Array,
        state: Any,
        action: jax.Array,
        params: EnvParams | None = None,
    ) -> tuple[jax.Array, Any, jax.Array, jax.Array, jax.Array, Info]:
        """``jax.vmap(step)`` over a leading batch axis, with resets only where episodes end.

        The result is the vmapped :meth:`step`'s, bit for bit (same keys, same selects), but
        under ``vmap`` the auto-reset's select computes a fresh episode (layout generator and
        observation) for every env at every step. Here the envs whose episode ended are
        gathered, ``reset_chunk`` at a time, reset, and scattered back; a step where no
        episode ends resets nothing. Subclasses that override :meth:`step` (their own
        auto-reset) are vmapped as they are.
        """
        params = self.default_params if params is None else params
        if type(self).step is not Environment.step:
            return jax.vmap(self.step, (0, 0, 0, None))(keys, state, action, params)
        split = jax.vmap(jax.random.split)(keys)
        obs_st, state_st, reward, terminated, truncated, info = jax.vmap(
            self.step_env, (0, 0, 0, None)
        )(split[:, 0], state, action, params)
        done = jnp.logical_or(terminated, truncated)
        obs, state = self._reset_where(done, keys, obs_st, state_st, params)
        info = dict(info)
        info["final_observation"] = obs_st
        return obs, state, reward, terminated, truncated, info

    def _reset_where(self, done, keys, obs, state, params):
        """Replace ``(obs, state)`` by ``reset_env(split(keys[i])[1])`` wherever ``done[i]``.

        The reset key is split from the step's key inside the loop, for the ended envs
        only: an env whose ``step_env`` ignores its key (Empty, DoorKey) then splits no key
        at all outside it, and XLA drops the batch-wide split.
        """
        batch = done.shape[0]

        def reset_rows(index):
            reset_keys = jax.vmap(jax.random.split)(keys[index])[:, 1]
            return jax.vmap(self.reset_env, (0, None))(reset_keys, params)

        # Resets computed per pass: few episodes end on one step, so a small chunk.
        return replace_where(done, min(batch, max(16, batch // 16)), reset_rows, (obs, state))

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, Any]:
        """Environment-specific reset (no auto-reset logic)."""
        raise NotImplementedError

    def step_env(
        self, key: jax.Array, state: Any, action: jax.Array, params: EnvParams
    ) -> tuple[jax.Array, Any, jax.Array, jax.Array, jax.Array, Info]:
        """Environment-specific transition; returns terminated and truncated separately."""
        raise NotImplementedError

    def observation_space(self, params: EnvParams | None = None) -> Box:
        """Space of observations."""
        raise NotImplementedError

    def action_space(self, params: EnvParams | None = None) -> Discrete:
        """Space of actions."""
        raise NotImplementedError

    def caption(self, event: int) -> str:
        """Text of an ``info["event"]`` code ("" when the env has no captions)."""
        return ""

    @property
    def captions(self) -> tuple[str, ...]:
        """The whole caption table, indexed by event code."""
        return ("",)

    @property
    def diagnostic_events(self) -> dict[str, int]:
        """Event codes agents should track, by name (e.g. ``{"tv": code}`` on a noisy TV).

        PPO logs, per name, the fraction of steps with that event and the ratio of the raw
        intrinsic reward on them to that on the other steps: the quantities that say whether
        a bonus pulls the agent towards a distractor.
        """
        return {}


def _broadcast(leaf: jax.Array, size: int) -> jax.Array:
    """``leaf`` repeated along a new leading axis of ``size`` (an unbatched vmap argument)."""
    return jnp.broadcast_to(leaf, (size, *jnp.shape(leaf)))


def compute_where(mask: jax.Array, fn: Any, default: Any, *args: Any) -> Any:
    """``fn(*args)`` where ``mask`` holds, else ``default``; under ``vmap``, only marked rows run.

    The value is ``jnp.where(mask, fn(*args), default)`` leaf by leaf, bit for bit, for a
    scalar ``mask`` and a ``fn`` that treats each env on its own. Inside a vmapped step the
    select would run ``fn`` for every env; a ``custom_vmap`` rule instead gathers the envs
    whose ``mask`` holds and runs ``fn`` on those only (:func:`replace_where`), so a rare
    event (a respawn, regrowth that is possible in few envs) costs what its envs cost.
    Unbatched, it is a ``lax.cond``. ``fn`` must read traced values only through ``args``
    (closing over constants is fine); ``default`` is shaped like ``fn``'s result.
    """
    default_leaves, default_tree = jax.tree.flatten(default)
    arg_leaves, args_tree = jax.tree.flatten(args)
    nd = len(default_leaves)
    leaves = [jnp.asarray(leaf) for leaf in (mask, *default_leaves, *arg_leaves)]

    def call(arg_leaves):
        return fn(*jax.tree.unflatten(args_tree, arg_leaves))

    @jax.custom_batching.custom_vmap
    def computed(mask, *flat):
        default = jax.tree.unflatten(default_tree, flat[:nd])
        return jax.lax.cond(mask, lambda: call(flat[nd:]), lambda: default)

    @computed.def_vmap
    def rule(axis_size, in_batched, mask, *flat):
        mask = mask if in_batched[0] else _broadcast(mask, axis_size)
        default = [
            leaf if b else _broadcast(leaf, axis_size)
            for leaf, b in zip(flat[:nd], in_batched[1 : 1 + nd], strict=True)
        ]
        arg_batched = in_batched[1 + nd :]

        def rows(index):
            picked = [
                leaf[index] if b else leaf for leaf, b in zip(flat[nd:], arg_batched, strict=True)
            ]
            axes = [0 if b else None for b in arg_batched]
            return jax.vmap(lambda *row: call(row), in_axes=axes)(*picked)

        chunk = min(axis_size, max(16, axis_size // 16))
        out = replace_where(mask, chunk, rows, jax.tree.unflatten(default_tree, default))
        return out, jax.tree.map(lambda _: True, out)

    return computed(*leaves)


def replace_where(mask: jax.Array, chunk: int, compute: Any, values: Any) -> Any:
    """``values`` with row ``i`` of every leaf replaced by ``compute``'s row wherever ``mask[i]``.

    ``compute(index)`` receives ``chunk`` row indices (``int32 [chunk]``, all valid) and
    returns a pytree shaped like ``values`` with leading axis ``chunk``. Under ``vmap`` a
    branch becomes a select that computes every row, so this instead gathers the rows to
    redo ``chunk`` at a time in a ``while_loop``: the cost follows how many rows are marked,
    and nothing is computed when none is. Used by auto-reset (only ended episodes pay their
    reset) and by PPO's bootstrap values (only truncated steps pay a critic pass).
    """
    size = mask.shape[0]

    def redo_next_chunk(carry):
        values, todo = carry
        # The first `chunk` marked rows; the fill index `size` pads and is dropped on scatter.
        index = jnp.nonzero(todo, size=chunk, fill_value=size)[0]
        rows = compute(jnp.minimum(index, size - 1))
        values = jax.tree.map(lambda full, new: full.at[index].set(new, mode="drop"), values, rows)
        return values, todo.at[index].set(False, mode="drop")

    values, _ = jax.lax.while_loop(lambda carry: jnp.any(carry[1]), redo_next_chunk, (values, mask))
    return values
