"""SB3 PPO with and without RND on MiniHack, and our JAX PPO + RND, steps/s in the same run.

Rows (all measured in this run, after a warm-up rollout that pays imports and compiles):

* ``sb3``          — Stable-Baselines3's own PPO (Raffin et al. 2021), no bonus: the peer;
* ``bridge none``  — our ``agent=sb3_ppo`` without a bonus (the rollout recorder's cost);
* ``bridge rnd``   — our ``agent=sb3_ppo bonus=rnd``; ``bonus cost`` is its time per step over
  the peer's, minus one (target ≤ 0.30);
* ``jax rnd ×E``   — our JAX PPO + RND on the closest JAX gridworld (``--jax-task``, default
  Empty-5x5, a 5×5 room with a goal, as MiniHack-Room-5x5), ``E`` envs, one seed, built by
  ``explore.train.build`` and run as the vmapped chunk ``explore train`` runs;
  ``vs bridge rnd`` is the ratio of steps/s — what the JAX path buys. The ``×E`` row with
  SB3's env count is like for like; the larger one is how the JAX path is meant to run.

MiniHack tasks are CPU-bound (NetHack in C; Samvelyan et al. 2021); ratios drift less than
absolute figures on shared machines.
"""

from __future__ import annotations

import argparse
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``explore bench sb3``."""
    parser.add_argument("--task", default="MiniHack-Room-5x5-v0", help="Gymnasium id for SB3")
    parser.add_argument("--jax-task", default="Empty-5x5", help="JAX gridworld for the JAX rows")
    parser.add_argument(
        "--num-envs", type=int, default=4, help="SB3 envs (and the like-for-like JAX row)"
    )
    parser.add_argument("--num-steps", type=int, default=128, help="rollout length")
    parser.add_argument("--updates", type=int, default=2, help="updates per timed SB3 call")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed calls per SB3 row (best kept)"
    )
    parser.add_argument("--jax-envs", nargs="+", type=int, default=[4, 64], help="JAX env counts")
    parser.add_argument("--jax-updates", type=int, default=16, help="timed updates per JAX row")
    parser.add_argument("--vec-env", choices=["dummy", "subproc"], default="dummy")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")


def _config(args: argparse.Namespace, agent: str, env: str, bonus: str, num_envs: int):
    from explore.config import load_config

    return load_config(
        None,
        [
            f"agent={agent}",
            f"env={env}",
            f"bonus={bonus}",
            f"vec_env={args.vec_env}",
            f"ppo.num_envs={num_envs}",
            f"ppo.num_steps={args.num_steps}",
            "ppo.num_minibatches=4",
            "ppo.update_epochs=4",
        ],
    )


def _time_sb3(args: argparse.Namespace) -> dict[str, float]:
    """Best steps/s of each SB3 variant over ``--repeats`` interleaved timings (interleaving
    spreads the drifting load of a shared machine over all variants alike)."""
    from agents.sb3 import build_sb3

    variants = {"sb3": ("none", True), "bridge none": ("none", False), "bridge rnd": ("rnd", False)}
    batch = args.num_envs * args.num_steps
    models = {}
    try:
        for name, (bonus, plain) in variants.items():
            cfg = _config(args, "sb3_ppo", f"gym:{args.task}", bonus, args.num_envs)
            models[name] = build_sb3(cfg, plain=plain)
            models[name].learn(total_timesteps=batch, log_interval=None)  # warm-up: jit, resets
        best = dict.fromkeys(models, float("inf"))
        for _ in range(args.repeats):
            for name, model in models.items():
                started = time.perf_counter()
                model.learn(args.updates * batch, reset_num_timesteps=False, log_interval=None)
                best[name] = min(best[name], time.perf_counter() - started)
        return {name: args.updates * batch / seconds for name, seconds in best.items()}
    finally:
        for model in models.values():
            model.get_env().close()


def _time_jax(args: argparse.Namespace, num_envs: int) -> float:
    import jax

    from agents.seeds import run_seeds
    from explore.train import build

    cfg = _config(args, "ppo", args.jax_task, "rnd", num_envs)
    _, _, _, ppo = build(cfg)
    state = ppo.init_seeds([jax.random.PRNGKey(0)])
    run = run_seeds(lambda s: ppo.run(s, args.jax_updates), 1)
    state, _ = jax.block_until_ready(run(state))  # compile + warm-up
    started = time.perf_counter()
    jax.block_until_ready(run(state))
    return args.jax_updates * ppo.cfg.batch_size / (time.perf_counter() - started)


def run(args: argparse.Namespace) -> list[dict]:
    """Measure the SB3 peer, the bridge without and with RND, and the JAX PPO + RND."""
    import torch

    torch.set_num_threads(args.threads)
    measured = _time_sb3(args)
    rows = [
        {
            "task": args.task,
            "agent": name,
            "envs": args.num_envs,
            "steps/s": value,
            "bonus cost": measured["sb3"] / value - 1.0,
        }
        for name, value in measured.items()
    ]
    for row in rows:
        print(row, flush=True)
    for num_envs in args.jax_envs:
        value = _time_jax(args, num_envs)
        row = {
            "task": args.jax_task,
            "agent": f"jax rnd ×{num_envs}",
            "envs": num_envs,
            "steps/s": value,
            "vs bridge rnd": value / measured["bridge rnd"],
        }
        rows.append(row)
        print(row, flush=True)
    return rows
