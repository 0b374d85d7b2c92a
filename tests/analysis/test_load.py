"""Loading sweeps: complete, partial, and every kind of bad input."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from conftest import make_sweep, write_run

import analysis


def test_load_complete_sweep(sweep_dir):
    sweep = analysis.load(sweep_dir)
    assert sweep.algorithms == ["ppo+e3b", "ppo+rnd"]
    assert sweep.tasks == ["A", "B", "C"]
    scores = sweep.scores()
    assert scores.tasks == ["A", "B", "C"]
    assert {a: m.shape for a, m in scores.matrices.items()} == {
        "ppo+e3b": (4, 3),
        "ppo+rnd": (4, 3),
    }
    assert not scores.excluded and not scores.dropped
    # Rows are seeds in order; run names follow the matrix layout.
    assert scores.run_names["ppo+rnd"][0, 0].endswith("__s0")


def test_score_at_step_and_final(tmp_path):
    root = tmp_path / "s"
    for seed in range(2):
        write_run(root, "A", "rnd", seed, [0.1, np.nan, 0.5], steps=[10, 20, 30])
    sweep = analysis.load(root)
    assert sweep.scores().matrices["ppo+rnd"][:, 0].tolist() == [0.5, 0.5]
    # NaN means "no episode finished": the last logged value carries forward.
    assert sweep.scores(step=20).matrices["ppo+rnd"][:, 0].tolist() == [0.1, 0.1]
    assert sweep.scores(step=25).matrices["ppo+rnd"][:, 0].tolist() == [0.1, 0.1]
    curves = sweep.curves()
    assert curves.steps.tolist() == [10, 20, 30]
    assert curves.matrices["ppo+rnd"].shape == (2, 1, 3)


def test_score_over_training_is_the_mean_logged_score(tmp_path):
    root = tmp_path / "s"
    # A NaN log (no episode finished) carries the last value forward; the finals tie at 1.0
    # but the run that learned earlier scores higher over training.
    write_run(root, "A", "rnd", 0, [0.0, np.nan, 1.0, 1.0], steps=[10, 20, 30, 40])
    write_run(root, "A", "rnd", 1, [1.0, 1.0, 1.0, 1.0], steps=[10, 20, 30, 40])
    sweep = analysis.load(root)
    assert sweep.scores().matrices["ppo+rnd"][:, 0].tolist() == [1.0, 1.0]
    over = sweep.scores(over_training=True).matrices["ppo+rnd"][:, 0]
    assert over.tolist() == [0.5, 1.0]
    with pytest.raises(ValueError, match="--over-training"):
        sweep.scores(step=20, over_training=True)


def test_partial_sweep_skips_running_and_failed_with_warning(tmp_path):
    root = make_sweep(tmp_path / "s", seeds=3)
    write_run(root, "A", "rnd", 7, [0.2], status="running")
    write_run(root, "B", "rnd", 8, [0.2], status="failed")
    with pytest.warns(UserWarning, match=r"A__rnd__\d+__s7 \(running\).*s8 \(failed: boom\)"):
        sweep = analysis.load(root)
    assert sorted(sweep.skipped.values()) == ["failed: boom", "running"]
    assert sweep.scores().matrices["ppo+rnd"].shape == (3, 3)


def test_ragged_partial_sweep_is_truncated_and_listed(tmp_path):
    root = make_sweep(tmp_path / "s", seeds=3)
    write_run(root, "A", "rnd", 9, np.linspace(0, 1, 5))
    scores = analysis.load(root).scores()
    assert scores.matrices["ppo+rnd"].shape == (3, 3)
    assert len(scores.dropped) == 1 and next(iter(scores.dropped)).endswith("__s9")


def test_return_normalised_with_refs(tmp_path):
    root = tmp_path / "s"
    for seed, ret in enumerate([10.0, 30.0]):
        write_run(root, "A", "rnd", seed, [ret], metric="episode_return")
    spec = {"score": "return", "score_refs": {"A": {"random": 10, "optimal": 50}}}
    (root / "sweep.yaml").write_text(yaml.safe_dump(spec))
    m = analysis.load(root).scores().matrices["ppo+rnd"]
    assert m[:, 0].tolist() == [0.0, 0.5]
    (root / "sweep.yaml").write_text(yaml.safe_dump({"score": "return"}))
    with pytest.raises(ValueError, match=r"missing for tasks \['A'\]"):
        analysis.load(root).scores()


def test_varied_field_is_part_of_the_algorithm(tmp_path):
    root = tmp_path / "s"
    for lr in (0.001, 0.01):
        for seed in range(2):
            write_run(root, "A", "rnd", seed, [0.5], extra={"lr": lr})
    sweep = analysis.load(root)
    assert sweep.algorithms == ["ppo+rnd lr=0.001", "ppo+rnd lr=0.01"]
    assert sweep.varied_fields == ["lr"]


def test_missing_and_empty_directories(tmp_path):
    with pytest.raises(ValueError, match="no such sweep directory"):
        analysis.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no run directories"):
        analysis.load(tmp_path / "empty")


def test_no_completed_run(tmp_path):
    write_run(tmp_path / "s", "A", "rnd", 0, [0.1], status="running")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match=r"no completed run.*running"):
        analysis.load(tmp_path / "s")


def test_different_tasks_per_algorithm(tmp_path):
    root = make_sweep(tmp_path / "s", bonuses=("rnd",), envs=("A", "B"))
    for seed in range(4):
        write_run(root, "A", "e3b", seed, [0.3] * 5)
    sweep = analysis.load(root)
    with pytest.raises(ValueError, match=r"ppo\+e3b lacks \['B'\]"):
        sweep.scores()
    common = sweep.scores(tasks="common")
    assert common.tasks == ["A"] and common.dropped_tasks == ["B"]


def test_nan_and_inf_runs_are_excluded_and_listed(tmp_path):
    root = make_sweep(tmp_path / "s", bonuses=("rnd",), envs=("A",), seeds=3)
    nan_run = write_run(root, "A", "rnd", 10, [np.nan] * 5)
    inf_run = write_run(root, "A", "rnd", 11, [0.1, 0.2, 0.3, 0.4, np.inf])
    with pytest.warns(UserWarning, match="NaN/inf"):
        scores = analysis.load(root).scores()
    assert scores.excluded == {
        nan_run.name: "NaN score (no finite value logged)",
        inf_run.name: "infinite score",
    }
    assert np.all(np.isfinite(scores.matrices["ppo+rnd"]))
    assert scores.matrices["ppo+rnd"].shape == (3, 1)


def test_all_runs_of_a_task_nan(tmp_path):
    root = tmp_path / "s"
    for seed in range(2):
        write_run(root, "A", "rnd", seed, [np.nan, np.nan])
    with pytest.raises(ValueError, match=r"no usable run left.*s0"):
        analysis.load(root).scores()


def test_single_seed_is_refused_for_intervals(tmp_path):
    root = make_sweep(tmp_path / "s", seeds=1)
    scores = analysis.load(root).scores()
    with pytest.raises(ValueError, match=r"ppo\+e3b: only 1 run per task"):
        analysis.aggregate_estimates(scores.matrices, reps=10)


def test_mismatched_steps_name_the_runs(tmp_path):
    root = make_sweep(tmp_path / "s", seeds=3)
    # Same config (total_steps) as the others, but its log stops early.
    short = write_run(
        root, "A", "rnd", 5, [0.1, 0.2], steps=[1000, 2000], extra={"total_steps": 5000}
    )
    sweep = analysis.load(root)
    with pytest.raises(ValueError, match=rf"mismatched steps.*{short.name} \(last step 2000\)"):
        sweep.scores()
    with pytest.raises(ValueError, match=rf"never reached step 3000.*{short.name}"):
        sweep.scores(step=3000)
    assert sweep.scores(step=2000).matrices["ppo+rnd"].shape == (3, 3)


def test_coverage_fraction_of_reachable_cells(tmp_path):
    root = tmp_path / "s"
    a = np.array([[1, 0], [0, 0]])
    b = np.array([[1, 1], [1, 0]])
    write_run(root, "G", "rnd", 0, [0.1], coverage=a)
    write_run(root, "G", "rnd", 1, [0.1], coverage=b)
    sweep = analysis.load(root)
    cov = sweep.coverage()
    # Reachable = union of visited cells (3); the runs visited 1 and 3 of them.
    assert sorted(cov.matrices["ppo+rnd"][:, 0].tolist()) == pytest.approx([1 / 3, 1.0])
    cov_mask = sweep.coverage(masks={"G": np.ones((2, 2), bool)})
    assert sorted(cov_mask.matrices["ppo+rnd"][:, 0].tolist()) == [0.25, 0.75]


def test_coverage_reachable_set_is_per_env_settings(tmp_path):
    # One task, two env settings (one fixed layout vs a new one each episode): the fixed
    # layout's runs are scored against the cells its own runs reach, not the other's.
    root = tmp_path / "s"
    fixed = {"env_kwargs": {"contexts": 1}}
    procedural = {"env_kwargs": {"contexts": 0}}
    write_run(root, "G", "rnd", 0, [0.1], coverage=np.array([[1, 0, 0, 0]]), extra=fixed)
    write_run(root, "G", "rnd", 1, [0.1], coverage=np.array([[1, 1, 0, 0]]), extra=fixed)
    for seed in range(2):
        write_run(root, "G", "rnd", seed, [0.1], coverage=np.ones((1, 4)), extra=procedural)
    cov = analysis.load(root).coverage()
    by_alg = {alg: sorted(m[:, 0].tolist()) for alg, m in cov.matrices.items()}
    assert by_alg == {
        "ppo+rnd env_kwargs.contexts=0": [1.0, 1.0],
        "ppo+rnd env_kwargs.contexts=1": [0.5, 1.0],  # of 2 reachable cells, not 4
    }


def test_coverage_shape_mismatch_names_runs(tmp_path):
    root = tmp_path / "s"
    write_run(root, "G", "rnd", 0, [0.1], coverage=np.ones((2, 2)))
    write_run(root, "G", "rnd", 1, [0.1], coverage=np.ones((2, 2)))
    odd = write_run(root, "G", "rnd", 2, [0.1], coverage=np.ones((3, 3)))
    with pytest.raises(ValueError, match=odd.name):
        analysis.load(root).coverage()
