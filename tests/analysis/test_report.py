"""``explore report``: files, content, terminal table and one-line errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import make_sweep, write_run

from analysis import plots
from analysis.report import ReportOptions, build_report, format_interval, latex_table
from explore.cli import main

FAST = {"reps": 300, "profile_reps": 200, "curve_reps": 200, "sims": 20, "power_reps": 50}


def test_report_files_and_content(tmp_path):
    # 20 seeds: enough for every aggregate's interval at 3 tasks (analysis.intervals.MIN_RUNS).
    sweep = make_sweep(tmp_path / "sweep", coverage=True, seeds=20)
    write_run(sweep, "A", "rnd", 29, [0.1], status="failed")
    out = tmp_path / "report"
    report = build_report(sweep, out, ReportOptions(power=True, latex=True, **FAST))
    assert any("s29 (failed: boom)" in note for note in report.notes)  # the warning, kept
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    for name in ("aggregates", "poi", "profiles", "sample_efficiency", "coverage_A"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
        assert (out / "figures" / f"{name}.svg").exists()
    # With several tasks, one learning-curve figure per task besides the aggregate.
    for name in ("sample_efficiency_A", "sample_efficiency_B", "sample_efficiency_C"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
        assert (out / "figures" / f"{name}.svg").exists()
    # Aggregate table cells read "x.xx [lo, hi]".
    assert report.headers == [
        "Algorithm",
        "n (runs/task)",
        "IQM",
        "Median",
        "Mean",
        "Optimality Gap",
    ]
    assert all(
        re.fullmatch(r"-?\d\.\d\d \[-?\d\.\d\d, -?\d\.\d\d\]", c)
        for r in report.rows
        for c in r[2:]
    )
    for section in (
        "Aggregate metrics",
        "Probability of improvement",
        "Seeds needed",
        "Coverage",
        "pass@1",
        "Provenance",
        "abc123",
        "Runs missing",
        "failed: boom",
        "jax",
    ):
        assert section in md, section
        assert section.replace("&", "&amp;") in html, section
    # Self-contained: every image is embedded, none is linked.
    # Four aggregate figures, one learning curve and one coverage map per task.
    assert html.count("data:image/png;base64,") == 4 + 3 + 3
    assert 'src="figures' not in html
    assert "\\begin{tabular}" in (out / "aggregate.tex").read_text()


def test_cli_report_prints_table(tmp_path, capsys):
    sweep = make_sweep(tmp_path / "sweep")
    rc = main(["report", str(sweep), "--out", str(tmp_path / "r"), "--reps", "200"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "IQM" in printed and "ppo+rnd" in printed
    assert (tmp_path / "r" / "report.html").exists()


@pytest.mark.parametrize("case", ["missing", "empty", "single_seed", "tasks"])
def test_cli_bad_input_is_one_line(tmp_path, capsys, case):
    path = tmp_path / "sweep"
    if case == "empty":
        path.mkdir()
    elif case == "single_seed":
        make_sweep(path, seeds=1)
    elif case == "tasks":
        make_sweep(path, bonuses=("rnd",), envs=("A", "B"))
        for seed in range(2):
            write_run(path, "A", "e3b", seed, np.linspace(0, 1, 5))
    rc = main(["report", str(path), "--out", str(tmp_path / "r"), "--reps", "50"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.startswith("explore report: error:") and "\n" not in err
    expected = {
        "missing": "no such sweep directory",
        "empty": "no run directories",
        "single_seed": "only 1 run per task",
        "tasks": "lacks ['B']",
    }[case]
    assert expected in err


def test_common_tasks_flag(tmp_path, capsys):
    path = make_sweep(tmp_path / "sweep", bonuses=("rnd",), envs=("A", "B"))
    for seed in range(3):
        write_run(path, "A", "e3b", seed, np.linspace(0, 1, 5))
    rc = main(["report", str(path), "--out", str(tmp_path / "r"), "--reps", "50", "--common-tasks"])
    assert rc == 0
    assert "task B" in (tmp_path / "r" / "report.md").read_text()


def test_formatting_helpers():
    assert format_interval(0.5, 0.25, 0.75) == "0.50 [0.25, 0.75]"
    tex = latex_table(["Algorithm", "IQM"], [["ppo+rnd", "0.50 [0.25, 0.75]"]], "cap")
    assert r"0.50\,{\scriptsize[0.25, 0.75]}" in tex


def test_steps_to_threshold_table(tmp_path, capsys):
    path = tmp_path / "sweep"
    steps = [1000, 2000, 3000, 4000, 5000]
    # rnd: seed 0 solves at 3 k (three logs at 1.0), seed 1 at 5 k, seed 2 never.
    for seed, values in enumerate([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1], [0, 1, 0, 1, 0]]):
        write_run(path, "A", "rnd", seed, values, steps)
    for seed in range(3):
        write_run(path, "A", "e3b", seed, [0, 0, 0, 0, 0], steps)
    out = tmp_path / "r"
    build_report(path, out, ReportOptions(**FAST))
    md = (out / "report.md").read_text()
    assert "Steps to reach 0.9" in md
    # n per cell; the median over every seed (never = ∞) has no interval below 6 runs.
    few = "(too few runs for an interval (n = 3; needs ≥ 6))"
    assert f"| ppo+rnd | A | 3 | 2/3 | 4 k | 5 k {few} | 3 k, 5 k, — | 0.67 |" in md
    assert f"| ppo+e3b | A | 3 | 0/3 | — | never {few} | —, —, — | 0.00 |" in md
    # A lower bar with no smoothing: seed 2's lucky log at 2 k counts.
    build_report(path, out, ReportOptions(speed_threshold=0.5, speed_window=1, **FAST))
    assert "| ppo+rnd | A | 3 | 3/3 | 2 k | 2 k (too few runs" in (out / "report.md").read_text()
    rc = main(["report", str(path), "--out", str(out), "--reps", "50", "--speed-window", "0"])
    assert rc == 2 and "--speed-window" in capsys.readouterr().err


def test_raw_metric_has_no_optimality_gap(tmp_path, capsys, monkeypatch):
    """The gap is the shortfall from a score of 1: a raw count (cells per episode) has none;
    the figures' axes name the metric instead of calling it a normalised score."""
    labels: list[str] = []
    for name, field in (("aggregate_intervals", "xlabel"), ("sample_efficiency", "ylabel")):
        draw = getattr(plots, name)
        monkeypatch.setattr(
            plots,
            name,
            lambda *a, _draw=draw, _field=field, **k: labels.append(k[_field]) or _draw(*a, **k),
        )
    root = tmp_path / "sweep"
    root.mkdir()
    (root / "sweep.yaml").write_text("score: coverage/cells_per_episode\n")
    rng = np.random.default_rng(0)
    for bonus in ("rnd", "icm"):
        for seed in range(3):
            curve = rng.uniform(3, 15, size=4)
            write_run(root, "A", bonus, seed, curve, metric="coverage/cells_per_episode")
    out = tmp_path / "report"
    report = build_report(root, out, ReportOptions(**FAST))
    assert report.headers == ["Algorithm", "n (runs/task)", "IQM", "Median", "Mean"]
    assert "no optimality gap" in (out / "report.md").read_text()
    assert labels == ["coverage/cells_per_episode", "IQM coverage/cells_per_episode"]
    # The user's path, `explore report`: its terminal table has no gap column either.
    rc = main(["report", str(root), "--out", str(tmp_path / "cli"), "--reps", "200"])
    printed = capsys.readouterr().out
    assert rc == 0 and "IQM" in printed and "Optimality Gap" not in printed


def test_over_training_scores_every_table(tmp_path, capsys):
    path = tmp_path / "sweep"
    steps = [1000, 2000, 3000, 4000]
    # Both solve the task by the end; rnd learns at once, e3b only at the last log.
    for seed in range(3):
        write_run(path, "A", "rnd", seed, [1, 1, 1, 1], steps)
        write_run(path, "A", "e3b", seed, [0, 0, 0, 1], steps)
    out = tmp_path / "r"
    rc = main(["report", str(path), "--out", str(out), "--reps", "200", "--over-training"])
    assert rc == 0
    md = (out / "report.md").read_text()
    assert "each run's mean over training" in md
    # 3 runs: points without intervals (and never a collapsed [x, x] one).
    assert "| ppo+e3b | 3 | 0.25 (too few runs for an interval (n = 3; needs ≥" in md
    assert "| ppo+rnd | 3 | 1.00 (too few runs for an interval (n = 3; needs ≥" in md
    # P(rnd > e3b) is 1 over training, though the final scores tie.
    assert re.search(r"\| ppo\+rnd \(n = 3\) \| 1\.00 \(too few runs", md)
    rc = main(["report", str(path), "--out", str(out), "--over-training", "--step", "2000"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and "--over-training" in err


def test_tasks_flag_reports_only_those_tasks(tmp_path, capsys):
    path = make_sweep(tmp_path / "sweep", envs=("Alpha", "Beta"), seeds=3)
    out = tmp_path / "r"
    rc = main(["report", str(path), "--out", str(out), "--reps", "50", "--tasks", "Beta"])
    assert rc == 0
    md = (out / "report.md").read_text()
    assert "1 tasks" in md and "| Beta |" in md and "| Alpha |" not in md
    rc = main(["report", str(path), "--out", str(out), "--reps", "50", "--tasks", "Alpah"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and "Did you mean: Alpha?" in err
