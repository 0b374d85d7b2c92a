"""Gridworld env steps/s with random actions, ours vs xminigrid and navix, same run.

Each measurement is one jitted ``lax.scan`` of ``steps`` batched steps (vmap over the batch,
auto-reset included, random actions), timed after a warm-up call. Our default observation
follows MiniGrid (walls occlude the view); xminigrid's and navix's do not, so the
``see_through_walls=True`` row is the like-for-like comparison.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import jax

TASKS = {
    "DoorKey-8x8": ("MiniGrid-DoorKey-8x8", "Navix-DoorKey-8x8-v0"),
    "Empty-8x8": ("MiniGrid-Empty-8x8", "Navix-Empty-8x8-v0"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``explore bench envs``."""
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), help="tasks to measure")
    parser.add_argument(
        "--batches", nargs="+", type=int, default=[1, 256, 4096], help="batch sizes"
    )
    parser.add_argument("--steps", type=int, default=200, help="batched steps per timed call")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls (best is kept)")
    parser.add_argument("--no-peers", action="store_true", help="skip xminigrid and navix")


def _time(fn: Callable, key: jax.Array, repeats: int) -> float:
    jax.block_until_ready(fn(key))
    best = float("inf")
    for i in range(repeats):
        started = time.perf_counter()
        jax.block_until_ready(fn(jax.random.fold_in(key, i + 1)))
        best = min(best, time.perf_counter() - started)
    return best


def ours(name: str, batch: int, steps: int, **kwargs) -> Callable:
    """Random-action rollout of our env."""
    import envs

    env, params = envs.make(name, **kwargs)
    n = env.action_space(params).n

    def rollout(key):
        _, state = jax.vmap(env.reset, (0, None))(jax.random.split(key, batch), params)

        def body(carry, k):
            state = carry
            ka, ks = jax.random.split(k)
            actions = jax.random.randint(ka, (batch,), 0, n)
            _, state, reward, *_ = jax.vmap(env.step, (0, 0, 0, None))(
                jax.random.split(ks, batch), state, actions, params
            )
            return state, reward.sum()

        return jax.lax.scan(body, state, jax.random.split(key, steps))[1].sum()

    return jax.jit(rollout)


def xminigrid_rollout(name: str, batch: int, steps: int) -> Callable:
    """Random-action rollout of xminigrid with its gym-style auto-reset wrapper."""
    import xminigrid
    from xminigrid.wrappers import GymAutoResetWrapper

    env, params = xminigrid.make(name)
    env = GymAutoResetWrapper(env)

    def rollout(key):
        timestep = jax.vmap(env.reset, (None, 0))(params, jax.random.split(key, batch))

        def body(ts, k):
            actions = jax.random.randint(k, (batch,), 0, env.num_actions(params))
            ts = jax.vmap(env.step, (None, 0, 0))(params, ts, actions)
            return ts, ts.reward.sum()

        return jax.lax.scan(body, timestep, jax.random.split(key, steps))[1].sum()

    return jax.jit(rollout)


def navix_rollout(name: str, batch: int, steps: int) -> Callable:
    """Random-action rollout of navix (auto-resets inside its step)."""
    import navix

    env = navix.make(name)

    def rollout(key):
        timestep = jax.vmap(env.reset)(jax.random.split(key, batch))

        def body(ts, k):
            actions = jax.random.randint(k, (batch,), 0, len(env.action_set))
            ts = jax.vmap(env.step)(ts, actions)
            return ts, ts.reward.sum()

        return jax.lax.scan(body, timestep, jax.random.split(key, steps))[1].sum()

    return jax.jit(rollout)


def run(args: argparse.Namespace) -> list[dict]:
    """Measure every (task, batch); ratios against the peers in the same run."""
    rows = []
    key = jax.random.PRNGKey(0)
    for task in args.tasks:
        xm_name, nx_name = TASKS[task]
        for batch in args.batches:
            total = batch * args.steps
            measured = {
                "ours": total / _time(ours(task, batch, args.steps), key, args.repeats),
                "ours (see-through)": total
                / _time(ours(task, batch, args.steps, see_through_walls=True), key, args.repeats),
            }
            if not args.no_peers:
                for label, factory, peer_name in (
                    ("xminigrid", xminigrid_rollout, xm_name),
                    ("navix", navix_rollout, nx_name),
                ):
                    try:
                        measured[label] = total / _time(
                            factory(peer_name, batch, args.steps), key, args.repeats
                        )
                    except Exception as err:  # a peer that fails to build is reported, not fatal
                        measured[label] = float("nan")
                        print(f"{label} {peer_name}: {type(err).__name__}: {err}")
            row = {"task": task, "batch": batch}
            row.update({f"{k} steps/s": v for k, v in measured.items()})
            if "xminigrid" in measured:
                row["ours / xminigrid"] = measured["ours"] / measured["xminigrid"]
                row["see-through / xminigrid"] = (
                    measured["ours (see-through)"] / measured["xminigrid"]
                )
                faster = max(measured["xminigrid"], measured.get("navix", 0.0))
                row["see-through / faster peer"] = measured["ours (see-through)"] / faster
            rows.append(row)
            print(row, flush=True)
    return rows
