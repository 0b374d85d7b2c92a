"""Social outcomes over training, from run files alone.

Multi-agent runs on the social dilemmas log, with every episode, the group's return and the
social-outcome metrics of Perolat et al. (2017) and Hughes et al. (2018) (``social/efficiency``,
``social/equality``, ``social/sustainability``, ``social/peace``; see ``envs/social/metrics.py``)
plus env-specific counts (waste cleaned, coins taken, zaps). A return alone cannot tell the
tragedy of the commons from a slow learner: the commons is stripped early (sustainability
falls) while the return still looks fine. This module reads those series and draws them
side by side, one line per seed and the median over seeds per algorithm, for ``explore
report``. Nothing here imports the training side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd

from analysis.bonus_visits import by_task  # generic over groups with a .task

__all__ = [
    "CORE_METRICS",
    "EXTRA_METRICS",
    "SocialCurves",
    "by_task",
    "figure",
    "social_curves",
    "summary_rows",
]

#: Always drawn when a run logs them: the group's return and the four outcome metrics.
CORE_METRICS: dict[str, str] = {
    "episode_group_return": "group return",
    "social/efficiency": "efficiency",
    "social/equality": "equality",
    "social/sustainability": "sustainability",
    "social/peace": "peace",
}
#: Drawn when some run of the task logs a non-zero value (they are zero where the env has
#: no such event, e.g. waste outside Clean Up).
EXTRA_METRICS: dict[str, str] = {
    "social/waste_cleaned": "waste cleaned",
    "social/coins_own": "own coins",
    "social/coins_other": "others' coins",
    "social/zaps_given": "zaps given",
}


@dataclass
class SocialCurves:
    """The social series of one (task, algorithm): ``series[metric][run name] = (steps, values)``."""

    task: str
    algorithm: str
    series: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]

    def median(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """Median over runs at the steps every run logged (NaN logs ignored)."""
        runs = list(self.series.get(metric, {}).values())
        if not runs:
            return np.zeros(0, np.int64), np.zeros(0)
        common = runs[0][0]
        for steps, _ in runs[1:]:
            common = np.intersect1d(common, steps)
        stacked = np.stack([values[np.searchsorted(steps, common)] for steps, values in runs])
        with np.errstate(all="ignore"):
            return common, np.nanmedian(stacked, axis=0) if stacked.size else stacked

    def first_and_final(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """Per run, the first and the last non-NaN value of ``metric``."""
        firsts, finals = [], []
        for _, values in self.series.get(metric, {}).values():
            logged = values[~np.isnan(values)]
            if logged.size:
                firsts.append(logged[0])
                finals.append(logged[-1])
        return np.asarray(firsts), np.asarray(finals)


def _read(path: Path, metrics: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    frame = pd.read_parquet(path, columns=["step", "metric", "value"])
    frame = frame[frame["metric"].isin(metrics)].sort_values("step", kind="stable")
    return {
        metric: (rows["step"].to_numpy(np.int64), rows["value"].to_numpy(np.float64))
        for metric, rows in frame.groupby("metric", sort=False)
    }


def social_curves(runs: Sequence[object]) -> list[SocialCurves]:
    """Group the runs (``analysis.load.Run``: ``name``, ``path``, ``task``, ``algorithm``) that
    log social outcomes by task and algorithm; sorted by task, then algorithm."""
    wanted = [*CORE_METRICS, *EXTRA_METRICS]
    groups: dict[tuple[str, str], SocialCurves] = {}
    for run in runs:
        path = Path(run.path) / "metrics.parquet"
        if not path.is_file():
            continue
        series = _read(path, wanted)
        if "social/efficiency" not in series:
            continue
        key = (run.task, run.algorithm)
        group = groups.setdefault(key, SocialCurves(run.task, run.algorithm, {}))
        for metric, steps_values in series.items():
            group.series.setdefault(metric, {})[run.name] = steps_values
    return [groups[k] for k in sorted(groups)]


def _panels(groups: Sequence[SocialCurves]) -> list[str]:
    panels = [m for m in CORE_METRICS if any(m in g.series for g in groups)]
    for metric in EXTRA_METRICS:
        if any(
            np.nan_to_num(values).any()
            for g in groups
            for _, values in g.series.get(metric, {}).values()
        ):
            panels.append(metric)
    return panels


def figure(task: str, groups: Sequence[SocialCurves], colours: Sequence[str]) -> plt.Figure:
    """One panel per metric against training steps: a thin line per run and the median over
    runs in bold, one colour per algorithm."""
    groups = [g for g in groups if g.task == task]
    panels = _panels(groups)
    cols = min(len(panels), 3)
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.0 * cols, 3.0 * rows), squeeze=False)
    for ax, metric in zip(axes.flat, panels, strict=False):
        for i, group in enumerate(groups):
            colour = colours[i % len(colours)]
            for steps, values in group.series.get(metric, {}).values():
                keep = ~np.isnan(values)
                ax.plot(steps[keep], values[keep], color=colour, lw=0.6, alpha=0.35)
            steps, median = group.median(metric)
            keep = ~np.isnan(median)
            ax.plot(steps[keep], median[keep], color=colour, lw=2, label=group.algorithm)
        ax.set_title({**CORE_METRICS, **EXTRA_METRICS}[metric])
        ax.set_xlabel("agent-steps")
        ax.xaxis.set_major_formatter(matplotlib.ticker.EngFormatter())
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    axes[0][0].legend(frameon=False, fontsize=8)
    fig.suptitle(f"Social outcomes over training on {task} (thin: runs; bold: median)", fontsize=10)
    fig.tight_layout()
    return fig


def summary_rows(groups: Sequence[SocialCurves]) -> list[list[str]]:
    """Rows (task, algorithm, metric, runs, first → final median [min, max] over runs)."""
    rows = []
    for group in groups:
        for metric in _panels([group]):
            firsts, finals = group.first_and_final(metric)
            if not finals.size:
                continue
            rows.append(
                [
                    group.task,
                    group.algorithm,
                    {**CORE_METRICS, **EXTRA_METRICS}[metric],
                    str(finals.size),
                    f"{np.median(firsts):.3g} → {np.median(finals):.3g} "
                    f"[{finals.min():.3g}, {finals.max():.3g}]",
                ]
            )
    return rows
