"""Gridworld env steps/s with random actions, ours vs xminigrid and navix, same run.

Every measurement is one jitted ``lax.scan`` of ``steps`` batched steps (random actions,
auto-reset included) timed after a warm-up call, and **every observation is consumed**:
the timed function returns the sum of all observations and rewards it produced. A rollout
that kept only the rewards let XLA delete the observation code as dead (the egocentric
view and its occlusion), which made our DoorKey figures 2–3× too high before this bench
was fixed; ``tests/explore/test_bench.py`` checks that the returned value changes when
the observation function changes, for us and for each peer.

Peers, each through its own auto-reset path:

* xminigrid 0.9.3: ``GymAutoResetWrapper`` (gym-style, reset on the step that ends an
  episode), its default 7×7×2 egocentric view, no occlusion (``transparent_field_of_view``);
* navix 0.7.4: auto-resets inside ``step``; its default observation (``symbolic``, the
  whole grid), no occlusion.

Our default observation follows MiniGrid (walls and closed doors occlude the view). Two
more columns are the like-for-like comparisons: ``see_through_walls=True`` (the egocentric
view without occlusion, as xminigrid's) and ``fully_observable=True`` (the whole grid, as
navix's default ``symbolic`` observation and MiniGrid's ``FullyObsWrapper``). A peer that
has no such task (xminigrid has neither MultiRoom nor KeyCorridor, navix has no MultiRoom)
is left out of that row.

Our step is called the way PPO calls it, ``env.step_batch`` (the ``ours`` columns), and,
with ``--idioms``, the ways a user may write it: ``jax.vmap(env.step)`` (the gymnax idiom;
a ``custom_vmap`` rule sends it to ``step_batch``) and ``jax.vmap(env.step_select)`` (the
select-based auto-reset that computes a fresh episode for every env at every step). All
three give the same results bit for bit (``tests/envs/test_vmap_step.py``); each row gives
their ratios to ``step_batch``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

# our task -> (xminigrid name, navix name); None where the peer has no such task.
TASKS: dict[str, tuple[str | None, str | None]] = {
    "DoorKey-8x8": ("MiniGrid-DoorKey-8x8", "Navix-DoorKey-8x8-v0"),
    "Empty-8x8": ("MiniGrid-Empty-8x8", "Navix-Empty-8x8-v0"),
    "MultiRoom-N6": (None, None),
    "KeyCorridorS3R3": (None, "Navix-KeyCorridorS3R3-v0"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``explore bench envs``."""
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), help="tasks to measure")
    parser.add_argument("--batches", nargs="+", type=int, default=[4096], help="batch sizes")
    parser.add_argument("--steps", type=int, default=100, help="batched steps per timed call")
    parser.add_argument("--repeats", type=int, default=2, help="timed calls (best is kept)")
    parser.add_argument("--no-peers", action="store_true", help="skip xminigrid and navix")
    parser.add_argument(
        "--idioms",
        nargs="+",
        default=["step_batch", "vmap(step)"],
        help=f"ways of calling our batched step, occluded view (choices: {', '.join(IDIOMS)})",
    )


def consumed(obs: Any, reward: jax.Array) -> jax.Array:
    """One scalar that depends on every observation and reward of a batched step.

    Observations are summed as integers (exact) where they are integers, so a test can
    check that a change of the observation function changes the result.
    """
    total = jnp.zeros((), jnp.float32)
    for leaf in jax.tree.leaves(obs):
        dtype = jnp.int32 if jnp.issubdtype(leaf.dtype, jnp.integer) else jnp.float32
        total = total + jnp.sum(leaf, dtype=dtype).astype(jnp.float32)
    return total + jnp.sum(reward, dtype=jnp.float32)


def scan_rollout(
    reset: Callable[[jax.Array], tuple[Any, Any]],
    step: Callable[[Any, jax.Array, jax.Array], tuple[Any, Any, jax.Array]],
    num_actions: int,
    batch: int,
    steps: int,
) -> Callable[[jax.Array], jax.Array]:
    """The timed function, the same for every env.

    ``reset(keys[batch]) -> (state, obs)`` and ``step(state, actions[batch], key) ->
    (state, obs, reward)`` are batched; the result sums every observation and reward.
    """

    def rollout(key: jax.Array) -> jax.Array:
        k_reset, k_steps = jax.random.split(key)
        state, obs = reset(jax.random.split(k_reset, batch))

        def body(carry, k):
            state, total = carry
            k_act, k_env = jax.random.split(k)
            actions = jax.random.randint(k_act, (batch,), 0, num_actions)
            state, obs, reward = step(state, actions, k_env)
            return (state, total + consumed(obs, reward)), None

        start = consumed(obs, jnp.zeros(()))
        (_, total), _ = jax.lax.scan(body, (state, start), jax.random.split(k_steps, steps))
        return total

    return jax.jit(rollout)


def time_calls(fn: Callable, key: jax.Array, repeats: int) -> tuple[float, float]:
    """Best wall seconds of ``repeats`` timed calls after a warm-up, and that call's CPU seconds.

    CPU seconds (all of this process's threads) are reported beside wall time: on a shared
    machine, wall time also measures the other jobs.
    """
    jax.block_until_ready(fn(key))  # compile + warm-up
    best, best_cpu = float("inf"), float("inf")
    for i in range(repeats):
        # The key first: the first eager fold_in compiles, which is not the rollout's time.
        call_key = jax.block_until_ready(jax.random.fold_in(key, i + 1))
        started, started_cpu = time.perf_counter(), time.process_time()
        jax.block_until_ready(fn(call_key))
        wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        if wall < best:
            best, best_cpu = wall, cpu
    return best, best_cpu


# How our batched step is called: PPO's `env.step_batch`, the gymnax idiom `jax.vmap(env.step)`
# (dispatched to step_batch by a custom_vmap rule), and the select-based auto-reset under a
# plain vmap (`env.step_select`: a fresh episode computed for every env at every step).
IDIOMS = ("step_batch", "vmap(step)", "vmap(step_select)")


def ours(
    name: str, batch: int, steps: int, idiom: str = "step_batch", **kwargs: Any
) -> Callable[[jax.Array], jax.Array]:
    """Random-action rollout of our env through one of :data:`IDIOMS` (all give the same
    results bit for bit; ``step_batch`` is what PPO runs)."""
    import envs

    env, params = envs.make(name, **kwargs)
    batched_step = {
        "step_batch": env.step_batch,
        "vmap(step)": jax.vmap(env.step, (0, 0, 0, None)),
        "vmap(step_select)": jax.vmap(env.step_select, (0, 0, 0, None)),
    }[idiom]

    def reset(keys):
        obs, state = jax.vmap(env.reset, (0, None))(keys, params)
        return state, obs

    def step(state, actions, key):
        obs, state, reward, *_ = batched_step(jax.random.split(key, batch), state, actions, params)
        return state, obs, reward

    return scan_rollout(reset, step, env.action_space(params).n, batch, steps)


def xminigrid_rollout(name: str, batch: int, steps: int) -> Callable[[jax.Array], jax.Array]:
    """Random-action rollout of xminigrid with its gym-style auto-reset wrapper."""
    import xminigrid
    from xminigrid.wrappers import GymAutoResetWrapper

    env, params = xminigrid.make(name)
    env = GymAutoResetWrapper(env)

    def reset(keys):
        timestep = jax.vmap(env.reset, (None, 0))(params, keys)
        return timestep, timestep.observation

    def step(timestep, actions, key):
        timestep = jax.vmap(env.step, (None, 0, 0))(params, timestep, actions)
        return timestep, timestep.observation, timestep.reward

    return scan_rollout(reset, step, env.num_actions(params), batch, steps)


def navix_rollout(name: str, batch: int, steps: int) -> Callable[[jax.Array], jax.Array]:
    """Random-action rollout of navix (auto-resets inside its step), default observation."""
    import navix

    env = navix.make(name)

    def reset(keys):
        timestep = jax.vmap(env.reset)(keys)
        return timestep, timestep.observation

    def step(timestep, actions, key):
        timestep = jax.vmap(env.step)(timestep, actions)
        return timestep, timestep.observation, timestep.reward

    return scan_rollout(reset, step, len(env.action_set), batch, steps)


PEERS = {"xminigrid": xminigrid_rollout, "navix": navix_rollout}


def run(args: argparse.Namespace) -> list[dict]:
    """Measure every (task, batch); ratios against the peers in the same run."""
    from envs.registry import unknown_name_error

    unknown = [t for t in args.tasks if t not in TASKS]
    if unknown:
        raise unknown_name_error("bench task", unknown[0], list(TASKS))
    idioms = getattr(args, "idioms", ["step_batch"])
    unknown = [i for i in idioms if i not in IDIOMS]
    if unknown:
        raise unknown_name_error("idiom", unknown[0], list(IDIOMS))
    rows = []
    key = jax.random.PRNGKey(0)
    print(
        "every figure: env steps/s with all observations and rewards summed into the result, "
        "auto-reset included, random actions",
        flush=True,
    )
    for task in args.tasks:
        for batch in args.batches:
            measured: dict[str, tuple[float, float]] = {}  # label -> (steps/s, steps/cpu-s)

            def measure(label, fn, total=batch * args.steps, measured=measured):
                wall, cpu = time_calls(fn, key, args.repeats)
                measured[label] = (total / wall, total / cpu)

            # "ours" is step_batch; the other idioms get their own columns and a ratio to it.
            measure("ours", ours(task, batch, args.steps))
            for idiom in idioms:
                if idiom != "step_batch":
                    measure(f"ours {idiom}", ours(task, batch, args.steps, idiom=idiom))
            measure("ours (see-through)", ours(task, batch, args.steps, see_through_walls=True))
            measure("ours (full grid)", ours(task, batch, args.steps, fully_observable=True))
            if not args.no_peers:
                for (label, factory), peer_name in zip(PEERS.items(), TASKS[task], strict=True):
                    if peer_name is None:
                        continue
                    try:
                        measure(label, factory(peer_name, batch, args.steps))
                    except Exception as err:  # a peer that fails to build is reported, not fatal
                        measured[label] = (float("nan"), float("nan"))
                        print(f"{label} {peer_name}: {type(err).__name__}: {err}", flush=True)
            row: dict[str, Any] = {"task": task, "batch": batch}
            row.update({f"{k} steps/s": v[0] for k, v in measured.items()})
            row.update({f"{k} steps/cpu-s": v[1] for k, v in measured.items()})
            for i, unit in enumerate(("", " (cpu)")):
                for idiom in idioms:
                    if idiom != "step_batch":
                        row[f"{idiom} / step_batch{unit}"] = (
                            measured[f"ours {idiom}"][i] / measured["ours"][i]
                        )
                if "xminigrid" in measured:
                    xm = measured["xminigrid"][i]
                    row[f"ours / xminigrid{unit}"] = measured["ours"][i] / xm
                    row[f"see-through / xminigrid{unit}"] = measured["ours (see-through)"][i] / xm
                if "navix" in measured:  # both observe the whole grid
                    row[f"full grid / navix{unit}"] = (
                        measured["ours (full grid)"][i] / measured["navix"][i]
                    )
                peers = [measured[p][i] for p in PEERS if p in measured]
                if peers:
                    row[f"ours / faster peer{unit}"] = measured["ours"][i] / max(peers)
                    row[f"see-through / faster peer{unit}"] = measured["ours (see-through)"][
                        i
                    ] / max(peers)
            rows.append(row)
            print(row, flush=True)
    return rows
