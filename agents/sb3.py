"""The Stable-Baselines3 bridge: SB3's PPO / A2C with the suite's intrinsic rewards.

References: Raffin et al. 2021, "Stable-Baselines3: Reliable Reinforcement Learning
Implementations" (JMLR) — the agents; Burda et al. 2019 (RND) — the normalisation of the
intrinsic reward; Henaff, Jiang, Raileanu 2023, "A Study of Global and Episodic Bonuses for
Exploration in Contextual MDPs" — the study this bridge runs on MiniHack
(Samvelyan et al. 2021; see :mod:`envs.minihack`).

``agent=sb3_ppo`` / ``agent=sb3_a2c`` train SB3's algorithm on any Gymnasium env
(``env=gym:CartPole-v1``, ``env=gym:MiniHack-MultiRoom-N4-v0``, ``env=gym:explore/DoorKey-8x8-v0``,
or a bare suite name such as ``env=DoorKey-8x8``). This module builds the models
(:func:`build_sb3`) and their checkpoint trees; the run-store driver that trains them and
writes the same run store as the JAX agent is :mod:`explore.train_sb3` (the agents layer
imports nothing from ``explore``).

The intrinsic reward is the same :mod:`agents.bonuses` object the JAX PPO uses, called on
NumPy batches (jitted once per rollout shape). After SB3 has collected a rollout,
:class:`IntrinsicMixin` builds the time-major batch ``[T, N]`` (``obs``, ``action``,
``next_obs`` — the terminal observation at episode ends —, ``done``, ``event``), asks the
bonus for ``r_int`` and updates it (``reward_and_update``, as the JAX PPO), normalises
``r_int`` by the running std of discounted intrinsic returns (RND; same formula and
``RunningMoments`` as :mod:`agents.ppo`), writes ``ext_coef·r_ext + int_coef·r_int`` into the
rollout buffer and recomputes returns and advantages with SB3's own
``compute_returns_and_advantage``. Extrinsic and intrinsic rewards are logged separately.

Differences from the JAX PPO, on purpose (SB3 keeps one value head): the two streams are
summed into one reward before GAE, so the intrinsic return is episodic (cut at episode ends,
as ``ppo.int_episodic=true``) and discounted with ``gamma_ext``; ``gamma_int`` only drives the
normalisation. Resuming restores networks, optimiser, bonus and normalisation state and the
step count, but restarts the environments (not bit-identical, unlike the JAX agent).

Config mapping (``ppo.*`` fields): ``num_envs`` → ``n_envs``, ``num_steps`` → ``n_steps``,
``update_epochs`` → ``n_epochs``, ``num_envs·num_steps/num_minibatches`` → ``batch_size``,
``gamma_ext`` → ``gamma``, ``clip_eps`` → ``clip_range`` (and ``clip_range_vf`` with
``clip_value``), ``anneal_lr`` → a linear learning-rate schedule, ``hidden``/``activation`` →
``net_arch``/``activation_fn``; ``vec_env=dummy|subproc`` picks SB3's vectorisation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import torch
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from agents.bonuses import Bonus, Transitions, env_context
from agents.bonuses import make as make_bonus
from agents.bonuses.base import NoBonus
from agents.ppo import RunningMoments
from envs import spaces as jax_spaces

__all__ = [
    "SB3A2C",
    "SB3PPO",
    "IntrinsicReward",
    "build_sb3",
    "gym_id",
    "make_env",
    "make_vec_env",
]

# SB3 logger keys → the metric names the JAX agent writes (docs/run_store.md).
_LOSS_NAMES = {
    "train/loss": "loss/total",
    "train/policy_gradient_loss": "loss/policy",
    "train/policy_loss": "loss/policy",
    "train/value_loss": "loss/value",
    "train/approx_kl": "approx_kl",
    "train/clip_fraction": "clipfrac",
}


# --------------------------------------------------------------------------- environments
def gym_id(env: str) -> str:
    """The Gymnasium id of a config's ``env``: ``gym:<id>`` or a suite name (``explore/<name>-v0``).

    Raises ``KeyError`` naming close matches for unknown ids (ids of the form
    ``module:Name-v0`` are left to ``gymnasium.make``, which imports the module).
    """
    import envs

    if not env.startswith("gym:"):
        if env not in envs.registered():
            raise envs.registry.unknown_name_error("environment", env, envs.registered())
        return f"explore/{env}-v0"
    env_id = env.removeprefix("gym:")
    lookup = env_id
    from envs import minihack

    if minihack.is_minihack(env_id):
        try:
            import minihack as _  # noqa: F401  (registers the MiniHack ids)
        except ImportError as err:
            raise ValueError(f"{env_id} needs MiniHack: pip install -e '.[minihack]'") from err
        lookup = minihack.resolve(env_id)
    elif env_id.startswith("explore/"):
        import envs.gymnasium
    if ":" not in env_id and lookup not in gymnasium.registry:
        raise envs.registry.unknown_name_error(
            "Gymnasium environment", env_id, list(gymnasium.registry)
        )
    return env_id


@dataclass
class _EnvFactory:
    """Picklable ``() -> gymnasium.Env`` (SubprocVecEnv sends it to worker processes)."""

    env_id: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __call__(self) -> gymnasium.Env:
        return Monitor(make_env(self.env_id, **self.kwargs))


#: distinct captions an ``oni`` bonus can tell apart on a Gymnasium env (later ones earn 0)
CAPTION_CAPACITY = 1024


def task_description(env: str) -> str:
    """The task in words, for LLM-feedback prompts: MiniHack's own goals, our gridworlds'
    mission text, else the env id."""
    from envs import minihack

    env_id = gym_id(env)
    if minihack.is_minihack(env_id):
        return minihack.task_description(env_id)
    if env_id.startswith("explore/"):
        import envs

        name = env_id.split("/", 1)[1].rsplit("-v", 1)[0]
        try:
            return envs.make(name)[0].task.description
        except (KeyError, ValueError, AttributeError):
            return env_id
    return env_id


def make_env(env_id: str, **kwargs: Any) -> gymnasium.Env:
    """One Gymnasium env: MiniHack ids get the compact observation of :mod:`envs.minihack`,
    ``explore/…`` ids are the suite's gridworlds, anything else goes to ``gymnasium.make``."""
    from envs import minihack

    if minihack.is_minihack(env_id):
        return minihack.make(env_id, **kwargs)
    if env_id.startswith("explore/"):
        import envs.gymnasium  # noqa: F401  (registers the explore/ ids)
    return gymnasium.make(env_id, **kwargs)


def make_vec_env(
    env: str, env_kwargs: dict[str, Any] | None, n_envs: int, seed: int, vec_env: str = "dummy"
) -> VecEnv:
    """``n_envs`` monitored copies of a config's ``env`` in SB3's Dummy- or SubprocVecEnv.

    Copy ``i`` is seeded with ``seed + i`` at its first reset (SB3's convention).
    """
    factory = _EnvFactory(gym_id(env), dict(env_kwargs or {}))
    fns = [factory] * n_envs
    if vec_env == "subproc":
        # forkserver: JAX's runtime threads make fork unsafe.
        venv: VecEnv = SubprocVecEnv(fns, start_method="forkserver")
    elif vec_env == "dummy":
        venv = DummyVecEnv(fns)
    else:
        raise ValueError(f"vec_env must be 'dummy' or 'subproc', got {vec_env!r}")
    venv.seed(seed)
    return venv


# --------------------------------------------------------------------------- the bonus side
def bonus_view(
    observation_space: gymnasium.Space,
) -> tuple[jax_spaces.Box, Callable[[Any], np.ndarray]]:
    """What the bonus sees of observations from ``observation_space``: its Box and a function
    mapping a batch of observations ``[B, ...]`` (array or dict of arrays) to that Box.

    Box spaces are seen as they are; MiniHack's compact Dict as its glyph crop
    (:func:`envs.minihack.bonus_view`); other Dict spaces as the concatenation of their
    flattened float32 entries.
    """
    if isinstance(observation_space, gymnasium.spaces.Box):
        space = jax_spaces.Box(
            observation_space.low,
            observation_space.high,
            tuple(observation_space.shape),
            np.dtype(observation_space.dtype),
        )
        return space, lambda obs: np.asarray(obs, observation_space.dtype)
    if isinstance(observation_space, gymnasium.spaces.Dict):
        if set(observation_space.spaces) == {"glyphs", "message", "blstats"}:
            from envs import minihack

            glyphs = observation_space["glyphs"]
            shape = (*glyphs.shape, 1)
            return jax_spaces.Box(0, minihack.NUM_GLYPHS, shape, np.int16), minihack.bonus_view
        keys = [
            k for k, s in observation_space.spaces.items() if isinstance(s, gymnasium.spaces.Box)
        ]
        size = sum(int(np.prod(observation_space[k].shape)) for k in keys)

        def flat(obs: dict[str, np.ndarray]) -> np.ndarray:
            parts = [np.asarray(obs[k], np.float32) for k in keys]
            lead = parts[0].shape[: parts[0].ndim - len(observation_space[keys[0]].shape)]
            return np.concatenate([p.reshape(*lead, -1) for p in parts], axis=-1)

        return jax_spaces.Box(-np.inf, np.inf, (size,), np.float32), flat
    raise ValueError(f"observation space {observation_space} is not supported by the SB3 bridge")


def _normalise(int_filter: jax.Array, moments: RunningMoments, r_int: jax.Array, gamma: float):
    """RND's normalisation, exactly as :class:`agents.ppo.PPO` applies it."""

    def filt(carry, r):
        carry = carry * gamma + r
        return carry, carry

    int_filter, discounted = jax.lax.scan(filt, int_filter, r_int)
    moments = moments.update(discounted)
    return int_filter, moments, r_int / jnp.sqrt(moments.var + 1e-8)


class IntrinsicReward:
    """A bonus, its state and the reward normalisation, driven with NumPy batches.

    ``bonus_key`` is the key the JAX PPO gives ``bonus.init`` for the same seed
    (``jax.random.split(PRNGKey(seed), 4)[2]``), so both paths start from the same state.
    """

    def __init__(
        self,
        bonus: Bonus,
        obs_space: jax_spaces.Box,
        action_space: jax_spaces.Discrete,
        num_envs: int,
        seed: int = 0,
        gamma_int: float = 0.99,
        normalize: bool = True,
    ) -> None:
        self.bonus, self.gamma_int, self.normalize = bonus, float(gamma_int), bool(normalize)
        self.obs_space, self.action_space, self.num_envs = obs_space, action_space, num_envs
        bonus_key = jax.random.split(jax.random.PRNGKey(seed), 4)[2]
        self.state = {
            "bonus": bonus.init(bonus_key, obs_space, action_space, num_envs),
            "moments": RunningMoments.create(),
            "filter": jnp.zeros(num_envs),
        }
        self._step = jax.jit(self._pure_step)

    def _pure_step(self, state: dict[str, Any], batch: Transitions):
        r_int, bonus_state, metrics = self.bonus.reward_and_update(state["bonus"], batch)
        r_int = r_int.astype(jnp.float32)
        int_filter, moments, scaled = state["filter"], state["moments"], r_int
        if self.normalize:
            int_filter, moments, scaled = _normalise(int_filter, moments, r_int, self.gamma_int)
        new = {"bonus": bonus_state, "moments": moments, "filter": int_filter}
        return r_int, scaled, new, metrics

    def sync(self) -> None:
        """Bonuses with host work (LLM feedback): queue the captions seen so far, take the
        labels known now (host code; nothing for other bonuses)."""
        if self.bonus.host_work:
            self.state = {**self.state, "bonus": self.bonus.sync(self.state["bonus"])}

    def __call__(
        self,
        obs: np.ndarray,
        action: np.ndarray,
        next_obs: np.ndarray,
        done: np.ndarray,
        event: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
        """Raw and normalised ``r_int [T, N]`` of a batch, then the bonus update; returns
        ``(raw, normalised, metrics)``."""
        batch = Transitions.from_arrays(obs, np.asarray(action, np.int32), next_obs, done, event)
        self.sync()
        raw, scaled, self.state, metrics = self._step(self.state, batch)
        out = {f"bonus/{k}": float(v) for k, v in metrics.items()}
        out.update({f"bonus/{k}": float(v) for k, v in self.bonus.host_metrics().items()})
        return np.asarray(raw), np.asarray(scaled), out


# --------------------------------------------------------------------------- the algorithms
class _Recorder(BaseCallback):
    """Records, step by step, what the bonus batch and the episode statistics need."""

    def __init__(self, view: Callable[[Any], np.ndarray]) -> None:
        super().__init__()
        self.view = view
        #: an open caption vocabulary (``oni`` on text envs): events become codes of
        #: ``info["caption"]`` instead of ``info["event"]``
        self.vocabulary = None
        self.reset_rollout(None)

    def reset_rollout(self, last_obs: Any) -> None:
        self.obs = [self.view(last_obs)] if last_obs is not None else []
        self.next_obs: list[np.ndarray] = []
        self.actions: list[np.ndarray] = []
        self.dones: list[np.ndarray] = []
        self.events: list[np.ndarray] = []
        self.rewards: list[np.ndarray] = []
        self.episodes: list[
            tuple[float, float, float]
        ] = []  # return, length, success (nan: unknown)

    def _on_step(self) -> bool:
        new_obs, dones, infos = self.locals["new_obs"], self.locals["dones"], self.locals["infos"]
        view = self.view(new_obs)
        reached = view.copy()
        for i in np.flatnonzero(dones):
            info = infos[i]
            terminal = info.get("terminal_observation")
            if terminal is not None:
                single = (
                    {k: np.asarray(v)[None] for k, v in terminal.items()}
                    if isinstance(terminal, dict)
                    else np.asarray(terminal)[None]
                )
                reached[i] = self.view(single)[0]
            episode = info.get("episode")
            if episode is not None:
                success = info.get("success", info.get("is_success"))
                self.episodes.append(
                    (
                        float(episode["r"]),
                        float(episode["l"]),
                        math.nan if success is None else float(bool(success)),
                    )
                )
        self.obs.append(view)
        self.next_obs.append(reached)
        self.actions.append(np.asarray(self.locals["actions"]).reshape(len(dones)))
        self.dones.append(np.asarray(dones, bool))
        if self.vocabulary is not None:
            self.events.append(self.vocabulary.codes(info.get("caption", "") for info in infos))
        else:
            self.events.append(np.array([int(info.get("event", 0)) for info in infos], np.int32))
        self.rewards.append(np.array(self.locals["rewards"], np.float32))
        return True

    def batch(self) -> dict[str, np.ndarray]:
        """The rollout as a time-major batch ``[T, N, ...]``."""
        return {
            "obs": np.stack(self.obs[:-1]),
            "action": np.stack(self.actions),
            "next_obs": np.stack(self.next_obs),
            "done": np.stack(self.dones),
            "event": np.stack(self.events),
        }


class IntrinsicMixin:
    """Adds an intrinsic reward to an SB3 on-policy algorithm (PPO, A2C).

    After every rollout the buffer's rewards become ``ext_coef·r_ext + int_coef·r_int``
    (``r_int`` normalised) and returns/advantages are recomputed; ``last_rollout`` holds that
    rollout's statistics and ``on_update(model, metrics)``, if set, is called after each
    training phase with those statistics and the losses.
    """

    intrinsic: IntrinsicReward | None
    on_update: Callable[[Any, dict[str, Any]], None] | None

    def __init__(
        self,
        *args: Any,
        intrinsic: IntrinsicReward | None = None,
        bonus_view: Callable | None = None,
        int_coef: float = 1.0,
        ext_coef: float = 1.0,
        **kwargs: Any,
    ) -> None:
        # Cooperative: the SB3 algorithm after this mixin in the MRO gets the rest.
        super().__init__(*args, **kwargs)
        self._setup_intrinsic(intrinsic, bonus_view or np.asarray, int_coef, ext_coef)

    def _setup_intrinsic(
        self, intrinsic: IntrinsicReward | None, view: Callable, int_coef: float, ext_coef: float
    ) -> None:
        self.intrinsic, self.int_coef, self.ext_coef = intrinsic, float(int_coef), float(ext_coef)
        self._recorder = _Recorder(view)
        if intrinsic is not None:
            self._recorder.vocabulary = intrinsic.bonus.vocabulary
        self.on_update = None
        self.last_rollout: dict[str, Any] = {}
        self.updates = 0

    def collect_rollouts(self, env, callback, rollout_buffer, n_rollout_steps) -> bool:  # type: ignore[override]
        """SB3's rollout, then the intrinsic reward and the recomputed advantages."""
        recorder = self._recorder
        if getattr(recorder, "model", None) is None:
            recorder.init_callback(self)  # type: ignore[arg-type]
        recorder.reset_rollout(self._last_obs)  # type: ignore[attr-defined]
        # Both callbacks are initialised already; the list only needs the model reference
        # (init_callback would initialise the caller's callback a second time).
        both = CallbackList([callback, recorder])
        both.model = self  # type: ignore[assignment]
        if not super().collect_rollouts(env, both, rollout_buffer, n_rollout_steps):  # type: ignore[misc]
            return False
        batch = recorder.batch()
        extrinsic = np.stack(recorder.rewards)
        stats: dict[str, Any] = {
            "episodes_list": list(recorder.episodes),
            "extrinsic_reward_mean": float(extrinsic.mean()),
        }
        if self.intrinsic is not None:
            raw, scaled, metrics = self.intrinsic(**batch)
            stats.update(metrics)
            stats["intrinsic_reward_mean"] = float(raw.mean())
            stats["intrinsic_reward_std"] = float(raw.std())
            stats["intrinsic_reward_normalized_mean"] = float(scaled.mean())
            # rollout_buffer.rewards already holds r_ext plus SB3's γ·V(final obs) at
            # truncations; both streams are combined there.
            adv_ext = rollout_buffer.advantages.copy()  # SB3's GAE of r_ext alone
            rollout_buffer.rewards[:] = (
                self.ext_coef * rollout_buffer.rewards + self.int_coef * scaled
            )
            with torch.no_grad():
                last_values = self.policy.predict_values(  # type: ignore[attr-defined]
                    obs_as_tensor(self._last_obs, self.device)
                )  # type: ignore[attr-defined]
            rollout_buffer.compute_returns_and_advantage(
                last_values=last_values, dones=self._last_episode_starts
            )  # type: ignore[attr-defined]
            # GAE is linear in the rewards: the combined advantage minus ext_coef·A_ext is
            # int_coef times the intrinsic stream's advantage (with no baseline of its own).
            adv_int = (rollout_buffer.advantages - self.ext_coef * adv_ext) / max(
                self.int_coef, 1e-8
            )
            stats["advantage_ext_std"] = float(adv_ext.std())
            stats["advantage_int_std"] = float(adv_int.std())
        self.last_rollout = stats
        return True

    def train(self) -> None:
        """SB3's training phase, then ``on_update`` with rollout statistics and losses."""
        super().train()  # type: ignore[misc]
        self.updates += 1
        values = self.logger.name_to_value  # type: ignore[attr-defined]
        metrics = dict(self.last_rollout)
        for key, name in _LOSS_NAMES.items():
            if key in values:
                metrics[name] = float(values[key])
        if "train/entropy_loss" in values:
            metrics["loss/entropy"] = -float(values["train/entropy_loss"])  # SB3 logs −entropy
        if self.on_update is not None:
            self.on_update(self, metrics)


class SB3PPO(IntrinsicMixin, PPO):
    """SB3's PPO with an intrinsic reward (``agent=sb3_ppo``)."""


class SB3A2C(IntrinsicMixin, A2C):
    """SB3's A2C with an intrinsic reward (``agent=sb3_a2c``)."""


def build_sb3(cfg, venv: VecEnv | None = None, plain: bool = False) -> Any:
    """The SB3 model of a :class:`explore.config.RunConfig` (``agent=sb3_ppo|sb3_a2c``).

    Builds the vectorised env (unless ``venv`` is given) and the bonus; raises
    ``KeyError``/``ValueError`` on unknown env or bonus names before anything is written.
    ``plain=True`` returns SB3's own unmodified class with the same settings and no bonus
    (the peer of ``explore bench sb3``).
    """
    p = cfg.agent_settings  # agents.configs.SB3Config
    if venv is None:
        gym_id(cfg.env)  # unknown names fail here, before any process is started
    bonus_kwargs = dict(cfg.bonus_kwargs)
    needs = env_context(cfg.bonus)  # declared by the bonus (Bonus.env_context)
    if "captions" in needs:
        # Gymnasium envs caption events as text (info["caption"]); codes come from an open
        # vocabulary that grows as new messages appear (see agents.llm.vocabulary).
        from agents.llm.vocabulary import CaptionVocabulary

        bonus_kwargs.setdefault("captions", CaptionVocabulary(CAPTION_CAPACITY))
    if "task" in needs:
        bonus_kwargs.setdefault("task", task_description(cfg.env))
    bonus = make_bonus(cfg.bonus, **bonus_kwargs)
    if venv is None:
        venv = make_vec_env(cfg.env, cfg.env_kwargs, p.num_envs, cfg.seed, cfg.vec_env)
    space, view = bonus_view(venv.observation_space)
    if not isinstance(venv.action_space, gymnasium.spaces.Discrete):
        raise ValueError(f"the bonuses need a Discrete action space, got {venv.action_space}")
    intrinsic = None
    if not isinstance(bonus, NoBonus):
        intrinsic = IntrinsicReward(
            bonus,
            space,
            jax_spaces.Discrete(int(venv.action_space.n)),
            venv.num_envs,
            cfg.seed,
            p.gamma_int,
            p.normalize_int_reward,
        )
    activation = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[p.activation]
    policy_kwargs: dict[str, Any] = {"net_arch": [p.hidden, p.hidden], "activation_fn": activation}
    if isinstance(venv.observation_space, gymnasium.spaces.Dict):
        policy = "MultiInputPolicy"
        if set(venv.observation_space.spaces) == {"glyphs", "message", "blstats"}:
            from envs.minihack import GlyphCNN

            policy_kwargs["features_extractor_class"] = GlyphCNN
            policy_kwargs["net_arch"] = [p.hidden]
    else:
        policy = "MlpPolicy"
    lr = p.lr
    schedule = (lambda progress: lr * progress) if p.anneal_lr else lr
    common = dict(
        policy=policy,
        env=venv,
        learning_rate=schedule,
        n_steps=p.num_steps,
        gamma=p.gamma_ext,
        gae_lambda=p.gae_lambda,
        ent_coef=p.ent_coef,
        vf_coef=p.vf_coef,
        max_grad_norm=p.max_grad_norm,
        policy_kwargs=policy_kwargs,
        seed=cfg.seed,
        device="cpu",
        verbose=0,
    )
    if not plain:
        common.update(
            intrinsic=intrinsic, bonus_view=view, int_coef=p.int_coef, ext_coef=p.ext_coef
        )
    if cfg.agent == "sb3_ppo":
        batch = p.num_envs * p.num_steps
        if batch % p.num_minibatches:
            raise ValueError(
                f"num_minibatches={p.num_minibatches} must divide num_envs*num_steps={batch}"
            )
        model = (PPO if plain else SB3PPO)(
            **common,
            batch_size=batch // p.num_minibatches,
            n_epochs=p.update_epochs,
            clip_range=p.clip_eps,
            clip_range_vf=p.clip_eps if p.clip_value else None,
        )
    elif cfg.agent == "sb3_a2c":
        model = (A2C if plain else SB3A2C)(**common)
    else:
        raise ValueError(f"agent {cfg.agent!r} is not an SB3 agent (sb3_ppo, sb3_a2c)")
    # An in-memory logger (the run store keeps the metrics): without one, every learn()
    # configures SB3's default logger, which creates an empty /tmp/SB3-<time> folder.
    model.set_logger(Logger(folder=None, output_formats=[]))
    return model


# --------------------------------------------------------------------------- checkpoints
def _optimizer(model) -> torch.optim.Optimizer:
    return model.policy.optimizer


def _ensure_optimizer_state(opt: torch.optim.Optimizer) -> None:
    """Give a fresh optimiser its per-parameter state (a zero-gradient step, parameters kept),
    so a checkpoint can be loaded into it with the same structure."""
    if opt.state:
        return
    params = [p for group in opt.param_groups for p in group["params"]]
    saved = [p.detach().clone() for p in params]
    for p in params:
        p.grad = torch.zeros_like(p)
    opt.step()
    with torch.no_grad():
        for p, old in zip(params, saved, strict=True):
            p.copy_(old)
            p.grad = None


def checkpoint_state(model: SB3PPO | SB3A2C) -> dict[str, Any]:
    """Everything to resume: networks, optimiser, bonus and normalisation state, counters —
    a pytree of arrays, saved by ``RunDir.save_checkpoint`` as ``.npz`` (no pickle)."""
    opt = _optimizer(model)
    _ensure_optimizer_state(opt)
    opt_state = opt.state_dict()["state"]
    return {
        "policy": {k: v.detach().cpu().numpy() for k, v in model.policy.state_dict().items()},
        "optimizer": {
            str(i): {k: v.detach().cpu().numpy() for k, v in s.items()}
            for i, s in sorted(opt_state.items())
        },
        "intrinsic": model.intrinsic.state if model.intrinsic is not None else {},
        "counters": {
            "num_timesteps": np.asarray(model.num_timesteps, np.int64),
            "updates": np.asarray(model.updates, np.int64),
        },
    }


def restore_state(model: SB3PPO | SB3A2C, state: dict[str, Any]) -> None:
    """Load a :func:`checkpoint_state` tree into ``model``."""
    model.policy.load_state_dict(
        {k: torch.as_tensor(np.asarray(v)) for k, v in state["policy"].items()}
    )
    opt = _optimizer(model)
    groups = opt.state_dict()["param_groups"]
    opt.load_state_dict(
        {
            "state": {
                int(i): {k: torch.as_tensor(np.asarray(v)) for k, v in s.items()}
                for i, s in state["optimizer"].items()
            },
            "param_groups": groups,
        }
    )
    if model.intrinsic is not None:
        model.intrinsic.state = state["intrinsic"]
    model.num_timesteps = int(state["counters"]["num_timesteps"])
    model.updates = int(state["counters"]["updates"])
