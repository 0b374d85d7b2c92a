"""Bonus against visits from run files alone: the table ``explore train`` writes, the fitted
log-log slope, and the report's figure (RDD's 1/n property, Fang et al. 2025)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import make_sweep

from analysis.bonus_visits import BONUS_TABLE, bonus_visits, loglog_slope, read_table
from analysis.load import load
from analysis.report import ReportOptions, build_report
from explore.cli import main

FAST = {"reps": 200, "profile_reps": 100, "curve_reps": 100, "sims": 10, "power_reps": 20}


def _write_table(run_dir, visits, bonus) -> None:
    cells = np.arange(len(visits))
    pd.DataFrame(
        {"row": cells // 5, "col": cells % 5, "visits": visits, "steps": 1, "bonus": bonus}
    ).to_csv(run_dir / BONUS_TABLE, index=False)


def test_loglog_slope_recovers_power_laws():
    n = np.array([3, 10, 40, 160, 640])
    assert loglog_slope(n, 0.7 / n) == pytest.approx((-1.0, np.log(0.7)))
    assert loglog_slope(n, 2.0 * n**-0.4)[0] == pytest.approx(-0.4)
    # Cells without visits or bonus do not enter the fit; too few cells give no slope.
    assert loglog_slope([0, *n], [5.0, *(1 / n)])[0] == pytest.approx(-1.0)
    assert np.isnan(loglog_slope([1, 2], [1.0, 0.5])[0])
    assert np.isnan(loglog_slope([4, 4, 4], [1.0, 0.5, 0.2])[0])


def test_report_draws_bonus_against_visits(tmp_path):
    sweep = make_sweep(tmp_path / "sweep", bonuses=("rdd", "rnd"), envs=("A",), seeds=3)
    rng = np.random.default_rng(0)
    for run_dir in sorted(sweep.iterdir()):
        if not run_dir.is_dir():
            continue
        visits = rng.integers(1, 1000, size=20)
        exponent = -1.0 if "__rdd__" in run_dir.name else -0.3
        _write_table(run_dir, visits, 0.5 * visits.astype(float) ** exponent)
    groups = {g.algorithm: g for g in bonus_visits(load(sweep).runs)}
    assert set(groups) == {"ppo+rdd", "ppo+rnd"}
    assert groups["ppo+rdd"].slope_summary() == pytest.approx((-1.0, -1.0, -1.0))
    assert groups["ppo+rnd"].slope_summary() == pytest.approx((-0.3, -0.3, -0.3))

    out = tmp_path / "report"
    build_report(sweep, out, ReportOptions(**FAST))
    md = (out / "report.md").read_text()
    assert "Bonus against visits" in md
    assert "| A | ppo+rdd | 3/3 | -1.00 [-1.00, -1.00] |" in md
    assert "| A | ppo+rnd | 3/3 | -0.30 [-0.30, -0.30] |" in md
    assert (out / "figures" / "bonus_visits_A.png").stat().st_size > 1000

    # A sweep whose runs wrote no table gets no such section.
    plain = make_sweep(tmp_path / "plain", envs=("A",), seeds=2)
    build_report(plain, tmp_path / "plain_report", ReportOptions(**FAST))
    assert "Bonus against visits" not in (tmp_path / "plain_report" / "report.md").read_text()


@pytest.mark.slow  # compile-heavy: outside make test's 15-minute budget on 2 cores
def test_training_writes_the_table_and_report_reads_it(tmp_path):
    """Through the commands a user runs: ``explore train`` then ``explore report``."""
    out = tmp_path / "runs"
    rc = main(
        [
            "train",
            "env=Empty-5x5",
            "bonus=rdd",
            "bonus.hidden=8",
            "bonus.out_dim=4",
            "total_steps=512",  # 128 steps per env: episodes (100 steps at most) end
            "log_every=2",
            "ppo.num_envs=4",
            "ppo.num_steps=16",
            "ppo.hidden=8",
            "ppo.update_epochs=1",
            "ppo.num_minibatches=1",
            "seeds=0-1",  # the report's intervals need two runs
            f"out={out}",
            "--no-progress",
        ]
    )
    assert rc == 0
    run_dirs = sorted(p for p in out.iterdir() if (p / "status.json").exists())
    assert len(run_dirs) == 2
    run_dir = run_dirs[0]
    table = read_table(run_dir)
    coverage = np.load(run_dir / "coverage.npy", allow_pickle=False)
    assert list(table.columns) == ["row", "col", "visits", "steps", "bonus"]
    # Visits are coverage.npy's counts; steps are the last rollout's (4 envs × 16 steps).
    np.testing.assert_array_equal(table.visits, coverage[table.row, table.col])
    assert table.steps.sum() == 4 * 16
    assert (table.bonus > 0).all() and np.isfinite(table.bonus).all()
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    cells = metrics[metrics.metric == "coverage/cells_visited"].value.to_numpy()
    assert cells[-1] == (coverage > 0).sum()
    assert "coverage/cells_per_episode" in set(metrics.metric)

    report = tmp_path / "report"
    assert main(["report", str(out), "--out", str(report), "--reps", "100"]) == 0
    assert (report / "figures" / "bonus_visits_Empty_5x5.png").exists()
    assert "Bonus against visits" in (report / "report.md").read_text()
