"""``report.md`` + self-contained ``report.html`` (figures as base64 PNG) for one sweep.

The report is a list of blocks (headings, paragraphs, tables, figures) rendered twice, so
Markdown and HTML always say the same thing.
"""

from __future__ import annotations

import base64
import html
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis import bonus_visits, estimates, intervals, metrics, plots, power, social_outcomes
from analysis.load import MO_SCORES, Fronts, ScoreSet, Sweep, load, read_fronts
from analysis.metrics import probability_of_improvement

__all__ = [
    "Report",
    "ReportError",
    "ReportOptions",
    "build_report",
    "format_interval",
    "latex_table",
]


@dataclass
class ReportOptions:
    """Everything ``explore report`` can change."""

    step: int | None = None
    # Score each run by its mean logged score over training (area under the curve) rather
    # than at one step: separates methods whose final scores saturate or all stay near 0.
    over_training: bool = False
    score: str | None = None
    reps: int = 50_000
    profile_reps: int = 2_000
    curve_reps: int = 5_000
    seed: int = 0
    engine: str = "fast"
    common_tasks: bool = False
    # Report only these tasks (None: every task of the sweep).
    tasks: Sequence[str] | None = None
    power: bool = False
    effect: float = 0.1
    poi_effect: float = 0.75
    target_power: float = 0.8
    sims: int = 200
    power_reps: int = 200
    success_threshold: float = 0.5
    # Steps-to-threshold table: None = 0.9 where scores are success rates or normalised,
    # and no table for raw returns (a default threshold would mean nothing there).
    speed_threshold: float | None = None
    speed_window: int = 3
    latex: bool = False
    curve_points: int = 25
    masks: Mapping[str, np.ndarray] | None = None
    # Pool runs made by different code or env versions in one cell (refused by default).
    allow_mixed: bool = False
    # Random relabellings of the permutation test of P(X > Y) (exact enumeration when fewer).
    permutations: int = 4_000


@dataclass
class Report:
    """What was written, and the aggregate table (for the terminal)."""

    out: Path
    headers: list[str]
    rows: list[list[str]]
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class ReportError(ValueError):
    """The sweep cannot be reported; ``notes`` are what loading noticed first (skipped runs)."""

    def __init__(self, message: str, notes: list[str]) -> None:
        super().__init__(message)
        self.notes = notes


def _figure_name(prefix: str, task: str) -> str:
    """A figure's file stem: ``prefix`` and the task name with non-alphanumerics as ``_``."""
    return prefix + "".join(ch if ch.isalnum() else "_" for ch in task)


def _score_point(opts: ReportOptions) -> str:
    """Where on each run's learning curve the headline score is read, in words."""
    if opts.over_training:
        return "each run's mean over training (area under its learning curve per log)"
    return f"step {opts.step}" if opts.step is not None else "the final logged step"


def format_interval(point: float, lo: float, hi: float) -> str:
    """``x.xx [lo, hi]``."""
    return f"{point:.2f} [{lo:.2f}, {hi:.2f}]"


def interval_cell(
    name: str, point: float, lo: float, hi: float, runs: int, tasks: int, digits: int = 2
) -> str:
    """``x.xx [lo, hi]`` where the interval's measured coverage holds at ``runs`` runs per
    cell (:data:`analysis.intervals.MIN_RUNS`); otherwise the point and why there is no
    interval. An interval of zero width (every run the same) is not shown as one either."""
    reason = intervals.too_few(name, runs, tasks)
    if reason is not None:
        return f"{point:.{digits}f} ({reason})"
    if hi - lo <= 0:
        return f"{point:.{digits}f} (no spread across the {runs} runs: no interval)"
    return f"{point:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def format_steps(step: int | None) -> str:
    """``143 k``, ``1.13 M``; ``—`` for ``None``."""
    if step is None:
        return "—"
    if step >= 1_000_000:
        return f"{step / 1e6:.3g} M"
    if step >= 1_000:
        return f"{step / 1e3:.3g} k"
    return str(step)


def latex_table(headers: Sequence[str], rows: Sequence[Sequence[str]], caption: str) -> str:
    """A booktabs table; ``x.xx [lo, hi]`` cells become ``x.xx\\,{\\scriptsize[lo, hi]}``."""

    def cell(text: str) -> str:
        text = text.replace("_", r"\_").replace("%", r"\%").replace("&", r"\&")
        if " [" in text:
            point, rest = text.split(" [", 1)
            return rf"{point}\,{{\scriptsize[{rest}}}"
        return text

    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{caption}}}",
        r"\begin{tabular}{l" + "c" * (len(headers) - 1) + "}",
        r"\toprule",
        " & ".join(cell(h) for h in headers) + r" \\",
        r"\midrule",
        *(" & ".join(cell(c) for c in row) + r" \\" for row in rows),
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


class _Doc:
    """Blocks rendered to Markdown and HTML."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, Any]] = []

    def h(self, text: str, level: int = 2) -> None:
        self.blocks.append(("h", (level, text)))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.blocks.append(("table", (list(headers), [[str(c) for c in r] for r in rows])))

    def figure(self, name: str, png: bytes, caption: str) -> None:
        self.blocks.append(("fig", (name, png, caption)))

    def markdown(self) -> str:
        out = []
        for kind, body in self.blocks:
            if kind == "h":
                out.append("#" * body[0] + " " + body[1])
            elif kind == "p":
                out.append(body)
            elif kind == "table":
                headers, rows = body
                esc = [[c.replace("|", "\\|") for c in r] for r in [headers, *rows]]
                out.append("| " + " | ".join(esc[0]) + " |")
                out.append("|" + "---|" * len(headers))
                out.extend("| " + " | ".join(r) + " |" for r in esc[1:])
            else:
                name, _, caption = body
                out.append(
                    f"![{caption}](figures/{name}.png)\n\n*{caption}* ([SVG](figures/{name}.svg))"
                )
            out.append("")
        return "\n".join(out)

    def html(self, title: str) -> str:
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
            "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;"
            "padding:4px 8px;text-align:left}th{background:#eee}img{max-width:100%}"
            "figcaption{font-style:italic}</style></head><body>",
        ]
        for kind, body in self.blocks:
            if kind == "h":
                parts.append(f"<h{body[0]}>{html.escape(body[1])}</h{body[0]}>")
            elif kind == "p":
                parts.append(f"<p>{html.escape(body)}</p>")
            elif kind == "table":
                headers, rows = body
                parts.append(
                    "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr>"
                )
                parts.extend(
                    "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                    for r in rows
                )
                parts.append("</table>")
            else:
                _, png, caption = body
                data = base64.b64encode(png).decode("ascii")
                parts.append(
                    f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{html.escape(caption)}</figcaption></figure>"
                )
        parts.append("</body></html>")
        return "\n".join(parts)


def _missing_rows(sweep: Sweep, sets: Sequence[ScoreSet]) -> list[list[str]]:
    rows = [[name, why] for name, why in sorted(sweep.skipped.items())]
    seen = set()
    for s in sets:
        for name, why in sorted({**s.excluded, **s.dropped}.items()):
            if name not in seen:
                seen.add(name)
                rows.append([name, why])
        for task in s.dropped_tasks:
            if f"task {task}" not in seen:
                seen.add(f"task {task}")
                rows.append([f"task {task}", "not run by every algorithm (dropped)"])
    return rows


def _final_points(fronts: Fronts, step: int | None) -> np.ndarray | None:
    """The value vectors logged at ``step`` (or the last before it; the last if ``None``)."""
    upto = fronts.steps.size if step is None else np.searchsorted(fronts.steps, step, "right")
    if not upto:
        return None
    points = fronts.points[upto - 1]
    return points[np.isfinite(points).all(axis=1)]


def _front_figure(
    task: str,
    finals: dict[str, list[np.ndarray]],
    true_front: np.ndarray | None,
    ref: list[float] | None,
) -> Any:
    """Every seed's policies' value vectors per algorithm (marker area ∝ how many policies
    reached a point), the true front, and the hypervolume reference point."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    if true_front is not None:
        order = np.argsort(true_front[:, 0])
        ax.plot(
            true_front[order, 0],
            true_front[order, 1],
            "-",
            color="0.6",
            lw=1,
            zorder=1,
        )
        ax.scatter(
            true_front[:, 0],
            true_front[:, 1],
            s=110,
            facecolors="none",
            edgecolors="black",
            lw=1.2,
            label="true front",
            zorder=2,
        )
    markers = ["o", "s", "^", "D", "v", "P", "X", "*"]
    for i, (alg, runs) in enumerate(finals.items()):
        points = np.concatenate(runs, axis=0)[:, :2]
        unique, counts = np.unique(np.round(points, 6), axis=0, return_counts=True)
        ax.scatter(
            unique[:, 0],
            unique[:, 1],
            s=15 + 60 * counts / counts.max(),
            color=plots.OKABE_ITO[i % len(plots.OKABE_ITO)],
            marker=markers[i % len(markers)],
            alpha=0.75,
            label=f"{alg} ({len(runs)} seeds × {runs[0].shape[0]} weights)",
            zorder=3,
        )
    if ref is not None:
        ax.scatter([ref[0]], [ref[1]], marker="+", s=80, color="black", label="reference point")
    ax.set_xlabel("objective 0")
    ax.set_ylabel("objective 1")
    ax.set_title(task)
    ax.legend(frameon=False, fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    return fig


def _observed_power_rows(scores: dict[str, np.ndarray], opts: ReportOptions) -> list[list[str]]:
    """Per pair of algorithms: the power of the sweep's seeds for the P(X > Y) it observed."""
    kw = {"sims": opts.sims, "reps": opts.power_reps, "seed": opts.seed}
    rows = []
    names = sorted(scores)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if scores[a].shape[1] != scores[b].shape[1]:
                continue
            x, y = (a, b) if probability_of_improvement(scores[a], scores[b]) >= 0.5 else (b, a)
            seen = probability_of_improvement(scores[x], scores[y])
            n = min(scores[x].shape[0], scores[y].shape[0])
            if n < 2:
                continue
            if n < power.MIN_PILOT:
                # Too few runs to estimate a power or a seed count from: say so, never "yes".
                first = f"run at least {power.MIN_PILOT} seeds first"
                rows.append([x, y, f"{seen:.2f}", str(n), "—", first, first])
                continue
            now = power.power(scores[x], n, pilot_y=scores[y], metric="poi", **kw)
            if seen <= 0.5:
                rows.append(
                    [x, y, f"{seen:.2f}", str(n), f"{now:.2f}", "no", "(no difference seen)"]
                )
                continue
            est = power.seeds_estimate(
                scores[x], metric="poi", target_power=opts.target_power, pilot_y=scores[y], **kw
            )
            rows.append([x, y, f"{seen:.2f}", str(n), f"{now:.2f}", est.enough(n), est.text()])
    return rows


def _median_steps_cell(steps: Sequence[int | None]) -> str:
    """Median steps over every seed (never = ∞) with its order-statistic interval, or why not."""
    values = [math.inf if s is None else float(s) for s in steps]
    point = float(np.median(values))

    def show(v: float) -> str:
        return "never" if math.isinf(v) else format_steps(int(v))

    bounds = intervals.median_interval(values)
    if bounds is None:
        return (
            f"{show(point)} (too few runs for an interval (n = {len(values)}; "
            f"needs ≥ {intervals.MEDIAN_STEPS_MIN_RUNS}))"
        )
    return f"{show(point)} [{show(bounds[0])}, {show(bounds[1])}]"


def _pairwise_tests(doc: _Doc, scores: dict[str, np.ndarray], opts: ReportOptions) -> None:
    """Every pair's exact permutation test of P(X > Y) = 0.5, Holm-corrected over the pairs."""
    names = list(scores)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    tested = [
        intervals.permutation_pvalue(
            scores[a], scores[b], permutations=opts.permutations, seed=opts.seed
        )
        for a, b in pairs
    ]
    survives = intervals.holm([p for _, p in tested])
    doc.p(
        f"{len(pairs)} pairwise comparison{'s' if len(pairs) != 1 else ''}. Each is tested "
        "with an exact stratified permutation test of P(X > Y) = 0.5 (run labels permuted "
        "within each task; exact at any number of runs), and the p-values are Holm-corrected "
        "for the number of comparisons: only claims marked 'yes' hold at a family-wise 5% "
        "level."
    )
    # Pairs whose runs are too few for any relabelling test to reach the corrected level.
    hopeless = []
    for a, b in pairs:
        nx, ny, tasks = scores[a].shape[0], scores[b].shape[0], scores[a].shape[1]
        smallest = min(1.0, 2.0 / math.comb(nx + ny, nx) ** tasks)
        if smallest > 0.05 / len(pairs):
            hopeless.append(f"{a} vs {b} (n = {nx} and {ny}: p ≥ {smallest:.3g})")
    if hopeless:
        doc.p(
            "No claim can hold with these runs, whatever they show: "
            + "; ".join(hopeless)
            + ". Run more seeds."
        )
    rows = []
    for (a, b), (p_hat, pvalue), ok in zip(pairs, tested, survives, strict=True):
        claim = f"{a} > {b}" if p_hat > 0.5 else f"{b} > {a}" if p_hat < 0.5 else "none"
        rows.append(
            [
                a,
                b,
                str(scores[a].shape[0]),
                str(scores[b].shape[0]),
                f"{p_hat:.2f}",
                f"{pvalue:.3g}",
                f"yes: {claim}" if ok and p_hat != 0.5 else "no",
            ]
        )
    doc.table(["X", "Y", "n X", "n Y", "P(X>Y)", "permutation p", "holds after Holm"], rows)


def _bonus_visits_section(doc: _Doc, sweep: Sweep, fig_dir: Path, notes: list[str]) -> None:
    """Bonus against visits per cell (``bonus_by_cell.csv``): RDD's 1/n property, log-log."""
    try:
        groups = bonus_visits.bonus_visits(sweep.runs)
    except ValueError as err:
        notes.append(f"bonus-against-visits skipped: {err}")
        return
    if not groups:
        return
    doc.h("Bonus against visits (log-log slope)")
    doc.p(
        "Per cell the last rollout reached: its visits over the run (coverage.npy) and the mean "
        "raw bonus of the rollout's steps that reached it (bonus_by_cell.csv, written with "
        "every checkpoint). A bonus proportional to 1/n has slope −1 (RDD's pseudo-count, "
        "Fang et al. 2025); cells pool observations (direction, carried object, layout), so "
        "the slope describes the run rather than estimating the bonus's exponent exactly. "
        "Median slope over runs [min, max]."
    )
    doc.table(["Task", "Algorithm", "Runs fitted", "Slope"], bonus_visits.summary_rows(groups))
    for task, task_groups in bonus_visits.by_task(groups).items():
        name = _figure_name("bonus_visits_", task)
        doc.figure(
            name,
            plots.save(bonus_visits.figure(task, task_groups), fig_dir, name),
            f"Bonus against visits on {task}",
        )


def _social_section(doc: _Doc, sweep: Sweep, fig_dir: Path) -> None:
    """Group return and the social-outcome metrics over training, beside each other."""
    groups = social_outcomes.social_curves(sweep.runs)
    if not groups:
        return
    doc.h("Social outcomes over training")
    doc.p(
        "Per episode, logged with every update: the group's return, efficiency (the group's "
        "reward per step), equality (1 − Gini of the agents' returns), "
        "sustainability (mean time step of the rewards: low when the commons is stripped "
        "early), peace (agents not zapped out, "
        "averaged over steps), and the env's own counts "
        "(envs/social/metrics.py). First logged value → final value: median over runs "
        "[min, max]."
    )
    doc.table(
        ["Task", "Algorithm", "Metric", "Runs", "First → final"],
        social_outcomes.summary_rows(groups),
    )
    for task, task_groups in social_outcomes.by_task(groups).items():
        name = _figure_name("social_", task)
        doc.figure(
            name,
            plots.save(social_outcomes.figure(task, task_groups, plots.OKABE_ITO), fig_dir, name),
            f"Social outcomes over training on {task}",
        )


def _front_section(
    doc: _Doc, sweep: Sweep, opts: ReportOptions, fig_dir: Path, notes: list[str]
) -> None:
    """Multi-objective sweeps: each task's fronts (every seed, the true front drawn) and the
    front scores (analysis.load.MO_SCORES) as IQM [95% CI] across seeds."""
    fronts: dict[str, Fronts] = {}
    for run in sweep.runs:
        try:
            found = read_fronts(run.path / "metrics.parquet")
        except (OSError, ValueError) as err:
            notes.append(f"fronts of {run.name} unreadable: {err}")
            continue
        if found is not None:
            fronts[run.name] = found
    if not fronts:
        return
    doc.h("Pareto fronts (multi-objective)")
    at = f"step {opts.step}" if opts.step is not None else "the final logged step"
    refs = ", ".join(f"{t} {r}" for t, r in sorted(sweep.ref_points.items()))
    doc.p(
        f"Each policy's value vector (discounted return per objective, greedy evaluation) at "
        f"{at}, one policy per training weight; marker area grows with the number of seeds' "
        "policies at a point. Scores per task, IQM [95% CI] across seeds (stratified "
        f"bootstrap, {opts.reps} replicates): "
        + "; ".join(f"{n}: {d}" for n, d in MO_SCORES.items())
        + ". Hypervolume reference points: "
        + (refs or "none given (sweep.yaml score: {ref_points: {task: [..]}}), so no hypervolume")
        + "."
    )
    rows: dict[tuple[str, str], dict[str, str]] = {}
    counts: dict[tuple[str, str], int] = {}
    columns = []
    for name in MO_SCORES:
        if name.startswith("hypervolume") and not sweep.ref_points:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                by_score = load(sweep.path, score=name, warn=False, ref_points=sweep.ref_points)
                if opts.tasks:
                    by_score = by_score.only_tasks(opts.tasks)
                scored = by_score.scores(step=opts.step, tasks="common")
            for t, task in enumerate(scored.tasks):
                column = {a: m[:, [t]] for a, m in scored.matrices.items()}
                est = estimates.aggregate_estimates(
                    column, names=("IQM",), reps=opts.reps, seed=opts.seed, engine=opts.engine
                )
                for alg in column:
                    lo, hi = est.intervals[alg][:, 0]
                    rows.setdefault((alg, task), {})[name] = interval_cell(
                        "IQM", est.points[alg][0], lo, hi, column[alg].shape[0], 1
                    )
                    counts[(alg, task)] = column[alg].shape[0]
            columns.append(name)
        except ValueError as err:
            notes.append(f"front score {name} skipped: {err}")
    if columns:
        doc.table(
            ["Algorithm", "Task", "n", *columns],
            [
                [
                    alg,
                    task,
                    str(counts.get((alg, task), "?")),
                    *(cells.get(c, "—") for c in columns),
                ]
                for (alg, task), cells in rows.items()
            ],
        )
    by_task: dict[str, dict[str, list[np.ndarray]]] = {}
    true_fronts: dict[str, np.ndarray | None] = {}
    for run in sorted(sweep.runs, key=lambda r: (r.algorithm, r.seed)):
        if run.name not in fronts:
            continue
        final = _final_points(fronts[run.name], opts.step)
        if final is None:
            continue
        by_task.setdefault(run.task, {}).setdefault(run.algorithm, []).append(final)
        true_fronts.setdefault(run.task, fronts[run.name].true_front)
    for task, finals in sorted(by_task.items()):
        true = true_fronts[task]
        if true is not None and len(true) <= 12:
            # Which true-front points the policies reached (linear scalarisation reaches only
            # the supported ones: the concave Deep Sea Treasure shows it).
            doc.p(
                f"{task}: policies (seeds × weights) whose value vector is each point of the "
                "true front (to 1e-4), and those on none of them."
            )
            labels = [f"({', '.join(f'{v:.3g}' for v in point)})" for point in true]
            table = []
            for alg, runs in finals.items():
                points = np.concatenate(runs, axis=0)
                hits = np.isclose(points[:, None, :], true[None], rtol=1e-5, atol=1e-4).all(-1)
                table.append(
                    [alg, *map(str, hits.sum(axis=0)), str(int((~hits.any(axis=1)).sum()))]
                )
            doc.table(["Algorithm", *labels, "off the front"], table)
        name = _figure_name("front_", task)
        fig = _front_figure(task, finals, true, sweep.ref_points.get(task))
        m = next(iter(finals.values()))[0].shape[1]
        extra = f" (first two of {m} objectives)" if m > 2 else ""
        doc.figure(
            name,
            plots.save(fig, fig_dir, name),
            f"Fronts on {task}{extra}: every seed's policies and the true front",
        )


def build_report(
    path: str | Path, out: str | Path = "report", options: ReportOptions | None = None
) -> Report:
    """Load the sweep at ``path`` and write ``report.md``, ``report.html`` and figures to ``out``."""
    opts = options or ReportOptions()
    if opts.speed_window < 1:
        raise ValueError(f"speed_window (--speed-window) must be >= 1, got {opts.speed_window}")
    out_dir = Path(out)
    fig_dir = out_dir / "figures"
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if opts.tasks and opts.common_tasks:
                raise ValueError("--tasks and --common-tasks exclude each other")
            sweep = load(path, score=opts.score)
            if opts.tasks:
                sweep = sweep.only_tasks(opts.tasks)
            mixed = sweep.mixed_cells()
            if mixed and not opts.allow_mixed:
                more = f" (and {len(mixed) - 1} more cells)" if len(mixed) > 1 else ""
                raise ValueError(
                    f"refusing to pool: {mixed[0]}{more}; re-run them under one code and env "
                    "version, or pass --allow-mixed"
                )
            tasks = "common" if opts.common_tasks else None
            final = sweep.scores(step=opts.step, tasks=tasks, over_training=opts.over_training)
            estimates.check_scores(final.matrices)
    except ValueError as err:
        # The skip notes (unreadable or unfinished runs) often say why too few runs are left.
        raise ReportError(str(err), [str(w.message) for w in caught]) from None
    notes = [str(w.message) for w in caught]
    notes += [f"pooled by --allow-mixed: {line}" for line in mixed]
    scores = final.matrices
    n_tasks = len(final.tasks)
    doc = _Doc()
    title = f"Results: {sweep.path.name}"
    doc.h(title, 1)
    refs = "normalised with per-task references" if sweep.score_refs else "raw values"
    at = _score_point(opts)
    doc.p(
        f"Sweep {sweep.path}; score: {sweep.score} (metric {sweep.metric}, {refs}) at {at}; "
        f"{len(final.tasks)} tasks, {len(scores)} algorithms. Intervals are 95% stratified-"
        f"bootstrap percentile intervals ({opts.reps} replicates, engine {opts.engine}; "
        "Agarwal et al. 2021), printed only where their coverage, measured by simulation "
        "(docs/analysis.md, 'Measured coverage'), holds at the cell's number of runs n; "
        "elsewhere a cell says 'too few runs for an interval (n = …; needs ≥ k)' — with few "
        "runs a percentile bootstrap collapses towards a point and covers far less than 95%."
    )

    # Scores on a 0-1 scale (success rates, normalised scores) have a meaningful 1: the
    # optimality gap and a default steps-to-0.9 threshold apply to them, not to raw values
    # (cells per episode, returns).
    bounded = sweep.metric == "success_rate" or bool(sweep.score_refs)
    # Axis label of the score figures: what the numbers are, not always "normalised".
    score_label = "Normalised score" if sweep.score_refs else sweep.metric

    # Aggregate table.
    names = [n for n in metrics.AGGREGATE_METRICS if bounded or n != "Optimality Gap"]
    agg = estimates.aggregate_estimates(
        scores, names, reps=opts.reps, seed=opts.seed, engine=opts.engine
    )
    headers = ["Algorithm", "n (runs/task)", *agg.labels]
    rows = [
        [alg, str(scores[alg].shape[0])]
        + [
            interval_cell(
                agg.labels[i],
                p,
                agg.intervals[alg][0, i],
                agg.intervals[alg][1, i],
                scores[alg].shape[0],
                n_tasks,
            )
            for i, p in enumerate(agg.points[alg])
        ]
        for alg in scores
    ]
    n_min = min(m.shape[0] for m in scores.values())
    shown = {label: intervals.too_few(label, n_min, n_tasks) is None for label in agg.labels}
    doc.h("Aggregate metrics")
    doc.table(headers, rows)
    files: list[Path] = []
    # Intervals whose coverage does not hold at this n are drawn as bare points.
    drawn = {
        alg: np.where(
            np.array([shown[label] for label in agg.labels])[None, :],
            agg.intervals[alg],
            agg.points[alg][None, :],
        )
        for alg in agg.intervals
    }
    png = plots.save(
        plots.aggregate_intervals(agg.labels, agg.points, drawn, xlabel=score_label),
        fig_dir,
        "aggregates",
    )
    hidden = [label for label, ok in shown.items() if not ok]
    gap_note = (
        "optimality gap: lower is better"
        if bounded
        else f"no optimality gap: raw {sweep.metric} has no score of 1 to fall short of"
    )
    caption = f"Aggregate metrics with 95% intervals ({gap_note})"
    if len(hidden) == len(shown):
        caption = (
            f"Aggregate metrics ({gap_note}), points only: too few runs for an interval "
            f"(n = {n_min})"
        )
    elif hidden:
        caption += (
            f"; points only for {', '.join(hidden)}: too few runs for an interval (n = {n_min})"
        )
    doc.figure("aggregates", png, caption)

    # Probability of improvement.
    if len(scores) > 1:
        names, poi, poi_ci = estimates.probability_of_improvement_matrix(
            scores, reps=opts.reps, seed=opts.seed, engine=opts.engine
        )
        doc.h("Probability of improvement P(row > column)")
        doc.table(
            ["X \\ Y", *names],
            [
                [f"{a} (n = {scores[a].shape[0]})"]
                + [
                    "—"
                    if i == j
                    else interval_cell(
                        "P(X>Y)",
                        poi[i, j],
                        poi_ci[0, i, j],
                        poi_ci[1, i, j],
                        min(scores[a].shape[0], scores[names[j]].shape[0]),
                        n_tasks,
                    )
                    for j in range(len(names))
                ]
                for i, a in enumerate(names)
            ],
        )
        _pairwise_tests(doc, scores, opts)
        doc.figure(
            "poi",
            plots.save(plots.poi_matrix(names, poi), fig_dir, "poi"),
            "Probability of improvement",
        )

    # Performance profiles.
    taus, profiles, profile_ci = estimates.performance_profiles(
        scores, reps=opts.profile_reps, seed=opts.seed, engine=opts.engine
    )
    doc.h("Figures")
    profile_reason = intervals.too_few("Profile", n_min, n_tasks)
    if profile_reason is not None:  # bands of no measured coverage are not drawn
        profile_ci = {a: np.stack([p, p]) for a, p in profiles.items()}
    doc.figure(
        "profiles",
        plots.save(
            plots.performance_profiles(taus, profiles, profile_ci, xlabel=f"{score_label} τ"),
            fig_dir,
            "profiles",
        ),
        f"Performance profiles with 95% intervals ({opts.profile_reps} replicates)"
        if profile_reason is None
        else f"Performance profiles, no intervals: {profile_reason}",
    )

    # Sample-efficiency curves.
    try:
        curves = sweep.curves(num_points=opts.curve_points, tasks=tasks)
        # The aggregate, then (with several tasks, which it pools whatever their difficulty)
        # one figure per task showing where each method learns.
        panels = [
            (
                "sample_efficiency",
                curves.matrices,
                "Sample efficiency",
                f"IQM against training steps, 95% intervals ({opts.curve_reps} replicates)",
            )
        ]
        if len(curves.tasks) > 1:
            panels += [
                (
                    _figure_name("sample_efficiency_", task),
                    {alg: m[:, [t], :] for alg, m in curves.matrices.items()},
                    f"Sample efficiency: {task}",
                    f"{task}: IQM against training steps, 95% intervals",
                )
                for t, task in enumerate(curves.tasks)
            ]
        for name, matrices, title, caption in panels:
            c_points, c_ci = estimates.sample_efficiency(
                matrices, reps=opts.curve_reps, seed=opts.seed, engine=opts.engine
            )
            reason = intervals.too_few("IQM", n_min, next(iter(matrices.values())).shape[1])
            if reason is not None:  # no bands where their coverage does not hold
                c_ci = {a: np.stack([p, p]) for a, p in c_points.items()}
                caption = caption.split(", 95% intervals")[0] + f"; no intervals: {reason}"
            figure = plots.sample_efficiency(
                curves.steps,
                c_points,
                c_ci,
                xlabel=curves.step_label,
                ylabel=f"IQM {score_label}",
                title=title,
            )
            doc.figure(name, plots.save(figure, fig_dir, name), caption)
    except ValueError as err:
        notes.append(f"sample-efficiency curves skipped: {err}")
        curves = None

    # Steps to threshold: separates methods that all end solved.
    threshold = opts.speed_threshold
    if threshold is None and bounded:
        threshold = 0.9
    if threshold is not None:
        reached = sweep.steps_to_threshold(threshold, opts.speed_window, tasks=tasks)
        doc.h(f"Steps to reach {threshold:g}")
        doc.p(
            f"First logged step at which the mean score of the last {opts.speed_window} logs "
            f"reaches {threshold:g}, per seed (— = never); the median is over the seeds that "
            "reached it. Median of all seeds: a run that never reached it counts as never (∞), "
            "with a distribution-free 95% interval from order statistics (coverage ≥ 95% for "
            f"any distribution; it exists from {intervals.MEDIAN_STEPS_MIN_RUNS} runs). Mean "
            "over training: each run's mean logged score (the area under its learning curve "
            "per log), averaged over seeds. Every completed run counts."
        )
        speed_rows = []
        for alg, cells in reached.items():
            for task, runs in cells.items():
                hits = [s for _, s, _ in runs if s is not None]
                speed_rows.append(
                    [
                        alg,
                        task,
                        str(len(runs)),
                        f"{len(hits)}/{len(runs)}",
                        format_steps(int(np.median(hits))) if hits else "—",
                        _median_steps_cell([s for _, s, _ in runs]),
                        ", ".join(format_steps(s) for _, s, _ in runs),
                        f"{np.nanmean([m for _, _, m in runs]):.2f}",
                    ]
                )
        doc.table(
            [
                "Algorithm",
                "Task",
                "n",
                "Reached",
                "Median steps",
                "Median of all seeds [95% CI]",
                "Per seed",
                "Mean over training",
            ],
            speed_rows,
        )
    else:
        notes.append(
            "steps-to-threshold table skipped: raw returns have no default threshold "
            "(pass --speed-threshold)"
        )

    # Per-task table and seed variance.
    doc.h("Per-task scores (mean ± std across seeds)")
    doc.table(
        ["Task", *(f"{a} (n = {m.shape[0]})" for a, m in scores.items())],
        [
            [task]
            + [f"{scores[a][:, t].mean():.2f} ± {scores[a][:, t].std(ddof=1):.2f}" for a in scores]
            for t, task in enumerate(final.tasks)
        ],
    )
    doc.h("Seed variance")
    doc.p(
        "Mean over tasks of the standard deviation across seeds, and standard deviation across "
        "seeds of the mean score over tasks (Madaan et al. 2024, 'Quantifying Variance in "
        "Evaluation Benchmarks')."
    )
    var_rows = []
    for alg, m in scores.items():
        v = power.seed_variance(m)
        var_rows.append(
            [alg, str(m.shape[0]), f"{v['mean_task_std']:.3f}", f"{v['run_mean_std']:.3f}"]
        )
    doc.table(["Algorithm", "n", "Mean per-task std", "Std of run-mean score"], var_rows)

    # pass@k / pass^k where success is binary.
    binary = all(np.isin(m, (0.0, 1.0)).all() for m in scores.values())
    if sweep.metric == "success_rate" or binary:
        n_min = min(m.shape[0] for m in scores.values())
        ks = sorted({1, max(1, n_min // 2), n_min})
        doc.h("Optimistic and pessimistic success bounds")
        doc.p(
            f"A run succeeds when its score ≥ {opts.success_threshold}. pass@k: probability that "
            "at least one of k seeds succeeds (optimistic); pass^k: that all k succeed "
            "(pessimistic); unbiased estimates averaged over tasks ('On Randomness in Agentic Evals')."
        )
        doc.table(
            ["Algorithm", "n", *[f"pass@{k}" for k in ks], *[f"pass^{k}" for k in ks]],
            [
                [alg, str(m.shape[0])]
                + [f"{power.pass_at_k(m, k, opts.success_threshold):.2f}" for k in ks]
                + [f"{power.pass_hat_k(m, k, opts.success_threshold):.2f}" for k in ks]
                for alg, m in scores.items()
            ],
        )

    # Coverage (gridworlds).
    cov_set = None
    if sweep.coverage_tasks():
        try:
            cov_set = sweep.coverage(masks=opts.masks, algorithms=list(scores))
            cov = estimates.aggregate_estimates(
                cov_set.matrices,
                names=("Mean", "IQM"),
                reps=opts.reps,
                seed=opts.seed,
                engine="fast",
            )
            doc.h("Coverage (fraction of reachable cells visited)")
            doc.p(
                "Reachable cells: "
                + ("the provided mask, else " if opts.masks else "")
                + "those visited by any run of the task with the same env settings "
                "(env_kwargs). With a new layout every episode (contexts=0) one grid pools "
                "all layouts, so coverage there says little."
            )
            doc.table(
                ["Algorithm", "n", "Mean", "IQM"],
                [
                    [alg, str(cov_set.matrices[alg].shape[0])]
                    + [
                        interval_cell(
                            label,
                            cov.points[alg][i],
                            cov.intervals[alg][0, i],
                            cov.intervals[alg][1, i],
                            cov_set.matrices[alg].shape[0],
                            len(cov_set.tasks),
                        )
                        for i, label in enumerate(("Mean", "IQM"))
                    ]
                    for alg in cov.points
                ],
            )
            for task in cov_set.tasks:
                counts = sweep.visit_counts(task)
                maps = {
                    alg: np.mean(
                        [counts[n] for n in cov_set.run_names[alg][:, cov_set.tasks.index(task)]],
                        axis=0,
                    )
                    for alg in cov_set.matrices
                }
                name = _figure_name("coverage_", task)
                doc.figure(
                    name,
                    plots.save(plots.coverage_heatmaps(task, maps), fig_dir, name),
                    f"Mean state visitation on {task}",
                )
        except ValueError as err:
            notes.append(f"coverage skipped: {err}")

    _bonus_visits_section(doc, sweep, fig_dir, notes)
    _social_section(doc, sweep, fig_dir)
    _front_section(doc, sweep, opts, fig_dir, notes)

    # Power analysis.
    if opts.power:
        doc.h("Seeds needed (power analysis)")
        doc.p(
            f"Resampling the runs of each algorithm as a pilot: seeds per task needed to detect an "
            f"IQM difference of {opts.effect} and a probability of improvement of {opts.poi_effect} "
            f"with power {opts.target_power} (95% bootstrap interval excludes no effect), and the "
            "smallest effects this sweep's seeds detect with that power "
            "('On Randomness in Agentic Evals'; 'Quantifying Variance in Evaluation Benchmarks'). "
            "Seeds needed: with the pilot as it is [with its spread at either end of the 95% "
            "interval of the pilot's standard deviation] — the pilot's variance is itself "
            f"uncertain. Below {power.MIN_PILOT} pilot runs there is no variance worth sizing "
            f"from: the answer is to run at least {power.MIN_PILOT} seeds first."
        )
        power_rows = []
        for alg, m in scores.items():
            kw = {"sims": opts.sims, "reps": opts.power_reps, "seed": opts.seed}
            n_iqm = power.seeds_estimate(m, opts.effect, "iqm", opts.target_power, **kw)
            n_poi = power.seeds_estimate(m, opts.poi_effect, "poi", opts.target_power, **kw)
            if m.shape[0] < power.MIN_PILOT:
                mde_iqm = mde_poi = f"run at least {power.MIN_PILOT} seeds first"
            else:
                mde_kw = {
                    "sims": max(50, opts.sims // 2),
                    "reps": max(100, opts.power_reps // 2),
                    "seed": opts.seed,
                }
                mde_iqm = "{:.3f}".format(
                    power.minimum_detectable_effect(
                        m, metric="iqm", target_power=opts.target_power, **mde_kw
                    )
                )
                mde_poi = "{:.3f}".format(
                    power.minimum_detectable_effect(
                        m, metric="poi", target_power=opts.target_power, **mde_kw
                    )
                )
            power_rows.append([alg, str(m.shape[0]), n_iqm.text(), n_poi.text(), mde_iqm, mde_poi])
        doc.table(
            [
                "Algorithm (pilot)",
                "Seeds now",
                f"Seeds for ΔIQM={opts.effect} [range]",
                f"Seeds for P(X>Y)={opts.poi_effect} [range]",
                "Smallest ΔIQM detectable now",
                "Smallest P(X>Y) detectable now",
            ],
            power_rows,
        )
        if len(scores) > 1:
            doc.p(
                "Were these seeds enough for the effects seen? For each pair, the better "
                "algorithm X by P(X > Y): the power of this many seeds to find the difference "
                "observed between the two sets of runs (resampling both as pilots; detected = "
                "the 95% interval of P(X > Y) excludes 0.5), and the seeds that would reach "
                f"power {opts.target_power} [range from the pilots' variance]. 'Enough' is "
                "yes only when even the pessimistic end of that range is met."
            )
            doc.table(
                ["X", "Y", "P(X>Y) seen", "Seeds now", "Power now", "Enough?", "Seeds needed"],
                _observed_power_rows(scores, opts),
            )
    else:
        doc.p("Seeds-needed table: run `explore report --power` to add the power analysis.")

    # Provenance.
    prov = sweep.provenance()
    doc.h("Provenance")
    doc.table(
        ["Item", "Value"],
        [
            ["sweep.yaml SHA-256", prov["sweep_spec_sha256"] or "(no sweep.yaml)"],
            ["varied fields", ", ".join(sweep.varied_fields) or "(agent, bonus only)"],
            ["python", ", ".join(prov["python"]) or "?"],
            ["code fingerprints (runs)", ", ".join(prov["fingerprints"])],
            [
                "git commits (runs)",
                "; ".join(f"{c} ({n})" for c, n in prov["git_commits"].items()) or "?",
            ],
            *[[f"config hash: {a}", ", ".join(h)] for a, h in prov["config_hashes"].items()],
            *[[f"package {p}", ", ".join(v)] for p, v in prov["packages"].items()],
        ],
    )
    cells = sweep.runs_per_cell()
    doc.h("Completed runs per cell", 3)
    doc.table(["Algorithm", *sweep.tasks], [[a, *map(str, cells[a].values())] for a in cells])
    doc.h("Code and env version per cell", 3)
    doc.p(
        "Code fingerprint: a hash of the package sources that trained the run, its plugins' "
        "sources and the env version (docs/run_store.md). A cell pools runs of one code and "
        "one env version only, unless the report was made with --allow-mixed."
    )
    doc.table(
        ["Algorithm", "Task", "n", "Seeds", "Env version", "Code fingerprint"],
        [
            [
                c["algorithm"],
                c["task"],
                str(c["runs"]),
                ", ".join(map(str, c["seeds"])),
                ", ".join(c["env_versions"]),
                ", ".join(c["fingerprints"]),
            ]
            for c in prov["cells"]
        ],
    )
    missing = _missing_rows(sweep, [s for s in (final, curves, cov_set) if s is not None])
    doc.h("Runs missing or left out", 3)
    if missing:
        doc.table(["Run", "Reason"], missing)
    else:
        doc.p("None.")
    if notes:
        doc.h("Notes", 3)
        for note in notes:
            doc.p(note)

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.md").write_text(doc.markdown())
    (out_dir / "report.html").write_text(doc.html(title))
    files = [out_dir / "report.md", out_dir / "report.html", *sorted(fig_dir.iterdir())]
    if opts.latex:
        tex = out_dir / "aggregate.tex"
        tex.write_text(
            latex_table(headers, rows, f"Aggregate metrics on {sweep.path.name} (95\\% CIs).")
        )
        files.append(tex)
    return Report(out_dir, headers, rows, files, notes)
