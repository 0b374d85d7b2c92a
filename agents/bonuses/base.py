"""The intrinsic-reward contract: one implementation per method, used by every agent.

::

    state          = bonus.init(key, obs_space, action_space, num_envs)
    r_int          = bonus.reward(state, batch)          # [T, N], pure
    state, metrics = bonus.update(state, batch)          # trains predictors, updates counts

``batch`` is a :class:`Transitions` of shape ``[T, N, ...]`` in time-major order, as a
rollout produces it. ``next_obs[t]`` is the observation reached by ``action[t]`` (the
final observation of the episode when ``done[t]``), so bonuses reward reaching novel
states. Episodic parts (E3B's covariance, episodic counts) keep one slot per env and reset
after a transition with ``done[t]``. Everything is pure JAX: jittable inside the PPO update,
vmappable over seeds, and callable on NumPy batches (``jax.numpy`` converts them), which is
how the Stable-Baselines3 bridge uses the same objects.

What a bonus needs from the agent and offers beyond these three functions (env captions,
host-side work between chunks, every agent's reward, counterfactual policies, ...) is
declared on :class:`Bonus` as class attributes and no-op methods; agents read the
declarations instead of probing the object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from flax import struct

from envs.spaces import Box, Discrete

Metrics = dict[str, jax.Array]


@struct.dataclass
class Transitions:
    """A time-major batch ``[T, N, ...]`` of transitions."""

    obs: jax.Array
    action: jax.Array
    next_obs: jax.Array
    done: jax.Array
    # Caption codes of info["event"] (0 = nothing happened); used by LLM-feedback bonuses.
    event: jax.Array
    # Filled by multi-agent agents (IPPO) for social rewards; None elsewhere. The N agents of
    # an env sit next to each other on the env axis (index = env · N + agent).
    reward: jax.Array | None = None  # [T, E·N] extrinsic reward of every agent
    logits: jax.Array | None = None  # [T, E·N, A] policy logits at ``obs``
    # [T, E·N, N, A, A]: this agent's policy logits at ``next_obs`` had agent k's action at
    # ``action[t]`` been c (axes: k, c, the logits); needed by social influence.
    counterfactual_logits: jax.Array | None = None

    @classmethod
    def from_arrays(cls, obs, action, next_obs, done, event=None) -> Transitions:
        """Build from NumPy or JAX arrays; ``event`` defaults to zeros."""
        done = jnp.asarray(done, dtype=bool)
        if event is None:
            event = jnp.zeros(done.shape, dtype=jnp.int32)
        return cls(
            obs=jnp.asarray(obs),
            action=jnp.asarray(action),
            next_obs=jnp.asarray(next_obs),
            done=done,
            event=jnp.asarray(event, dtype=jnp.int32),
        )


class Bonus:
    """Base class of intrinsic rewards. Subclasses are cheap Python objects holding config;
    all mutable quantities live in the pytree returned by :meth:`init`.

    Besides the three pure functions, a bonus *declares* what it needs from the agent and
    what it offers, as the class attributes and no-op methods below. Agents and the training
    loop read these declarations; they never probe a bonus for a method or parse its spec
    string. A bonus overrides only what it uses.
    """

    #: registry name, set by subclasses
    name: str = "bonus"
    #: whether the bonus has per-episode state that ``done`` resets
    episodic: bool = False
    #: agent settings the method needs (e.g. its own ``int_coef``): a run with this bonus
    #: takes them unless it sets them itself; they show in ``explore train --help`` and in
    #: the run's config.yaml. Values are plain values or ``agents.configs.SameAs(field)``.
    agent_defaults: ClassVar[Mapping[str, Any]] = {}
    #: what the bonus takes from the env when it is built, as keyword arguments of its
    #: constructor: ``"captions"`` (the env's caption table, or an open vocabulary on
    #: Gymnasium envs) and ``"task"`` (the task in words). The training loop passes exactly
    #: these (composites collect their parts'; see :func:`agents.bonuses.env_context`).
    env_context: ClassVar[tuple[str, ...]] = ()
    #: whether the bonus does host-side work between jitted chunks: :meth:`sync` updates its
    #: state from host code (e.g. LLM labels), :meth:`host_metrics` reports counters,
    #: :meth:`services` lists background services and :meth:`close` stops them. Agents that
    #: run without a pause between chunks refuse such a bonus.
    host_work: bool = False
    #: a social reward: it reads every agent's extrinsic reward (``Transitions.reward``), so
    #: it needs an agent that trains the N agents of a multi-agent env (:meth:`bind`)
    social: bool = False
    #: whether the bonus is a utility term ``u_i − r_i``: the agent trains on the paper's
    #: ``u_i`` only under the bonus's own :attr:`agent_defaults` (the agent warns otherwise)
    utility: bool = False
    #: whether the bonus reads the policy's logits and its counterfactual logits under other
    #: agents' actions (``Transitions.logits`` / ``counterfactual_logits``; social influence)
    needs_counterfactuals: bool = False

    def init(self, key: jax.Array, obs_space: Box, action_space: Discrete, num_envs: int) -> Any:
        """Create the bonus state for ``num_envs`` parallel environments."""
        raise NotImplementedError

    def reward(self, state: Any, batch: Transitions) -> jax.Array:
        """Intrinsic reward ``[T, N]`` for each transition of ``batch`` (pure)."""
        raise NotImplementedError

    def update(self, state: Any, batch: Transitions) -> tuple[Any, Metrics]:
        """Learn from ``batch``: train predictors, update counts, advance episodic state."""
        raise NotImplementedError

    def reward_and_update(self, state: Any, batch: Transitions) -> tuple[jax.Array, Any, Metrics]:
        """Both at once from the same pre-update state; override to share work."""
        r_int = self.reward(state, batch)
        state, metrics = self.update(state, batch)
        return r_int, state, metrics

    # -- declared hooks: no-ops here; the agents call them whatever the bonus -------------
    def bind(self, num_agents: int) -> None:
        """Serve a multi-agent env of ``num_agents`` agents folded into the env axis (index
        ``env·N + agent``); called by multi-agent agents before :meth:`init`. No-op here."""

    def sync(self, state: Any, events: Any = None) -> Any:
        """Host code between jitted chunks (when :attr:`host_work`): returns the state with
        what the host learnt (e.g. new labels). Identity here."""
        return state

    def host_metrics(self) -> dict[str, float]:
        """Host-side counters to log with every chunk (when :attr:`host_work`); none here."""
        return {}

    def services(self) -> list[Any]:
        """Background services the bonus runs on the host (LLM labelling), started if need
        be, so the training loop can report their health; none here."""
        return []

    def close(self, wait: bool = True) -> None:
        """Stop background work (labelling threads); called once when training ends, also
        after an error. No-op here."""

    @property
    def vocabulary(self) -> Any:
        """The open caption vocabulary whose codes this bonus reads as events (``oni`` on
        Gymnasium envs, whose captions are text), or None: events are the env's codes."""
        return None


@struct.dataclass
class EmptyState:
    """State of bonuses that keep nothing."""

    step: jax.Array


class NoBonus(Bonus):
    """``none``: zero intrinsic reward (plain PPO)."""

    name = "none"

    def init(self, key, obs_space, action_space, num_envs):
        return EmptyState(step=jnp.zeros((), jnp.int32))

    def reward(self, state, batch):
        return jnp.zeros(batch.done.shape, jnp.float32)

    def update(self, state, batch):
        return state.replace(step=state.step + 1), {}


def flatten_obs(obs: jax.Array, lead_dims: int = 2) -> jax.Array:
    """``[T, N, ...]`` → ``[T, N, D]`` float32, the common input of MLP-based bonuses."""
    shape = obs.shape[:lead_dims]
    return obs.reshape(*shape, -1).astype(jnp.float32)


def episodic_reset(tree: Any, done: jax.Array, fresh: Any) -> Any:
    """Replace per-env slots of ``tree`` (leading axis N) by ``fresh`` where ``done``."""

    def pick(cur, new):
        mask = done.reshape(done.shape + (1,) * (cur.ndim - done.ndim))
        return jnp.where(mask, new, cur)

    return jax.tree.map(pick, tree, fresh)
