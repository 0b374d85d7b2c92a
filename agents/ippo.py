"""IPPO: independent PPO over the agents of a multi-agent env, built from :class:`agents.ppo.PPO`.

One IPPO serves every env with the multi-agent contract of :mod:`envs.core` (``env.num_agents
≥ 2``; obs ``[N, ...]``, reward ``[N]``, action ``[N]``, one ``terminated``/``truncated`` per
episode): the social dilemmas of ``envs.social`` and any user env that follows it. The agent
axis is folded into PPO's env axis: ``E`` envs of ``N`` agents are ``E·N`` PPO "envs" (index
``env·N + agent``), so the rollout scan, GAE, the clipped loss, the intrinsic-reward stream,
the logger, checkpoints and resume are PPO's own; IPPO only overrides PPO's env hooks
(:meth:`_reset_envs`, :meth:`_step_envs`), the bonus batch and, without parameter sharing,
the learning step.

* ``share=True`` (default): one network for every agent, with the agent's id as an input. The
  id is one more symbolic channel of the egocentric grid, embedded like every other channel by
  the grid encoder, i.e. a one-hot broadcast to every cell (for flat observations, a one-hot
  concatenated to the features). A shared network is then just PPO's network on ``E·N`` rows.
* ``share=False``: one network per agent; parameters (and Adam state) are stacked on a
  leading agent axis, applied with ``jax.vmap`` over agents, and each agent learns from its
  own ``T × E`` transitions by PPO's ``_learn`` vmapped over agents.
* ``reward="shared"``: every agent is trained on the group's mean reward (as the
  cooperative baselines of SocialJax and Melting Pot offer); ``"individual"`` (default) on
  its own.
* ``joint_action_input``: each policy also sees every agent's previous action (as the
  agents of Jaques et al. 2019's model-of-other-agents variant do), entering at the policy
  head so that counterfactual policies are cheap; social influence needs it.

Steps: as for PPO, a step is one agent's step. ``total_steps``, the logged ``step`` and
``steps_per_second`` count agent-steps (env steps × N), and ``num_envs`` is the number of env
copies, each with N agents.

Logged per finished episode (beside PPO's ``episode_return``, which is here the mean
per-agent return), for envs that report them in ``info["social"]`` (the social dilemmas):
``episode_group_return`` (the sum over agents), the social outcomes of
:func:`envs.social.metrics.social_outcomes` as ``social/<name>`` (efficiency, equality,
sustainability, peace; per-agent counters as their mean over agents and per agent as
``social/<name>/<i>``).
"""

from __future__ import annotations

import copy
import functools
import warnings
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState

from agents.bonuses.base import Bonus, Transitions
from agents.configs import IPPOConfig, SameAs
from agents.networks import GRID_NETWORKS, MLPEncoder, ScannedGRU, _dense, grid_encoder
from agents.ppo import PPO, Rollout, RunnerState
from envs.social.metrics import PER_AGENT_METRICS, SCALAR_METRICS


class IPPONetwork(nn.Module):
    """PPO's actor-critic for one agent of a social env, on packed observations.

    The input is the agent's observation with IPPO's extra entries appended on the last
    axis (broadcast over the grid): the agent id (``agent_id``) and every agent's previous
    action + 1, 0 at an episode start (``joint_action``). The previous joint action enters
    the policy head additively before its non-linearity, through a table
    ``[N, A + 1, hidden]``, so the logits under a counterfactual action of one agent
    (:meth:`counterfactual_logits`) need no second pass through the encoder.
    """

    num_actions: int
    num_agents: int
    raw_dim: int  # the env's own channels (grid) or features (flat) per agent
    grid: bool = True
    encoder: str = "cnn"  # a name of agents.networks.GRID_NETWORKS, or "mlp"
    hidden: int = 64
    activation: str = "tanh"
    gru: int = 0
    agent_id: bool = True
    joint_action: bool = False

    def setup(self) -> None:
        if self.encoder in GRID_NETWORKS:
            self.torso = grid_encoder(self.encoder, self.hidden)
            self.critic_torso = None
        else:
            self.torso = MLPEncoder(self.hidden, self.activation)
            # Separate critic trunk for flat inputs, as PPO's ActorCritic.
            self.critic_torso = None if self.gru else MLPEncoder(self.hidden, self.activation)
        self.memory = ScannedGRU(self.gru) if self.gru else None
        if self.joint_action:
            self.actor_hidden = _dense(self.hidden)
            self.joint_action_table = self.param(
                "joint_action_table",
                nn.initializers.normal(0.1),
                (self.num_agents, self.num_actions + 1, self.hidden),
            )
        self.policy = _dense(self.num_actions, 0.01)
        self.value_ext = _dense(1, 1.0)
        self.value_int = _dense(1, 1.0)

    def _act(self, x: jax.Array) -> jax.Array:
        return nn.tanh(x) if self.activation == "tanh" else nn.relu(x)

    def _inputs(self, obs: jax.Array) -> tuple[jax.Array, jax.Array | None]:
        """Encoder input and previous joint action (``[..., N]``, 0 = none) of packed obs."""
        extras = obs[..., 0, 0, self.raw_dim :] if self.grid else obs[..., self.raw_dim :]
        extras = extras.astype(jnp.int32)
        k = 0
        if self.agent_id:
            if self.grid:  # the id channel, embedded as a category like every channel
                net_in = obs[..., : self.raw_dim + 1]
            else:
                one_hot = jax.nn.one_hot(extras[..., 0], self.num_agents)
                net_in = jnp.concatenate(
                    [obs[..., : self.raw_dim].astype(jnp.float32), one_hot], -1
                )
            k = 1
        else:
            net_in = obs[..., : self.raw_dim]
        prev = extras[..., k : k + self.num_agents] if self.joint_action else None
        return net_in, prev

    def _trunk(self, hidden, obs, reset):
        net_in, prev = self._inputs(obs)
        actor_x = self.torso(net_in)
        critic_x = actor_x if self.critic_torso is None else self.critic_torso(net_in)
        if self.memory is not None:
            hidden, actor_x = self.memory(hidden, (actor_x, reset))
            critic_x = actor_x
        return hidden, actor_x, critic_x, prev

    def _pre_activation(self, actor_x: jax.Array, prev: jax.Array) -> jax.Array:
        table = self.joint_action_table[jnp.arange(self.num_agents), prev]  # [..., N, hidden]
        return self.actor_hidden(actor_x) + table.sum(-2)

    def __call__(self, hidden: jax.Array, obs: jax.Array, reset: jax.Array):
        hidden, actor_x, critic_x, prev = self._trunk(hidden, obs, reset)
        if self.joint_action:
            actor_x = self._act(self._pre_activation(actor_x, prev))
        logits = self.policy(actor_x)
        return hidden, logits, self.value_ext(critic_x)[..., 0], self.value_int(critic_x)[..., 0]

    def counterfactual_logits(self, hidden: jax.Array, obs: jax.Array, reset: jax.Array):
        """Logits ``[T, B, N, A, A]``: had agent k's previous action been c (axes k, c)."""
        _, actor_x, _, prev = self._trunk(hidden, obs, reset)
        pre = self._pre_activation(actor_x, prev)  # [T, B, hidden]
        own = self.joint_action_table[jnp.arange(self.num_agents), prev]  # [T, B, N, hidden]
        alternatives = self.joint_action_table[:, 1:]  # [N, A, hidden]
        pre_cf = pre[..., None, None, :] - own[..., :, None, :] + alternatives
        return self.policy(self._act(pre_cf))


def to_agent_major(x: jax.Array, num_agents: int, axis: int = 1) -> jax.Array:
    """``[..., E·N, ...]`` (folded at ``axis``) → ``[N, ..., E, ...]``."""
    shape = (*x.shape[:axis], x.shape[axis] // num_agents, num_agents, *x.shape[axis + 1 :])
    return jnp.moveaxis(x.reshape(shape), axis + 1, 0)


def from_agent_major(x: jax.Array, axis: int = 1) -> jax.Array:
    """Inverse of :func:`to_agent_major`: ``[N, ..., E, ...]`` → ``[..., E·N, ...]``."""
    x = jnp.moveaxis(x, 0, axis + 1)
    return x.reshape((*x.shape[:axis], -1, *x.shape[axis + 2 :]))


class PerAgentNetwork:
    """One network per agent: ``init``/``apply`` like a flax module, on the folded layout.

    Parameters are stacked on a leading agent axis (initialised under ``jax.vmap``, which
    :func:`agents.networks.orthogonal` makes safe); inputs ``[T, E·N, ...]`` are split by
    agent, each agent's network is applied to its ``[T, E, ...]`` rows, and outputs folded back.
    """

    def __init__(self, net: IPPONetwork, num_agents: int) -> None:
        self.net, self.num_agents = net, num_agents

    def _split(self, hidden, obs, reset):
        n = self.num_agents
        return to_agent_major(hidden, n, 0), to_agent_major(obs, n), to_agent_major(reset, n)

    def init(self, key, hidden, obs, reset):
        keys = jax.random.split(key, self.num_agents)
        return jax.vmap(self.net.init)(keys, *self._split(hidden, obs, reset))

    def apply(self, params, hidden, obs, reset, method=None):
        apply = functools.partial(self.net.apply, method=method)
        out = jax.vmap(apply)(params, *self._split(hidden, obs, reset))
        if method is not None:
            return from_agent_major(out)
        new_hidden, logits, v_ext, v_int = out
        return (
            from_agent_major(new_hidden, 0),
            from_agent_major(logits),
            from_agent_major(v_ext),
            from_agent_major(v_int),
        )


class IPPO(PPO):
    """Independent PPO for the N agents of a multi-agent env; see the module docstring."""

    multi_agent = True

    def __init__(self, env, env_params, bonus: Bonus | None, cfg: IPPOConfig) -> None:
        # Any env with the multi-agent contract (env.num_agents ≥ 2, PPO.accepts): checked
        # here already, before the agent count is used.
        reason = self.accepts(env)
        if reason is not None:
            from agents.configs import refusal

            raise ValueError(refusal(reason, lambda agent: agent.accepts(env) is None))
        if not isinstance(cfg, IPPOConfig):
            cfg = IPPOConfig(**cfg.model_dump())
        n = env.num_agents
        needs_cf = bonus is not None and bonus.needs_counterfactuals
        joint = cfg.joint_action_input if cfg.joint_action_input is not None else needs_cf
        if needs_cf and not joint:
            raise ValueError(
                f"bonus {bonus.name!r} reads each policy under other agents' counterfactual "
                "actions: it needs ippo.joint_action_input=true (or unset)"
            )
        if needs_cf and cfg.gru:
            raise ValueError(f"bonus {bonus.name!r}: ippo.gru must be 0 (no recurrent policy)")
        if not cfg.share and cfg.gru and cfg.num_envs % cfg.num_minibatches:
            raise ValueError(
                "with share=false and gru > 0, num_minibatches must divide num_envs "
                "(each agent's minibatches are whole sequences)"
            )
        if not cfg.share and (cfg.num_envs * cfg.num_steps) % cfg.num_minibatches:
            raise ValueError(
                f"with share=false, num_minibatches={cfg.num_minibatches} must divide "
                f"num_envs*num_steps={cfg.num_envs * cfg.num_steps} (each agent's batch)"
            )
        # The settings a utility bonus needs are its own agent_defaults (agents.bonuses.social).
        overridden = [
            key
            for key, value in (bonus.agent_defaults if bonus is not None else {}).items()
            if getattr(cfg, key)
            != (getattr(cfg, value.field) if isinstance(value, SameAs) else value)
        ]
        if bonus is not None and bonus.utility and overridden:
            warnings.warn(
                f"bonus {bonus.name!r} is a utility u_i = r_i + term; agents train on the "
                f"paper's u_i only with the bonus's own settings, which this run overrode: "
                f"{', '.join(overridden)}",
                stacklevel=2,
            )
        self.num_agents, self.settings, self.joint_action = n, cfg, joint
        # PPO sees E·N envs of one agent each.
        super().__init__(
            env, env_params, bonus, cfg.model_copy(update={"num_envs": cfg.num_envs * n})
        )
        self.bonus.bind(n)  # a no-op for bonuses that do not read the agent count
        raw = self.obs_space  # one agent's observation space
        self.grid = len(raw.shape) == 3
        # IPPOConfig.network's "auto" (declared there).
        encoder = cfg.network if cfg.network != "auto" else ("cnn" if self.grid else "mlp")
        self.extras = int(cfg.share) + (n if joint else 0)
        net = IPPONetwork(
            num_actions=self.action_space.n,
            num_agents=n,
            raw_dim=raw.shape[-1],
            grid=self.grid,
            encoder=encoder,
            hidden=cfg.hidden,
            activation=cfg.activation,
            gru=cfg.gru,
            agent_id=cfg.share,
            joint_action=joint,
        )
        self.agent_network = net
        # A shared network maps each row on its own (the agent id is in the row), so a
        # truncated step's bootstrap value may come from gathered rows, as PPO's do. With one
        # network per agent, each agent's network reads its own slice of the folded env
        # axis, so gathered rows would meet the wrong agent's network: every reached
        # observation is evaluated instead.
        self.bootstrap_by_gather = cfg.share
        self.network = net if cfg.share else PerAgentNetwork(net, n)
        if not cfg.share:
            # Each agent's learner: PPO's _learn on that agent's T × E transitions.
            self._agent_learner = copy.copy(self)
            self._agent_learner.cfg = cfg.model_copy(update={"num_envs": cfg.num_envs})
            self._agent_learner.network = net

    # --- packing IPPO's extra inputs into the observation ---------------------------------
    def _pack(self, obs: jax.Array, prev_action: jax.Array | None) -> jax.Array:
        """``[E, N, ...]`` env observations → ``[E·N, ...]`` with id / previous joint action."""
        e, n = obs.shape[:2]
        extras = []
        if self.settings.share:
            extras.append(jnp.broadcast_to(jnp.arange(n)[None, :, None], (e, n, 1)))
        if self.joint_action:
            prev = jnp.zeros((e, n), jnp.int32) if prev_action is None else prev_action + 1
            extras.append(jnp.broadcast_to(prev[:, None, :], (e, n, n)))
        if extras:
            x = jnp.concatenate(extras, -1).astype(obs.dtype)  # [E, N, K]
            if self.grid:
                x = jnp.broadcast_to(x[:, :, None, None, :], (*obs.shape[:-1], x.shape[-1]))
            obs = jnp.concatenate([obs, x], -1)
        return obs.reshape(e * n, *obs.shape[2:])

    def _unpack(self, obs: jax.Array) -> jax.Array:
        """The env's own observation (drops IPPO's extra entries)."""
        return obs[..., : self.obs_space.shape[-1]] if self.extras else obs

    # --- PPO's env hooks ------------------------------------------------------------------
    def _reset_envs(self, key: jax.Array, n: int) -> tuple[jax.Array, Any]:
        obs, env_state = super()._reset_envs(key, n // self.num_agents)
        return self._pack(obs, None), env_state

    def _step_envs(self, key: jax.Array, env_state: Any, action: jax.Array):
        n = self.num_agents
        joint = action.reshape(-1, n)
        obs, env_state, reward, terminated, truncated, info = super()._step_envs(
            key, env_state, joint
        )
        done = terminated | truncated
        if self.settings.reward == "shared":
            reward = jnp.broadcast_to(reward.mean(-1, keepdims=True), reward.shape)
        # After an auto-reset the new episode's first observation has no previous action.
        prev = jnp.where(done[:, None], -1, joint)
        folded_info = {
            "final_observation": self._pack(info["final_observation"], joint),
            "event": info["event"].reshape(-1),
            "success": jnp.repeat(info["success"], n),
        }
        if "social" in info:  # the social dilemmas' outcome metrics; other envs have none
            folded_info["social"] = info["social"]
        return (
            self._pack(obs, prev),
            env_state,
            reward.reshape(-1),
            jnp.repeat(terminated, n),
            jnp.repeat(truncated, n),
            folded_info,
        )

    def _episode_stats(self, info: dict[str, Any], done: jax.Array) -> dict[str, jax.Array]:
        """Sums over finished episodes of the social outcomes (turned into means in update);
        none for a multi-agent env without ``info["social"]``."""
        if "social" not in info:
            return {}
        ended = done.reshape(-1, self.num_agents)[:, 0].astype(jnp.float32)  # [E]
        social = info["social"]
        stats = {"social_episodes": ended.sum()}
        stats["social_sum/group_return"] = (ended * social["returns"].sum(-1)).sum()
        for name in SCALAR_METRICS:
            stats[f"social_sum/{name}"] = (ended * social[name]).sum()
        for name in PER_AGENT_METRICS:
            per_agent = (ended[:, None] * social[name]).sum(0)  # [N]
            stats[f"social_sum/{name}"] = per_agent.mean()
            for i in range(self.num_agents):
                stats[f"social_sum/{name}/{i}"] = per_agent[i]
        return stats

    def update(self, state: RunnerState) -> tuple[RunnerState, dict[str, jax.Array]]:
        """PPO's update; the social sums become per-episode means (NaN without an episode end)."""
        state, metrics = super().update(state)
        if "social_episodes" not in metrics:  # the env reports no social outcomes
            return state, metrics
        episodes = metrics.pop("social_episodes")
        for key in [k for k in metrics if k.startswith("social_sum/")]:
            value = metrics.pop(key) / jnp.maximum(episodes, 1.0)
            name = key.removeprefix("social_sum/")
            name = "episode_group_return" if name == "group_return" else f"social/{name}"
            metrics[name] = jnp.where(episodes > 0, value, jnp.nan)
        return state, metrics

    # --- bonus ------------------------------------------------------------------------------
    def _bonus_batch(self, state: RunnerState, traj: Rollout, hidden0: jax.Array) -> Transitions:
        """Each agent's own observations (no IPPO extras), plus what social rewards read."""
        logits = counterfactual = None
        if self.bonus.needs_counterfactuals:
            params = state.train.params  # the policy that collected the rollout
            _, logits, _, _ = self._evaluate(params, hidden0, traj, traj.obs)
            counterfactual = self.network.apply(
                params,
                hidden0,
                traj.next_obs,
                jnp.zeros_like(traj.start),
                method=IPPONetwork.counterfactual_logits,
            )
        return Transitions(
            self._unpack(traj.obs),
            traj.action,
            self._unpack(traj.next_obs),
            traj.done,
            traj.event,
            reward=traj.reward,
            logits=logits,
            counterfactual_logits=counterfactual,
        )

    # --- one network per agent ---------------------------------------------------------------
    def init(self, key: jax.Array) -> RunnerState:
        """PPO's init; without sharing, one optimiser state per agent (stacked)."""
        state = super().init(key)
        if self.settings.share:
            return state
        tx = state.train.tx
        train = jax.vmap(
            lambda p: TrainState.create(apply_fn=self.agent_network.apply, params=p, tx=tx)
        )(state.train.params)
        return state.replace(train=train)

    def _learn(
        self, state: RunnerState, traj: Rollout, hidden0, advantages, target_ext, target_int
    ):
        if self.settings.share:
            return super()._learn(state, traj, hidden0, advantages, target_ext, target_int)
        n = self.num_agents
        per_agent = functools.partial(to_agent_major, num_agents=n)
        data = jax.tree.map(per_agent, (traj, advantages, target_ext, target_int))
        hidden = to_agent_major(hidden0, n, 0)
        key, *keys = jax.random.split(state.key, n + 1)

        def learn_one(train, agent_key, data, hidden):
            one = state.replace(train=train, key=agent_key)
            one, metrics = PPO._learn(self._agent_learner, one, data[0], hidden, *data[1:])
            return one.train, metrics

        train, metrics = jax.vmap(learn_one)(state.train, jnp.stack(keys), data, hidden)
        return state.replace(train=train, key=key), jax.tree.map(jnp.mean, metrics)
