"""Launchers: how the tasks of a sweep run (in this process, a local process pool, or Ray).

A *task* is one config and a group of its seeds. For JAX agents the seeds of a task train
vmapped in one compiled program (:func:`explore.train.train`); for SB3 agents a task is one
seed. Every launcher calls the same :func:`execute_task`, which never raises for a failed run:
the failure lands in that run's ``status.json`` and the other tasks carry on.

This module imports no JAX at import time: pool workers set their thread counts and XLA flags
before JAX is loaded.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from explore.config import RunConfig, build_config
from explore.runs import RunDir, atomic_write_text
from explore.sweep.spec import GridPoint

LOG_DIR = ".logs"  # per-task stdout/stderr of pool workers (no status.json: readers skip it)


@dataclass(frozen=True)
class Task:
    """One unit of work: a grid point and the seeds trained together."""

    point: GridPoint
    seeds: tuple[int, ...]
    # Keep runs made by other code as they are (--reuse-stale) instead of training them again.
    reuse_stale: bool = False

    @property
    def name(self) -> str:
        """``p003-s0-4``: grid point and seeds, used for log files."""
        seeds = f"{self.seeds[0]}-{self.seeds[-1]}" if len(self.seeds) > 1 else str(self.seeds[0])
        return f"p{self.point.index:03d}-s{seeds}"

    def runs(self, out: str | Path) -> list[RunDir]:
        """The run directories this task writes."""
        return [RunDir.for_config(out, self.point.for_seed(s)) for s in self.seeds]

    def payload(self) -> dict[str, Any]:
        """Plain data for another process (configs travel as JSON-able dicts, never pickles);
        ``plugins``: what this process loaded from ``--import`` / ``$EXPLORE_PLUGINS``."""
        from explore.plugins import requested

        return {
            "config": self.point.config.model_dump(mode="json"),
            "seeds": list(self.seeds),
            "plugins": requested(),
            "reuse_stale": self.reuse_stale,
        }


def make_tasks(
    points: list[GridPoint],
    out: str | Path,
    seeds_per_task: int | None = None,
    reuse_stale: bool = False,
) -> list[Task]:
    """Tasks for the seeds of ``points`` that are not complete yet.

    JAX agents: the incomplete seeds of a config in groups of ``seeds_per_task`` (default:
    all of them, one compiled program per config). SB3 agents: one seed per task.
    """
    tasks = []
    for point in points:
        todo = [
            s for s in point.seeds if not RunDir.for_config(out, point.for_seed(s)).is_complete()
        ]
        size = (seeds_per_task or len(todo) or 1) if point.is_jax else 1
        for i in range(0, len(todo), size):
            tasks.append(Task(point, tuple(todo[i : i + size]), reuse_stale))
    return tasks


def first_line(text: str | None) -> str:
    """The first non-empty line of an error message."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def mark_failed(run: RunDir, cfg: RunConfig, error: str, detail: str = "") -> None:
    """Record a failure in ``run``'s status.json, whatever state the directory is in."""
    run.path.mkdir(parents=True, exist_ok=True)
    if not (run.path / "config.yaml").exists():
        import yaml

        atomic_write_text(
            run.path / "config.yaml", yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
        )
    try:
        steps = run.checkpoint_steps()
    except (OSError, ValueError, KeyError):
        steps = 0
    try:
        run.set_status("failed", steps=steps, error=error, traceback=detail[-4000:])
    except (OSError, ValueError):  # unreadable previous status.json: start afresh
        (run.path / "status.json").unlink(missing_ok=True)
        run.set_status("failed", steps=steps, error=error, traceback=detail[-4000:])


def execute_task(payload: dict[str, Any], out: str | Path) -> dict[str, str]:
    """Train one task; returns ``{run name: status}``. Failures are recorded, not raised.

    Completed runs are skipped and interrupted ones resume from their checkpoints (both by
    :func:`explore.train.train`, whichever driver the agent uses). ``KeyboardInterrupt``
    propagates after the runs have checkpointed.
    """
    from explore.plugins import load_all

    # Plugins first (entry points, $EXPLORE_PLUGINS, the parent's --import): a worker
    # process starts with none of the parent's user envs and bonuses.
    load_all(payload.get("plugins", []))
    cfg = build_config(payload["config"])
    seeds = [int(s) for s in payload["seeds"]]
    configs = [cfg.model_copy(update={"seed": s}) for s in seeds]
    runs = [RunDir.for_config(out, c) for c in configs]

    def record(err: BaseException, targets: list[tuple[RunConfig, RunDir]]) -> None:
        text = "".join(traceback.format_exception_only(type(err), err)).strip()
        detail = "".join(traceback.format_exception(type(err), err, err.__traceback__))
        for c, r in targets:
            status = _read_status(r)
            if status.get("status") not in ("completed", "failed"):
                mark_failed(r, c, text, detail)

    try:
        from explore.train import train  # picks the agent's driver (JAX loop or SB3)

        # Stale runs were settled (and named) by the sweep before its tasks were made; a
        # worker only honours that choice.
        reuse = bool(payload.get("reuse_stale"))
        train(cfg, seeds, out, progress=False, reuse_stale=reuse, on_stale=None)
    except KeyboardInterrupt:
        raise
    except Exception as err:  # train marks the runs it was training; this covers the rest
        record(err, list(zip(configs, runs, strict=True)))
    return {r.path.name: str(_read_status(r).get("status", "missing")) for r in runs}


def _read_status(run: RunDir) -> dict[str, Any]:
    try:
        return run.status() or {}
    except (OSError, ValueError):
        return {}


def mark_unfinished_failed(task: Task, out: str | Path, reason: str) -> None:
    """After a worker died: runs of ``task`` neither completed nor failed become failed."""
    for seed, run in zip(task.seeds, task.runs(out), strict=True):
        if _read_status(run).get("status") not in ("completed", "failed"):
            mark_failed(run, task.point.for_seed(seed), reason)


# ------------------------------------------------------------------------------ compile cache
def use_compile_cache(path: str | None) -> None:
    """Point JAX's persistent compilation cache at ``path`` in this process (None: leave as is).

    Resumed runs, pool workers and Ray tasks of one config compile the same program; with the
    cache only the first pays for it.
    """
    if not path:
        return
    import jax

    if jax.config.jax_compilation_cache_dir == path:
        return
    from jax.experimental.compilation_cache import compilation_cache

    Path(path).mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", path)
    compilation_cache.reset_cache()  # a cache already opened elsewhere would shadow the new dir


def _worker_setup(threads: int, cpus: list[int] | None, cache_dir: str | None) -> None:
    # Before JAX or torch are imported: thread pools are sized at import.
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("MKL_NUM_THREADS", str(threads))
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(threads))
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = (
                f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1".strip()
            )
    # Several workers may share one GPU: JAX must not grab 75% of its memory each.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    if cpus and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, cpus)  # keep workers from fighting over the same cores
    if cache_dir:
        os.environ["JAX_COMPILATION_CACHE_DIR"] = cache_dir


def _exit_with_parent(parent: int) -> None:
    # A SIGKILLed sweep cannot stop its workers; they notice the orphaning and exit, leaving
    # their last checkpoint, so the re-run that takes over the directory is alone in it.
    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(3)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _pool_child(
    payload: dict[str, Any],
    out: str,
    threads: int,
    cpus: list[int] | None,
    cache_dir: str | None,
    log_path: str,
    parent: int,
) -> None:
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 (lives as long as the process)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    _exit_with_parent(parent)
    _worker_setup(threads, cpus, cache_dir)
    from agents.seeds import configure_cpu_devices

    # Devices for this task's seeds on this worker's share of the cores, not the machine's.
    configure_cpu_devices(threads, seeds=len(payload["seeds"]))
    use_compile_cache(cache_dir)
    try:
        execute_task(payload, out)
    except KeyboardInterrupt:
        sys.exit(130)


def _cpu_slots(workers: int) -> tuple[int, list[list[int]] | None]:
    """Threads per worker and, when there are enough cores, a disjoint core set per slot."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:
        cores = list(range(os.cpu_count() or 1))
    threads = max(1, len(cores) // workers)
    if workers > len(cores):
        return threads, None
    return threads, [cores[i * threads : (i + 1) * threads] for i in range(workers)]


def _death_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"worker process died ({name})"
    return f"worker process exited with code {exitcode} before finishing its runs"


def run_pool(
    tasks: list[Task],
    out: Path,
    workers: int,
    cache_dir: str | None,
    on_done: Callable[[Task], None],
) -> None:
    """Run ``tasks`` in at most ``workers`` fresh processes ("spawn": JAX is not fork-safe).

    One process per task: a crash (segfault, OOM kill, SIGKILL) takes down only its own task,
    whose unfinished runs are marked failed; the rest carry on.
    """
    ctx = multiprocessing.get_context("spawn")
    threads, slots = _cpu_slots(workers)
    logs = out / LOG_DIR
    logs.mkdir(parents=True, exist_ok=True)
    pending = list(tasks)
    free = list(range(workers))
    active: dict[int, tuple[Any, Task]] = {}
    try:
        while pending or active:
            while pending and free:
                slot, task = free.pop(0), pending.pop(0)
                proc = ctx.Process(
                    target=_pool_child,
                    name=f"sweep-{task.name}",
                    args=(
                        task.payload(),
                        str(out),
                        threads,
                        slots[slot] if slots else None,
                        cache_dir,
                        str(logs / f"{task.name}.log"),
                        os.getpid(),
                    ),
                )
                proc.start()
                active[slot] = (proc, task)
            multiprocessing.connection.wait([p.sentinel for p, _ in active.values()], timeout=1.0)
            for slot, (proc, task) in list(active.items()):
                if proc.is_alive():
                    continue
                proc.join()
                if proc.exitcode != 0:
                    mark_unfinished_failed(
                        task, out, f"{_death_reason(proc.exitcode)}; log: {logs / task.name}.log"
                    )
                del active[slot]
                free.append(slot)
                on_done(task)
    except KeyboardInterrupt:
        # Ctrl-C reached the workers too (same process group): they checkpoint and exit.
        for proc, _ in active.values():
            proc.join(timeout=60)
            if proc.is_alive():
                proc.terminate()
        raise


def run_inline(
    tasks: list[Task], out: Path, cache_dir: str | None, on_done: Callable[[Task], None]
) -> None:
    """Run ``tasks`` one after another in this process (each JAX task is one vmapped program)."""
    use_compile_cache(cache_dir)
    for task in tasks:
        execute_task(task.payload(), out)
        on_done(task)


def _ray_task(
    payload: dict[str, Any], out: str, threads: int, cache_dir: str | None
) -> dict[str, str]:
    _worker_setup(threads, None, cache_dir)
    use_compile_cache(cache_dir)
    return execute_task(payload, out)


def run_ray(
    tasks: list[Task],
    out: Path,
    address: str,
    cache_dir: str | None,
    on_done: Callable[[Task], None],
    cpus_per_task: float = 1,
    gpus_per_task: float = 0,
    num_cpus: int | None = None,
) -> None:
    """Run ``tasks`` as Ray tasks, each with a CPU/GPU request.

    ``address="local"`` starts Ray on this machine (``num_cpus`` CPUs) and stops it at the end;
    anything else (``auto``, ``ray://host:10001``) connects to a running cluster, whose nodes
    need this package installed and ``out`` on a shared file system. A Ray session already
    open in this process is used as it is.
    """
    import ray

    started = False
    if not ray.is_initialized():
        runtime_env = {"env_vars": {"JAX_COMPILATION_CACHE_DIR": cache_dir}} if cache_dir else None
        with warnings.catch_warnings():
            # Ray starts its daemons with fork+exec, which JAX's fork warning cannot tell apart
            # from a bare fork.
            warnings.filterwarnings(
                "ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning
            )
            if address == "local":
                ray.init(
                    num_cpus=num_cpus,
                    include_dashboard=False,
                    runtime_env=runtime_env,
                    log_to_driver=False,
                )
            else:
                ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
        started = True
    try:
        # A fresh worker per task (max_calls=1): JAX frees its (GPU) memory only when the
        # process ends. No retries: a failed task is reported, and a re-run resumes it.
        remote = ray.remote(max_calls=1)(_ray_task).options(
            num_cpus=cpus_per_task, num_gpus=gpus_per_task, max_retries=0
        )
        threads = max(1, int(cpus_per_task))
        refs = {remote.remote(t.payload(), str(out), threads, cache_dir): t for t in tasks}
        try:
            while refs:
                done, _ = ray.wait(list(refs), num_returns=1, timeout=1.0)
                for ref in done:
                    task = refs.pop(ref)
                    try:
                        ray.get(ref)
                    except Exception as err:  # the worker died or Ray failed the task
                        mark_unfinished_failed(
                            task, out, f"ray task failed: {first_line(str(err))}"
                        )
                    on_done(task)
        except KeyboardInterrupt:
            for ref in refs:
                ray.cancel(ref)
            raise
    finally:
        if started:
            ray.shutdown()
