"""``explore.sweep``: run a sweep spec (config grid × seeds) into one run-store directory.

The path of a sweep::

    load_spec(path) → expand(spec) → check_points(points)   # everything validated up front
    run_sweep(spec, sweep_dir)                                # lock, sweep.yaml, tasks, launcher
        → <sweep_dir>/sweep.yaml, <sweep_dir>/<run>/...     # read by `explore report`

Re-running a sweep skips completed runs and resumes interrupted ones from their checkpoints,
so a sweep killed at any point (even by SIGKILL) and run again ends with the same runs as an
uninterrupted one. Docs: ``docs/sweep.md``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from explore.runs import RunDir, atomic_write_text, code_difference, code_identity, settle_stale
from explore.sweep.launchers import Task, first_line, make_tasks, run_inline, run_pool, run_ray
from explore.sweep.lock import SweepLock, SweepLocked
from explore.sweep.progress import SweepProgress
from explore.sweep.spec import (
    LAUNCHERS,
    GridPoint,
    SweepSpec,
    check_points,
    expand,
    load_spec,
    make_env,
    parse_spec,
    show_value,
)

__all__ = [
    "LAUNCHERS",
    "GridPoint",
    "SweepLocked",
    "SweepResult",
    "SweepSpec",
    "Task",
    "check_points",
    "estimate",
    "expand",
    "load_spec",
    "make_env",
    "make_tasks",
    "parse_spec",
    "plan_table",
    "run_sweep",
]

# Rough throughput used by --dry-run before any run of the sweep has logged its own
# (`steps_per_second` in metrics.parquet replaces it): env steps/s of one seed when 8 seeds
# share a vmapped program (PPO defaults, DoorKey, 2-core CPU: `explore demo`), and
# of one SB3 process.
ASSUMED_SEED_STEPS_PER_S = {"ppo": 3_000.0, "sb3_ppo": 800.0, "sb3_a2c": 1_000.0}
ASSUMED_COMPILE_S = 20.0  # one compiled program (JAX agents), same machine


def resolve_launcher(points: list[GridPoint], launcher: str | None) -> str:
    """``auto`` → ``inline`` when every agent is a JAX one, else ``pool``."""
    launcher = launcher or "auto"
    if launcher not in LAUNCHERS:
        raise ValueError(f"launcher {launcher!r}: choose one of {', '.join(LAUNCHERS)}")
    if launcher == "auto":
        return "inline" if all(p.is_jax for p in points) else "pool"
    if launcher == "inline" and not all(p.is_jax for p in points):
        raise ValueError(
            "the inline launcher runs JAX agents only; use --launcher pool for sb3_* agents"
        )
    return launcher


def _run_state(run: RunDir) -> tuple[str, int]:
    try:
        status = run.status()
    except (OSError, ValueError):
        return "unreadable", 0
    if status is None:
        return "new", 0
    return str(status.get("status")), int(status.get("steps") or 0)


def _measured_seed_rate(runs: list[RunDir]) -> float | None:
    # Median logged steps/s of one seed; read from at most one run (a Parquet file each).
    for run in runs:
        if (run.path / "metrics.parquet").exists():
            try:
                values = [
                    r["value"] for r in run.read_metrics() if r["metric"] == "steps_per_second"
                ]
            except (OSError, ValueError):
                continue
            values = sorted(v for v in values if v > 0 and not math.isnan(v))
            if values:
                return values[len(values) // 2]
    return None


def estimate(
    points: list[GridPoint],
    sweep_dir: str | Path,
    launcher: str = "inline",
    workers: int = 1,
    seeds_per_task: int | None = None,
) -> dict[str, Any]:
    """Runs, env steps and a rough wall time still to go (measured speed where runs exist)."""
    sweep_dir = Path(sweep_dir)
    tasks = make_tasks(points, sweep_dir, seeds_per_task)
    runs_total = sum(len(p.seeds) for p in points)
    steps_total = steps_todo = 0
    seconds = 0.0
    measured = False
    for point in points:
        runs = [RunDir.for_config(sweep_dir, point.for_seed(s)) for s in point.seeds]
        steps_total += point.config.total_steps * len(runs)
        for run in runs:
            state, steps = _run_state(run)
            if state != "completed":
                steps_todo += point.config.total_steps - min(steps, point.config.total_steps)
        rate = _measured_seed_rate(runs)
        measured |= rate is not None
        rate = rate or ASSUMED_SEED_STEPS_PER_S.get(point.config.agent, 1_000.0)
        for task in (t for t in tasks if t.point is point):
            left = max(point.config.total_steps - _run_state(r)[1] for r in task.runs(sweep_dir))
            # Seeds of a JAX task share one program: the task takes as long as one seed.
            seconds += left / rate + (ASSUMED_COMPILE_S if point.is_jax else 0.0)
    parallel = 1 if launcher == "inline" else max(1, min(workers, len(tasks) or 1))
    return {
        "configs": len(points),
        "runs": runs_total,
        "runs_todo": sum(len(t.seeds) for t in tasks),
        "tasks": len(tasks),
        "steps_total": steps_total,
        "steps_todo": steps_todo,
        "seconds": seconds / parallel,
        "measured": measured,
    }


def plan_table(spec: SweepSpec, points: list[GridPoint], sweep_dir: str | Path) -> Table:
    """The run table of ``--dry-run``: one row per config with its seeds' states."""
    table = Table(
        title=f"sweep {spec.name}: {len(points)} configs × {len(spec.seeds)} seeds → {sweep_dir}",
        header_style="bold",
    )
    table.add_column("#", justify="right")
    keys = list(spec.grid) or ["env", "bonus"]
    for key in keys:
        table.add_column(key)
    table.add_column("agent")
    table.add_column("steps/seed", justify="right")
    table.add_column("seeds")
    table.add_column("state")
    for point in points:
        counts: dict[str, int] = {}
        for seed in point.seeds:
            run = RunDir.for_config(sweep_dir, point.for_seed(seed))
            state, _ = _run_state(run)
            if state == "completed" and code_difference(
                run.recorded_code(), code_identity(point.for_seed(seed))
            ):
                state = "stale"  # made by other code: the sweep trains it again
            counts[state] = counts.get(state, 0) + 1
        values = [
            show_value(point.values[k]) if k in point.values else str(getattr(point.config, k, ""))
            for k in keys
        ]
        seeds = _seed_text(point.seeds)
        state = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        table.add_row(
            str(point.index),
            *values,
            point.config.agent,
            f"{point.config.total_steps:,}",
            seeds,
            state,
        )
    return table


def _seed_text(seeds: list[int]) -> str:
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))) and len(seeds) > 2:
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


def _duration(seconds: float) -> str:
    minutes = seconds / 60
    return (
        f"{seconds:.0f} s"
        if seconds < 120
        else f"{minutes:.0f} min"
        if minutes < 120
        else f"{minutes / 60:.1f} h"
    )


def format_estimate(cost: dict[str, Any], launcher: str, workers: int) -> str:
    """One paragraph for ``--dry-run``."""
    basis = (
        "speed measured from this sweep's runs" if cost["measured"] else "assumed speed, 2-core CPU"
    )
    where = (
        "in this process"
        if launcher == "inline"
        else f"on {workers} workers"
        if launcher == "pool"
        else "on Ray"
    )
    return (
        f"{cost['runs']} runs ({cost['configs']} configs), {cost['runs_todo']} to run in {cost['tasks']} tasks "
        f"{where}; {cost['steps_todo']:,} of {cost['steps_total']:,} env steps to go; "
        f"estimated ≈ {_duration(cost['seconds'])} ({basis})."
    )


@dataclass
class SweepResult:
    """What a sweep did: run names by outcome, and failures' first error lines."""

    sweep_dir: Path
    completed: list[str] = field(default_factory=list)  # completed by this sweep
    skipped: list[str] = field(default_factory=list)  # already complete before it
    # Made by other code: {run: what differs}; trained again unless kept (--reuse-stale).
    stale: dict[str, str] = field(default_factory=dict)
    reused_stale: bool = False
    failed: dict[str, str] = field(default_factory=dict)
    unfinished: list[str] = field(default_factory=list)  # neither (e.g. interrupted)

    @property
    def ok(self) -> bool:
        """Every run of the sweep is complete."""
        return not self.failed and not self.unfinished

    def summary(self) -> str:
        """Completed / failed / skipped counts and the failures' first error lines."""
        lines = [
            f"{self.sweep_dir}: {len(self.completed)} completed, {len(self.failed)} failed, "
            f"{len(self.skipped)} skipped (already complete)"
            + (f", {len(self.unfinished)} unfinished" if self.unfinished else "")
            + (
                f"; {len(self.stale)} stale (made by other code; "
                + ("kept by --reuse-stale)" if self.reused_stale else "trained again)")
                if self.stale
                else ""
            )
        ]
        for name, error in sorted(self.failed.items()):
            lines.append(f"  failed {name}: {error}")
        for name in self.unfinished:
            lines.append(f"  unfinished {name} (run the sweep again to resume it)")
        return "\n".join(lines)


def default_workers() -> int:
    """Pool size when none is given: the cores this process may use (at most 8)."""
    cores = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    return max(1, min(cores, 8))


def compile_cache_dir(sweep_dir: Path, option: str | None) -> str | None:
    """Where JAX keeps compiled programs: ``option``, else $JAX_COMPILATION_CACHE_DIR, else in the sweep."""
    if option in ("none", "off", ""):
        return None
    if option not in (None, "auto"):
        return str(Path(option).resolve())
    return os.environ.get("JAX_COMPILATION_CACHE_DIR") or str(sweep_dir / ".jax_cache")


def run_sweep(
    spec: SweepSpec | str | Path,
    sweep_dir: str | Path | None = None,
    *,
    out: str | Path = "runs",
    launcher: str | None = None,
    workers: int | None = None,
    address: str = "local",
    seeds_per_task: int | None = None,
    cpus_per_task: float = 1,
    gpus_per_task: float = 0,
    progress: bool = True,
    compile_cache: str | None = "auto",
    console: Console | None = None,
    points: list[GridPoint] | None = None,
    reuse_stale: bool = False,
) -> SweepResult:
    """Run every (config, seed) of ``spec`` into ``sweep_dir`` (default ``<out>/<spec name>``).

    Validates the whole grid first, refuses a directory another live sweep holds
    (:class:`SweepLocked`), writes the spec as ``sweep.yaml``, then runs the incomplete runs
    with ``launcher`` (``auto``: inline for JAX agents, else pool). Failed runs do not stop
    the others; the result lists them. A run whose ``status.json`` is corrupt raises
    ``ValueError`` naming the file before anything runs. ``points`` skips re-validation (already checked).
    Runs made by other code (another code fingerprint or env version) are named, set aside
    in ``<sweep>/.stale/`` and trained again, or kept as they are with ``reuse_stale``.
    """
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    sweep_dir = Path(sweep_dir) if sweep_dir is not None else Path(out) / spec.name
    sweep_dir = sweep_dir.resolve()  # Ray and pool workers may run elsewhere
    console = console or Console()
    if points is None:
        points = expand(spec)
        check_points(points, where=f"{spec.path}: " if spec.path else "")
    launcher = resolve_launcher(points, launcher or spec.launcher)
    ray_cpus = workers  # None: Ray counts the machine's cores itself
    workers = workers or default_workers()
    result = SweepResult(sweep_dir)
    for point in points:  # a corrupt status.json stops the sweep with one line naming it
        for seed in point.seeds:
            RunDir.for_config(sweep_dir, point.for_seed(seed)).status()
    with SweepLock(sweep_dir):
        atomic_write_text(sweep_dir / "sweep.yaml", spec.text)
        result.reused_stale = reuse_stale
        result.stale = settle_stale(
            [p.for_seed(s) for p in points for s in p.seeds],
            sweep_dir,
            reuse_stale,
            say=lambda line: console.print(line, highlight=False, soft_wrap=True),
        )
        all_runs = [
            (RunDir.for_config(sweep_dir, p.for_seed(s)), p.config.total_steps)
            for p in points
            for s in p.seeds
        ]
        done_before = {r.path.name for r, _ in all_runs if _run_state(r)[0] == "completed"}
        result.skipped = sorted(done_before)
        tasks = make_tasks(points, sweep_dir, seeds_per_task, reuse_stale)
        cache = compile_cache_dir(sweep_dir, compile_cache)
        view = SweepProgress(spec.name, all_runs, done_before, enabled=progress, console=console)

        def on_done(task: Task) -> None:
            if view.live:
                return  # the live view shows it
            for run in task.runs(sweep_dir):
                state, steps = _run_state(run)
                error = ""
                if state == "failed":
                    error = f": {first_line((run.status() or {}).get('error'))}"
                view.log(f"{state:>9}  {run.path.name}  ({steps:,} steps){error}")

        if not view.live:
            console.print(
                f"sweep {spec.name}: {len(tasks)} tasks, {sum(len(t.seeds) for t in tasks)} runs to go, "
                f"{len(done_before)} already complete; launcher {launcher}",
                highlight=False,
            )
        with view:
            if launcher == "inline":
                run_inline(tasks, sweep_dir, cache, on_done)
            elif launcher == "pool":
                run_pool(tasks, sweep_dir, workers, cache, on_done)
            else:
                run_ray(
                    tasks,
                    sweep_dir,
                    address,
                    cache,
                    on_done,
                    cpus_per_task=cpus_per_task,
                    gpus_per_task=gpus_per_task,
                    num_cpus=ray_cpus,
                )
        for run, _ in all_runs:
            name = run.path.name
            if name in done_before:
                continue
            state, _ = _run_state(run)
            if state == "completed":
                result.completed.append(name)
            elif state == "failed":
                result.failed[name] = first_line((run.status() or {}).get("error")) or "failed"
            else:
                result.unfinished.append(name)
    return result
