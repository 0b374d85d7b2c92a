"""Multi-objective env steps/s, ours vs MO-Gymnasium's vector env, in the same run.

Three figures per task, every one with random actions, auto-reset included, and every
observation and reward vector consumed (summed into the returned value, as in
``explore bench envs``):

* ``ours``: one jitted ``lax.scan`` of ``steps`` batched steps (``jax.vmap`` of the env's
  ``step``, the core's auto-reset), timed after a warm-up call — what MO-PPO runs;
* ``ours (door)``: our MO-Gymnasium door, ``gymnasium.make_vec("explore/<Name>-v0")``
  (:class:`envs.mo_gymnasium.MOVectorEnv`: one jitted call per batched step, NumPy in and
  out, MO-Gymnasium's next-step auto-reset) — what a NumPy training loop gets;
* ``mo-gymnasium``: its ``MOSyncVectorEnv`` over ``batch`` copies of the same env — the
  fastest vector env it offers here: ``MOAsyncVectorEnv`` runs one process per copy, which
  4096 copies on a 2-core machine cannot use.

``--train`` adds the rows of :func:`train_rows` (the 16-weight front benchmark of MO-PPO);
``--front`` the rows of :func:`front_rows` (wall time until the hypervolume fraction of a
learned front reaches ``--front-target`` on Deep Sea Treasure: MO-PPO against
morl-baselines' Envelope Q-learning and GPI-LS, when morl-baselines is installed).
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from explore.bench.envs import scan_rollout, time_calls  # time_calls: (best wall s, its CPU s)

# our task -> MO-Gymnasium id and kwargs
TASKS: dict[str, tuple[str, dict[str, Any]]] = {
    "DeepSeaTreasure": ("deep-sea-treasure-v0", {}),
    "DeepSeaTreasure-Concave": ("deep-sea-treasure-concave-v0", {}),
    "ResourceGathering": ("resource-gathering-v0", {}),
    "FruitTree-6": ("fruit-tree-v0", {"depth": 6}),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``explore bench mo``."""
    parser.add_argument(
        "--tasks", nargs="+", default=["DeepSeaTreasure"], help=f"tasks ({', '.join(TASKS)})"
    )
    parser.add_argument("--batch", type=int, default=4096, help="environments stepped together")
    parser.add_argument(
        "--steps", type=int, default=200, help="batched steps per timed call (ours, our door)"
    )
    parser.add_argument(
        "--peer-steps", type=int, default=20, help="batched steps per timed call (MO-Gymnasium)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed calls (best is kept)")
    parser.add_argument("--no-peers", action="store_true", help="skip MO-Gymnasium")
    parser.add_argument(
        "--train",
        action="store_true",
        help="also run the 16-weight front benchmark (MO-PPO: one program vs 16 runs)",
    )
    add_train_arguments(parser)
    add_front_arguments(parser)


# --- env steps/s ---------------------------------------------------------------------------
def ours(name: str, batch: int, steps: int) -> Callable[[jax.Array], jax.Array]:
    """Random-action rollout of our env: ``jax.vmap`` of ``env.step`` (auto-reset)."""
    import envs

    env, params = envs.make(name)

    def reset(keys):
        obs, state = jax.vmap(env.reset, (0, None))(keys, params)
        return state, obs

    def step(state, actions, key):
        obs, state, reward, *_ = jax.vmap(env.step, (0, 0, 0, None))(
            jax.random.split(key, batch), state, actions, params
        )
        return state, obs, reward

    return scan_rollout(reset, step, env.action_space(params).n, batch, steps)


def _time_numpy_vector_env(venv: Any, steps: int, repeats: int) -> tuple[float, float]:
    """Best wall seconds for ``steps`` random batched steps of a Gymnasium vector env, and
    that call's CPU seconds (as ``explore.bench.envs.time_calls``)."""
    rng = np.random.default_rng(0)
    n = int(venv.single_action_space.n)
    obs, _ = venv.reset(seed=0)
    total = float(np.sum(obs))
    venv.step(rng.integers(0, n, venv.num_envs))  # warm-up (our door compiles its step here)
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            obs, reward, *_ = venv.step(rng.integers(0, n, venv.num_envs))
            total += float(np.sum(obs)) + float(np.sum(reward))  # consume everything
        wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        if wall < best:
            best, best_cpu = wall, cpu
    venv.close()
    return best, best_cpu


def door(name: str, batch: int) -> Any:
    """Our MO-Gymnasium door's vector env."""
    import gymnasium

    import envs.mo_gymnasium  # noqa: F401  (registers explore/<Name>-v0)

    return gymnasium.make_vec(f"explore/{name}-v0", num_envs=batch)


def mo_gymnasium_sync(name: str, batch: int) -> Any:
    """MO-Gymnasium's ``MOSyncVectorEnv`` over ``batch`` copies of its env."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pygame's pkg_resources deprecation warning
        import mo_gymnasium as mo_gym
        from mo_gymnasium.wrappers.vector import MOSyncVectorEnv

    env_id, kwargs = TASKS[name]
    return MOSyncVectorEnv([lambda: mo_gym.make(env_id, **kwargs) for _ in range(batch)])


def env_rows(args: argparse.Namespace) -> list[dict]:
    """Env steps/s of every task: ours (scan, door) and MO-Gymnasium's in the same run."""
    rows = []
    key = jax.random.PRNGKey(0)
    for task in args.tasks:
        # label -> (wall seconds, CPU seconds) of the best timed call, and its env steps
        timed = {
            "ours": (time_calls(ours(task, args.batch, args.steps), key, args.repeats), args.steps)
        }
        timed["ours (door)"] = (
            _time_numpy_vector_env(door(task, args.batch), args.steps, args.repeats),
            args.steps,
        )
        if not args.no_peers:
            timed["mo-gymnasium"] = (
                _time_numpy_vector_env(
                    mo_gymnasium_sync(task, args.batch), args.peer_steps, args.repeats
                ),
                args.peer_steps,
            )
        measured = {k: args.batch * n / wall for k, ((wall, _), n) in timed.items()}
        per_cpu = {k: args.batch * n / max(cpu, 1e-9) for k, ((_, cpu), n) in timed.items()}
        row: dict[str, Any] = {"task": task, "batch": args.batch}
        row.update({f"{k} steps/s": v for k, v in measured.items()})
        if "mo-gymnasium" in measured:
            row["ours / mo-gymnasium"] = measured["ours"] / measured["mo-gymnasium"]
            row["door / mo-gymnasium"] = measured["ours (door)"] / measured["mo-gymnasium"]
            # CPU seconds of this process: on a shared machine wall time also measures others.
            row["ours / mo-gymnasium (CPU s)"] = per_cpu["ours"] / per_cpu["mo-gymnasium"]
        rows.append(row)
        print(row, flush=True)
    return rows


# --- the 16-weight front benchmark (MO-PPO) --------------------------------------------------
# One `explore train` over 16 weights vs the same 16 scalarised runs one after another,
# compile included; target ≥ 4× on the 2-core CPU.
def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the 16-weight front benchmark (used with ``--train``)."""
    parser.add_argument("--train-env", default="DeepSeaTreasure", help="MO env of the front")
    parser.add_argument("--train-weights", type=int, default=16, help="weight vectors")
    parser.add_argument(
        "--train-steps",
        type=int,
        default=40_960,
        help="env steps per weight (default: 4 chunks of 10 updates of 16 envs × 64 steps)",
    )
    parser.add_argument(
        "--train-log-every", type=int, default=10, help="updates per compiled chunk (log_every)"
    )


# The settings of experiments/mo_dst.yaml.
_TRAIN_SETTINGS = {"num_envs": 16, "num_steps": 64, "num_minibatches": 2, "hidden": 32}


def _train_front(cfg: Any, env: Any, params: Any, log_every: int) -> tuple[float, float]:
    """Build and train one MO-PPO runner as ``explore train`` drives it (init of one seed,
    compiled chunks of ``log_every`` updates run as ``explore train`` runs seeds, every chunk's metrics
    fetched to the host), compile included.

    Returns the seconds and a checksum of everything the run produced (the logged fronts and
    losses, the final parameters), so that no work can be skipped.
    """
    from agents.mo_ppo import MOPPO
    from agents.seeds import run_seeds

    started = time.perf_counter()
    runner = MOPPO(env, params, None, cfg)
    state = runner.init_seeds([jax.random.PRNGKey(0)])
    compiled: dict[int, Any] = {}
    done, checksum = 0, 0.0
    while done < cfg.num_updates:
        n = min(log_every, cfg.num_updates - done)
        if n not in compiled:
            compiled[n] = run_seeds(lambda s, n=n: runner.run(s, n), 1)
        state, metrics = compiled[n](state)
        checksum += float(sum(np.nansum(v) for v in jax.device_get(metrics).values()))
        done += n
    checksum += float(sum(np.sum(x) for x in jax.device_get(jax.tree.leaves(state.inner.train))))
    return time.perf_counter() - started, checksum


def train_rows(args: argparse.Namespace) -> list[dict]:
    """A whole front in one compiled program vs one program per weight, one after another.

    Both sides train the same policies with the same code (MO-PPO for the linear
    scalarisation ``w·r`` of each weight: vector critic, greedy front evaluation at every
    chunk), driven as ``explore train`` drives a runner. **front**: one runner over the
    ``--train-weights`` weights (vmapped in one program, as one ``explore train`` call).
    **sequential**: one single-weight runner per weight, built and trained one after another
    in this process, as morl-baselines trains one scalarised PPO per weight; each is a new
    program, so each pays its compilation, as a new ``explore train`` call would. Compilation
    is included on both sides (JAX's persistent cache must be off: it is unless
    ``JAX_COMPILATION_CACHE_DIR`` is set).
    """
    import envs
    from agents.configs import MOPPOConfig
    from analysis.multiobjective import weight_set

    for field in ("train_weights", "train_steps", "train_log_every"):
        if getattr(args, field) < 1:
            raise ValueError(f"--{field.replace('_', '-')} must be ≥ 1, got {getattr(args, field)}")
    env, params = envs.make(args.train_env)
    base = {**_TRAIN_SETTINGS, "total_steps": args.train_steps, "gamma_ext": 1.0}
    cfg = MOPPOConfig(**base, num_weights=args.train_weights)
    weights = weight_set(env.reward_dim, args.train_weights)
    print(
        f"training: {args.train_weights} weights × {cfg.num_updates * cfg.batch_size:,} env steps "
        f"on {args.train_env}, compile included; front (one program) first, then one program "
        "per weight",
        flush=True,
    )
    front_s, _ = _train_front(cfg, env, params, args.train_log_every)
    print(f"  front: {front_s:.1f} s", flush=True)
    sequential_s = 0.0
    for i, w in enumerate(weights):
        one = MOPPOConfig(**base, weights=[w.tolist()])
        seconds, _ = _train_front(one, env, params, args.train_log_every)
        sequential_s += seconds
        print(f"  weight {i + 1}/{len(weights)} alone: {seconds:.1f} s", flush=True)
    steps = args.train_weights * cfg.num_updates * cfg.batch_size
    row = {
        "task": args.train_env,
        "weights": args.train_weights,
        "env steps/weight": cfg.num_updates * cfg.batch_size,
        "front s": front_s,
        "sequential s": sequential_s,
        "front steps/s": steps / front_s,
        "sequential steps/s": steps / sequential_s,
        "front / sequential": sequential_s / front_s,
    }
    print(row, flush=True)
    return [row]


# ---------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> list[dict]:
    """Every row of ``explore bench mo``."""
    unknown = [t for t in args.tasks if t not in TASKS]
    if unknown:
        from envs.registry import unknown_name_error

        raise unknown_name_error("bench task", unknown[0], list(TASKS))
    for field in ("batch", "steps", "peer_steps", "repeats"):
        if getattr(args, field) < 1:
            raise ValueError(f"--{field.replace('_', '-')} must be ≥ 1, got {getattr(args, field)}")
    print(
        "env steps/s: random actions, auto-reset included, every observation and reward "
        "vector summed into the result",
        flush=True,
    )
    front_only = getattr(args, "front_only", False)
    rows = [] if front_only else env_rows(args)
    if args.train:
        rows += train_rows(args)
    if getattr(args, "front", False) or front_only:
        rows += front_rows(args)
    return rows


# --- time to a front -------------------------------------------------------------------------
# Deep Sea Treasure with its convex treasure values, undiscounted returns, reference point
# (0, -25): the hypervolume fraction is HV(learned front) / HV(true front).
FRONT_ENV, FRONT_GYM_ID, FRONT_REF = "DeepSeaTreasure", "deep-sea-treasure-v0", (0.0, -25.0)
FRONT_ALGOS = ("mo-ppo", "envelope", "gpi-ls")


def add_front_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the time-to-front benchmark (used with ``--front``)."""
    parser.add_argument(
        "--front", action="store_true", help="also time how long each algorithm takes to a front"
    )
    parser.add_argument(
        "--front-only", action="store_true", help="only the time-to-front rows (no env rows)"
    )
    parser.add_argument(
        "--front-algos", nargs="+", default=list(FRONT_ALGOS), help=", ".join(FRONT_ALGOS)
    )
    parser.add_argument(
        "--front-target", type=float, default=0.95, help="hypervolume fraction to reach"
    )
    parser.add_argument(
        "--front-budget", type=float, default=120.0, help="training seconds allowed per algorithm"
    )
    parser.add_argument(
        "--front-chunk",
        type=int,
        default=2000,
        help="env steps between front evaluations (morl-baselines algorithms)",
    )
    parser.add_argument(
        "--front-eval-weights",
        type=int,
        default=32,
        help="equally spaced weights whose greedy policies make a morl-baselines front",
    )


def _hv_fraction(points: Any, true_hv: float) -> float:
    from analysis.multiobjective import hypervolume

    points = np.asarray(points, np.float64).reshape(-1, 2)
    return hypervolume(points, FRONT_REF, strict=False) / true_hv


def _front_row(
    algo: str, trace: list[tuple[float, int, float, float]], args: argparse.Namespace
) -> dict:
    """The row of one algorithm from its ``(training seconds, env steps, fraction, training
    CPU seconds)`` trace (CPU seconds of this process: on a shared machine wall time also
    measures the other jobs)."""
    reached = next((t for t in trace if t[2] >= args.front_target), None)
    best = max((t[2] for t in trace), default=float("nan"))
    return {
        "algorithm": algo,
        "task": f"{FRONT_ENV} (convex), gamma 1, ref {FRONT_REF}",
        f"seconds to HV fraction {args.front_target}": reached[0] if reached else float("nan"),
        "CPU s to target": reached[3] if reached else float("nan"),
        "env steps to target": reached[1] if reached else float("nan"),
        "reached": reached is not None,
        "best fraction": best,
        "trained s": trace[-1][0] if trace else 0.0,
        "env steps trained": trace[-1][1] if trace else 0,
        "budget s": args.front_budget,
    }


def mo_ppo_front_trace(
    args: argparse.Namespace, true_hv: float
) -> list[tuple[float, int, float, float]]:
    """MO-PPO (16 weights in one program, experiments/mo_dst.yaml's settings, gamma 1), as
    ``explore train`` runs it: compiled chunks of 10 updates, each ending with the greedy
    front evaluation in the program. The clock runs from building the runner (compilation
    and the in-program evaluations included) until the fraction is reached."""
    import envs
    from agents.configs import MOPPOConfig
    from agents.mo_ppo import MOPPO
    from agents.seeds import run_seeds

    env, params = envs.make(FRONT_ENV)
    log_every = 10
    cfg = MOPPOConfig(**_TRAIN_SETTINGS, total_steps=10**8, gamma_ext=1.0, num_weights=16)
    started, started_cpu = time.perf_counter(), time.process_time()
    runner = MOPPO(env, params, None, cfg)
    state = runner.init_seeds([jax.random.PRNGKey(0)])
    chunk = run_seeds(lambda s: runner.run(s, log_every), 1)
    trace, steps = [], 0
    while True:
        state, metrics = chunk(state)
        metrics = jax.device_get(metrics)
        steps += log_every * cfg.batch_size * cfg.num_weights
        points = [
            [float(np.asarray(metrics[f"front/w{i:02d}/obj{k}"])[0, -1]) for k in range(2)]
            for i in range(cfg.num_weights)
        ]
        fraction = _hv_fraction(points, true_hv)
        trace.append(
            (time.perf_counter() - started, steps, fraction, time.process_time() - started_cpu)
        )
        if trace[-1][2] >= args.front_target or trace[-1][0] >= args.front_budget:
            return trace


def _greedy_front(agent: Any, env: Any, weights: np.ndarray) -> list[np.ndarray]:
    """Undiscounted return of ``agent.eval(obs, w)``'s greedy episode for every weight
    (Deep Sea Treasure is deterministic; episodes are cut at our env's step cap)."""
    from envs.multiobjective.deep_sea_treasure import MAX_STEPS

    points = []
    for w in weights:
        obs, _ = env.reset(seed=0)
        total = np.zeros(2)
        for _ in range(MAX_STEPS):
            obs, reward, terminated, truncated, _ = env.step(agent.eval(obs, w))
            total += reward
            if terminated or truncated:
                break
        points.append(total)
    return points


def morl_baselines_front_trace(
    algo: str, args: argparse.Namespace, true_hv: float
) -> list[tuple[float, int, float, float]]:
    """A morl-baselines algorithm (its defaults but exploration and logging) trained in
    chunks of ``--front-chunk`` env steps; after each chunk the clock stops while the greedy
    policies of ``--front-eval-weights`` equally spaced weights are evaluated."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mo_gymnasium as mo_gym
        import torch
        from morl_baselines.common.weights import equally_spaced_weights

    # One torch thread: on the shared 2-core machine two threads' OpenMP spin-waits made
    # Envelope's steps ~3x slower in wall time for the same CPU time (100 steps: 25 s with
    # one thread, > 80 s with two, load average ~13).
    torch.set_num_threads(1)

    env = mo_gym.make(FRONT_GYM_ID)
    eval_env = mo_gym.make(FRONT_GYM_ID)
    weights = np.asarray(equally_spaced_weights(2, n=args.front_eval_weights))
    trained = trained_cpu = 0.0
    if algo == "envelope":
        from morl_baselines.multi_policy.envelope.envelope import Envelope

        agent = Envelope(
            env,
            initial_epsilon=1.0,
            final_epsilon=0.05,
            epsilon_decay_steps=10_000,
            log=False,
            seed=0,
            device="cpu",
        )
        train_chunk = lambda first: agent.train(  # noqa: E731
            total_timesteps=args.front_chunk, reset_num_timesteps=first
        )
    else:  # gpi-ls: morl-baselines' GPILS.train loop, one iteration per chunk
        from morl_baselines.common.evaluation import policy_evaluation_mo
        from morl_baselines.multi_policy.gpi_pd.gpi_pd import GPILS
        from morl_baselines.multi_policy.linear_support.linear_support import LinearSupport

        agent = GPILS(env, log=False, seed=0, device="cpu")
        support = LinearSupport(num_objectives=2, epsilon=None)

        def train_chunk(first: bool) -> None:
            agent.set_weight_support(support.get_weight_support())
            use_gpi, agent.use_gpi = agent.use_gpi, True
            w = support.next_weight(algo="gpi-ls", gpi_agent=agent, env=eval_env, rep_eval=1)
            agent.use_gpi = use_gpi
            if w is None:  # the support is complete: keep training the last weights
                w = support.get_weight_support()[-1]
            chosen = support.get_weight_support() + support.get_corner_weights(top_k=4) + [w]
            agent.train_iteration(
                total_timesteps=args.front_chunk,
                weight=w,
                weight_support=chosen,
                change_w_every_episode=True,
                eval_env=eval_env,
                reset_num_timesteps=False,
                reset_learning_starts=False,
            )
            for wcw in chosen:
                support.add_solution(policy_evaluation_mo(agent, eval_env, wcw, rep=1)[3], wcw)

    trace, steps, first = [], 0, True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while True:
            chunk_started, chunk_cpu = time.perf_counter(), time.process_time()
            train_chunk(first)
            trained += time.perf_counter() - chunk_started
            trained_cpu += time.process_time() - chunk_cpu
            first, steps = False, steps + args.front_chunk
            fraction = _hv_fraction(_greedy_front(agent, eval_env, weights), true_hv)
            trace.append((trained, steps, fraction, trained_cpu))
            print(f"  {algo}: {trained:.0f} s, {steps} steps, fraction {fraction:.3f}", flush=True)
            if fraction >= args.front_target or trained >= args.front_budget:
                break
    return trace


def front_rows(args: argparse.Namespace) -> list[dict]:
    """Seconds until each algorithm's front reaches ``--front-target`` of the true front's
    hypervolume on Deep Sea Treasure (convex values, gamma 1, reference (0, -25))."""
    import importlib.util

    import envs

    unknown = [a for a in args.front_algos if a not in FRONT_ALGOS]
    if unknown:
        from envs.registry import unknown_name_error

        raise unknown_name_error("front algorithm", unknown[0], list(FRONT_ALGOS))
    env, _ = envs.make(FRONT_ENV)
    true_hv = _hv_fraction(env.pareto_front(1.0), 1.0)
    have_peer = importlib.util.find_spec("morl_baselines") is not None
    print(
        f"time to a front: HV fraction {args.front_target} on {FRONT_ENV}, budget "
        f"{args.front_budget:.0f} s each, training time (evaluation of the peers' fronts "
        "excluded, MO-PPO's in-program evaluation and compilation included)",
        flush=True,
    )
    rows = []
    for algo in args.front_algos:
        if algo == "mo-ppo":
            trace = mo_ppo_front_trace(args, true_hv)
        elif not have_peer:
            print(f"  {algo}: morl-baselines is not installed (the bench extra)", flush=True)
            continue
        else:
            trace = morl_baselines_front_trace(algo, args, true_hv)
        rows.append(_front_row(algo, trace, args))
        print(rows[-1], flush=True)
    return rows
