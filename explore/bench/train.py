"""End-to-end PPO throughput: ``explore bench train``.

Two measurements, each a ratio taken inside one run of this command:

* **CartPole-v1 (gymnax) at PureJaxRL's published config** — 256 envs × 128 steps,
  4 epochs × 4 minibatches, 5 M steps, the whole run one ``jax.jit`` call, timed from the
  call to the result as PureJaxRL's ``ppo.py`` does (compile included). The peer is
  PureJaxRL's own ``make_train``, timed in the same run, from ``--purejaxrl DIR`` (the
  folder holding ``purejaxrl/``; default ``<repo>/../shared/peers/purejaxrl`` when it
  exists). Its files are loaded at run time, never edited or vendored, and adapted at the
  boundary only (see :func:`load_purejaxrl`): ``ppo.py`` was written for gymnax 0.0.x, so
  it is handed a five-value view of the gymnax 1.0 env (``done = terminated | truncated``),
  and its ``wrappers.py`` gets stand-in modules for ``brax`` (and ``navix`` if absent),
  which it imports but the CartPole path never uses. Without a checkout the row compares
  against the figure ``shared/BENCHMARKS.md`` recorded, and every such row says
  ``recorded figure, NOT measured in this run``.
* **Bonus cost on DoorKey-8x8** — ``--seeds`` seeds in one compiled program (``agents.seeds.run_seeds``), PPO
  alone and PPO with each intrinsic reward, timed after a warm-up (compilation excluded),
  best of ``--repeats``. The ratio is (plain PPO steps/s) / (PPO+bonus steps/s). Targets
  from the issues: RND ≤ 1.35, every other bonus ≤ 1.5, the BYOL family ≤ 2.5, and
  ``oni(retrieval)`` ≥ 0.8× plain PPO's throughput (ratio ≤ 1.25). ONI is timed through
  the same chunked loop ``explore train`` runs (jitted chunk, then ``bonus.sync`` on the
  host), since its label exchange happens between chunks.
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

# PureJaxRL's ``ppo.py`` on gymnax CartPole-v1 with its published config, 5 M steps, compile
# included: 32.1–32.3 s = 155 k steps/s on this kind of machine (shared/BENCHMARKS.md,
# 2026-12-01); used only when no checkout is found, and labelled so.
PUREJAXRL_RECORDED_STEPS_PER_S = 155_000.0
RECORDED_LABEL = "recorded figure (shared/BENCHMARKS.md), NOT measured in this run"
MEASURED_LABEL = "measured in this run"
# The shared peers folder next to the checkout: <repo>/../shared/peers/purejaxrl.
DEFAULT_PUREJAXRL = Path(__file__).resolve().parents[2].parent / "shared" / "peers" / "purejaxrl"
# Where else to look for PureJaxRL's files (a checkout not next to this one, e.g. in CI).
PUREJAXRL_ENV = "EXPLORE_PUREJAXRL"
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
    return DEFAULT_PUREJAXRL if (DEFAULT_PUREJAXRL / "purejaxrl" / "ppo.py").is_file() else None


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
        peer, source = min(peer_walls), f"{MEASURED_LABEL} ({peer_dir})"
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
    has_sync = hasattr(bonus_obj, "sync")

    def one_chunk(state):
        state, metrics = chunk(state)
        jax.device_get(metrics)
        if has_sync:
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
        if hasattr(bonus_obj, "close"):
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


# --- IPPO with social rewards (issue 19) -----------------------------------------------------
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


def run(args: argparse.Namespace) -> list[dict]:
    """CartPole vs PureJaxRL, then the bonus-cost rows (or, with ``--ippo``, the IPPO rows)."""
    if getattr(args, "ippo", False):
        return ippo_rows(args)
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
