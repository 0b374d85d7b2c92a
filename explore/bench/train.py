"""End-to-end PPO throughput: ``explore bench train``.

Two measurements, each a ratio taken inside one run of this command:

* **CartPole-v1 (gymnax) at PureJaxRL's published config** — 256 envs × 128 steps,
  4 epochs × 4 minibatches, 5 M steps, the whole run one ``jax.jit`` call, timed from the
  call to the result as PureJaxRL's ``ppo.py`` does (compile included). The peer is
  PureJaxRL's own ``make_train``, timed in the same run, from ``--purejaxrl DIR`` (the
  folder holding ``purejaxrl/``, or ``$EXPLORE_PUREJAXRL``; by default a
  ``shared/peers/purejaxrl`` folder beside the checkout, when it exists). Its files are
  loaded at run time, never edited or vendored, and adapted at the boundary only (see :func:`load_purejaxrl`): ``ppo.py`` was written for gymnax 0.0.x, so
  it is handed a five-value view of the gymnax 1.0 env (``done = terminated | truncated``),
  and its ``wrappers.py`` gets stand-in modules for ``brax`` (and ``navix`` if absent),
  which it imports but the CartPole path never uses. Without a checkout the row compares
  against a recorded figure (``PUREJAXRL_RECORDED_STEPS_PER_S``), and every such row says
  ``recorded figure, NOT measured in this run``.
* **Bonus cost on DoorKey-8x8** — ``--seeds`` seeds in one compiled program (``agents.seeds.run_seeds``), PPO
  alone and PPO with each intrinsic reward, timed after a warm-up (compilation excluded),
  best of ``--repeats``. The ratio is (plain PPO steps/s) / (PPO+bonus steps/s). Targets
  from the issues: RND ≤ 1.35, every other bonus ≤ 1.5, the BYOL family ≤ 2.5, and
  ``oni(retrieval)`` ≥ 0.8× plain PPO's throughput (ratio ≤ 1.25). ONI is timed through
  the same chunked loop ``explore train`` runs (jitted chunk, then ``bonus.sync`` on the
  host), since its label exchange happens between chunks.

With ``--ippo``, IPPO instead (:func:`ippo_speed_rows`, then :func:`ippo_rows`): agent-steps/s
of ours at IPPO's defaults and at a configuration matched to SocialJax's own IPPO
(``algorithms/IPPO/ippo_cnn_cleanup.py`` from ``--socialjax DIR`` or ``$EXPLORE_SOCIALJAX``;
no default folder), each side compiled and timed in a fresh process, alternating; an older
checkout of this project (``--ippo-baseline DIR``) is timed beside ours by the same code.
SocialJax's module is run unedited, with stand-ins for the ``hydra``, ``omegaconf`` and
``wandb`` it imports (:func:`load_socialjax`). Then the social-reward cost rows.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import tempfile
import time
import types
import typing
from pathlib import Path
from typing import Any

import jax
import numpy as np

from agents.seeds import run_seeds
from explore.bench.peers import default_peer_folder

# PureJaxRL's ``ppo.py`` on gymnax CartPole-v1 with its published config, 5 M steps, compile
# included: 32.1–32.3 s = 155 k steps/s on a 2-core AMD EPYC CPU (2026-12-01); used only when no checkout is found, and labelled so.
PUREJAXRL_RECORDED_STEPS_PER_S = 155_000.0
RECORDED_LABEL = "recorded figure (2026-12-01, 2-core CPU), NOT measured in this run"
MEASURED_LABEL = "measured in this run"
# The peers' folder beside the checkout, used when neither the flag nor the variable is set.
DEFAULT_PUREJAXRL = default_peer_folder("purejaxrl")
# Where else to look for PureJaxRL's files (a checkout not next to this one, e.g. in CI).
PUREJAXRL_ENV = "EXPLORE_PUREJAXRL"
# Where to find SocialJax's files when --socialjax is not given.
SOCIALJAX_ENV = "EXPLORE_SOCIALJAX"
DEFAULT_SOCIALJAX = default_peer_folder("socialjax")
PUREJAXRL_CONFIG = {
    "LR": 2.5e-4,
    "NUM_ENVS": 256,
    "NUM_STEPS": 128,
    "UPDATE_EPOCHS": 4,
    "NUM_MINIBATCHES": 4,
    "GAMMA": 0.99,
    "GAE_LAMBDA": 0.95,
    "CLIP_EPS": 0.2,
    "ENT_COEF": 0.01,
    "VF_COEF": 0.5,
    "MAX_GRAD_NORM": 0.5,
    "ACTIVATION": "tanh",
    "ENV_NAME": "CartPole-v1",
    "ANNEAL_LR": True,
    "DEBUG": False,
}

DEFAULT_BONUSES = [
    "rnd",
    "count",
    "episodic_count",
    "rdd",
    "icm",
    "noveld",
    "e3b",
    "product(rnd,e3b)",
    "byol_explore",
    "byol_hindsight",
    "oni(retrieval,annotator=rules)",
]


def target_ratio(bonus: str) -> float:
    """The cost target (plain steps/s ÷ bonus steps/s) the issues set for ``bonus``."""
    if bonus == "rnd":
        return 1.35
    if bonus.startswith("byol"):
        return 2.5
    if bonus.startswith("oni"):
        return 1.25  # ≥ 0.8× plain PPO's throughput
    return 1.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``explore bench train``."""
    parser.add_argument(
        "--cartpole-steps",
        type=float,
        default=5e6,
        help="total steps of the CartPole run (PureJaxRL's published run: 5e6); 0 skips it",
    )
    parser.add_argument(
        "--purejaxrl",
        metavar="DIR",
        default=None,
        help="PureJaxRL's files (the folder holding purejaxrl/) to time its ppo.py in this run "
        f"(default: ${PUREJAXRL_ENV}, else {DEFAULT_PUREJAXRL} when it exists)",
    )
    parser.add_argument(
        "--cartpole-repeats",
        type=int,
        default=1,
        help="CartPole runs of each side, alternating ours/PureJaxRL (the fastest is kept)",
    )
    parser.add_argument("--task", default="DoorKey-8x8", help="gridworld for the bonus-cost rows")
    parser.add_argument("--seeds", type=int, default=5, help="seeds in one program")
    parser.add_argument("--num-envs", type=int, default=16, help="envs per seed")
    from agents.configs import PPOConfig  # pydantic only: no JAX at parser time

    parser.add_argument(
        "--network",
        default="auto",
        choices=typing.get_args(PPOConfig.model_fields["network"].annotation),
        help="PPO's network for the bonus-cost rows (ppo.network; auto: the default cnn)",
    )
    parser.add_argument("--updates", type=int, default=5, help="PPO updates per timed call")
    parser.add_argument(
        "--repeats", type=int, default=2, help="timed calls per bonus (best is kept)"
    )
    parser.add_argument(
        "--bonuses",
        nargs="+",
        default=DEFAULT_BONUSES,
        help="bonus specs to compare with plain PPO ('none' is always measured)",
    )
    parser.add_argument(
        "--ippo",
        action="store_true",
        help="instead: IPPO on --ippo-env (shared parameters) with and without each social reward",
    )
    parser.add_argument(
        "--ippo-env", default="CleanUp", help="social env of the --ippo rows (default agents)"
    )
    parser.add_argument(
        "--socialjax",
        metavar="DIR",
        default=None,
        help="SocialJax's files (the folder holding algorithms/ and socialjax/) to time its "
        f"own IPPO (algorithms/IPPO/ippo_cnn_cleanup.py) in the --ippo run (default: "
        f"${SOCIALJAX_ENV}; without either its row is left unmeasured)",
    )
    parser.add_argument(
        "--ippo-baseline",
        metavar="DIR",
        default=None,
        help="another checkout of this project (e.g. an older commit, unpacked with git "
        "archive) whose IPPO the --ippo run times beside this one's",
    )
    parser.add_argument(
        "--ippo-num-envs",
        type=int,
        default=4,
        help="envs of the configuration matched to SocialJax",
    )
    parser.add_argument(
        "--ippo-num-steps",
        type=int,
        default=128,
        help="rollout length of the matched configuration",
    )
    parser.add_argument(
        "--ippo-epochs", type=int, default=2, help="epochs per update of the matched configuration"
    )
    parser.add_argument(
        "--ippo-minibatches", type=int, default=4, help="minibatches of the matched configuration"
    )
    parser.add_argument(
        "--ippo-updates", type=int, default=1, help="updates per timed IPPO call (compiled first)"
    )
    parser.add_argument(
        "--ippo-repeats",
        type=int,
        default=2,
        help="rounds of the IPPO speed rows; each round runs every side once, in fresh "
        "processes, alternating (the fastest is kept, all are listed)",
    )
    parser.add_argument(
        "--ippo-defaults",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time ours (and --ippo-baseline) at IPPO's default settings",
    )
    parser.add_argument(
        "--ippo-matched",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also the configuration matched to SocialJax (with --socialjax, its IPPO too)",
    )
    parser.add_argument(
        "--ippo-social",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also the social-reward cost rows (IPPO with and without each social reward)",
    )


# --- CartPole at PureJaxRL's config ---------------------------------------------------------
def ours_cartpole_train(total_steps: float, config: dict[str, Any] | None = None):
    """Our pure ``train(key)`` on gymnax CartPole-v1 at PureJaxRL's config (or ``config``)."""
    from explore.config import RunConfig
    from explore.train import build

    c = dict(PUREJAXRL_CONFIG, **(config or {}))
    cfg = RunConfig(
        env="gymnax:CartPole-v1",
        bonus="none",
        total_steps=int(total_steps),
        ppo={
            "num_envs": c["NUM_ENVS"],
            "num_steps": c["NUM_STEPS"],
            "lr": c["LR"],
            "anneal_lr": c["ANNEAL_LR"],
            "update_epochs": c["UPDATE_EPOCHS"],
            "num_minibatches": c["NUM_MINIBATCHES"],
            "gamma_ext": c["GAMMA"],
            "gae_lambda": c["GAE_LAMBDA"],
            "clip_eps": c["CLIP_EPS"],
            "ent_coef": c["ENT_COEF"],
            "vf_coef": c["VF_COEF"],
            "max_grad_norm": c["MAX_GRAD_NORM"],
            "activation": c["ACTIVATION"],
            "network": "mlp",
            "hidden": 64,
        },
    )
    _, _, _, ppo = build(cfg)
    return ppo.train


def ours_cartpole_wall(
    total_steps: float, seed: int = 30, config: dict[str, Any] | None = None
) -> float:
    """Seconds for our whole PPO run on gymnax CartPole-v1 at PureJaxRL's config (compile included)."""
    train = ours_cartpole_train(total_steps, config)
    return _timed(jax.jit(train), seed)


class FiveValueEnv:
    """A gymnax 1.0 env seen as gymnax 0.0.x saw it: ``step`` returns five values.

    gymnax 1.0 returns ``(obs, state, reward, terminated, truncated, info)``; PureJaxRL's
    ``ppo.py`` unpacks ``(obs, state, reward, done, info)``, where gymnax 0.0.x's ``done``
    was "the episode ended" (termination or time limit). Everything else is the env's own.
    """

    def __init__(self, env: Any) -> None:
        self._env = env

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)

    def step(self, key, state, action, params=None):
        """gymnax 0.0.x's ``step``: ``done = terminated | truncated``."""
        obs, state, reward, terminated, truncated, info = self._env.step(key, state, action, params)
        return obs, state, reward, jax.numpy.logical_or(terminated, truncated), info


class _FiveValueGymnax:
    """Stands in for the ``gymnax`` module inside PureJaxRL's ``ppo.py`` (it only calls ``make``)."""

    @staticmethod
    def make(name: str, **kwargs: Any):
        import gymnax

        env, params = gymnax.make(name, **kwargs)
        return FiveValueEnv(env), params


def _unused_import_standins() -> dict[str, types.ModuleType]:
    """Modules for the imports at the top of PureJaxRL's ``wrappers.py`` that are missing here.

    ``wrappers.py`` imports brax (and navix) for its Brax/Navix wrappers; the CartPole path
    uses neither. A stand-in raises if anything from it is actually used.
    """

    def unused(qualname: str) -> type:
        def refuse(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError(f"{qualname} is a stand-in: explore bench does not provide it")

        return type(qualname.rsplit(".", 1)[-1], (), {"__init__": refuse})

    modules: dict[str, types.ModuleType] = {}
    if importlib.util.find_spec("brax") is None:
        for name in ("brax", "brax.envs", "brax.envs.wrappers", "brax.envs.wrappers.training"):
            modules[name] = types.ModuleType(name, "stand-in for an import PureJaxRL never uses")
        training = modules["brax.envs.wrappers.training"]
        training.EpisodeWrapper = unused("brax.envs.wrappers.training.EpisodeWrapper")
        training.AutoResetWrapper = unused("brax.envs.wrappers.training.AutoResetWrapper")
        modules["brax"].envs = modules["brax.envs"]
        modules["brax.envs"].wrappers = modules["brax.envs.wrappers"]
        modules["brax.envs.wrappers"].training = training
    if importlib.util.find_spec("navix") is None:
        modules["navix"] = types.ModuleType("navix", "stand-in for an import PureJaxRL never uses")
    return modules


def resolve_purejaxrl(checkout: str | None) -> Path | None:
    """The PureJaxRL folder to time: ``checkout``, else ``$EXPLORE_PUREJAXRL``, else the shared
    peers' copy next to the checkout if present."""
    checkout = checkout or os.environ.get(PUREJAXRL_ENV)
    if checkout:
        path = Path(checkout).expanduser().resolve()
        if not (path / "purejaxrl" / "ppo.py").is_file():
            raise FileNotFoundError(
                f"--purejaxrl / ${PUREJAXRL_ENV} {checkout}: no purejaxrl/ppo.py there "
                "(give the folder holding purejaxrl/)"
            )
        return path
    if DEFAULT_PUREJAXRL is not None and (DEFAULT_PUREJAXRL / "purejaxrl" / "ppo.py").is_file():
        return DEFAULT_PUREJAXRL
    return None


def load_purejaxrl(checkout: str | Path) -> types.ModuleType:
    """PureJaxRL's ``ppo.py`` from ``checkout`` (the folder holding ``purejaxrl/``), adapted.

    The files are executed as they are; the adaptation is at the boundary: ``DIR`` and
    ``DIR/purejaxrl`` on ``sys.path`` while importing (``ppo.py`` imports ``wrappers`` as
    a top-level module), stand-ins for unused imports (:func:`_unused_import_standins`),
    and the module's ``gymnax`` name bound to a five-value view of gymnax 1.0. ``sys.path``
    and ``sys.modules`` are restored afterwards.
    """
    root = Path(checkout).resolve()
    paths = [str(root), str(root / "purejaxrl")]
    standins = _unused_import_standins()
    touched = ["wrappers", *standins]
    saved = {name: sys.modules.get(name) for name in touched}
    sys.path[:0] = paths
    sys.modules.update(standins)
    sys.modules.pop("wrappers", None)
    try:
        spec = importlib.util.spec_from_file_location(
            "_explore_peer_purejaxrl_ppo", root / "purejaxrl" / "ppo.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        del sys.path[: len(paths)]
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
    module.gymnax = _FiveValueGymnax()
    return module


def purejaxrl_cartpole_wall(
    checkout: str | Path, total_steps: float, seed: int = 30, config: dict[str, Any] | None = None
) -> float:
    """Seconds for PureJaxRL's own ``make_train`` (compile included), timed as ours is."""
    make_train = load_purejaxrl(checkout).make_train
    full = dict(PUREJAXRL_CONFIG, **(config or {}), TOTAL_TIMESTEPS=total_steps)
    return _timed(jax.jit(make_train(full)), seed)


def _timed(train, seed: int) -> float:
    """Wall seconds of ``train(PRNGKey(seed))``, compile included; CPU seconds kept in ``_LAST_CPU``."""
    started, started_cpu = time.perf_counter(), time.process_time()
    jax.block_until_ready(train(jax.random.PRNGKey(seed)))
    _LAST_CPU[0] = time.process_time() - started_cpu
    return time.perf_counter() - started


# CPU seconds (all threads) of the last timed run: on a shared machine wall time also
# measures the other jobs, so rows report both.
_LAST_CPU = [float("nan")]


def cartpole_row(
    total_steps: float,
    checkout: str | None,
    repeats: int = 1,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Our wall time vs PureJaxRL's, both run here, alternating (fastest of ``repeats`` each).

    Without PureJaxRL's files the peer column is the recorded figure, labelled as such.
    """
    peer_dir = resolve_purejaxrl(checkout)
    ours_walls, peer_walls, ours_cpu, peer_cpu = [], [], [], []
    for _ in range(max(1, repeats)):
        ours_walls.append(ours_cartpole_wall(total_steps, config=config))
        ours_cpu.append(_LAST_CPU[0])
        if peer_dir is not None:
            peer_walls.append(purejaxrl_cartpole_wall(peer_dir, total_steps, config=config))
            peer_cpu.append(_LAST_CPU[0])
    ours = min(ours_walls)
    if peer_dir is not None:
        # The folder's name only: an absolute path would name this machine, not the peer.
        peer, source = min(peer_walls), f"{MEASURED_LABEL} ({peer_dir.name})"
    else:
        peer, source = total_steps / PUREJAXRL_RECORDED_STEPS_PER_S, RECORDED_LABEL
    return {
        "bench": "CartPole-v1 PureJaxRL config",
        "steps": int(total_steps),
        "ours wall s": ours,
        "ours steps/s": total_steps / ours,
        "PureJaxRL wall s": peer,
        "PureJaxRL steps/s": total_steps / peer,
        "peer source": source,
        "wall ratio (ours/PureJaxRL)": ours / peer,
        "target": "≤ 1.0",
        "runs each": len(ours_walls),
        "ours walls s": [round(w, 2) for w in ours_walls],
        "PureJaxRL walls s": [round(w, 2) for w in peer_walls],
        "ours cpu s": [round(c, 2) for c in ours_cpu],
        "PureJaxRL cpu s": [round(c, 2) for c in peer_cpu],
        "cpu ratio (ours/PureJaxRL)": min(ours_cpu) / min(peer_cpu) if peer_cpu else float("nan"),
    }


# --- bonus cost on a gridworld --------------------------------------------------------------
def _ppo_for(task: str, bonus: str, num_envs: int, network: str = "auto"):
    from explore.config import RunConfig
    from explore.train import build

    cfg = RunConfig(
        env=task,
        bonus=bonus,
        total_steps=10**8,
        ppo={"num_envs": num_envs, "network": network},
    )
    _, _, bonus_obj, ppo = build(cfg)
    return bonus_obj, ppo


def bonus_steps_per_s(
    task: str,
    bonus: str,
    seeds: int,
    num_envs: int,
    updates: int,
    repeats: int,
    runner_for: Any = None,
) -> float:
    """Steps/s of ``seeds`` PPO(+bonus) runs in one program (as explore train runs them); chunks timed after a warm-up chunk.

    The loop is the one ``explore train`` runs: a jitted chunk of ``updates`` updates, the
    metrics fetched to the host, then ``bonus.sync`` for bonuses that exchange data with
    the host (ONI's labels) — so host-side costs are counted too.
    """
    bonus_obj, ppo = (runner_for or _ppo_for)(task, bonus, num_envs)
    state = ppo.init_seeds(jax.random.split(jax.random.PRNGKey(0), seeds))
    chunk = run_seeds(lambda s: ppo.run(s, updates), seeds)
    host_work = bonus_obj.host_work  # declared (agents.bonuses.base.Bonus)

    def one_chunk(state):
        state, metrics = chunk(state)
        jax.device_get(metrics)
        if host_work:
            state = state.replace(bonus_state=bonus_obj.sync(state.bonus_state))
        return state

    try:
        state = one_chunk(state)  # compile + warm-up
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            state = one_chunk(state)
            jax.block_until_ready(state)
            best = min(best, time.perf_counter() - started)
    finally:
        bonus_obj.close()
    return seeds * updates * ppo.cfg.batch_size / best


def bonus_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Plain PPO and PPO+bonus on one task, the cost ratio of each bonus."""

    def runner_for(task: str, bonus: str, num_envs: int):
        return _ppo_for(task, bonus, num_envs, args.network)

    def measure(bonus: str) -> float:
        return bonus_steps_per_s(
            args.task, bonus, args.seeds, args.num_envs, args.updates, args.repeats, runner_for
        )

    plain = measure("none")
    rows = []
    for bonus in args.bonuses:
        try:
            with_bonus = measure(bonus)
        except Exception as err:  # one bonus failing to build is reported, not fatal
            print(f"{bonus}: {type(err).__name__}: {err}", flush=True)
            with_bonus = float("nan")
        ratio = plain / with_bonus
        rows.append(
            {
                "bench": f"{args.task} ×{args.seeds} seeds"
                + ("" if args.network == "auto" else f", network {args.network}"),
                "bonus": bonus,
                "plain steps/s": plain,
                "bonus steps/s": with_bonus,
                "cost ratio (plain/bonus)": ratio,
                "target": f"≤ {target_ratio(bonus)}",
                "meets target": bool(np.isfinite(ratio) and ratio <= target_ratio(bonus)),
            }
        )
        print(rows[-1], flush=True)
    return rows


# --- IPPO with social rewards -----------------------------------------------------------------
SOCIAL_BONUSES = ["inequity_aversion", "svo", "social_influence"]
SOCIAL_TARGET_RATIO = 1.3


def _ippo_for(task: str, bonus: str, num_envs: int):
    from explore.config import RunConfig
    from explore.train import build

    cfg = RunConfig(
        env=task, agent="ippo", bonus=bonus, total_steps=10**9, ippo={"num_envs": num_envs}
    )
    _, _, bonus_obj, ippo = build(cfg)
    return bonus_obj, ippo


def ippo_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """IPPO (one shared network) alone and with each social reward, in this run.

    Steps are agent-steps (env steps × agents), as IPPO counts them; the timed chunk is the
    one ``explore train`` runs (rollout with auto-reset, every observation into the network,
    social reward, learning).
    """

    def measure(bonus: str) -> float:
        return bonus_steps_per_s(
            args.ippo_env, bonus, args.seeds, args.num_envs, args.updates, args.repeats, _ippo_for
        )

    plain = measure("none")
    rows = []
    for bonus in SOCIAL_BONUSES:
        with_bonus = measure(bonus)
        ratio = plain / with_bonus
        rows.append(
            {
                "bench": f"IPPO {args.ippo_env} ×{args.seeds} seeds ×{args.num_envs} envs",
                "bonus": bonus,
                "plain agent-steps/s": plain,
                "bonus agent-steps/s": with_bonus,
                "cost ratio (plain/bonus)": ratio,
                "target": f"≤ {SOCIAL_TARGET_RATIO}",
                "meets target": bool(ratio <= SOCIAL_TARGET_RATIO),
            }
        )
        print(rows[-1], flush=True)
    return rows


# --- IPPO speed: ours, an older checkout of ours, and SocialJax's own IPPO -----------------
SOCIALJAX_SCRIPT = Path("algorithms") / "IPPO" / "ippo_cnn_cleanup.py"
# SocialJax's configs beside its script: its base, Clean Up's, and the individual reward.
SOCIALJAX_CONFIGS = ("ippo_base.yaml", "ippo_cnn_cleanup.yaml", "reward/individual.yaml")
NOT_MEASURED = "not measured: no --socialjax DIR or $" + SOCIALJAX_ENV


def resolve_socialjax(checkout: str | None) -> Path | None:
    """SocialJax's folder: ``checkout``, else ``$EXPLORE_SOCIALJAX``, else the peers' copy
    beside the checkout if present, else ``None``."""
    checkout = checkout or os.environ.get(SOCIALJAX_ENV)
    if not checkout:
        if DEFAULT_SOCIALJAX is not None and (DEFAULT_SOCIALJAX / SOCIALJAX_SCRIPT).is_file():
            return DEFAULT_SOCIALJAX
        return None
    path = Path(checkout).expanduser().resolve()
    if not (path / SOCIALJAX_SCRIPT).is_file():
        raise FileNotFoundError(
            f"--socialjax / ${SOCIALJAX_ENV} {checkout}: no {SOCIALJAX_SCRIPT} there "
            "(give the folder holding algorithms/ and socialjax/)"
        )
    return path


def _yaml_number(value: Any) -> Any:
    """PyYAML reads ``2.5e6`` or ``1e8`` as strings (YAML 1.1 floats need a dot and a signed
    exponent): numbers again, integers where integral (step counts)."""
    if isinstance(value, dict):
        return {k: _yaml_number(v) for k, v in value.items()}
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() else number
    return value


def socialjax_config(
    checkout: str | Path, num_envs: int, num_steps: int, epochs: int, minibatches: int, updates: int
) -> dict[str, Any]:
    """SocialJax's own IPPO config for Clean Up (its YAML files, merged as its hydra defaults
    list does: base, then Clean Up's, then the individual reward), at the given sizes."""
    import yaml

    folder = Path(checkout) / SOCIALJAX_SCRIPT.parent / "config"
    config: dict[str, Any] = {}
    for name in SOCIALJAX_CONFIGS:
        part = yaml.safe_load((folder / name).read_text()) or {}
        part.pop("defaults", None)  # hydra's composition list, applied here by hand
        for key, value in _yaml_number(part).items():
            if isinstance(value, dict) and isinstance(config.get(key), dict):
                config[key] = {**config[key], **value}
            else:
                config[key] = value
    config.update(
        NUM_ENVS=num_envs,
        NUM_STEPS=num_steps,
        UPDATE_EPOCHS=epochs,
        NUM_MINIBATCHES=minibatches,
        TOTAL_TIMESTEPS=updates * num_steps * num_envs,  # env steps: NUM_UPDATES = updates
        PARAMETER_SHARING=True,
        WANDB_MODE="disabled",
    )
    return config


class _WandbStandIn(types.ModuleType):
    """Stands in for ``wandb``: SocialJax's IPPO logs each update through
    ``jax.debug.callback`` into ``wandb.log``; here the metrics are only counted."""

    def __init__(self) -> None:
        super().__init__("wandb", "stand-in: explore bench counts SocialJax's log calls")
        self.logged = 0

    def log(self, *args: Any, **kwargs: Any) -> None:
        self.logged += 1

    def init(self, *args: Any, **kwargs: Any) -> None:
        return None


def _socialjax_standins() -> dict[str, types.ModuleType]:
    """Modules for the imports at the top of SocialJax's IPPO that ``make_train`` never uses
    (``hydra``, ``omegaconf``: its command-line entry point) or that would log remotely
    (``wandb``)."""
    hydra = types.ModuleType("hydra", "stand-in: SocialJax's command-line entry is not used")
    hydra.main = lambda *args, **kwargs: lambda fn: fn
    omegaconf = types.ModuleType("omegaconf", "stand-in: configs are plain dicts here")
    omegaconf.OmegaConf = type(
        "OmegaConf", (), {"to_container": staticmethod(lambda config, **kwargs: dict(config))}
    )
    return {"hydra": hydra, "omegaconf": omegaconf, "wandb": _WandbStandIn()}


def load_socialjax(checkout: str | Path) -> types.ModuleType:
    """SocialJax's ``algorithms.IPPO.ippo_cnn_cleanup`` from ``checkout``, run as it is.

    The files are executed unedited; the adaptation is at the boundary: ``checkout`` on
    ``sys.path`` while importing, and stand-ins for ``hydra``, ``omegaconf`` and ``wandb``
    (:func:`_socialjax_standins`). ``sys.path`` and ``sys.modules`` (the stand-ins, the
    peer's ``algorithms`` package) are restored afterwards; the module keeps its stand-ins.
    """
    root = str(Path(checkout).resolve())
    standins = _socialjax_standins()
    # Its top-level package is called ``algorithms``: imported fresh from ``checkout`` (not
    # from an earlier load) and taken out of ``sys.modules`` again afterwards.
    ours = {n: m for n, m in sys.modules.items() if n.split(".")[0] == "algorithms"}
    saved = {name: sys.modules.get(name) for name in standins}
    for name in ours:
        del sys.modules[name]
    sys.path.insert(0, root)
    sys.modules.update(standins)
    try:
        module = importlib.import_module("algorithms.IPPO.ippo_cnn_cleanup")
    finally:
        sys.path.remove(root)
        for name in [n for n in sys.modules if n.split(".")[0] == "algorithms"]:
            del sys.modules[name]
        sys.modules.update(ours)
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
    return module


def _compiled_call(train: Any, key: jax.Array) -> dict[str, float]:
    """Compile ``train`` for ``key``, then time one call of the compiled program."""
    started = time.perf_counter()
    compiled = jax.jit(train).lower(key).compile()
    compile_s = time.perf_counter() - started
    started, started_cpu = time.perf_counter(), time.process_time()
    jax.block_until_ready(compiled(key))
    return {
        "wall_s": time.perf_counter() - started,
        "cpu_s": time.process_time() - started_cpu,
        "compile_s": compile_s,
    }


def _ippo_child(spec: dict[str, Any]) -> dict[str, Any]:
    """One side of an IPPO speed row, in this process: ``spec["side"]`` is ``"ours"`` (the
    checkout this process imports ``agents``/``explore`` from) or ``"socialjax"``.

    Uses only what older checkouts of this project also have (``RunConfig``, ``build``,
    ``train``), so the same code times them.
    """
    envs_, steps, updates = spec["num_envs"], spec["num_steps"], spec["updates"]
    key = jax.random.PRNGKey(spec.get("seed", 0))
    if spec["side"] == "socialjax":
        module = load_socialjax(spec["socialjax"])
        config = socialjax_config(
            spec["socialjax"], envs_, steps, spec["epochs"], spec["minibatches"], updates
        )
        train = module.make_train(config)
        agents = int(config["NUM_ACTORS"]) // envs_
        result = _compiled_call(train, key)
        result["logged_updates"] = module.wandb.logged
    else:
        from explore.config import RunConfig
        from explore.train import build

        ippo = {"num_envs": envs_, "num_steps": steps}
        if spec.get("epochs"):
            ippo.update(update_epochs=spec["epochs"], num_minibatches=spec["minibatches"])
        env, _, _, runner = build(
            RunConfig(env=spec["env"], agent="ippo", bonus="none", total_steps=1, ippo=ippo)
        )
        agents = env.num_agents
        cfg = runner.cfg.model_copy(update={"total_steps": updates * runner.cfg.batch_size})
        runner.cfg = cfg  # exactly ``updates`` updates of E·N envs × T steps
        result = _compiled_call(runner.train, key)
    result["agent_steps"] = updates * envs_ * agents * steps
    result["agent_steps_per_s"] = result["agent_steps"] / result["wall_s"]
    result["agent_steps_per_cpu_s"] = result["agent_steps"] / result["cpu_s"]
    return result


# Runs in a fresh interpreter whose working directory is the checkout to time: it imports
# that checkout's packages, and this file's ``_ippo_child`` by path.
_CHILD = """
import importlib.util, json, os, sys
sys.path.insert(0, os.getcwd())
spec = importlib.util.spec_from_file_location("_explore_bench_ippo_child", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print("RESULT " + json.dumps(module._ippo_child(json.loads(sys.argv[2]))), flush=True)
"""


def _run_child(spec: dict[str, Any], checkout: Path) -> dict[str, Any]:
    """:func:`_ippo_child` in a fresh process (one CPU device, as one seed runs), importing
    this project from ``checkout``."""
    import json
    import subprocess

    env = dict(os.environ, JAX_NUM_CPU_DEVICES="1", PYTHONPATH=str(checkout))
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(Path(__file__).resolve()), json.dumps(spec)],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"IPPO bench ({spec['side']}, {checkout}) failed: {tail[0]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def ippo_speed_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """IPPO agent-steps/s, compiled, one seed: ours, ``--ippo-baseline`` (an older checkout)
    and SocialJax's own IPPO, each side in a fresh process, alternating for
    ``--ippo-repeats`` rounds.

    Two configurations: IPPO's defaults (ours and the baseline only), and one matched to
    SocialJax as closely as the two designs allow (``--ippo-num-envs`` envs × ``--ippo-num-steps``
    steps, ``--ippo-epochs`` × ``--ippo-minibatches``, parameters shared, individual rewards,
    Clean Up with 7 agents). What still differs is each side's own design: networks
    (ours: embedded ids, a stride-2 and a stride-1 2×2 layer; SocialJax: 5×5 and two 3×3
    convolutions on its 19-channel one-hot view), learning rate, entropy and value settings and how each counts
    an update's steps are each side's own defaults.
    """
    ours_dir = Path(__file__).resolve().parents[2]
    baseline = Path(args.ippo_baseline).resolve() if args.ippo_baseline else None
    if baseline is not None and not (baseline / "agents" / "ippo.py").is_file():
        raise FileNotFoundError(f"--ippo-baseline {args.ippo_baseline}: no agents/ippo.py there")
    peer = resolve_socialjax(args.socialjax)
    matched = {
        "num_envs": args.ippo_num_envs,
        "num_steps": args.ippo_num_steps,
        "epochs": args.ippo_epochs,
        "minibatches": args.ippo_minibatches,
    }
    configs = []
    if args.ippo_defaults:
        from agents.configs import IPPOConfig

        d = IPPOConfig()
        configs.append(("defaults", {"num_envs": d.num_envs, "num_steps": d.num_steps}))
    if getattr(args, "ippo_matched", True):
        configs.append(("matched to SocialJax", matched))
    rows = []
    for label, config in configs:
        sides = [("ours", ours_dir)]
        if baseline is not None:
            sides.append(("baseline", baseline))
        if peer is not None and label != "defaults":
            sides.append(("socialjax", ours_dir))
        results: dict[str, list[dict[str, Any]]] = {side: [] for side, _ in sides}
        for _ in range(max(1, args.ippo_repeats)):
            for side, checkout in sides:
                spec = {
                    "side": "socialjax" if side == "socialjax" else "ours",
                    "env": args.ippo_env,
                    "updates": args.ippo_updates,
                    "socialjax": str(peer) if peer is not None else None,
                    **config,
                }
                results[side].append(_run_child(spec, checkout))
                print(f"IPPO {label}, {side}: {results[side][-1]}", flush=True)
        best = {side: max(r["agent_steps_per_s"] for r in runs) for side, runs in results.items()}
        # CPU seconds too: on a shared machine wall time also measures the other jobs.
        cpu = {s: max(r["agent_steps_per_cpu_s"] for r in runs) for s, runs in results.items()}
        shown = config if label != "defaults" else {**config, "epochs": 4, "minibatches": 4}
        row: dict[str, Any] = {
            "bench": f"IPPO {args.ippo_env}, {label}",
            "config": f"{shown['num_envs']} envs × {shown['num_steps']} steps, "
            f"{shown['epochs']} epochs × {shown['minibatches']} minibatches, shared parameters, "
            f"1 seed, {args.ippo_updates} update(s) per timed call, compiled",
            "ours agent-steps/s": best["ours"],
            "ours runs": [round(r["agent_steps_per_s"]) for r in results["ours"]],
            "ours agent-steps per CPU-s": cpu["ours"],
        }
        if baseline is not None:
            row["baseline agent-steps/s"] = best["baseline"]
            row["baseline runs"] = [round(r["agent_steps_per_s"]) for r in results["baseline"]]
            row["baseline agent-steps per CPU-s"] = cpu["baseline"]
            row["ours / baseline"] = best["ours"] / best["baseline"]
            row["ours / baseline, CPU-s"] = cpu["ours"] / cpu["baseline"]
        if label != "defaults":
            if peer is not None:
                row["SocialJax agent-steps/s"] = best["socialjax"]
                row["SocialJax runs"] = [
                    round(r["agent_steps_per_s"], 1) for r in results["socialjax"]
                ]
                row["SocialJax agent-steps per CPU-s"] = cpu["socialjax"]
                row["ours / SocialJax"] = best["ours"] / best["socialjax"]
                row["ours / SocialJax, CPU-s"] = cpu["ours"] / cpu["socialjax"]
                row["SocialJax source"] = f"{MEASURED_LABEL} ({peer.name}, {SOCIALJAX_SCRIPT})"
            else:
                row["SocialJax source"] = NOT_MEASURED
        rows.append(row)
        print(row, flush=True)
    return rows


def run(args: argparse.Namespace) -> list[dict]:
    """CartPole vs PureJaxRL, then the bonus-cost rows (or, with ``--ippo``, the IPPO rows:
    speed against SocialJax's IPPO and against ``--ippo-baseline``, then social-reward costs)."""
    if getattr(args, "ippo", False):
        rows = ippo_speed_rows(args)
        if args.ippo_social:
            rows.extend(ippo_rows(args))
        return rows
    rows: list[dict] = []
    # ONI's label store and annotator thread live in a throw-away directory.
    with tempfile.TemporaryDirectory() as tmp:
        previous = os.environ.get("EXPLORE_LABELS_DB")
        os.environ["EXPLORE_LABELS_DB"] = str(Path(tmp) / "labels.sqlite")
        try:
            if args.cartpole_steps > 0:
                rows.append(
                    cartpole_row(args.cartpole_steps, args.purejaxrl, args.cartpole_repeats)
                )
                print(rows[-1], flush=True)
            rows.extend(bonus_rows(args))
        finally:  # never leave the process pointing at a deleted store
            if previous is None:
                os.environ.pop("EXPLORE_LABELS_DB", None)
            else:
                os.environ["EXPLORE_LABELS_DB"] = previous
    return rows
