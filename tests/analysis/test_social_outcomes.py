"""Social outcomes over training, read from run files: grouping, medians, panels, summary."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from analysis import social_outcomes


def _run(tmp_path, name, algorithm, series):
    path = tmp_path / name
    path.mkdir()
    rows = [
        (step, metric, value)
        for metric, values in series.items()
        for step, value in zip([10, 20, 30], values, strict=True)
    ]
    frame = pd.DataFrame(rows, columns=["step", "metric", "value"])
    frame.to_parquet(path / "metrics.parquet")
    return SimpleNamespace(name=name, path=path, task="Harvest-Open", algorithm=algorithm)


def test_curves_group_runs_and_take_medians_over_seeds(tmp_path):
    core = {"episode_group_return": [1.0, 2.0, 3.0], "social/peace": [3.0, 3.0, 3.0]}
    runs = [
        _run(tmp_path, "a0", "ippo", {**core, "social/efficiency": [0.1, np.nan, 0.3]}),
        _run(tmp_path, "a1", "ippo", {**core, "social/efficiency": [0.3, 0.2, 0.5]}),
        _run(tmp_path, "a2", "ippo", {**core, "social/efficiency": [0.2, 0.4, 0.4]}),
        _run(tmp_path, "b0", "ippo+svo", {**core, "social/efficiency": [0.0, 0.0, 0.0]}),
        # A run without social metrics (another family) is left out.
        _run(tmp_path, "c0", "ppo", {"episode_group_return": [0.0, 0.0, 0.0]}),
    ]
    groups = social_outcomes.social_curves(runs)
    assert [(g.task, g.algorithm) for g in groups] == [
        ("Harvest-Open", "ippo"),
        ("Harvest-Open", "ippo+svo"),
    ]
    steps, median = groups[0].median("social/efficiency")
    np.testing.assert_array_equal(steps, [10, 20, 30])
    np.testing.assert_allclose(median, [0.2, 0.3, 0.4])  # the NaN log is ignored
    firsts, finals = groups[0].first_and_final("social/efficiency")
    np.testing.assert_allclose(firsts, [0.1, 0.3, 0.2])
    np.testing.assert_allclose(sorted(finals), [0.3, 0.4, 0.5])
    rows = social_outcomes.summary_rows(groups)
    assert ["Harvest-Open", "ippo", "efficiency", "3", "0.2 → 0.4 [0.3, 0.5]"] in rows
    # Waste is never logged non-zero here, so it gets no panel and no row.
    assert not any(row[2] == "waste cleaned" for row in rows)
    fig = social_outcomes.figure("Harvest-Open", groups, ["#0072B2", "#E69F00"])
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["group return", "efficiency", "peace"]


def test_extra_counts_get_a_panel_when_some_run_logs_them(tmp_path):
    series = {"social/efficiency": [0.1, 0.2, 0.3], "social/waste_cleaned": [0.0, 2.0, 1.0]}
    groups = social_outcomes.social_curves([_run(tmp_path, "r", "ippo", series)])
    fig = social_outcomes.figure("Harvest-Open", groups, ["#0072B2"])
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["efficiency", "waste cleaned"]
