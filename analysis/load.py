"""Reading a sweep directory (format: docs/run_store.md) into runs × tasks score matrices.

Only run files are read: ``config.yaml`` and ``sweep.yaml`` with ``yaml.safe_load``,
``metrics.parquet`` with pandas, ``coverage.npy`` with ``allow_pickle=False``. Nothing from
the training side is imported.

A score at step ``s`` is the last finite value logged at or before ``s`` (NaN rows mean "no
episode finished in this window" and are skipped, as the run-store contract says).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from analysis import metrics

__all__ = ["MO_SCORES", "Fronts", "Run", "ScoreSet", "Sweep", "front_score", "load", "read_fronts"]

SUCCESS_ALIASES = {"success", "success_rate"}
RETURN_ALIASES = {"return", "episode_return", "normalized_return", "normalised_return"}
# Config fields that identify a run rather than an algorithm; never part of the label.
BOOKKEEPING_FIELDS = {
    "seed",
    "seeds",
    "env",
    "envs",
    "name",
    "run_name",
    "run_dir",
    "out",
    "out_dir",
    "output_dir",
    "dir",
    "path",
    "hash",
    "config_hash",
    "sweep",
    "sweep_name",
    "tags",
    "notes",
    "device",
    "launcher",
}


@dataclass
class Run:
    """One completed run: where it is, what it is, and its score series."""

    name: str
    path: Path
    config: dict[str, Any]
    task: str
    seed: int
    algorithm: str = ""
    versions: dict[str, Any] = field(default_factory=dict)
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    has_coverage: bool = False

    @property
    def fingerprint(self) -> str | None:
        """The code fingerprint recorded in versions.json (None for runs that predate it)."""
        value = self.versions.get("fingerprint")
        return str(value) if value else None

    @property
    def env_version(self) -> int | None:
        """The env version recorded in config.yaml (None for runs that predate it)."""
        value = self.config.get("env_version")
        return int(value) if isinstance(value, int) else None

    @property
    def final_step(self) -> int | None:
        """Last step at which the score metric was logged (NaN rows included)."""
        return int(self.steps[-1]) if self.steps.size else None

    def value_at(self, step: int | None = None) -> float:
        """Last finite-or-infinite (non-NaN) score logged at or before ``step`` (NaN if none)."""
        if not self.steps.size:
            return math.nan
        upto = self.steps.size if step is None else np.searchsorted(self.steps, step, "right")
        vals = self.values[:upto]
        logged = vals[~np.isnan(vals)]
        return float(logged[-1]) if logged.size else math.nan


@dataclass
class ScoreSet:
    """Rectangular score matrices, one per algorithm, and what was left out of them.

    ``matrices[alg]`` is ``runs × tasks`` (or ``runs × tasks × steps`` for curves); row ``i``
    of task ``t`` is the ``i``-th lowest seed of that task, named in ``run_names[alg]``.
    ``excluded`` maps run name to reason (NaN/inf score); ``dropped`` maps run name to
    reason (left out to make the matrix rectangular); ``dropped_tasks`` lists tasks not
    run by every algorithm when ``tasks="common"``.
    """

    matrices: dict[str, np.ndarray]
    tasks: list[str]
    run_names: dict[str, np.ndarray]
    excluded: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    dropped_tasks: list[str] = field(default_factory=list)
    steps: np.ndarray | None = None
    step_label: str = "Environment steps"

    @property
    def algorithms(self) -> list[str]:
        """Algorithm names, in matrix order."""
        return list(self.matrices)

    def runs_per_task(self) -> dict[str, int]:
        """Number of runs (rows) per algorithm."""
        return {alg: int(m.shape[0]) for alg, m in self.matrices.items()}


@dataclass
class Sweep:
    """A loaded sweep: its completed runs, what was skipped, and the score definition."""

    path: Path
    spec: dict[str, Any]
    runs: list[Run]
    skipped: dict[str, str]
    score: str
    metric: str
    score_refs: dict[str, dict[str, float]]
    varied_fields: list[str]
    # Multi-objective sweeps: the hypervolume reference point of each task (sweep.yaml
    # ``score: {metric: hypervolume_fraction, ref_points: {task: [..]}}``).
    ref_points: dict[str, list[float]] = field(default_factory=dict)

    @property
    def algorithms(self) -> list[str]:
        """Algorithms present, sorted."""
        return sorted({r.algorithm for r in self.runs})

    @property
    def tasks(self) -> list[str]:
        """Tasks present, sorted."""
        return sorted({r.task for r in self.runs})

    @property
    def spec_hash(self) -> str | None:
        """SHA-256 (first 12 hex digits) of ``sweep.yaml`` as written, if present."""
        spec_file = self.path / "sweep.yaml"
        if not spec_file.is_file():
            return None
        return hashlib.sha256(spec_file.read_bytes()).hexdigest()[:12]

    def only_tasks(self, tasks: Sequence[str]) -> Sweep:
        """This sweep restricted to the runs of ``tasks`` (``ValueError`` naming close
        matches for a task with no completed run)."""
        present = self.tasks
        for task in tasks:
            if task not in present:
                # difflib directly: analysis imports nothing from the training side.
                close = difflib.get_close_matches(task, present, n=5, cutoff=0.4)
                hint = f" Did you mean: {', '.join(close)}?" if close else ""
                raise ValueError(
                    f"task {task!r} has no completed run in {self.path} "
                    f"(tasks: {', '.join(present)}).{hint}"
                )
        wanted = set(tasks)
        return replace(self, runs=[r for r in self.runs if r.task in wanted])

    def runs_per_cell(self) -> dict[str, dict[str, int]]:
        """``{algorithm: {task: number of completed runs}}``."""
        cells: dict[str, dict[str, int]] = {
            a: dict.fromkeys(self.tasks, 0) for a in self.algorithms
        }
        for run in self.runs:
            cells[run.algorithm][run.task] += 1
        return cells

    # ----------------------------------------------------------------- score matrices
    def _normalise(self, task: str, value: float) -> float:
        refs = self.score_refs.get(task)
        if refs is None:
            return value
        low, high = _ref_bounds(task, refs)
        return (value - low) / (high - low)

    def _normalised_values(self, run: Run) -> np.ndarray:
        """Every logged score of ``run``, normalised like :meth:`scores`."""
        return np.array([self._normalise(run.task, v) for v in run.values])

    def _check_refs(self, tasks: Iterable[str]) -> None:
        if self.score in RETURN_ALIASES:
            missing = sorted(t for t in tasks if t not in self.score_refs)
            if missing:
                raise ValueError(
                    f"score '{self.score}' needs per-task references (sweep.yaml "
                    f"score_refs: {{task: {{min: .., max: ..}}}}); missing for tasks {missing}"
                )

    def _select_tasks(
        self, by_alg: Mapping[str, Mapping[str, list[Run]]], tasks: str | Sequence[str] | None
    ) -> tuple[list[str], list[str]]:
        all_tasks = sorted({t for cells in by_alg.values() for t in cells})
        if tasks is not None and tasks != "common":
            unknown = sorted(set(tasks) - set(all_tasks))
            if unknown:
                raise ValueError(f"tasks {unknown} have no usable runs in {self.path}")
            chosen = list(tasks)
        else:
            chosen = all_tasks
        missing = {
            alg: sorted(t for t in chosen if not cells.get(t)) for alg, cells in by_alg.items()
        }
        missing = {a: m for a, m in missing.items() if m}
        if not missing:
            return chosen, []
        if tasks == "common":
            dropped = sorted({t for m in missing.values() for t in m})
            kept = [t for t in chosen if t not in dropped]
            if not kept:
                raise ValueError(f"no task is run by every algorithm in {self.path}")
            return kept, dropped
        detail = "; ".join(f"{alg} lacks {m}" for alg, m in sorted(missing.items()))
        raise ValueError(
            f"algorithms have different tasks in {self.path}: {detail} "
            "(pass tasks='common' / --common-tasks to keep only shared tasks)"
        )

    def _group(self, algorithms: Sequence[str] | None) -> dict[str, dict[str, list[Run]]]:
        chosen = list(algorithms) if algorithms is not None else self.algorithms
        unknown = sorted(set(chosen) - set(self.algorithms))
        if unknown:
            raise ValueError(f"unknown algorithms {unknown}; known: {self.algorithms}")
        by_alg: dict[str, dict[str, list[Run]]] = {a: defaultdict(list) for a in chosen}
        for run in self.runs:
            if run.algorithm in by_alg:
                by_alg[run.algorithm][run.task].append(run)
        return by_alg

    def _rectangular(
        self,
        by_alg: Mapping[str, Mapping[str, list[Run]]],
        tasks: list[str],
        value_of: Any,
        excluded: dict[str, str],
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, str]]:
        """Stack per-run values into matrices; runs with a NaN/inf value are excluded."""
        matrices: dict[str, np.ndarray] = {}
        names: dict[str, np.ndarray] = {}
        dropped: dict[str, str] = {}
        for alg, cells in by_alg.items():
            columns: list[list[tuple[Run, np.ndarray]]] = []
            for task in tasks:
                kept = []
                for run in sorted(cells.get(task, []), key=lambda r: (r.seed, r.name)):
                    value = np.asarray(value_of(run), dtype=np.float64)
                    if not np.all(np.isfinite(value)):
                        excluded[run.name] = (
                            "NaN score (no finite value logged)"
                            if np.any(np.isnan(value))
                            else "infinite score"
                        )
                        continue
                    kept.append((run, value))
                columns.append(kept)
            empty = [t for t, col in zip(tasks, columns, strict=True) if not col]
            if empty:
                names_excluded = sorted(
                    r.name for t in empty for r in cells.get(t, []) if r.name in excluded
                )
                raise ValueError(
                    f"{alg}: no usable run left on tasks {empty} "
                    f"(excluded for NaN/inf scores: {names_excluded})"
                )
            n = min(len(col) for col in columns)
            for task, col in zip(tasks, columns, strict=True):
                for run, _ in col[n:]:
                    # rliable needs rectangular matrices: equal runs per task per algorithm.
                    dropped[run.name] = (
                        f"{alg} has only {n} usable runs on some task ({task} has {len(col)})"
                    )
            matrices[alg] = np.stack([np.stack([v for _, v in col[:n]]) for col in columns], axis=1)
            names[alg] = np.array([[r.name for r, _ in col[:n]] for col in columns]).T
        if excluded:
            warnings.warn(f"excluded runs with NaN/inf scores: {sorted(excluded)}", stacklevel=3)
        return matrices, names, dropped

    def scores(
        self,
        step: int | None = None,
        tasks: str | Sequence[str] | None = None,
        algorithms: Sequence[str] | None = None,
        over_training: bool = False,
    ) -> ScoreSet:
        """Runs × tasks score matrices at the final step (``step=None``) or at ``step``.

        ``over_training=True`` scores each run by its mean logged score over the whole run
        (:func:`analysis.metrics.mean_over_training`, the area under its learning curve per
        log) instead of one step; it needs ``step=None``.
        ``tasks="common"`` keeps the tasks every algorithm has runs on (the rest are listed
        in ``dropped_tasks``); otherwise differing tasks raise ``ValueError``. Runs of one
        task must end at the same step (else ``ValueError`` naming them). Runs whose score
        is NaN or infinite are excluded and listed in ``excluded``.
        """
        if over_training and step is not None:
            raise ValueError("step and over_training exclude each other (--step, --over-training)")
        by_alg = self._group(algorithms)
        chosen, dropped_tasks = self._select_tasks(by_alg, tasks)
        self._check_refs(chosen)
        runs = [r for cells in by_alg.values() for t in chosen for r in cells.get(t, [])]
        if step is None:
            _check_final_steps(runs)
        else:
            short = sorted(
                f"{r.name} (last step {r.final_step})"
                for r in runs
                if r.final_step is None or r.final_step < step
            )
            if short:
                raise ValueError(f"mismatched steps: runs never reached step {step}: {short}")
        excluded: dict[str, str] = {}

        def score(run: Run) -> float:
            if over_training:
                return metrics.mean_over_training(self._normalised_values(run))
            return self._normalise(run.task, run.value_at(step))

        matrices, names, dropped = self._rectangular(by_alg, chosen, score, excluded)
        return ScoreSet(matrices, chosen, names, excluded, dropped, dropped_tasks)

    def curves(
        self,
        num_points: int = 25,
        tasks: str | Sequence[str] | None = None,
        algorithms: Sequence[str] | None = None,
    ) -> ScoreSet:
        """Runs × tasks × steps score matrices for sample-efficiency curves.

        If every task has the same budget the grid is the logged steps (thinned to at most
        ``num_points``); otherwise it is ``num_points`` fractions of each task's budget
        and ``step_label`` says so.
        """
        by_alg = self._group(algorithms)
        chosen, dropped_tasks = self._select_tasks(by_alg, tasks)
        self._check_refs(chosen)
        runs = [r for cells in by_alg.values() for t in chosen for r in cells.get(t, [])]
        finals = _check_final_steps(runs)
        budgets = {finals[t] for t in chosen}
        if len(budgets) == 1:
            logged = np.unique(np.concatenate([r.steps for r in runs]))
            if logged.size > num_points:
                picks = np.unique(np.round(np.linspace(0, logged.size - 1, num_points)).astype(int))
                logged = logged[picks]
            steps = logged
            grid = {t: logged for t in chosen}
            label = "Environment steps"
        else:
            steps = np.linspace(1.0 / num_points, 1.0, num_points)
            grid = {t: np.round(steps * finals[t]).astype(np.int64) for t in chosen}
            label = "Fraction of the training budget"
        excluded: dict[str, str] = {}

        def curve(run: Run) -> np.ndarray:
            vals = np.array([run.value_at(int(s)) for s in grid[run.task]])
            # The start of a curve may precede the first finished episode: score it as the
            # first logged value rather than discard the run.
            first = np.flatnonzero(~np.isnan(vals))
            if first.size:
                vals[: first[0]] = vals[first[0]]
            return np.array([self._normalise(run.task, v) for v in vals])

        matrices, names, dropped = self._rectangular(by_alg, chosen, curve, excluded)
        return ScoreSet(
            matrices, chosen, names, excluded, dropped, dropped_tasks, np.asarray(steps), label
        )

    def steps_to_threshold(
        self,
        threshold: float = 0.9,
        window: int = 3,
        tasks: str | Sequence[str] | None = None,
        algorithms: Sequence[str] | None = None,
    ) -> dict[str, dict[str, list[tuple[str, int | None, float]]]]:
        """Per algorithm and task, each run's first step where its smoothed score reaches
        ``threshold`` (``None`` = never) and its mean score over training.

        Scores are normalised like :meth:`scores`; the definitions are
        :func:`analysis.metrics.steps_to_threshold` and
        :func:`analysis.metrics.mean_over_training`. Every completed run counts (no
        rectangular trimming); runs are listed by seed.
        """
        by_alg = self._group(algorithms)
        chosen, _ = self._select_tasks(by_alg, tasks)
        self._check_refs(chosen)
        out: dict[str, dict[str, list[tuple[str, int | None, float]]]] = {}
        for alg, cells in by_alg.items():
            out[alg] = {}
            for task in chosen:
                runs = sorted(cells.get(task, []), key=lambda r: (r.seed, r.name))
                rows = []
                for run in runs:
                    values = self._normalised_values(run)
                    rows.append(
                        (
                            run.name,
                            metrics.steps_to_threshold(run.steps, values, threshold, window),
                            metrics.mean_over_training(values),
                        )
                    )
                out[alg][task] = rows
        return out

    # ----------------------------------------------------------------------- coverage
    def coverage_tasks(self) -> list[str]:
        """Tasks whose every run has ``coverage.npy`` (gridworlds)."""
        by_task: dict[str, list[Run]] = defaultdict(list)
        for run in self.runs:
            by_task[run.task].append(run)
        return sorted(t for t, rs in by_task.items() if all(r.has_coverage for r in rs))

    def visit_counts(self, task: str) -> dict[str, np.ndarray]:
        """``{run name: visit-count grid}`` for one task; shapes must agree."""
        counts = {
            r.name: np.load(r.path / "coverage.npy", allow_pickle=False)
            for r in self.runs
            if r.task == task and r.has_coverage
        }
        shapes = Counter(c.shape for c in counts.values())
        if len(shapes) > 1:
            common = shapes.most_common(1)[0][0]
            odd = sorted(f"{n} {c.shape}" for n, c in counts.items() if c.shape != common)
            raise ValueError(
                f"coverage.npy shapes differ on task {task}: expected {common}, got {odd}"
            )
        return counts

    def reachable(self, task: str, mask: np.ndarray | None = None) -> np.ndarray:
        """Reachable cells: ``mask`` if given, else cells ever visited by any run of the task
        (pooling env settings; :meth:`coverage` pools only runs with the same ``env_kwargs``)."""
        return _reachable(self.visit_counts(task).values(), mask)

    def coverage(
        self,
        masks: Mapping[str, np.ndarray] | None = None,
        algorithms: Sequence[str] | None = None,
    ) -> ScoreSet:
        """Runs × tasks matrices of coverage: fraction of reachable cells a run visited."""
        tasks = self.coverage_tasks()
        if not tasks:
            raise ValueError(f"no task in {self.path} has coverage.npy for all its runs")
        fractions: dict[str, float] = {}
        env_of = {r.name: _env_settings(r.config) for r in self.runs}
        for task in tasks:
            counts = self.visit_counts(task)
            mask = (masks or {}).get(task)
            # Without a mask, reachable = visited by a run of the same env settings: a sweep
            # over env.contexts (one layout vs a new one each episode) or noisy_tv has
            # different reachable sets under one task name.
            for settings in sorted({env_of[n] for n in counts}):
                group = {n: c for n, c in counts.items() if env_of[n] == settings}
                reach = _reachable(group.values(), mask)
                n_reach = int(reach.sum())
                for name, c in group.items():
                    if c.shape != reach.shape:
                        raise ValueError(
                            f"coverage mask for {task} has shape {reach.shape}, run {name} {c.shape}"
                        )
                    fractions[name] = (
                        float(np.count_nonzero((c > 0) & reach)) / n_reach if n_reach else math.nan
                    )
        by_alg = self._group(algorithms)
        by_alg = {a: {t: cells[t] for t in tasks if t in cells} for a, cells in by_alg.items()}
        chosen, dropped_tasks = self._select_tasks(by_alg, "common")
        excluded: dict[str, str] = {}
        matrices, names, dropped = self._rectangular(
            by_alg, chosen, lambda r: fractions[r.name], excluded
        )
        return ScoreSet(matrices, chosen, names, excluded, dropped, dropped_tasks)

    # --------------------------------------------------------------------- provenance
    def cells(self) -> dict[tuple[str, str], list[Run]]:
        """``{(algorithm, task): runs}``, runs sorted by seed."""
        out: dict[tuple[str, str], list[Run]] = defaultdict(list)
        for run in sorted(self.runs, key=lambda r: (r.algorithm, r.task, r.seed, r.name)):
            out[(run.algorithm, run.task)].append(run)
        return dict(out)

    def mixed_cells(self) -> list[str]:
        """One line per cell whose runs were made by different code or env versions, naming
        the runs of each version (empty when every cell is homogeneous)."""
        lines = []
        for (alg, task), runs in self.cells().items():
            for what, key in (
                (
                    "env versions",
                    lambda r: f"v{r.env_version}" if r.env_version is not None else "v?",
                ),
                ("code", lambda r: r.fingerprint or "no fingerprint"),
            ):
                groups: dict[str, list[str]] = defaultdict(list)
                for run in runs:
                    groups[key(run)].append(run.name)
                if len(groups) > 1:
                    named = "; ".join(
                        f"{version}: {', '.join(names[:3])}"
                        + (f" (+{len(names) - 3} more)" if len(names) > 3 else "")
                        for version, names in sorted(groups.items())
                    )
                    lines.append(f"{alg} on {task} mixes runs of different {what} ({named})")
        return lines

    def provenance(self) -> dict[str, Any]:
        """Versions, commits and config hashes of the runs (for the report)."""
        packages: dict[str, set[str]] = defaultdict(set)
        commits: Counter[str] = Counter()
        pythons: set[str] = set()
        for run in self.runs:
            v = run.versions
            if v.get("python"):
                pythons.add(str(v["python"]))
            for pkg, ver in (v.get("packages") or {}).items():
                packages[pkg].add(str(ver))
            if v.get("git_commit"):
                commit = str(v["git_commit"]) + (" (dirty)" if v.get("git_dirty") else "")
                commits[commit] += 1
        config_hashes: dict[str, set[str]] = defaultdict(set)
        for run in self.runs:
            config_hashes[run.algorithm].add(_config_hash(run.config))
        cells = []
        for (alg, task), runs in self.cells().items():
            cells.append(
                {
                    "algorithm": alg,
                    "task": task,
                    "runs": len(runs),
                    "seeds": [r.seed for r in runs],
                    "env_versions": sorted(
                        {"?" if r.env_version is None else str(r.env_version) for r in runs}
                    ),
                    "fingerprints": sorted({r.fingerprint or "none recorded" for r in runs}),
                }
            )
        return {
            "cells": cells,
            "fingerprints": sorted({r.fingerprint or "none recorded" for r in self.runs}),
            "sweep_spec_sha256": self.spec_hash,
            "python": sorted(pythons),
            "packages": {p: sorted(v) for p, v in sorted(packages.items())},
            "git_commits": dict(commits),
            "config_hashes": {a: sorted(h) for a, h in sorted(config_hashes.items())},
        }


def _reachable(counts: Iterable[np.ndarray], mask: np.ndarray | None) -> np.ndarray:
    """``mask`` if given, else the cells any of these visit-count grids visited."""
    if mask is not None:
        return np.asarray(mask, dtype=bool)
    return np.logical_or.reduce([c > 0 for c in counts])


def _env_settings(config: Mapping[str, Any]) -> str:
    """The environment's keyword settings of a run (``env_kwargs``), as a canonical string."""
    return json.dumps(config.get("env_kwargs") or {}, sort_keys=True, default=str)


def _config_hash(config: Mapping[str, Any]) -> str:
    """Hash of a run config without seed and env: equal for all runs of one algorithm."""
    body = {k: v for k, v in config.items() if k not in ("seed", "env")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _check_final_steps(runs: Sequence[Run]) -> dict[str, int]:
    """Within each task every run must end at the same step; returns task → final step."""
    by_task: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        by_task[run.task].append(run)
    finals: dict[str, int] = {}
    problems = []
    for task, rs in sorted(by_task.items()):
        counts = Counter(r.final_step for r in rs)
        common = counts.most_common(1)[0][0]
        odd = sorted(f"{r.name} (last step {r.final_step})" for r in rs if r.final_step != common)
        if odd:
            problems.append(f"task {task}: most runs end at step {common}, but {odd}")
        finals[task] = common
    if problems:
        raise ValueError(
            "mismatched steps: " + "; ".join(problems) + " (pass a step to compare at)"
        )
    return finals


def _ref_bounds(task: str, refs: Mapping[str, Any]) -> tuple[float, float]:
    low = next((refs[k] for k in ("min", "random", "low") if k in refs), None)
    high = next((refs[k] for k in ("max", "optimal", "high") if k in refs), None)
    if low is None or high is None:
        raise ValueError(
            f"score_refs for task {task} need min/max (or random/optimal), got {dict(refs)}"
        )
    low, high = float(low), float(high)
    if not high > low:
        raise ValueError(f"score_refs for task {task}: max {high} must exceed min {low}")
    return low, high


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config → ``{"ppo.int_coef": "0.5", ...}`` (leaf values as JSON text)."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_config(value, name + "."))
        else:
            flat[name] = json.dumps(value, sort_keys=True, default=str)
    return flat


def _declared_grid(spec: Mapping[str, Any]) -> set[str] | None:
    """Fields a sweep spec varies: the keys of ``grid:`` or top-level keys holding lists."""
    if not spec:
        return None
    grid = spec.get("grid")
    source = grid if isinstance(grid, Mapping) else spec
    fields = {k for k, v in source.items() if isinstance(v, list) or source is grid}
    if source is grid:  # a bundle axis (a list of mappings) varies the fields it lists
        for key, values in grid.items():
            if isinstance(values, list) and values and all(isinstance(v, Mapping) for v in values):
                fields.discard(key)
                fields |= {str(k) for v in values for k in v}
    fields -= BOOKKEEPING_FIELDS | {"score", "score_refs", "agent", "bonus"}
    # Sweep keys use the `explore train` spelling: env.X / bonus.X are config.yaml's
    # env_kwargs.X / bonus_kwargs.X, and a bare PPO field (lr) is ppo.lr.
    aliases = {"env.": "env_kwargs.", "bonus.": "bonus_kwargs."}
    for key in list(fields):
        head = next((h for h in aliases if key.startswith(h)), None)
        if head:
            fields.add(aliases[head] + key[len(head) :])
        elif "." not in key:
            fields.add(f"ppo.{key}")
    return fields if grid is not None or fields else None


def _assign_algorithms(runs: list[Run], spec: Mapping[str, Any]) -> list[str]:
    """Label runs ``agent+bonus`` plus every field varied beyond env and seed."""
    flats = {r.name: flatten_config(r.config) for r in runs}
    declared = _declared_grid(spec)
    groups: dict[tuple[str, str, str], list[Run]] = defaultdict(list)
    for r in runs:
        groups[(str(r.config.get("agent")), str(r.config.get("bonus")), r.task)].append(r)
    varied: set[str] = set()
    for members in groups.values():
        keys = set().union(*(flats[m.name] for m in members))
        for key in keys:
            top = key.split(".")[0]
            if top in BOOKKEEPING_FIELDS or "seed" in key or top in ("agent", "bonus"):
                continue
            if declared is not None and top not in declared and key not in declared:
                continue
            if len({flats[m.name].get(key) for m in members}) > 1:
                varied.add(key)
    fields = sorted(varied)
    for r in runs:
        base = f"{r.config.get('agent', '?')}+{r.config.get('bonus', 'none')}"
        extras = [
            f"{k}={json.loads(flats[r.name][k]) if k in flats[r.name] else '-'}" for k in fields
        ]
        r.algorithm = " ".join([base, *extras])
    return fields


def _read_yaml(path: Path) -> Any:
    with open(path) as handle:
        return yaml.safe_load(handle)


def _score_definition(
    spec: Mapping[str, Any], score: str | None, score_refs: Mapping[str, Any] | None
) -> tuple[str, str, dict[str, dict[str, float]]]:
    spec_score = spec.get("score")
    refs = spec.get("score_refs") or {}
    if isinstance(spec_score, Mapping):  # score: {metric: .., refs: ..}
        refs = spec_score.get("refs", refs) or {}
        spec_score = spec_score.get("metric") or spec_score.get("name")
    name = score or spec_score or "success_rate"
    if score_refs is not None:
        refs = score_refs
    if not isinstance(refs, Mapping):
        raise ValueError(f"score_refs must map task to {{min, max}}, got {refs!r}")
    metric = (
        "success_rate"
        if name in SUCCESS_ALIASES
        else "episode_return"
        if name in RETURN_ALIASES
        else str(name)
    )
    return str(name), metric, {str(t): dict(r) for t, r in refs.items()}


# --------------------------------------------------------------- multi-objective fronts
#: Scores of a multi-objective run's front, computed from the ``front/*`` rows it logs
#: (agents/mo_ppo.py: ``front/w<i>/obj<k>`` each weight's policy's value vector from greedy
#: evaluation episodes, ``front/true/p<j>/obj<k>`` the env's true front). Definitions:
#: analysis.multiobjective.
MO_SCORES = {
    "hypervolume": "hypervolume of the policies' value vectors above the task's reference point",
    "hypervolume_fraction": "hypervolume as a fraction of the true front's (same reference point)",
    "eum": "expected utility: mean over 100 simplex weights of the best w·v",
    "igd": "inverted generational distance to the true front (lower is better)",
    "max_utility_loss": "largest utility gap to the true front over the EUM weights (lower is better)",
    "cardinality": "number of distinct non-dominated value vectors",
}
#: Size of the fixed weight set of EUM and MUL (analysis.multiobjective.weight_set's scheme).
EUM_WEIGHT_COUNT = 100
_FRONT_ROW = re.compile(r"^front/(w|true/p)(\d+)/(obj|weight)(\d+)$")


@dataclass
class Fronts:
    """The fronts a multi-objective run logged: one set of value vectors per logged step."""

    steps: np.ndarray  # [S]
    points: np.ndarray  # [S, W, m]: weight i's policy's value vector at each step
    weights: np.ndarray | None  # [W, m]: the weight each policy was trained for
    true_front: np.ndarray | None  # [k, m]: the env's known front (None when unknown)


def read_fronts(metrics_file: str | Path) -> Fronts | None:
    """The ``front/*`` rows of a run's ``metrics.parquet`` as arrays (None if it has none)."""
    import pandas as pd

    frame = pd.read_parquet(metrics_file, columns=["step", "metric", "value"])
    frame = frame[frame["metric"].str.startswith("front/")]
    if frame.empty:
        return None
    parts = frame["metric"].str.extract(_FRONT_ROW.pattern)
    frame = frame.assign(kind=parts[0], index=parts[1], field=parts[2], k=parts[3]).dropna()
    own = frame[(frame["kind"] == "w") & (frame["field"] == "obj")]
    if own.empty:
        return None
    own = own.astype({"index": int, "k": int})
    steps = np.sort(own["step"].unique())
    n_w, m = own["index"].max() + 1, own["k"].max() + 1
    points = np.full((steps.size, n_w, m), np.nan)
    rows = np.searchsorted(steps, own["step"].to_numpy())
    points[rows, own["index"].to_numpy(), own["k"].to_numpy()] = own["value"].to_numpy()

    def last_table(kind: str, field_name: str) -> np.ndarray | None:
        sub = frame[(frame["kind"] == kind) & (frame["field"] == field_name)]
        if sub.empty:
            return None
        sub = sub[sub["step"] == sub["step"].max()].astype({"index": int, "k": int})
        table = np.full((sub["index"].max() + 1, sub["k"].max() + 1), np.nan)
        table[sub["index"].to_numpy(), sub["k"].to_numpy()] = sub["value"].to_numpy()
        return table

    return Fronts(steps, points, last_table("w", "weight"), last_table("true/p", "obj"))


def front_score(
    name: str, points: np.ndarray, true_front: np.ndarray | None, ref: Sequence[float] | None
) -> float:
    """One :data:`MO_SCORES` score of a set of value vectors ``[W, m]``.

    Hypervolumes drop points below ``ref`` (they add no volume); the true front must lie
    above ``ref`` (else ``ValueError``: the reference point would not measure it).
    """
    from analysis import multiobjective as mo

    if name not in MO_SCORES:
        raise ValueError(f"unknown front score {name!r}; known: {', '.join(MO_SCORES)}")
    points = np.asarray(points, np.float64)
    # A weight missing at a step (NaN row) has no point there.
    points = points[np.isfinite(points).all(axis=1)]
    if not len(points):
        return math.nan
    if name in ("hypervolume", "hypervolume_fraction"):
        if ref is None:
            raise ValueError(
                f"score {name!r} needs a reference point per task: sweep.yaml "
                f"score: {{metric: {name}, ref_points: {{<task>: [..]}}}}"
            )
        hv = mo.hypervolume(points, ref, strict=False)
        if name == "hypervolume":
            return hv
        if true_front is None:
            raise ValueError(f"score {name!r} needs the true front (this env has none)")
        return hv / mo.hypervolume(true_front, ref)
    if name == "cardinality":
        return float(mo.cardinality(points))
    weights = mo.weight_set(points.shape[1], EUM_WEIGHT_COUNT)
    if name == "eum":
        return mo.expected_utility(points, weights)
    if true_front is None:
        raise ValueError(f"score {name!r} needs the true front (this env has none)")
    if name == "igd":
        return mo.igd(points, true_front)
    return mo.max_utility_loss(points, true_front, weights)


def _front_series(
    path: Path, metric: str, ref: Sequence[float] | None
) -> tuple[np.ndarray, np.ndarray] | None:
    fronts = read_fronts(path)
    if fronts is None:
        return None
    values = np.array([front_score(metric, p, fronts.true_front, ref) for p in fronts.points])
    return fronts.steps.astype(np.int64), values


def _ref_points(spec: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, list]:
    score = spec.get("score")
    refs = override if override is not None else {}
    if override is None and isinstance(score, Mapping):
        refs = score.get("ref_points") or {}
    if not isinstance(refs, Mapping):
        raise ValueError(f"ref_points must map task to a reference point [..], got {refs!r}")
    out = {}
    for task, point in refs.items():
        values = np.asarray(point, dtype=np.float64).reshape(-1)
        if not values.size or not np.all(np.isfinite(values)):
            raise ValueError(f"ref_points for task {task}: expected finite numbers, got {point!r}")
        out[str(task)] = values.tolist()
    return out


def _read_series(
    path: Path, metric: str, ref: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    import pandas as pd

    frame = pd.read_parquet(path, columns=["step", "metric", "value"])
    rows = frame[frame["metric"] == metric]
    if rows.empty:
        if metric in MO_SCORES:
            return _front_series(path, metric, ref)
        return None
    rows = rows.sort_values("step", kind="stable")
    return rows["step"].to_numpy(np.int64), rows["value"].to_numpy(np.float64)


def load(
    path: str | Path,
    score: str | None = None,
    score_refs: Mapping[str, Mapping[str, float]] | None = None,
    warn: bool = True,
    ref_points: Mapping[str, Sequence[float]] | None = None,
) -> Sweep:
    """Read every completed run of a sweep directory.

    Runs that are running, failed, unreadable or lack the score metric are skipped (listed
    in ``Sweep.skipped``, and named in a warning). ``score`` (default: sweep.yaml
    ``score:``, else ``success_rate``) is ``success_rate``, ``return`` (normalised with
    per-task ``score_refs`` ``{task: {min, max}}`` or ``{random, optimal}``) or any logged
    metric name. Multi-objective runs also have the :data:`MO_SCORES` (``hypervolume``,
    ``hypervolume_fraction``, ``eum``, ...), computed from their logged fronts; hypervolumes
    use ``ref_points`` ``{task: [..]}`` (default: sweep.yaml ``score: {ref_points: ..}``).
    Raises ``ValueError`` for a missing/empty directory or no completed run.
    """
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"{root}: no such sweep directory")
    spec_file = root / "sweep.yaml"
    spec = (_read_yaml(spec_file) or {}) if spec_file.is_file() else {}
    if not isinstance(spec, dict):
        raise ValueError(f"{spec_file}: expected a mapping, got {type(spec).__name__}")
    name, metric, refs = _score_definition(spec, score, score_refs)
    for task, r in refs.items():
        _ref_bounds(task, r)
    mo_refs = _ref_points(spec, ref_points)

    run_dirs = sorted(
        d
        for d in root.iterdir()
        if d.is_dir() and ((d / "status.json").exists() or (d / "config.yaml").exists())
    )
    if not run_dirs:
        raise ValueError(f"{root}: no run directories (expected <run>/status.json)")
    runs: list[Run] = []
    skipped: dict[str, str] = {}
    for d in run_dirs:
        try:
            status = json.loads((d / "status.json").read_text())
        except (OSError, ValueError) as err:
            skipped[d.name] = f"unreadable status.json ({err.__class__.__name__})"
            continue
        if not isinstance(status, dict):  # valid JSON, but `[]`, `null` or `"completed"`
            skipped[d.name] = (
                f"unreadable status.json (not a JSON object: {json.dumps(status)[:40]})"
            )
            continue
        state = status.get("status")
        if state != "completed":
            error = f": {status['error']}" if status.get("error") else ""
            skipped[d.name] = f"{state}{error}"
            continue
        try:
            config = _read_yaml(d / "config.yaml") or {}
            series = _read_series(
                d / "metrics.parquet", metric, mo_refs.get(str(config.get("env")))
            )
        except (OSError, ValueError, yaml.YAMLError, ImportError) as err:
            skipped[d.name] = f"unreadable run files ({err})"
            continue
        if "env" not in config:
            skipped[d.name] = "config.yaml has no env"
            continue
        if series is None:
            skipped[d.name] = f"metric {metric!r} never logged"
            continue
        versions: dict[str, Any] = {}
        if (d / "versions.json").is_file():
            try:
                versions = json.loads((d / "versions.json").read_text())
            except ValueError:
                versions = {}
        runs.append(
            Run(
                name=d.name,
                path=d,
                config=config,
                task=str(config["env"]),
                seed=int(config.get("seed", 0)),
                versions=versions,
                steps=series[0],
                values=series[1],
                has_coverage=(d / "coverage.npy").is_file(),
            )
        )
    if skipped and warn:
        warnings.warn(
            f"{root}: skipped {len(skipped)} runs: "
            + ", ".join(f"{n} ({why})" for n, why in skipped.items()),
            stacklevel=2,
        )
    if not runs:
        raise ValueError(
            f"{root}: no completed run with metric {metric!r} "
            f"(skipped: {', '.join(f'{n} ({w})' for n, w in skipped.items())})"
        )
    fields = _assign_algorithms(runs, spec)
    return Sweep(root, spec, runs, skipped, name, metric, refs, fields, mo_refs)
