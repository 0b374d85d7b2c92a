"""`explore report` on a multi-objective sweep: front scores from the logged `front/*` rows
(as agents/mo_ppo.py writes them) and the fronts section. No training: run files only."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis.load import load, read_fronts
from explore.cli import main

# Deep Sea Treasure's undiscounted front (treasure, -time).
TRUE = np.array(
    [
        [0.7, -1],
        [8.2, -3],
        [11.5, -5],
        [14.0, -7],
        [15.1, -8],
        [16.1, -9],
        [19.6, -13],
        [20.3, -14],
        [22.4, -17],
        [23.7, -19],
    ]
)
ENDS = np.array([[0.7, -1.0], [23.7, -19.0]])
REF = [0.0, -25.0]


def _run(root, name: str, seed: int, bonus: str, fronts: dict[int, np.ndarray]) -> None:
    """A completed run dir whose metrics hold the front rows MO-PPO logs at each step."""
    path = root / name
    path.mkdir(parents=True)
    (path / "status.json").write_text(json.dumps({"status": "completed"}))
    config = {"env": "DeepSeaTreasure", "agent": "mo_ppo", "bonus": bonus, "seed": seed}
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    rows = []
    for step, points in fronts.items():
        rows.append({"step": step, "metric": "episode_return", "value": 1.0})
        for i, point in enumerate(points):
            for k, value in enumerate(point):
                rows.append({"step": step, "metric": f"front/w{i:02d}/obj{k}", "value": value})
                rows.append(
                    {"step": step, "metric": f"front/w{i:02d}/weight{k}", "value": float(i == k)}
                )
        for j, point in enumerate(TRUE):
            for k, value in enumerate(point):
                rows.append({"step": step, "metric": f"front/true/p{j:02d}/obj{k}", "value": value})
    pd.DataFrame(rows).to_parquet(path / "metrics.parquet", index=False)


@pytest.fixture
def sweep(tmp_path):
    root = tmp_path / "mo_sweep"
    root.mkdir()
    spec = {
        "name": "mo_sweep",
        "score": {"metric": "hypervolume_fraction", "ref_points": {"DeepSeaTreasure": REF}},
    }
    (root / "sweep.yaml").write_text(yaml.safe_dump(spec))
    nowhere = np.array([[0.0, -100.0], [0.0, -100.0]])  # no treasure within the step limit
    for seed in range(3):
        _run(root, f"none_s{seed}", seed, "none", {100: nowhere, 200: ENDS})
        _run(root, f"count_s{seed}", seed, "count", {100: ENDS, 200: TRUE[[0, 5, 9]]})
    return root


def test_front_rows_become_scores_like_any_other(sweep):
    fronts = read_fronts(sweep / "none_s0" / "metrics.parquet")
    assert fronts.steps.tolist() == [100, 200] and fronts.points.shape == (2, 2, 2)
    np.testing.assert_array_equal(fronts.points[1], ENDS)
    np.testing.assert_array_equal(fronts.true_front, TRUE)
    np.testing.assert_array_equal(fronts.weights, np.eye(2))

    hv = load(sweep, score="hypervolume")
    run = next(r for r in hv.runs if r.name == "none_s0")
    # By hand, ref (0, -25): 0.7 × 24 for (0.7, -1), then (23.7 - 0.7) × 6 for (23.7, -19);
    # (0, -100) lies below the reference point and adds nothing.
    np.testing.assert_allclose(run.values, [0.0, 0.7 * 24 + 23.0 * 6])
    fraction = load(sweep)  # the spec's score: hypervolume_fraction
    assert fraction.ref_points == {"DeepSeaTreasure": REF}
    true_hv = sum(
        (x - px) * (y + 25) for (px, _), (x, y) in zip([(0, 0), *TRUE[:-1]], TRUE, strict=True)
    )
    np.testing.assert_allclose(
        fraction.scores().matrices["mo_ppo+none"][:, 0], (0.7 * 24 + 23.0 * 6) / true_hv
    )
    igd = load(sweep, score="igd").scores().matrices["mo_ppo+count"]
    assert igd.shape == (3, 1) and np.all(igd > 0)
    cardinality = load(sweep, score="cardinality").scores().matrices
    assert cardinality["mo_ppo+count"].ravel().tolist() == [3.0] * 3


def test_hypervolume_needs_a_reference_point(sweep):
    with pytest.raises(ValueError, match="reference point"):
        load(sweep, score="hypervolume", ref_points={}, warn=False)


def test_report_shows_fronts_scores_and_reached_points(sweep, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", str(sweep), "--out", str(out), "--reps", "200"]) == 0
    text = (out / "report.md").read_text()
    assert "## Pareto fronts (multi-objective)" in text
    assert "DeepSeaTreasure [0.0, -25.0]" in text  # the reference point is stated
    for score in ("hypervolume_fraction", "eum", "igd", "max_utility_loss", "cardinality"):
        assert score in text
    assert (out / "figures" / "front_DeepSeaTreasure.png").stat().st_size > 1000
    # The reached-points table: plain PPO's 3 seeds × 2 weights sit on the two ends.
    reached = text[text.index("policies (seeds × weights) whose value vector") :]
    row = next(line for line in reached.splitlines() if line.startswith("| mo_ppo+none |"))
    assert row.split("|")[2:-1] == [" 3 ", *[" 0 "] * 8, " 3 ", " 0 "]
