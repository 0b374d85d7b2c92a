"""Accelerator rollouts and training: env steps/s at large batches, PPO vs PureJaxRL, vmapped seeds.

Meant for a machine with a GPU (``make bench-gpu``); it runs anywhere, and every row names
the device it ran on, so a CPU run (the tests run it at a tiny size) is never mistaken for
a GPU figure. Three parts, each skippable with ``--skip``:

* ``envs``: env steps/s at batches 4,096 to 65,536 (``--batches``), random actions,
  auto-reset included, every observation consumed: ours through ``env.step_batch`` and
  through ``jax.vmap(env.step)``, xminigrid and navix through their own auto-reset paths
  (the rollouts of ``explore bench envs``, whose docstring says what each peer observes);
* ``cartpole``: our PPO on gymnax CartPole-v1 against PureJaxRL's ``make_train`` at
  PureJaxRL's config, compile included (``explore bench train``'s CartPole row, from
  ``--purejaxrl DIR`` or ``$EXPLORE_PUREJAXRL``);
* ``rnd``: PPO+RND on DoorKey-8x8, ``--seeds`` seeds ``jax.vmap``-ed in one program
  (``agents.seeds.run_seeds(..., vectorize=True)``; the CPU's one-device-per-seed split is
  a CPU choice), against plain PPO at the same settings, timed after a warm-up chunk.
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from typing import Any

import jax

from explore.bench import envs as bench_envs

PARTS = ("envs", "cartpole", "rnd")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``explore bench gpu``."""
    parser.add_argument(
        "--batches",
        nargs="+",
        type=int,
        default=[4096, 8192, 16384, 32768, 65536],
        help="env batch sizes",
    )
    parser.add_argument(
        "--tasks", nargs="+", default=["DoorKey-8x8", "Empty-8x8"], help="gridworld tasks"
    )
    parser.add_argument("--steps", type=int, default=100, help="batched steps per timed call")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls (best is kept)")
    parser.add_argument("--no-peers", action="store_true", help="skip xminigrid and navix")
    parser.add_argument(
        "--cartpole-steps", type=float, default=5e6, help="CartPole PPO env steps (each side)"
    )
    parser.add_argument(
        "--cartpole-envs", type=int, default=256, help="CartPole envs (PureJaxRL's config: 256)"
    )
    parser.add_argument(
        "--cartpole-num-steps", type=int, default=128, help="CartPole rollout length (128)"
    )
    parser.add_argument(
        "--purejaxrl", default=None, help="folder holding PureJaxRL's purejaxrl/ package"
    )
    parser.add_argument("--seeds", type=int, default=16, help="PPO+RND seeds in one program")
    parser.add_argument("--num-envs", type=int, default=16, help="PPO+RND envs per seed")
    parser.add_argument("--updates", type=int, default=5, help="PPO updates per timed chunk")
    parser.add_argument(
        "--skip", nargs="+", default=[], help=f"parts to leave out ({', '.join(PARTS)})"
    )


def device_label() -> str:
    """The device the default backend runs on, e.g. ``gpu: NVIDIA H100 80GB HBM3``."""
    device = jax.devices()[0]
    return f"{device.platform}: {device.device_kind}"


def env_rows(args: argparse.Namespace, device: str) -> list[dict[str, Any]]:
    """Env steps/s of every task at every batch; ours (both idioms) and the peers."""
    rows = []
    key = jax.random.PRNGKey(0)
    for task in args.tasks:
        peers = dict(zip(bench_envs.PEERS, bench_envs.TASKS[task], strict=True))
        for batch in args.batches:
            total = batch * args.steps
            factories = {
                "ours step_batch": partial(bench_envs.ours, task, batch, args.steps),
                "ours vmap(step)": partial(
                    bench_envs.ours, task, batch, args.steps, idiom="vmap(step)"
                ),
            }
            if not args.no_peers:
                for label, name in peers.items():
                    if name is not None:
                        factories[label] = partial(bench_envs.PEERS[label], name, batch, args.steps)
            row: dict[str, Any] = {"task": task, "batch": batch, "device": device}
            for label, factory in factories.items():
                try:
                    wall, _ = bench_envs.time_calls(factory(), key, args.repeats)
                    row[f"{label} steps/s"] = total / wall
                except Exception as err:  # one side failing (e.g. out of memory) is reported
                    row[f"{label} steps/s"] = float("nan")
                    print(f"{task} {label} batch {batch}: {type(err).__name__}: {err}", flush=True)
            ours = row["ours step_batch steps/s"]
            row["vmap(step) / step_batch"] = row["ours vmap(step) steps/s"] / ours
            for label in bench_envs.PEERS:
                if f"{label} steps/s" in row:
                    row[f"ours / {label}"] = ours / row[f"{label} steps/s"]
            rows.append(row)
            print(row, flush=True)
    return rows


def cartpole_rows(args: argparse.Namespace, device: str) -> list[dict[str, Any]]:
    """Our PPO vs PureJaxRL on CartPole-v1, both in this run, compile included."""
    from explore.bench.train import cartpole_row

    config = {"NUM_ENVS": args.cartpole_envs, "NUM_STEPS": args.cartpole_num_steps}
    row = {"device": device, **cartpole_row(args.cartpole_steps, args.purejaxrl, 1, config)}
    row["envs × steps"] = f"{args.cartpole_envs} × {args.cartpole_num_steps}"
    print(row, flush=True)
    return [row]


def _seeds_steps_per_s(bonus: str, args: argparse.Namespace) -> float:
    """Env steps/s of ``args.seeds`` PPO(+bonus) seeds vmapped in one program on DoorKey-8x8."""
    from agents.seeds import run_seeds
    from explore.bench.train import _ppo_for

    bonus_obj, ppo = _ppo_for("DoorKey-8x8", bonus, args.num_envs)
    try:
        state = ppo.init_seeds(jax.random.split(jax.random.PRNGKey(0), args.seeds))
        chunk = run_seeds(lambda s: ppo.run(s, args.updates), args.seeds, vectorize=True)
        state, metrics = chunk(state)  # compile + warm-up
        jax.device_get(metrics)
        best = float("inf")
        for _ in range(args.repeats):
            started = time.perf_counter()
            state, metrics = chunk(state)
            jax.device_get(metrics)
            best = min(best, time.perf_counter() - started)
    finally:
        bonus_obj.close()
    return args.seeds * args.updates * ppo.cfg.batch_size / best


def rnd_rows(args: argparse.Namespace, device: str) -> list[dict[str, Any]]:
    """PPO+RND and plain PPO, ``--seeds`` seeds vmapped in one program."""
    plain = _seeds_steps_per_s("none", args)
    rnd = _seeds_steps_per_s("rnd", args)
    row = {
        "bench": f"DoorKey-8x8 PPO+RND, {args.seeds} seeds vmapped × {args.num_envs} envs",
        "device": device,
        "plain PPO steps/s": plain,
        "PPO+RND steps/s": rnd,
        "cost ratio (plain/RND)": plain / rnd,
    }
    print(row, flush=True)
    return [row]


def run(args: argparse.Namespace) -> list[dict]:
    """Every part not in ``--skip``; each row names the device."""
    from envs.registry import unknown_name_error

    for skipped in args.skip:
        if skipped not in PARTS:
            raise unknown_name_error("bench gpu part", skipped, list(PARTS))
    for task in args.tasks:
        if task not in bench_envs.TASKS:
            raise unknown_name_error("bench task", task, list(bench_envs.TASKS))
    for field in ("steps", "repeats", "seeds", "num_envs", "updates"):
        if getattr(args, field) < 1:
            raise ValueError(f"--{field.replace('_', '-')} must be ≥ 1, got {getattr(args, field)}")
    if any(b < 1 for b in args.batches):
        raise ValueError(f"--batches must be ≥ 1, got {args.batches}")
    device = device_label()
    if jax.default_backend() == "cpu":
        print(f"no accelerator ({device}): these rows are CPU figures, not GPU ones", flush=True)
    rows: list[dict] = []
    if "envs" not in args.skip:
        rows += env_rows(args, device)
    if "cartpole" not in args.skip:
        rows += cartpole_rows(args, device)
    if "rnd" not in args.skip:
        rows += rnd_rows(args, device)
    return rows
