"""End-to-end PPO throughput: ``explore bench train``.

Two measurements, each a ratio taken inside one run of this command:

* **CartPole-v1 (gymnax) at PureJaxRL's published config** — 256 envs × 128 steps,
  4 epochs × 4 minibatches, 5 M steps, the whole run one ``jax.jit`` call, timed from the
  call to the result as PureJaxRL's ``ppo.py`` does (compile included). The peer is
  PureJaxRL's own ``make_train`` when ``--purejaxrl DIR`` points at a checkout of it (its
  code is not vendored here); without it the row compares against the 119 k steps/s that
  ``shared/BENCHMARKS.md`` recorded for that script on this machine, and says so.
* **Bonus cost on DoorKey-8x8** — ``--seeds`` seeds vmapped in one compiled program, PPO
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
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

# PureJaxRL's ``ppo.py`` on gymnax CartPole-v1 with its published config, measured on this
# machine (shared/BENCHMARKS.md); used when no checkout is given with --purejaxrl.
PUREJAXRL_RECORDED_STEPS_PER_S = 119_000.0
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
        help="a checkout of PureJaxRL (the folder holding purejaxrl/) to time its ppo.py in this run",
    )
    parser.add_argument("--task", default="DoorKey-8x8", help="gridworld for the bonus-cost rows")
    parser.add_argument("--seeds", type=int, default=5, help="seeds vmapped in one program")
    parser.add_argument("--num-envs", type=int, default=16, help="envs per seed")
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


# --- CartPole at PureJaxRL's config ---------------------------------------------------------
def ours_cartpole_wall(total_steps: float, seed: int = 30) -> float:
    """Seconds for our whole PPO run on gymnax CartPole-v1 at PureJaxRL's config (compile included)."""
    from explore.config import RunConfig
    from explore.train import build

    c = PUREJAXRL_CONFIG
    cfg = RunConfig(
        env="gymnax:CartPole-v1",
        bonus="none",
        total_steps=int(total_steps),
        ppo={
            "num_envs": c["NUM_ENVS"],
            "num_steps": c["NUM_STEPS"],
            "lr": c["LR"],
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
    started = time.perf_counter()
    jax.block_until_ready(jax.jit(ppo.train)(jax.random.PRNGKey(seed)))
    return time.perf_counter() - started


def purejaxrl_cartpole_wall(checkout: str, total_steps: float, seed: int = 30) -> float:
    """Seconds for PureJaxRL's own ``make_train`` from a user-supplied checkout, timed the same way."""
    sys.path.insert(0, str(Path(checkout).resolve()))
    try:
        make_train = importlib.import_module("purejaxrl.ppo").make_train
    finally:
        sys.path.pop(0)
    config = dict(PUREJAXRL_CONFIG, TOTAL_TIMESTEPS=total_steps)
    started = time.perf_counter()
    jax.block_until_ready(jax.jit(make_train(config))(jax.random.PRNGKey(seed)))
    return time.perf_counter() - started


def cartpole_row(total_steps: float, checkout: str | None) -> dict[str, Any]:
    """Our wall time vs PureJaxRL's (measured now, or the recorded figure when no checkout is given)."""
    ours = ours_cartpole_wall(total_steps)
    if checkout:
        peer, source = purejaxrl_cartpole_wall(checkout, total_steps), "measured in this run"
    else:
        peer, source = (
            total_steps / PUREJAXRL_RECORDED_STEPS_PER_S,
            "recorded (shared/BENCHMARKS.md)",
        )
    return {
        "bench": "CartPole-v1 PureJaxRL config",
        "steps": int(total_steps),
        "ours wall s": ours,
        "ours steps/s": total_steps / ours,
        "PureJaxRL wall s": peer,
        "PureJaxRL steps/s": total_steps / peer,
        "peer source": source,
        "wall ratio (ours/PureJaxRL)": ours / peer,
        "target": "≤ 1.25",
    }


# --- bonus cost on a gridworld --------------------------------------------------------------
def _ppo_for(task: str, bonus: str, num_envs: int):
    from explore.config import RunConfig
    from explore.train import build

    cfg = RunConfig(env=task, bonus=bonus, total_steps=10**8, ppo={"num_envs": num_envs})
    _, _, bonus_obj, ppo = build(cfg)
    return bonus_obj, ppo


def bonus_steps_per_s(
    task: str, bonus: str, seeds: int, num_envs: int, updates: int, repeats: int
) -> float:
    """Steps/s of ``seeds`` vmapped PPO(+bonus) runs; chunks timed after a warm-up chunk.

    The loop is the one ``explore train`` runs: a jitted chunk of ``updates`` updates, the
    metrics fetched to the host, then ``bonus.sync`` for bonuses that exchange data with
    the host (ONI's labels) — so host-side costs are counted too.
    """
    bonus_obj, ppo = _ppo_for(task, bonus, num_envs)
    state = ppo.init_seeds(jax.random.split(jax.random.PRNGKey(0), seeds))
    chunk = jax.jit(jax.vmap(lambda s: ppo.run(s, updates)))
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

    def measure(bonus: str) -> float:
        return bonus_steps_per_s(
            args.task, bonus, args.seeds, args.num_envs, args.updates, args.repeats
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
                "bench": f"{args.task} ×{args.seeds} seeds",
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


def run(args: argparse.Namespace) -> list[dict]:
    """CartPole vs PureJaxRL, then the bonus-cost rows."""
    rows: list[dict] = []
    # ONI's label store and annotator thread live in a throw-away directory.
    with tempfile.TemporaryDirectory() as tmp:
        previous = os.environ.get("EXPLORE_LABELS_DB")
        os.environ["EXPLORE_LABELS_DB"] = str(Path(tmp) / "labels.sqlite")
        try:
            if args.cartpole_steps > 0:
                rows.append(cartpole_row(args.cartpole_steps, args.purejaxrl))
                print(rows[-1], flush=True)
            rows.extend(bonus_rows(args))
        finally:  # never leave the process pointing at a deleted store
            if previous is None:
                os.environ.pop("EXPLORE_LABELS_DB", None)
            else:
                os.environ["EXPLORE_LABELS_DB"] = previous
    return rows
