"""Social-dilemma env steps/s, ours vs SocialJax in the same run (random actions).

Each measurement is one jitted ``lax.scan`` of ``steps`` batched steps (vmap over a batch of
``batch`` envs, every agent acting at random, auto-reset included). The observations of
every agent and the rewards are summed into the returned value, so XLA cannot drop the
observation code. SocialJax (github.com/cooperativex/SocialJax, a peer checkout) is imported
at run time from the folder given by ``--socialjax DIR`` and called
through its own ``reset``/``step`` (its ``step`` auto-resets too); nothing of it is copied.
Rows give env-steps/s (one step of all N agents) and agent-steps/s (× N).

``--meltingpot`` also times Melting Pot's own substrate (its Python config and Lua code run
by ``dmlab2d``; installed by ``scripts/install_meltingpot.py``, loaded at run time only):
one environment, as Melting Pot runs it, 7 players acting at random, every observation
``dmlab2d`` returns (each player's RGB, layers and reward, the world view) read into the
result; the ratio is ours (batched) against it, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp

from explore.bench.envs import time_calls
from explore.bench.peers import default_peer_folder

# ours -> SocialJax registry id (None: SocialJax has no counterpart).
TASKS = {
    "CleanUp": "clean_up",
    "Harvest-Open": "harvest_common_open",
    "Harvest-Closed": None,
    "Coins": "coin_game",
}
SOCIALJAX_ENV = "EXPLORE_SOCIALJAX"
DEFAULT_TASKS = ["CleanUp", "Harvest-Open"]


def _default_socialjax() -> str | None:
    path = os.environ.get(SOCIALJAX_ENV) or default_peer_folder("socialjax")
    return str(path) if path else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``explore bench social``."""
    parser.add_argument("--tasks", nargs="+", default=DEFAULT_TASKS, choices=list(TASKS))
    parser.add_argument("--batch", type=int, default=256, help="envs stepped in parallel")
    parser.add_argument("--steps", type=int, default=100, help="batched steps per timed call")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls (best is kept)")
    parser.add_argument(
        "--socialjax",
        default=_default_socialjax(),
        help="folder holding the SocialJax package (default: $EXPLORE_SOCIALJAX, else shared/peers/socialjax beside the checkout)",
    )
    parser.add_argument("--no-peers", action="store_true", help="skip SocialJax")
    parser.add_argument(
        "--meltingpot",
        action="store_true",
        help="also time Melting Pot's own substrate (dmlab2d, one env) in the same run",
    )
    parser.add_argument(
        "--meltingpot-steps", type=int, default=300, help="Melting Pot steps per timed call"
    )


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


# ours -> Melting Pot substrate config module (meltingpot.configs.substrates.<name>).
MELTINGPOT = {
    "CleanUp": "clean_up",
    "Harvest-Open": "commons_harvest__open",
    "Harvest-Closed": "commons_harvest__closed",
    "Coins": "coins",
}


def meltingpot(task: str, steps: int, seed: int = 0) -> tuple[Callable[[], float], int]:
    """One Melting Pot substrate; returns (a call running ``steps`` random steps, players).

    Every observation of every step is read (summed), as a learner would consume it.
    """
    import importlib

    import numpy as np
    from meltingpot.utils.substrates import builder

    module = importlib.import_module(f"meltingpot.configs.substrates.{MELTINGPOT[task]}")
    config = module.get_config()
    roles = list(config.default_player_roles)
    env = builder.builder(module.build(roles, config), env_seed=seed + 1)
    action_set = list(config.action_set)
    rng = np.random.default_rng(seed)
    env.reset()

    def call() -> float:
        total = 0.0
        for _ in range(steps):
            command = {}
            for i, a in enumerate(rng.integers(0, len(action_set), len(roles))):
                for name, value in action_set[int(a)].items():
                    command[f"{i + 1}.{name}"] = np.int32(value)
            timestep = env.step(command)
            if timestep.last():
                timestep = env.reset()
            for value in timestep.observation.values():
                if isinstance(value, np.ndarray) and value.dtype != object:
                    total += float(value.sum())
        return total

    return call, len(roles)


def _time_host(fn: Callable[[], float], repeats: int) -> tuple[float, float]:
    """Best wall seconds and that call's CPU seconds, as :func:`explore.bench.envs.time_calls`."""
    fn()  # warm-up (first build of the level's Lua state, caches)
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        if wall < best:
            best, best_cpu = wall, cpu
    return best, best_cpu


def run(args: argparse.Namespace) -> list[dict]:
    """Measure each task; ratios against SocialJax and Melting Pot measured in the same run."""
    if getattr(args, "meltingpot", False):
        import importlib.util

        try:
            found = importlib.util.find_spec("meltingpot.configs.substrates") is not None
        except ModuleNotFoundError:
            found = False
        if not found or importlib.util.find_spec("dmlab2d") is None:
            print(
                "--meltingpot: Melting Pot is not installed here; run "
                "pip install -e '.[conformance]' and python scripts/install_meltingpot.py",
                file=sys.stderr,
            )
            raise SystemExit(2)
    rows = []
    key = jax.random.PRNGKey(0)
    for task in args.tasks:
        fn, n = ours(task, args.batch, args.steps)
        wall, cpu = time_calls(fn, key, args.repeats)
        ours_rate = args.batch * args.steps / wall
        row = {
            "task": task,
            "agents": n,
            "batch": args.batch,
            "ours env-steps/s": ours_rate,
            "ours agent-steps/s": ours_rate * n,
            "ours env-steps/cpu-s": args.batch * args.steps / cpu,
        }
        peer_id = TASKS[task]
        if not args.no_peers and args.socialjax and peer_id:
            try:
                peer_fn, peer_n = socialjax(args.socialjax, peer_id, args.batch, args.steps)
                peer_rate = args.batch * args.steps / time_calls(peer_fn, key, args.repeats)[0]
                row["SocialJax env-steps/s"] = peer_rate
                row["SocialJax agents"] = peer_n
                row["ours / SocialJax"] = ours_rate / peer_rate
            except Exception as err:  # a peer that fails to build is reported, not fatal
                print(f"SocialJax {peer_id}: {type(err).__name__}: {err}")
                row["SocialJax env-steps/s"] = float("nan")
        if getattr(args, "meltingpot", False) and task in MELTINGPOT:
            mp_fn, mp_n = meltingpot(task, args.meltingpot_steps)
            mp_wall, mp_cpu = _time_host(mp_fn, args.repeats)
            mp_rate = args.meltingpot_steps / mp_wall
            row["Melting Pot env-steps/s"] = mp_rate
            row["Melting Pot env-steps/cpu-s"] = args.meltingpot_steps / mp_cpu
            row["Melting Pot agents"] = mp_n
            row["ours / Melting Pot"] = ours_rate / mp_rate
            row["ours / Melting Pot (cpu)"] = (
                row["ours env-steps/cpu-s"] / row["Melting Pot env-steps/cpu-s"]
            )
        rows.append(row)
        print(row, flush=True)
    return rows
