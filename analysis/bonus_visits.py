"""The bonus of a state against how often it was visited, from run files alone.

RDD's defining property (Fang et al. 2025, arXiv 2505.11044) is that its bonus estimates a
pseudo-count term, b(s) ∝ 1/n(s): on log-log axes, bonus against visits falls with slope
−1. RND's bonus (Burda et al. 2019) has no such law. Gridworld runs with a bonus write
``bonus_by_cell.csv`` with every checkpoint (``explore.train``): for every cell the last
rollout reached, ``visits`` (the cell's visits so far, as in ``coverage.npy``), ``steps``
(how many of the rollout's steps reached it) and ``bonus`` (their mean raw bonus, before
the agent's normalisation). This module reads those tables, fits the log-log slope per run
and draws the figure of ``explore report``.

Cells pool what the bonus sees separately (the agent's direction, what it carries, the
layout): a cell's visits are proportional to the visits of its observations only as far as
those split alike across cells, so the slope is a property of the run, not an exact
estimate of the bonus's exponent. Nothing here imports the training side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = ["BONUS_TABLE", "BonusVisits", "bonus_visits", "figure", "loglog_slope", "read_table"]

#: The table's file name in a run directory (written by ``explore.train``).
BONUS_TABLE = "bonus_by_cell.csv"
_COLUMNS = ("row", "col", "visits", "steps", "bonus")


def read_table(run_dir: str | Path) -> pd.DataFrame | None:
    """A run's ``bonus_by_cell.csv`` (columns row, col, visits, steps, bonus), or None."""
    path = Path(run_dir) / BONUS_TABLE
    if not path.is_file():
        return None
    table = pd.read_csv(path)
    missing = [c for c in _COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing} (expected {', '.join(_COLUMNS)})")
    return table


def loglog_slope(visits: Sequence[float], bonus: Sequence[float]) -> tuple[float, float]:
    """Least-squares ``log b = a + slope·log n`` over cells with n > 0 and b > 0.

    Returns ``(slope, intercept)``; NaN for both with fewer than 3 such cells or a single
    distinct visit count (no slope to fit).
    """
    n = np.asarray(visits, np.float64)
    b = np.asarray(bonus, np.float64)
    keep = (n > 0) & (b > 0) & np.isfinite(b)
    x, y = np.log(n[keep]), np.log(b[keep])
    if x.size < 3 or np.ptp(x) == 0:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept)


@dataclass
class BonusVisits:
    """The tables of one (task, algorithm): per run its table and fitted slope."""

    task: str
    algorithm: str
    tables: dict[str, pd.DataFrame]  # run name → table
    slopes: dict[str, float]  # run name → log-log slope (NaN when it cannot be fitted)

    def slope_summary(self) -> tuple[float, float, float]:
        """Median, min and max of the finite per-run slopes (NaN when there is none)."""
        finite = np.array([s for s in self.slopes.values() if np.isfinite(s)])
        if not finite.size:
            return (float("nan"),) * 3
        return float(np.median(finite)), float(finite.min()), float(finite.max())


def bonus_visits(runs: Sequence[object]) -> list[BonusVisits]:
    """Group the runs (``analysis.load.Run``: ``name``, ``path``, ``task``, ``algorithm``)
    that have a bonus table by task and algorithm; sorted by task, then algorithm."""
    groups: dict[tuple[str, str], BonusVisits] = {}
    for run in runs:
        table = read_table(run.path)
        if table is None or table.empty:
            continue
        key = (run.task, run.algorithm)
        group = groups.setdefault(key, BonusVisits(run.task, run.algorithm, {}, {}))
        group.tables[run.name] = table
        group.slopes[run.name] = loglog_slope(table["visits"], table["bonus"])[0]
    return [groups[k] for k in sorted(groups)]


def figure(task: str, groups: Sequence[BonusVisits]) -> plt.Figure:
    """One panel per algorithm: each cell's mean raw bonus against its visits (log-log), every
    run in its own shade with its fitted line, and a slope −1 reference (b ∝ 1/n)."""
    groups = [g for g in groups if g.task == task]
    fig, axes = plt.subplots(
        1, len(groups), figsize=(3.6 * len(groups), 3.4), squeeze=False, sharex=True
    )
    for ax, group in zip(axes[0], groups, strict=True):
        colours = plt.cm.viridis(np.linspace(0.1, 0.9, max(len(group.tables), 1)))
        anchors = []
        for colour, (_, table) in zip(colours, sorted(group.tables.items()), strict=True):
            keep = (table["visits"] > 0) & (table["bonus"] > 0)
            n, b = table["visits"][keep].to_numpy(), table["bonus"][keep].to_numpy()
            ax.scatter(n, b, s=6, alpha=0.5, color=colour)
            slope, intercept = loglog_slope(n, b)
            if np.isfinite(slope):
                grid = np.geomspace(n.min(), n.max(), 20)
                ax.plot(grid, np.exp(intercept) * grid**slope, color=colour, lw=1)
                anchors.append((grid, np.exp(intercept) * grid[0] ** slope))
        if anchors:  # the 1/n reference through the first run's line, for the eye
            grid, start = anchors[0]
            ax.plot(grid, start * (grid / grid[0]) ** -1.0, "k--", lw=1, label="slope −1")
            ax.legend(loc="lower left", fontsize=7)
        med, lo, hi = group.slope_summary()
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{group.algorithm}\nslope {med:.2f} [{lo:.2f}, {hi:.2f}]", fontsize=8)
        ax.set_xlabel("visits of the cell")
    axes[0][0].set_ylabel("mean raw bonus (last rollout)")
    fig.suptitle(f"Bonus against visits on {task}", fontsize=9)
    fig.tight_layout()
    return fig


def summary_rows(groups: Sequence[BonusVisits]) -> list[list[str]]:
    """Rows (task, algorithm, runs, median slope [min, max]) for the report's table."""
    rows = []
    for g in groups:
        med, lo, hi = g.slope_summary()
        finite = sum(np.isfinite(s) for s in g.slopes.values())
        rows.append(
            [g.task, g.algorithm, f"{finite}/{len(g.slopes)}", f"{med:.2f} [{lo:.2f}, {hi:.2f}]"]
        )
    return rows


def by_task(groups: Sequence[BonusVisits]) -> Mapping[str, list[BonusVisits]]:
    """The groups of each task, in order."""
    out: dict[str, list[BonusVisits]] = {}
    for g in groups:
        out.setdefault(g.task, []).append(g)
    return out
