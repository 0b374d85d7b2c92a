"""``explore.train``: run one config for several seeds in one compiled program.

On the CPU the seeds are spread over JAX CPU devices (sized for the seeds and the cores)
and each runs its own unbatched program (``agents.seeds.run_seeds``); on an accelerator
they are vmapped.

The jitted unit is a *chunk* of ``log_every`` PPO updates for all seeds at once; between
chunks this thin Python loop logs metrics, writes checkpoints, draws the progress bar and
stops cleanly on Ctrl-C (after saving a checkpoint). A run that finds its checkpoint resumes
from it and ends bit-identical to an uninterrupted run (same chunking, same compiled code).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from agents.seeds import run_seeds
from explore.config import RunConfig, in_jax_loop
from explore.runs import RunDir, settle_stale

# Per-update sums that become per-episode means in the logs.
_EPISODE_SUMS = (
    "finished",
    "return_sum",
    "length_sum",
    "success_sum",
    "extrinsic_reward_sum",
    "episode_cells_sum",
)
# Running totals: the logged value is the one at the end of the chunk, not a mean over it.
_RUNNING_TOTALS = ("coverage/cells_visited",)
#: Per-cell table of gridworld runs with a bonus, rewritten with every checkpoint: the cell's
#: visits so far (coverage.npy) and the mean raw bonus of the last rollout's steps reaching it.
BONUS_TABLE = "bonus_by_cell.csv"


def build(cfg: RunConfig, env: tuple[Any, Any] | None = None):
    """(env, env_params, bonus, runner) for a config; raises ValueError/KeyError on bad names.

    The runner is the agent's class from :data:`agents.configs.AGENTS` (``"module:Class"``),
    built with the agent's settings; ``train`` wraps it in the run store. ``env`` is an
    already built ``(env, env_params)`` for ``cfg.env`` (sweeps validate many configs per env).
    """
    import agents.bonuses
    import envs
    from agents.configs import runner_class

    if not in_jax_loop(cfg.agent):
        raise ValueError(
            f"agent {cfg.agent!r} does not run in explore.train's JAX loop (see explore.train_sb3)"
        )
    env, env_params = env if env is not None else envs.make(cfg.env, **cfg.env_kwargs)
    bonus_kwargs = dict(cfg.bonus_kwargs)
    needs = agents.bonuses.env_context(cfg.bonus)  # declared by the bonus (Bonus.env_context)
    if "captions" in needs:
        bonus_kwargs.setdefault("captions", env.captions)
    if "task" in needs:
        task = (env.task.description if env.task is not None else "") or cfg.env
        bonus_kwargs.setdefault("task", task)
    bonus = agents.bonuses.make(cfg.bonus, **bonus_kwargs)
    runner = runner_class(cfg.agent)
    return env, env_params, bonus, runner(env, env_params, bonus, cfg.agent_settings)


def check(cfg: RunConfig) -> None:
    """Fail on bad names and options (env, env options, bonus, agent settings) before any run
    directory exists, with the messages ``explore sweep`` gives; for either driver."""
    if not in_jax_loop(cfg.agent):
        from explore.train_sb3 import check_sb3  # the torch side

        check_sb3(cfg)
        return
    from envs.check import check_env
    from explore.sweep import make_env

    env = make_env(cfg.env, cfg.env_kwargs)
    if not cfg.env.startswith("gymnax:"):
        # The env contract's cheap checks (traced, nothing compiled): a user env that breaks
        # it fails here in one line naming what is missing, not deep inside the agent.
        check_env(cfg.env, cheap=True, env=env)
    build(cfg, env=env)


def summarise(metrics: dict[str, np.ndarray]) -> dict[str, float]:
    """Per-update metrics of one seed over a chunk → the logged values."""
    sums = {k: float(np.sum(metrics[k])) for k in _EPISODE_SUMS if k in metrics}
    finished = sums.get("finished", 0.0)
    out = {
        "episodes": finished,
        "episode_return": sums["return_sum"] / finished if finished else math.nan,
        "episode_length": sums["length_sum"] / finished if finished else math.nan,
        "success_rate": sums["success_sum"] / finished if finished else math.nan,
    }
    if "episode_cells_sum" in sums:
        out["coverage/cells_per_episode"] = (
            sums["episode_cells_sum"] / finished if finished else math.nan
        )
    for key, values in metrics.items():
        if key in _RUNNING_TOTALS:
            out[key] = float(np.asarray(values).reshape(-1)[-1])
        elif key not in _EPISODE_SUMS:
            # Some diagnostics are NaN in updates where they are undefined (an event that did
            # not occur): average the rest, NaN only when none is defined.
            finite = np.asarray(values)[~np.isnan(values)]
            out[key] = float(np.mean(finite)) if finite.size else math.nan
    return out


def write_bonus_table(run: RunDir, visits: np.ndarray, cell_bonus: np.ndarray) -> None:
    """Write :data:`BONUS_TABLE`: ``row,col,visits,steps,bonus`` for every cell that the last
    rollout reached (``steps`` of its steps did, with mean raw bonus ``bonus``)."""
    from explore.runs import atomic_write_bytes

    bonus_sum, steps = np.asarray(cell_bonus, np.float64)
    width = visits.shape[-1]
    lines = ["row,col,visits,steps,bonus"]
    for cell in np.flatnonzero(steps):
        lines.append(
            f"{cell // width},{cell % width},{int(visits.flat[cell])},{int(steps[cell])},"
            f"{bonus_sum[cell] / steps[cell]:.9g}"
        )
    atomic_write_bytes(run.path / BONUS_TABLE, ("\n".join(lines) + "\n").encode())


def _load_checkpoint(run: RunDir, like: Any, updates: int | None) -> Any:
    """``run.load_checkpoint``; a checkpoint written before the coverage diagnostics existed
    (no ``episode_cells`` entry) resumes with them fresh: they feed no learning."""
    try:
        return run.load_checkpoint(like, updates)
    except KeyError:
        if like.episode_cells is None:
            raise
        older = like.replace(episode_cells=None, cell_bonus=None)
        state, steps, done = run.load_checkpoint(older, updates)
        fresh = state.replace(episode_cells=like.episode_cells, cell_bonus=like.cell_bonus)
        return fresh, steps, done


def _stack(states: list[Any]) -> Any:
    # Stacked on the host and sent once: JAX would compile a stack per leaf shape.
    return jax.tree.map(lambda *xs: jnp.asarray(np.stack([np.asarray(x) for x in xs])), *states)


def _index(tree: Any, i: int) -> Any:
    """Seed ``i`` of a stacked state as host (NumPy) arrays (no compiled slice per leaf shape);
    pass a ``jax.device_get`` state to transfer it once for every seed."""
    return jax.tree.map(lambda x: x[i], jax.device_get(tree))


class Logger:
    """Optional TensorBoard / W&B mirrors of the metrics (Parquet is always written)."""

    def __init__(self, cfg: RunConfig, run: RunDir) -> None:
        self.writers: list[Callable[[int, dict[str, float]], None]] = []
        if cfg.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as err:
                raise ValueError(
                    "tensorboard=true needs the `tensorboard` package: pip install tensorboard"
                ) from err
            writer = SummaryWriter(log_dir=str(run.path / "tensorboard"))
            self.writers.append(
                lambda step, m: [writer.add_scalar(k, v, step) for k, v in m.items()]
            )
            self._close = writer.close
        if cfg.wandb:
            try:
                import wandb
            except ImportError as err:
                raise ValueError("wandb=true needs the `wandb` package: pip install wandb") from err
            import os

            os.environ.setdefault("WANDB_MODE", "offline")
            wb_run = wandb.init(
                project="explore",
                name=run.path.name,
                dir=str(run.path),
                config=cfg.model_dump(mode="json"),
                reinit=True,
            )
            self.writers.append(lambda step, m: wb_run.log(m, step=step))

    def log(self, step: int, metrics: dict[str, float]) -> None:
        finite = {k: v for k, v in metrics.items() if not math.isnan(v)}
        for write in self.writers:
            write(step, finite)


def train(
    cfg: RunConfig,
    seeds: list[int],
    out: str | Path,
    progress: bool = True,
    max_chunks: int | None = None,
    on_chunk: Callable[[int, dict[str, float]], None] | None = None,
    reuse_stale: bool = False,
    on_stale: Callable[[str], None] | None = print,
) -> list[RunDir]:
    """Train ``cfg`` for every seed under ``out``; returns the run directories.

    Completed runs are skipped; interrupted ones resume from their checkpoints.
    ``max_chunks`` stops early leaving runs resumable (as a kill would; used by tests).
    Agents outside the JAX loop (:func:`explore.config.in_jax_loop`: the SB3 agents) train
    through :func:`explore.train_sb3.train_seeds`, one seed after the other (``progress``,
    ``max_chunks`` and ``on_chunk`` apply to the JAX loop only).
    Runs made by other code (:func:`explore.runs.settle_stale`: another code fingerprint)
    are set aside and trained again, each named through ``on_stale``; ``reuse_stale`` keeps
    them as they are.
    """
    settle_stale(
        [cfg.model_copy(update={"seed": s}) for s in seeds], out, reuse_stale, say=on_stale
    )
    if not in_jax_loop(cfg.agent):
        from explore.train_sb3 import train_seeds  # the torch side

        return train_seeds(cfg, seeds, out)
    configs = [cfg.model_copy(update={"seed": s}) for s in seeds]
    runs = [RunDir.for_config(out, c) for c in configs]
    todo = [(c, r) for c, r in zip(configs, runs, strict=True) if not r.is_complete()]
    if not todo:
        return runs
    _, _, bonus, ppo = build(cfg)
    chunk = min(cfg.log_every, ppo.cfg.num_updates)
    # Every seed's initial state in one compiled init (a vmapped init gives each seed the
    # values of its own single-seed init): fresh runs start from it, and its first seed is
    # the template checkpoints are read into.
    initial = jax.device_get(ppo.init_seeds([jax.random.PRNGKey(c.seed) for c, _ in todo]))
    fresh = {c.seed: _index(initial, i) for i, (c, _) in enumerate(todo)}
    like = fresh[todo[0][0].seed]

    # Seeds resume together from the last checkpoint they all have (a kill between their
    # checkpoint writes leaves them one chunk apart; each run keeps the checkpoint before its
    # last). Only seeds with no common point are split into groups. On the CPU each seed runs
    # the same single-seed program in a group of any size; on an accelerator a group of
    # another width is another (vmapped) program, whose numbers need not match bit for bit.
    available = [set(r.checkpoints()) for _, r in todo]
    common = set.intersection(*available)
    groups: dict[int, list[tuple[RunConfig, RunDir, Any]]] = {}
    for c, r in todo:
        r.path.mkdir(parents=True, exist_ok=True)
        loaded = _load_checkpoint(r, like, max(common) if common else None)
        updates = loaded[2] if loaded else 0
        groups.setdefault(updates, []).append((c, r, loaded[0] if loaded else fresh[c.seed]))
    try:
        for start_update, members in sorted(groups.items()):
            _train_group(ppo, bonus, members, start_update, chunk, progress, max_chunks, on_chunk)
    finally:
        bonus.close()  # labelling threads stop even when training raised
    return runs


def _train_group(
    ppo,
    bonus,
    members,
    start_update: int,
    chunk: int,
    progress: bool,
    max_chunks: int | None,
    on_chunk,
) -> None:
    cfg0 = members[0][0]
    runs = [r for _, r, _ in members]
    loggers: list[Logger] = []
    for c, r, _ in members:
        r.start(c)
        loggers.append(Logger(c, r))
    state = _stack([s for _, _, s in members])  # checkpoints, or the seeds' initial states
    # Metrics are written before the checkpoint: rows past it (a kill between the two writes)
    # are logged again by the resumed run.
    rows = [
        [row for row in r.read_metrics() if row["step"] <= start_update * ppo.cfg.batch_size]
        for r in runs
    ]
    num_updates = ppo.cfg.num_updates
    batch = ppo.cfg.batch_size
    run_chunk = {}  # chunk length -> compiled function (the last chunk may be shorter)

    def compiled(n: int):
        if n not in run_chunk:
            run_chunk[n] = run_seeds(lambda s: ppo.run(s, n), len(members))
        return run_chunk[n]

    # Bonuses that declare host work (oni's LLM labels) sync between chunks and log their
    # labelling counters every chunk; the label store defaults to <out>/labels.sqlite, next
    # to the runs it serves.
    host_work = bonus.host_work
    from agents.llm.service import label_services
    from agents.llm.store import default_store_under

    services: list[Any] | None = None  # started by the first sync
    update = start_update
    chunks_done = 0
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[stats]}"),
    ]
    label = f"{cfg0.env} {cfg0.bonus} ×{len(members)} seeds"
    try:
        with (
            default_store_under(runs[0].path.parent),
            Progress(*columns, disable=not progress, transient=False) as bar,
        ):
            task = bar.add_task(
                label, total=num_updates * batch, completed=update * batch, stats="compiling…"
            )
            while update < num_updates and (max_chunks is None or chunks_done < max_chunks):
                n = min(chunk, num_updates - update)
                started = time.perf_counter()
                state, metrics = compiled(n)(state)
                metrics = jax.device_get(metrics)
                elapsed = time.perf_counter() - started
                host: dict[str, float] = {}
                if host_work:
                    state = state.replace(bonus_state=bonus.sync(state.bonus_state))
                    if services is None:
                        services = label_services(bonus)
                        for service in services:
                            where = service.store.path if service.store else "none (not stored)"
                            bar.console.print(
                                f"label store: {where}", highlight=False, soft_wrap=True
                            )
                    for service in services:
                        for warning in service.health():
                            bar.console.print(
                                f"[yellow]warning:[/yellow] {warning}",
                                highlight=False,
                                soft_wrap=True,  # one line per warning, for logs and grep
                            )
                    host = {f"bonus/{k}": float(v) for k, v in bonus.host_metrics().items()}
                update += n
                chunks_done += 1
                steps = update * batch
                summaries = []
                for i in range(len(runs)):
                    summary = summarise({k: v[i] for k, v in metrics.items()})
                    summary.update(host)  # one labelling service for every seed
                    summary["steps_per_second"] = n * batch / elapsed
                    summaries.append(summary)
                    rows[i].extend(
                        {"step": steps, "metric": k, "value": v} for k, v in summary.items()
                    )
                    loggers[i].log(steps, summary)
                coverage = np.asarray(state.coverage)
                cell_bonus = None if state.cell_bonus is None else np.asarray(state.cell_bonus)
                if chunks_done % cfg0.checkpoint_every == 0 or update >= num_updates:
                    host_state = jax.device_get(state)  # one transfer for every seed
                    for i, r in enumerate(runs):
                        r.write_metrics(rows[i])
                        if coverage.shape[-2:] != (1, 1):
                            r.write_coverage(coverage[i])
                        if cell_bonus is not None:
                            write_bonus_table(r, coverage[i], cell_bonus[i])
                        r.save_checkpoint(_index(host_state, i), steps, update)
                        r.set_status("running", steps=steps)
                mean = {
                    k: float(np.nanmean([s[k] for s in summaries]))
                    if not all(math.isnan(s[k]) for s in summaries)
                    else math.nan
                    for k in summaries[0]
                }
                stats = (
                    f"{n * batch * len(runs) / elapsed:,.0f} steps/s  return {mean['episode_return']:.3f}"
                    f"  success {mean['success_rate']:.2f}"
                )
                if "intrinsic_reward_mean" in mean:
                    stats += f"  r_int {mean['intrinsic_reward_mean']:.3g}±{mean.get('intrinsic_reward_std', 0):.2g}"
                if services:
                    counts = [s.stats() for s in services]
                    stats += (
                        f"  labels {sum(c['labels'] for c in counts):.0f}"
                        f" pending {sum(c['pending'] for c in counts):.0f}"
                        f" failed {sum(s.failures() for s in services)}"
                    )
                bar.update(task, completed=steps, stats=stats)
                if on_chunk is not None:
                    on_chunk(steps, mean)
    except KeyboardInterrupt:
        # The last chunk's checkpoint is on disk (checkpoint_every=1) or gets written now.
        steps = update * batch
        host_state = jax.device_get(state)
        for i, r in enumerate(runs):
            r.write_metrics(rows[i])
            r.save_checkpoint(_index(host_state, i), steps, update)
            r.set_status("running", steps=steps, interrupted=True)
        raise
    except Exception as err:
        for r in runs:
            r.fail(err, steps=update * batch)
        raise
    if update >= num_updates:
        for r in runs:
            r.set_status("completed", steps=update * batch)
