"""Social-dilemma env steps/s, ours vs SocialJax in the same run (random actions).

Each measurement is one jitted ``lax.scan`` of ``steps`` batched steps (vmap over a batch of
``batch`` envs, every agent acting at random, auto-reset included). The observations of
every agent and the rewards are summed into the returned value, so XLA cannot drop the
observation code. SocialJax (github.com/cooperativex/SocialJax, a peer kept in
``../shared/peers/socialjax``) is imported at run time from ``--socialjax DIR`` and called
through its own ``reset``/``step`` (its ``step`` auto-resets too); nothing of it is copied.
Rows give env-steps/s (one step of all N agents) and agent-steps/s (× N).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp

# ours -> SocialJax registry id (None: SocialJax has no counterpart).
TASKS = {
    "CleanUp": "clean_up",
    "Harvest-Open": "harvest_common_open",
    "Harvest-Closed": None,
    "Coins": "coin_game",
}
DEFAULT_TASKS = ["CleanUp", "Harvest-Open"]


def _default_socialjax() -> str | None:
    path = Path(__file__).resolve().parents[2].parent / "shared" / "peers" / "socialjax"
    return str(path) if path.exists() else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``explore bench social``."""
    parser.add_argument("--tasks", nargs="+", default=DEFAULT_TASKS, choices=list(TASKS))
    parser.add_argument("--batch", type=int, default=256, help="envs stepped in parallel")
    parser.add_argument("--steps", type=int, default=100, help="batched steps per timed call")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls (best is kept)")
    parser.add_argument(
        "--socialjax",
        default=_default_socialjax(),
        help="folder holding the SocialJax package (default <repo>/../shared/peers/socialjax)",
    )
    parser.add_argument("--no-peers", action="store_true", help="skip SocialJax")


def _time(fn: Callable, key: jax.Array, repeats: int) -> float:
    jax.block_until_ready(fn(key))
    best = float("inf")
    for i in range(repeats):
        started = time.perf_counter()
        jax.block_until_ready(fn(jax.random.fold_in(key, i + 1)))
        best = min(best, time.perf_counter() - started)
    return best


def ours(name: str, batch: int, steps: int) -> tuple[Callable, int]:
    """Random-action rollout of our env; returns (jitted rollout, number of agents)."""
    import envs

    env, params = envs.make(name)
    n_actions = env.action_space(params).n
    n = env.num_agents

    def rollout(key):
        _, state = jax.vmap(env.reset, (0, None))(jax.random.split(key, batch), params)

        def body(state, k):
            ka, ks = jax.random.split(k)
            actions = jax.random.randint(ka, (batch, n), 0, n_actions)
            obs, state, reward, *_ = jax.vmap(env.step, (0, 0, 0, None))(
                jax.random.split(ks, batch), state, actions, params
            )
            return state, reward.sum() + obs.sum(dtype=jnp.float32)

        return jax.lax.scan(body, state, jax.random.split(key, steps))[1].sum()

    return jax.jit(rollout), n


def socialjax(folder: str, peer_id: str, batch: int, steps: int) -> tuple[Callable, int]:
    """Random-action rollout of SocialJax's env (its own auto-reset ``step``)."""
    if folder not in sys.path:
        sys.path.insert(0, folder)
    import socialjax as sj

    env = sj.make(peer_id)
    n = env.num_agents
    n_actions = env.action_space(0).n

    def rollout(key):
        _, state = jax.vmap(env.reset)(jax.random.split(key, batch))

        def body(state, k):
            ka, ks = jax.random.split(k)
            actions = jax.random.randint(ka, (n, batch), 0, n_actions)
            # SocialJax's step takes a list of per-agent actions; vmap maps each over the batch.
            obs, state, reward, *_ = jax.vmap(env.step, (0, 0, 0))(
                jax.random.split(ks, batch), state, list(actions)
            )
            obs_sum = sum(x.sum(dtype=jnp.float32) for x in jax.tree.leaves(obs))
            reward_sum = sum(jnp.sum(x) for x in jax.tree.leaves(reward))
            return state, reward_sum + obs_sum

        return jax.lax.scan(body, state, jax.random.split(key, steps))[1].sum()

    return jax.jit(rollout), n


def run(args: argparse.Namespace) -> list[dict]:
    """Measure each task; the ratio against SocialJax measured in the same run."""
    rows = []
    key = jax.random.PRNGKey(0)
    for task in args.tasks:
        fn, n = ours(task, args.batch, args.steps)
        ours_rate = args.batch * args.steps / _time(fn, key, args.repeats)
        row = {
            "task": task,
            "agents": n,
            "batch": args.batch,
            "ours env-steps/s": ours_rate,
            "ours agent-steps/s": ours_rate * n,
        }
        peer_id = TASKS[task]
        if not args.no_peers and args.socialjax and peer_id:
            try:
                peer_fn, peer_n = socialjax(args.socialjax, peer_id, args.batch, args.steps)
                peer_rate = args.batch * args.steps / _time(peer_fn, key, args.repeats)
                row["SocialJax env-steps/s"] = peer_rate
                row["SocialJax agents"] = peer_n
                row["ours / SocialJax"] = ours_rate / peer_rate
            except Exception as err:  # a peer that fails to build is reported, not fatal
                print(f"SocialJax {peer_id}: {type(err).__name__}: {err}")
                row["SocialJax env-steps/s"] = float("nan")
        rows.append(row)
        print(row, flush=True)
    return rows
