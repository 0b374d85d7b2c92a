"""Paper-ready figures: labelled axes, Okabe–Ito colour-blind-safe palette, PNG and SVG.

Every function returns a matplotlib ``Figure``; :func:`save` writes PNG and SVG and returns
the PNG bytes (for embedding in the self-contained HTML report).
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: reports are written on servers

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np

__all__ = [
    "OKABE_ITO",
    "aggregate_intervals",
    "coverage_heatmaps",
    "performance_profiles",
    "poi_matrix",
    "sample_efficiency",
    "save",
]

#: Okabe & Ito (2008) palette, distinguishable under common colour-vision deficiencies.
OKABE_ITO = [
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
]
# Line styles and markers as a second channel, for greyscale print and more than 8 lines.
_STYLES = ["-", "--", "-.", ":"]
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]

plt.rcParams.update(
    {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "svg.fonttype": "none"}
)


def _colour(i: int) -> str:
    return OKABE_ITO[i % len(OKABE_ITO)]


def _marker(i: int) -> str:
    # Period 7 against the palette's 8: colour + marker stay unique for 56 lines.
    return _MARKERS[i % (len(_MARKERS) - 1)]


def _size(count: int) -> tuple[float, float]:
    # Room on the right for an outside legend (see _legend) without shrinking the axes.
    return (5.5, 4.0) if count <= 5 else (9.5, 4.0)


def _legend(ax: plt.Axes, count: int) -> None:
    """Inside the axes for a few lines; outside on the right when it would cover them."""
    if count <= 5:
        ax.legend(frameon=False, fontsize=9)
    else:
        ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))


def _band(lines: Mapping[str, object]) -> float:
    # Many overlapping interval bands turn into one grey smear; fade them as lines grow.
    return 0.2 if len(lines) <= 5 else 0.08


def save(fig: plt.Figure, out_dir: Path, name: str) -> bytes:
    """Write ``name.png`` and ``name.svg`` to ``out_dir``; return the PNG bytes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150, bbox_inches="tight")
    png = buffer.getvalue()
    (out_dir / f"{name}.png").write_bytes(png)
    fig.savefig(out_dir / f"{name}.svg", format="svg", bbox_inches="tight")
    plt.close(fig)
    return png


def aggregate_intervals(
    labels: Sequence[str],
    points: Mapping[str, np.ndarray],
    intervals: Mapping[str, np.ndarray],
    xlabel: str = "Normalised score",
) -> plt.Figure:
    """One panel per metric: point estimate and 95% interval per algorithm."""
    algs = list(points)
    fig, axes = plt.subplots(
        1, len(labels), figsize=(3.2 * len(labels), 0.5 * len(algs) + 1.6), squeeze=False
    )
    for j, (ax, label) in enumerate(zip(axes[0], labels, strict=True)):
        for i, alg in enumerate(algs):
            lo, hi = intervals[alg][0, j], intervals[alg][1, j]
            ax.barh(i, hi - lo, left=lo, height=0.6, color=_colour(i), alpha=0.75)
            ax.plot([points[alg][j]] * 2, [i - 0.3, i + 0.3], color="black", lw=2)
        ax.set_title(label)
        ax.set_yticks(range(len(algs)))
        ax.set_yticklabels(algs if j == 0 else [])
        ax.set_xlabel(xlabel)
        ax.grid(axis="x", alpha=0.3)
        ax.invert_yaxis()
    fig.suptitle("Aggregate metrics (95% stratified-bootstrap intervals)", y=1.02)
    fig.tight_layout()
    return fig


def performance_profiles(
    taus: np.ndarray,
    profiles: Mapping[str, np.ndarray],
    intervals: Mapping[str, np.ndarray],
    xlabel: str = "Normalised score τ",
) -> plt.Figure:
    """Score distributions: fraction of runs with score > τ, with interval bands."""
    fig, ax = plt.subplots(figsize=_size(len(profiles)))
    for i, (alg, profile) in enumerate(profiles.items()):
        ax.plot(taus, profile, color=_colour(i), ls=_STYLES[i % len(_STYLES)], lw=2, label=alg)
        ax.fill_between(
            taus, intervals[alg][0], intervals[alg][1], color=_colour(i), alpha=_band(profiles)
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Fraction of runs with score > τ")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    _legend(ax, len(profiles))
    ax.set_title("Performance profiles")
    fig.tight_layout()
    return fig


def sample_efficiency(
    steps: np.ndarray,
    points: Mapping[str, np.ndarray],
    intervals: Mapping[str, np.ndarray],
    xlabel: str = "Environment steps",
    ylabel: str = "IQM normalised score",
    title: str = "Sample efficiency",
) -> plt.Figure:
    """IQM against training steps, with 95% interval bands."""
    fig, ax = plt.subplots(figsize=_size(len(points)))
    for i, (alg, curve) in enumerate(points.items()):
        ax.plot(
            steps,
            curve,
            color=_colour(i),
            ls=_STYLES[i % len(_STYLES)],
            marker=_marker(i),
            markersize=4,
            lw=2,
            label=alg,
        )
        ax.fill_between(
            steps, intervals[alg][0], intervals[alg][1], color=_colour(i), alpha=_band(points)
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_formatter(matplotlib.ticker.EngFormatter(sep=""))  # 200k, 1M
    _legend(ax, len(points))
    ax.set_title(title)
    fig.tight_layout()
    return fig


def poi_matrix(names: Sequence[str], point: np.ndarray) -> plt.Figure:
    """Heatmap of P(row > column)."""
    k = len(names)
    fig, ax = plt.subplots(figsize=(1.1 * k + 2.5, 0.9 * k + 1.8))
    image = ax.imshow(point, cmap="cividis", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            colour = "white" if point[i, j] < 0.5 else "black"
            ax.text(j, i, f"{point[i, j]:.2f}", ha="center", va="center", color=colour, fontsize=9)
    ax.set_xticks(range(k))
    ax.set_xticklabels(names, rotation=30, ha="right")
    ax.set_yticks(range(k))
    ax.set_yticklabels(names)
    ax.set_xlabel("Algorithm Y")
    ax.set_ylabel("Algorithm X")
    fig.colorbar(image, ax=ax, label="P(X > Y)")
    ax.set_title("Probability of improvement")
    fig.tight_layout()
    return fig


def coverage_heatmaps(task: str, maps: Mapping[str, np.ndarray]) -> plt.Figure:
    """Mean visit counts per cell, one panel per algorithm, on a shared log colour scale.

    Panels wrap onto rows of at most four so that long labels (``ppo+rnd
    env_kwargs.contexts=0``) stay readable; titles are wrapped at spaces.
    """
    algs = list(maps)
    ncols = min(4, len(algs))
    nrows = -(-len(algs) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.3 * ncols + 1.2, 3.6 * nrows + 0.4), squeeze=False
    )
    logs = {a: np.log10(1.0 + np.asarray(m, dtype=np.float64)) for a, m in maps.items()}
    vmax = max(float(v.max()) for v in logs.values()) or 1.0
    image = None
    for i, ax in enumerate(axes.flat):
        if i >= len(algs):
            ax.set_axis_off()
            continue
        alg = algs[i]
        image = ax.imshow(logs[alg], cmap="viridis", vmin=0, vmax=vmax, origin="upper")
        ax.set_title(textwrap.fill(alg, 26), fontsize=9)
        if i // ncols == nrows - 1 or i + ncols >= len(algs):
            ax.set_xlabel("x (column)")
        if i % ncols == 0:  # shared rows: one label avoids overlapping the neighbouring panel
            ax.set_ylabel("y (row)")
    fig.colorbar(image, ax=list(axes.flat), label="log10(1 + mean visits)", shrink=0.8)
    fig.suptitle(f"State visitation: {task}")
    return fig
