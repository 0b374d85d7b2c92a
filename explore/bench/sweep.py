"""Sweep launchers: 8 seeds of PPO+RND on DoorKey-8x8, in one program inline vs sequential vs pool.

Ways to train the same seeds of the same config, each measured in this run:

* **inline** — all seeds in one compiled program (``explore sweep``'s default for JAX
  agents; on the CPU the seeds spread over the devices ``explore train`` would make).
* **sequential** — the seeds one after another in one process, as a loop over
  ``explore.train`` does: every call traces and compiles its program again.
* **sequential-cached** — the same loop with JAX's persistent compilation cache on, so the
  program is compiled once and reused by the later seeds: one program against a loop, without
  the recompilations.
* **pool** — ``explore sweep --launcher pool --seeds-per-task 1``: one process per seed,
  ``--workers`` at a time, sharing a compilation cache.

Each measurement runs in a fresh process with a fresh compilation cache; wall time counts
compilation and run-store writes (everything a user waits for) but not importing JAX. The
``train steps/s`` column leaves out each program's first chunk (where it compiles), using
the runs' own logged chunk times. Target: inline ≥ 4× sequential.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import tempfile
import time
from pathlib import Path
from typing import Any

MODES = ("inline", "sequential", "sequential-cached", "pool")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``explore bench sweep``."""
    parser.add_argument("--env", default="DoorKey-8x8", help="task")
    parser.add_argument("--bonus", default="rnd", help="intrinsic reward")
    parser.add_argument("--seeds", type=int, default=8, help="number of seeds")
    parser.add_argument("--steps", type=float, default=1e5, help="environment steps per seed")
    parser.add_argument("--workers", type=int, default=2, help="pool processes")
    parser.add_argument(
        "--modes", nargs="+", default=list(MODES), choices=list(MODES), help="what to measure"
    )
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="key=value",
        help="extra config fields (e.g. ppo.num_envs=32)",
    )


def _overrides(args: argparse.Namespace) -> list[str]:
    return [f"env={args.env}", f"bonus={args.bonus}", f"total_steps={int(args.steps)}", *args.set]


def _train_time(run: Any) -> tuple[float, int]:
    """(seconds, env steps) of a run's full-length chunks after its first.

    The first chunk includes compiling the program, and a shorter last chunk is another
    program (compiled when it first runs): both are left out.
    """
    rows = sorted(
        (r["step"], r["value"]) for r in run.read_metrics() if r["metric"] == "steps_per_second"
    )
    chunks = [
        (step - prev, per_second)
        for (prev, _), (step, per_second) in itertools.pairwise([(0, 0.0), *rows])
    ]
    if len(chunks) < 2:
        return 0.0, 0
    regular = chunks[0][0]
    kept = [(n, per_second) for n, per_second in chunks[1:] if n == regular]
    return sum(n / per_second for n, per_second in kept), sum(n for n, _ in kept)


def _measure(
    mode: str, overrides: list[str], seeds: list[int], workers: int, root: str, queue: Any
) -> None:
    # Runs in a fresh process: nothing compiled or cached from another measurement.
    from explore.config import load_config
    from explore.sweep.launchers import use_compile_cache

    cache = str(Path(root) / "jax_cache")
    if mode == "pool":
        from rich.console import Console

        from explore.sweep import parse_spec, run_sweep

        base = dict(item.split("=", 1) for item in overrides)
        spec = parse_spec({"name": "bench", "base": base, "seeds": seeds})
        started = time.perf_counter()
        result = run_sweep(
            spec,
            Path(root) / "runs",
            launcher="pool",
            workers=workers,
            seeds_per_task=1,
            progress=False,
            compile_cache=cache,
            console=Console(quiet=True),
        )
        queue.put({"wall": time.perf_counter() - started, "ok": result.ok})
        return
    from agents.seeds import configure_cpu_devices

    # As `explore train` would size them: devices for all the seeds inline, for one seed in
    # the loops (this is a fresh spawned process, JAX not started).
    configure_cpu_devices(seeds=len(seeds) if mode == "inline" else 1)
    import jax

    from explore.train import train

    jax.numpy.zeros(1).block_until_ready()  # backend start-up is not part of the measurement
    if mode != "sequential":
        use_compile_cache(cache)
    cfg = load_config(None, overrides)
    started = time.perf_counter()
    if mode == "inline":
        runs = train(cfg, seeds, Path(root) / "runs", progress=False)
    else:
        runs = [run for s in seeds for run in train(cfg, [s], Path(root) / "runs", progress=False)]
    wall = time.perf_counter() - started
    times = [_train_time(r) for r in runs]
    # Seeds of one program share their chunks' wall time; sequential ones add up.
    train_s = times[0][0] if mode == "inline" else sum(t for t, _ in times)
    queue.put(
        {
            "wall": wall,
            "ok": all(r.is_complete() for r in runs),
            "train_s": train_s,
            "train_steps": sum(n for _, n in times),
        }
    )


def run(args: argparse.Namespace) -> list[dict]:
    """Measure each mode in a fresh process; ratios against the sequential loops of the same run."""
    from explore.config import load_config

    overrides = _overrides(args)
    cfg = load_config(None, overrides)  # validate before spending minutes
    seeds = list(range(args.seeds))
    batch = cfg.ppo.num_envs * cfg.ppo.num_steps
    steps = max(1, cfg.total_steps // batch) * batch * len(seeds)  # what PPO actually runs
    ctx = multiprocessing.get_context("spawn")
    measured: dict[str, dict[str, Any]] = {}
    for mode in args.modes:
        with tempfile.TemporaryDirectory(prefix=f"bench-sweep-{mode}-") as root:
            queue = ctx.Queue()
            proc = ctx.Process(
                target=_measure, args=(mode, overrides, seeds, args.workers, root, queue)
            )
            proc.start()
            result = queue.get()
            proc.join()
        measured[mode] = result
        print(f"{mode}: {result['wall']:.1f} s", flush=True)
    rows = []
    for mode, result in measured.items():
        row: dict[str, Any] = {
            "launcher": mode,
            "task": f"{args.env} PPO+{args.bonus}",
            "seeds": len(seeds),
            "workers": args.workers if mode == "pool" else 1,
            "env steps": steps,
            "wall s": result["wall"],
            "steps/s": steps / result["wall"],
        }
        if result.get("train_s"):
            row["train steps/s"] = result["train_steps"] / result["train_s"]
        for ref in ("sequential", "sequential-cached"):
            if ref in measured:
                row[f"× {ref}"] = measured[ref]["wall"] / result["wall"]
        row["completed"] = result["ok"]
        rows.append(row)
    return rows
