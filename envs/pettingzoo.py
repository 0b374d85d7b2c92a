"""PettingZoo front door for every multi-agent env (the social dilemmas and any user env).

>>> from envs.pettingzoo import parallel_env, BatchedParallelEnv
>>> env = parallel_env("Harvest-Open", render_mode="rgb_array")
>>> observations, infos = env.reset(seed=0)
>>> observations, rewards, terminations, truncations, infos = env.step(
...     {agent: env.action_space(agent).sample() for agent in env.agents})
>>> batch = BatchedParallelEnv("CleanUp", batch_size=64, seed=0)  # one jitted, vmapped step

Any env registered with ``kind="multi-agent"`` (or any :class:`envs.core.Environment` with
an integer ``num_agents ≥ 2`` that follows the multi-agent contract of :mod:`envs.core`: stacked
``obs [N, ...]``, ``action [N]``, ``reward [N]``, ``info["event"] [N]``) goes through this
door; ``agent_ids`` defaults to ``player_0, player_1, ...``.

Keyword arguments go to ``envs.make`` (``num_agents``, ``ascii_map``, ``episode_length``,
...). Dicts keyed by agent name exist only here; inside JAX everything is stacked on the
agent axis. Observations are NumPy arrays of the env's per-agent space (``uint8 [11, 11, 4]``
for the social dilemmas); ``infos[agent]`` carries the agent's ``event`` code and its
``caption``. When the episode ends every
agent is removed from ``agents`` (PettingZoo's convention) and ``reset`` starts the next.

Seeding: ``reset(seed=s)`` fixes the whole trajectory (layout draws and transitions);
without a seed, a fresh key is drawn from NumPy's global generator.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from pettingzoo import ParallelEnv

from envs.core import Environment
from envs.registry import make

_MAX_SEED = 2**31 - 1


def _agent_spaces(env: Environment) -> tuple[gymnasium.spaces.Box, gymnasium.spaces.Discrete]:
    obs = env.observation_space()
    low = np.broadcast_to(np.asarray(obs.low, obs.dtype), obs.shape)
    high = np.broadcast_to(np.asarray(obs.high, obs.dtype), obs.shape)
    space = gymnasium.spaces.Box(low, high, obs.shape, np.dtype(obs.dtype))
    return space, gymnasium.spaces.Discrete(env.action_space().n)


def is_multi_agent(env: Any) -> bool:
    """Whether ``env`` declares the multi-agent contract (an integer ``num_agents`` ≥ 2)."""
    n = getattr(env, "num_agents", None)
    return isinstance(n, int | np.integer) and not isinstance(n, bool) and n >= 2


def agent_ids(env: Any) -> list[str]:
    """The env's agent names (``agent_ids``, else ``player_0 ... player_{N-1}``)."""
    ids = getattr(env, "agent_ids", None)
    return list(ids) if ids is not None else [f"player_{i}" for i in range(int(env.num_agents))]


def _make_multi_agent(name: str, options: dict[str, Any]) -> tuple[Environment, Any]:
    env, params = make(name, **options)
    if not is_multi_agent(env):
        raise ValueError(
            f"{name!r} is not a multi-agent environment (num_agents < 2); "
            "single-agent envs use gymnasium.make('explore/<Name>-v<version>')"
        )
    return env, params


def _captioner(env: Environment):
    # Social envs name the agent in their captions ("Agent 3 eats an apple."); a plain
    # Environment.caption takes the event code only.
    import inspect

    takes_agent = len(inspect.signature(env.caption).parameters) >= 2
    if takes_agent:
        return lambda event, agent: env.caption(int(event), agent)
    return lambda event, agent: env.caption(int(event))


class SocialParallelEnv(ParallelEnv):
    """One social env behind PettingZoo's ``ParallelEnv`` API (jitted reset / step)."""

    metadata: ClassVar[dict[str, Any]] = {
        "name": "explore_social",
        "render_modes": ["rgb_array"],
        "is_parallelizable": True,
    }

    def __init__(self, name: str, render_mode: str | None = None, **options: Any) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.env, self.params = _make_multi_agent(name, options)
        self.metadata = {**self.metadata, "name": name}
        self.render_mode = render_mode
        self.possible_agents = agent_ids(self.env)
        self.agents: list[str] = []
        self._index = {agent: i for i, agent in enumerate(self.possible_agents)}
        self._obs_space, self._act_space = _agent_spaces(self.env)
        self._caption = _captioner(self.env)
        layout = getattr(self.env, "layout", None)
        if layout is not None and hasattr(self.env, "_map_view"):  # the social gridworlds
            h, w = layout.height, layout.width
            self.state_space = gymnasium.spaces.Box(0, 255, (h, w, 3), np.uint8)
        self._reset = jax.jit(self.env.reset_env)
        # The raw transition: PettingZoo leaves resetting to the caller.
        self._step = jax.jit(self.env.step_env)
        self._key: jax.Array | None = None
        self._state = None

    def observation_space(self, agent: str) -> gymnasium.spaces.Box:
        """Space of ``agent``'s observation (one cached object shared by every agent)."""
        return self._obs_space

    def action_space(self, agent: str) -> gymnasium.spaces.Discrete:
        """Space of ``agent``'s action (one cached object shared by every agent)."""
        return self._act_space

    def reset(
        self, seed: int | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        """Start an episode; ``seed`` fixes the whole trajectory."""
        if seed is None:
            seed = int(np.random.randint(0, _MAX_SEED))
        self._key, key_reset = jax.random.split(jax.random.PRNGKey(seed))
        obs, self._state = self._reset(key_reset, self.params)
        self.agents = list(self.possible_agents)
        obs = np.asarray(obs)
        return (
            {a: obs[i] for i, a in enumerate(self.possible_agents)},
            {a: {} for a in self.possible_agents},
        )

    def _actions_array(self, actions: dict[str, Any]) -> np.ndarray:
        if self._state is None:
            raise ValueError("call reset() before step()")
        array = np.zeros(len(self.possible_agents), np.int32)
        for agent in self.agents:
            if agent not in actions:
                raise ValueError(f"actions: no action for agent {agent!r}")
        for agent, action in actions.items():
            if agent not in self._index:
                raise ValueError(
                    f"actions: unknown agent {agent!r}; agents: {self.possible_agents}"
                )
            value = np.asarray(action)
            if value.shape != () or not np.issubdtype(value.dtype, np.integer):
                raise ValueError(f"actions[{agent!r}]: expected an integer, got {action!r}")
            if not self._act_space.contains(np.int64(value)):
                raise ValueError(
                    f"actions[{agent!r}]: {int(value)} is outside the action space "
                    f"Discrete({self._act_space.n})"
                )
            array[self._index[agent]] = int(value)
        return array

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Advance all agents one step; after the last step ``agents`` is empty."""
        array = self._actions_array(actions)
        self._key, key_step = jax.random.split(self._key)
        obs, self._state, reward, terminated, truncated, info = self._step(
            key_step, self._state, jnp.asarray(array), self.params
        )
        obs, reward = np.asarray(obs), np.asarray(reward)
        events = np.asarray(info["event"])
        term, trunc = bool(terminated), bool(truncated)
        live = list(self.agents)
        observations = {a: obs[self._index[a]] for a in live}
        rewards = {a: float(reward[self._index[a]]) for a in live}
        terminations = {a: term for a in live}
        truncations = {a: trunc for a in live}
        infos = {
            a: {
                "event": int(events[self._index[a]]),
                "caption": self._caption(events[self._index[a]], self._index[a]),
            }
            for a in live
        }
        if term or trunc:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def render(self) -> np.ndarray | None:
        """RGB frame of the whole map (``render_mode="rgb_array"``), else None."""
        if self.render_mode is None or self._state is None or not hasattr(self.env, "render"):
            return None
        return self.env.render(self._state)

    def state(self) -> np.ndarray:
        """Global symbolic state uint8 [H, W, 3]: object, agent id + 1, orientation + 1
        (the social gridworlds; other envs have no global state here)."""
        if not hasattr(self, "state_space"):
            raise NotImplementedError(f"{self.metadata['name']} has no global state")
        if self._state is None:
            raise ValueError("call reset() before state()")
        st = self._state
        grid = np.asarray(self.env._map_view(st))
        out = np.zeros((*grid.shape, 3), np.uint8)
        out[..., 0] = grid
        for i, ((r, c), o, out_steps) in enumerate(
            zip(np.asarray(st.pos), np.asarray(st.orient), np.asarray(st.removed), strict=True)
        ):
            if out_steps == 0:
                out[r, c, 1], out[r, c, 2] = i + 1, o + 1
        return out

    def close(self) -> None:
        """Nothing to release."""


def parallel_env(name: str, render_mode: str | None = None, **options: Any) -> SocialParallelEnv:
    """PettingZoo-style constructor (``pettingzoo.<family>.<env>.parallel_env``)."""
    return SocialParallelEnv(name, render_mode=render_mode, **options)


class BatchedParallelEnv:
    """A batch of one social env stepped in ONE jitted, vmapped call (auto-reset).

    Arrays, not dicts: ``reset() -> obs [B, N, 11, 11, 4]``; ``step(actions [B, N]) ->
    (obs, reward [B, N], terminated [B], truncated [B], info)`` with NumPy outputs;
    ``info`` holds ``final_observation``, ``event [B, N]`` and ``social``. Finished
    episodes restart automatically (the core's auto-reset).
    """

    def __init__(self, name: str, batch_size: int, seed: int = 0, **options: Any) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size: must be at least 1, got {batch_size}")
        self.env, self.params = _make_multi_agent(name, options)
        self.batch_size = batch_size
        self.possible_agents = agent_ids(self.env)
        self.single_observation_space, self.single_action_space = _agent_spaces(self.env)
        self._key = jax.random.PRNGKey(seed)
        self._reset = jax.jit(jax.vmap(self.env.reset, (0, None)))
        self._step = jax.jit(jax.vmap(self.env.step, (0, 0, 0, None)))
        self._state = None

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Start every episode; returns obs [B, N, 11, 11, 4]."""
        if seed is not None:
            self._key = jax.random.PRNGKey(seed)
        self._key, key = jax.random.split(self._key)
        obs, self._state = self._reset(jax.random.split(key, self.batch_size), self.params)
        return np.asarray(obs)

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        """Step the whole batch with ``actions [B, N]``."""
        if self._state is None:
            raise ValueError("call reset() before step()")
        actions = np.asarray(actions)
        expected = (self.batch_size, len(self.possible_agents))
        if actions.shape != expected:
            raise ValueError(f"actions: expected shape {expected}, got {actions.shape}")
        bad = (actions < 0) | (actions >= self.single_action_space.n)
        if bad.any():
            b, i = np.argwhere(bad)[0]
            raise ValueError(
                f"actions[{b}, {i}] (agent {self.possible_agents[i]!r}): {actions[b, i]} is "
                f"outside the action space Discrete({self.single_action_space.n})"
            )
        self._key, key = jax.random.split(self._key)
        obs, self._state, reward, terminated, truncated, info = self._step(
            jax.random.split(key, self.batch_size),
            self._state,
            jnp.asarray(actions, jnp.int32),
            self.params,
        )
        info = jax.tree.map(np.asarray, info)
        return (
            np.asarray(obs),
            np.asarray(reward),
            np.asarray(terminated),
            np.asarray(truncated),
            info,
        )
