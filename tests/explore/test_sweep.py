"""explore sweep: specs, grid expansion, launchers, resume after SIGKILL, lock, failures.

Compilation dominates the cost of these tests, so every training test uses the same two tiny
programs (Empty-5x5, bonus none / count, 2 seeds vmapped) and one JAX compilation cache
shared by this process and the sweeps it starts.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from rich.console import Console

from explore.cli import main
from explore.evaluate import SPEC_KEYS as EVALUATION_SPEC_KEYS
from explore.runs import RunDir
from explore.sweep import (
    SweepLocked,
    check_points,
    expand,
    load_spec,
    parse_spec,
    run_sweep,
)
from explore.sweep.lock import SweepLock
from explore.sweep.progress import SweepProgress

ROOT = Path(__file__).resolve().parents[2]
TINY_BASE = {
    "env": "Empty-5x5",
    "total_steps": 1280,  # 20 updates of 64 steps: one chunk each, so a kill lands mid-run
    "log_every": 1,
    "ppo.num_envs": 4,
    "ppo.num_steps": 16,
    "ppo.hidden": 8,
    "ppo.update_epochs": 1,
    "ppo.num_minibatches": 1,
}
EXPECTED_RUNS = 4  # bonus none / count × seeds 0-1


def write_spec(path: Path, name: str = "tiny", **extra) -> Path:
    spec = {
        "name": name,
        "base": TINY_BASE,
        "grid": {"bonus": ["none", "count"]},
        "seeds": "0-1",
        "score": "success_rate",
        **extra,
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


def statuses(sweep_dir: Path) -> dict[str, str]:
    return {
        d.name: json.loads((d / "status.json").read_text())["status"]
        for d in sorted(sweep_dir.iterdir())
        if (d / "status.json").exists()
    }


# ----------------------------------------------------------------------------- specs
ISSUE_EXAMPLE = """\
name: global_vs_episodic
base: {agent: ppo, total_steps: 5e6}
grid:
  env: [MultiRoom-N4-S5, KeyCorridor-S3R3]
  env.contexts: [0, 1]
  bonus: [rnd, e3b, product(rnd,e3b)]
seeds: 0-9
score: success_rate
"""


def test_issue_example_parses_and_names_the_bad_env(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(ISSUE_EXAMPLE)
    spec = load_spec(path)
    # YAML splits the unquoted product(rnd,e3b) at its comma; the parser puts it back.
    assert spec.grid["bonus"] == ["rnd", "e3b", "product(rnd,e3b)"]
    assert spec.seeds == list(range(10)) and spec.score == "success_rate"
    points = expand(spec)
    assert len(points) == 2 * 2 * 3
    assert points[1].config.env_kwargs == {"contexts": 0} and points[1].config.bonus == "e3b"
    assert points[3].config.env_kwargs == {"contexts": 1}
    assert all(p.config.total_steps == 5_000_000 for p in points)
    with pytest.raises(
        ValueError, match=r"Unknown environment 'KeyCorridor-S3R3'\. Did you mean: KeyCorridorS3R3"
    ):
        check_points(points, build_envs=False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("grids: {bonus: [rnd]}", r"unknown spec key 'grids'\. Did you mean: grid\b"),
        ("total_steps: 5", r"unknown spec key 'total_steps'.*under base:"),
        ("base: {total_step: 5}", r"base: unknown field 'total_step'\. Did you mean: total_steps"),
        (
            "grid: {ppo.lrr: [0.1]}",
            r"grid\.ppo\.lrr\[0\] = 0\.1: unknown field 'ppo\.lrr'\. Did you mean: lr\?",
        ),
        ("grid: {total_steps: [100, -5]}", r"grid\.total_steps\[1\] = -5: .*field 'total_steps'"),
        (
            "grid: {ppo.activation: [tanh, sigmoid]}",
            r"grid\.ppo\.activation\[1\].*field 'ppo\.activation'",
        ),
        ("base: {agent: dqn}", r"base: .*field 'agent'"),
        ("seeds: 3-1", r"seeds: cannot parse '3-1'"),
        ("base: {seed: 3}", r"give seeds at the top level"),
        ("grid: {env.contexts: [0, 0]}", r"give the same config"),
        ("grid: {bonus: []}", r"grid\.bonus: empty list"),
        ("name: 'a b'", r"name 'a b'"),
        ("launcher: slurm", r"launcher 'slurm'"),
        ("grid: {m: [{bonus: rnd}, count]}", r"grid\.m: mix of mappings and single values"),
        ("grid: {m: [{}]}", r"grid\.m\[0\]: a bundle is a non-empty mapping"),
        ("grid: {m: [{bonus: rnd, seed: 1}]}", r"grid\.m\[0\]: give seeds at the top level"),
        (
            "grid: {m: [{bonus: rnd, ppo.lrr: 0.1}]}",
            r"grid\.m\[0\] = bonus=rnd ppo\.lrr=0\.1: unknown field 'ppo\.lrr'",
        ),
        (
            "grid: {int_coef: [0.5], m: [{bonus: rnd, ppo.int_coef: 1.0}]}",
            r"field 'ppo\.int_coef' is set by two axes \(int_coef, m\)",
        ),
    ],
)
def test_spec_errors_name_the_place(tmp_path, text, message):
    path = tmp_path / "spec.yaml"
    path.write_text(text + "\n")
    with pytest.raises(ValueError, match=message):
        expand(load_spec(path))


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"bonus": ["rnd", "rndd"]}, r"Unknown bonus 'rndd'\. Did you mean: rnd"),
        (
            {"env": ["Empty-5x5", "DoorKey-5x6"]},
            r"Unknown environment 'DoorKey-5x6'\. Did you mean: DoorKey-5x5",
        ),
        (
            {"env.contextz": [1]},
            r"unknown env option 'env\.contextz' for Empty-5x5\. Did you mean: contexts\?",
        ),
        ({"env.contexts": [-1]}, r"contexts must be an integer"),
        ({"ppo.num_minibatches": [3]}, r"num_minibatches=3 must divide"),
    ],
)
def test_names_and_values_checked_before_anything_runs(tmp_path, grid, message):
    spec = parse_spec({"name": "bad", "base": TINY_BASE, "grid": grid})
    with pytest.raises(ValueError, match=message):
        check_points(expand(spec))
    with pytest.raises(ValueError, match=message):
        run_sweep(spec, tmp_path / "bad", progress=False, console=quiet())
    assert not (tmp_path / "bad").exists()  # nothing written


def test_grid_expansion():
    spec = parse_spec(
        {
            "name": "g",
            "base": {
                "env": "Empty-5x5",
                "env_kwargs": {"sticky_actions": 0.1},
                "lr": 1e-3,
                "total_steps": "2e4",
            },
            "grid": {
                "env.contexts": [0, 2],
                "bonus": ["none", "rnd", "sum(rnd, count)"],
                "ppo.hidden": [8],
            },
            "seeds": [1, 3],
        }
    )
    points = expand(spec)
    assert len(points) == 2 * 3 * 1
    # Spec order, the last key varying fastest.
    assert [(p.config.env_kwargs["contexts"], p.config.bonus) for p in points] == [
        (0, "none"),
        (0, "rnd"),
        (0, "sum(rnd, count)"),
        (2, "none"),
        (2, "rnd"),
        (2, "sum(rnd, count)"),
    ]
    for point in points:
        assert point.config.env_kwargs["sticky_actions"] == 0.1  # base env options kept
        assert point.config.ppo.lr == 1e-3 and point.config.ppo.hidden == 8
        assert point.config.total_steps == 20_000
        assert point.seeds == [1, 3]
    assert points[4].label == "env.contexts=2 bonus=rnd ppo.hidden=8"
    names = {RunDir.for_config("x", p.for_seed(s)).path.name for p in points for s in p.seeds}
    assert len(names) == 12  # one run directory per (config, seed)


def test_bundle_axis_varies_its_fields_together(tmp_path, capsys):
    """A grid axis of mappings: each method at its own settings, crossed with the other axes."""
    text = textwrap.dedent(
        """
        name: bundles
        base: {env: Empty-5x5, total_steps: 2e4, ppo.int_coef: 0.5}
        grid:
          env.contexts: [0, 1]
          method:
            - {bonus: "rdd(sigma=3.0)", ppo.int_coef: 1.0}
            - {bonus: "product(rnd,e3b)"}
            - bonus: count
              ppo.int_coef: 0.25
        seeds: 0-1
        """
    )
    path = tmp_path / "bundles.yaml"
    path.write_text(text)
    points = expand(load_spec(path))
    got = [(p.config.env_kwargs["contexts"], p.config.bonus, p.config.ppo.int_coef) for p in points]
    assert got == [
        (0, "rdd(sigma=3.0)", 1.0),
        (0, "product(rnd,e3b)", 0.5),  # base's int_coef where the bundle does not set it
        (0, "count", 0.25),
        (1, "rdd(sigma=3.0)", 1.0),
        (1, "product(rnd,e3b)", 0.5),
        (1, "count", 0.25),
    ]
    assert points[0].label == "env.contexts=0 bonus=rdd(sigma=3.0) ppo.int_coef=1.0"
    # The same config written without a bundle has the same hash (same run directories).
    plain = parse_spec(
        {
            "name": "plain",
            "base": {"env": "Empty-5x5", "total_steps": 2e4, "ppo.int_coef": 1.0},
            "grid": {"env.contexts": [0], "bonus": ["rdd(sigma=3.0)"]},
        }
    )
    assert expand(plain)[0].config.config_hash() == points[0].config.config_hash()
    # The user's path: `explore sweep --dry-run` lists each bundle as its fields.
    assert main(["sweep", str(path), "--dry-run", "--out", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "6 configs × 2 seeds" in out and "ppo.int_coef=0.25" in out


def test_bundle_sweep_runs_through_the_cli(tmp_path, capsys):
    """`explore sweep` on a bundle spec trains its runs (the tiny none/count programs, each at
    its own int_coef), and `explore report` reads them as one algorithm per bonus."""
    spec = write_spec(
        tmp_path / "bundled.yaml",
        name="bundled",
        grid={
            "method": [{"bonus": "none", "ppo.int_coef": 0.5}, {"bonus": "count", "int_coef": 1.0}]
        },
    )
    sweep_dir = tmp_path / "runs" / "bundled"
    assert main(["sweep", str(spec), "--dir", str(sweep_dir), "--no-progress"]) == 0
    done = statuses(sweep_dir)
    assert len(done) == EXPECTED_RUNS and set(done.values()) == {"completed"}
    coefs = {
        yaml.safe_load((sweep_dir / name / "config.yaml").read_text())["ppo"]["int_coef"]
        for name in done
    }
    assert coefs == {0.5, 1.0}
    assert main(["report", str(sweep_dir), "--out", str(tmp_path / "rep"), "--reps", "200"]) == 0
    assert "wrote" in capsys.readouterr().out
    written = (tmp_path / "rep" / "report.md").read_text()
    # int_coef differs only between bonuses, so each bonus is one algorithm with a bare label.
    assert "| ppo+count | 2 |" in written and "| ppo+none | 2 |" in written


def test_every_experiment_spec_parses():
    specs = sorted((ROOT / "experiments").glob("*.yaml"))
    assert {p.name for p in specs} >= {
        "demo.yaml",
        "global_vs_episodic.yaml",
        "noisy_tv.yaml",
        "rdd_vs_rnd.yaml",
    }
    for path in specs:
        data = yaml.safe_load(path.read_text())
        if "scenarios" in data:
            # An `explore evaluate` spec: it names trained runs, so only its keys are checked
            # here (tests/explore/test_evaluate.py runs the command on specs it trains for).
            assert set(data) <= set(EVALUATION_SPEC_KEYS), path
            continue
        spec = load_spec(path)
        points = expand(spec)
        assert len(points) == int(np.prod([len(v) for v in spec.grid.values()]))
        check_points(points, build_envs=False)  # names; building contexts pools takes seconds each


def test_dry_run_prints_table_and_cost(tmp_path, capsys):
    spec = write_spec(tmp_path / "tiny.yaml")
    assert main(["sweep", str(spec), "--dry-run", "--out", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "sweep tiny: 2 configs × 2 seeds" in out and "count" in out and "2 new" in out
    assert "4 runs (2 configs), 4 to run in 2 tasks" in out and "estimated" in out
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["global_vs_episodic", "noisy_tv", "rdd_vs_rnd", "demo"])
def test_dry_run_every_experiment(name, tmp_path, capsys):
    assert (
        main(
            [
                "sweep",
                str(ROOT / "experiments" / f"{name}.yaml"),
                "--dry-run",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert "estimated" in capsys.readouterr().out


# ----------------------------------------------------------------------------- lock
def test_lock_refuses_a_live_sweep_and_takes_over_a_dead_one(tmp_path, capsys):
    sweep_dir = tmp_path / "tiny"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time
            from explore.sweep.lock import SweepLock
            lock = SweepLock({str(sweep_dir)!r}); lock.acquire()
            print("locked", flush=True); time.sleep(120)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(
            SweepLocked,
            match=rf"in use by another sweep \(pid {holder.pid} on .*delete .*\.sweep\.lock",
        ):
            run_sweep(
                write_spec(tmp_path / "tiny.yaml"), sweep_dir, progress=False, console=quiet()
            )
        assert (
            main(["sweep", str(tmp_path / "tiny.yaml"), "--dir", str(sweep_dir), "--no-progress"])
            == 3
        )
        assert "refused" in capsys.readouterr().out
        assert not list(sweep_dir.glob("*/status.json"))  # the refused sweep wrote no run
    finally:
        holder.kill()  # SIGKILL: no chance to clean up
        holder.wait()
    assert (sweep_dir / ".sweep.lock").exists()
    with SweepLock(sweep_dir) as lock:  # stale: taken over
        assert lock.owner()["pid"] == os.getpid()
    assert not (sweep_dir / ".sweep.lock").exists()


def test_stale_lock_without_flock_is_detected_by_pid(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock_file = tmp_path / ".sweep.lock"
    lock_file.write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename, "start": "1"}))
    with SweepLock(tmp_path):
        pass
    # A live pid on this host blocks even when the file carries no flock.
    lock_file.write_text(
        json.dumps({"pid": os.getppid(), "host": os.uname().nodename, "start": None})
    )
    with pytest.raises(SweepLocked, match=f"pid {os.getppid()}"):
        SweepLock(tmp_path).acquire()


# ----------------------------------------------------------------------------- running
def _wait_until(predicate, timeout: float = 300.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(interval)


def _partial(sweep_dir: Path, bonus: str) -> bool:
    for path in sweep_dir.glob(f"*__{bonus}__*/status.json"):
        try:
            status = json.loads(path.read_text())
        except ValueError:
            continue
        if status["status"] == "running" and 0 < status["steps"] < TINY_BASE["total_steps"]:
            return True
    return False


def _aligned_partial(sweep_dir: Path, bonus: str) -> bool:
    """Every seed of ``bonus`` checkpointed at the same step, part-way."""
    steps = set()
    for path in sweep_dir.glob(f"*__{bonus}__*/status.json"):
        try:
            status = json.loads(path.read_text())
        except ValueError:
            return False
        steps.add(status["steps"] if status["status"] == "running" else -1)
    return len(steps) == 1 and 0 < steps.pop() < TINY_BASE["total_steps"]


def _final_states(sweep_dir: Path) -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for d in sorted(sweep_dir.glob("*__s*")):
        meta = json.loads((d / "checkpoint" / "meta.json").read_text())
        with np.load(d / "checkpoint" / meta["file"]) as data:
            out[d.name] = {k: data[k] for k in data.files}
    return out


def test_sigkilled_sweep_resumes_to_the_same_runs(tmp_path):
    spec = write_spec(tmp_path / "tiny.yaml")
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "explore.cli",
            "sweep",
            str(spec),
            "--dir",
            str(killed),
            "--no-progress",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Kill while the second config is half-way: the first complete, the second checkpointed.
        _wait_until(lambda: _aligned_partial(killed, "count") or proc.poll() is not None)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = statuses(killed)
    assert sorted(before.values()) == ["completed", "completed", "running", "running"]
    assert (killed / ".sweep.lock").exists()  # left behind by the dead sweep

    # Where the kill left each run's checkpoint (seeds of a config may differ by one chunk when
    # it lands between their writes).
    at_kill = {
        d.name: json.loads((d / "checkpoint" / "meta.json").read_text())["updates"]
        for d in killed.glob("*__count__*")
    }

    resumed = run_sweep(spec, killed, progress=False, console=quiet())  # takes over the stale lock
    assert resumed.ok and len(resumed.skipped) == 2 and len(resumed.completed) == 2
    reference = run_sweep(spec, tmp_path / "reference", progress=False, console=quiet())
    assert reference.ok and len(reference.completed) == EXPECTED_RUNS
    assert statuses(killed) == statuses(tmp_path / "reference")
    a, b = _final_states(killed), _final_states(tmp_path / "reference")
    assert a.keys() == b.keys()
    for run in a:
        for name in a[run]:
            if "__none__" in run or len(set(at_kill.values())) == 1:
                # Resumed as the same vmapped program: bit-identical to the uninterrupted run.
                np.testing.assert_array_equal(a[run][name], b[run][name], err_msg=f"{run} {name}")
            else:
                # Seeds resumed from different chunks train as separate (1-wide) programs,
                # whose float rounding differs from the 2-wide one.
                np.testing.assert_allclose(
                    a[run][name], b[run][name], rtol=1e-4, atol=1e-6, err_msg=f"{run} {name}"
                )
    assert (killed / "sweep.yaml").read_text() == spec.read_text()
    assert not (killed / ".sweep.lock").exists()

    # explore report reads the sweep (score from sweep.yaml, algorithms from the grid).
    import analysis

    sweep = analysis.load(killed)
    assert sweep.algorithms == ["ppo+count", "ppo+none"] and sweep.metric == "success_rate"
    assert sweep.scores().matrices["ppo+none"].shape == (2, 1)


def test_failing_run_is_isolated(tmp_path, capsys):
    spec = write_spec(tmp_path / "tiny.yaml")
    sweep_dir = tmp_path / "sweep"
    points = expand(load_spec(spec))
    # A broken checkpoint (its state file is gone) makes the count runs fail when they start.
    broken = RunDir.for_config(sweep_dir, points[1].for_seed(0))
    (broken.checkpoint_dir).mkdir(parents=True)
    (broken.checkpoint_dir / "meta.json").write_text(
        json.dumps({"steps": 64, "updates": 1, "file": "gone.npz"})
    )

    assert main(["sweep", str(spec), "--dir", str(sweep_dir), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "2 completed, 2 failed, 0 skipped" in out
    assert f"failed {broken.path.name}: FileNotFoundError" in out
    states = statuses(sweep_dir)
    assert [states[n] for n in sorted(states)] == ["failed", "failed", "completed", "completed"]
    status = broken.status()
    assert status["error"].startswith("FileNotFoundError") and "gone.npz" in status["error"]
    assert "Traceback" in status["traceback"]


def test_pool_worker_killed_is_isolated_and_resumes(tmp_path):
    spec = load_spec(write_spec(tmp_path / "tiny.yaml"))
    sweep_dir = tmp_path / "pool"
    results = {}

    def sweep() -> None:
        results["first"] = run_sweep(
            spec, sweep_dir, launcher="pool", workers=2, progress=False, console=quiet()
        )

    thread = threading.Thread(target=sweep)
    thread.start()
    try:
        _wait_until(lambda: _partial(sweep_dir, "count") or not thread.is_alive())
        victims = [p for p in multiprocessing.active_children() if p.name.startswith("sweep-p001")]
        assert victims, "the count task was not running"
        os.kill(victims[0].pid, signal.SIGKILL)
    finally:
        thread.join()
    first = results["first"]
    assert sorted(first.completed) == sorted(n for n in statuses(sweep_dir) if "__none__" in n)
    assert len(first.failed) == 2 and all(
        "worker process died (SIGKILL)" in e for e in first.failed.values()
    )
    assert any((sweep_dir / n / "checkpoint" / "meta.json").exists() for n in first.failed)

    again = run_sweep(spec, sweep_dir, launcher="pool", workers=2, progress=False, console=quiet())
    assert again.ok and sorted(again.completed) == sorted(first.failed) and len(again.skipped) == 2
    assert sorted(statuses(sweep_dir).values()) == ["completed"] * EXPECTED_RUNS


def test_ray_launcher_on_local_ray(tmp_path):
    pytest.importorskip("ray")
    spec = parse_spec(
        {"name": "ray", "base": TINY_BASE, "grid": {"bonus": ["none"]}, "seeds": "0-1"}
    )
    result = run_sweep(
        spec,
        tmp_path / "ray",
        launcher="ray",
        address="local",
        workers=1,
        progress=False,
        console=quiet(),
    )
    import ray

    assert not ray.is_initialized()  # the launcher stops the Ray it started
    assert result.ok and len(result.completed) == 2
    assert sorted(statuses(tmp_path / "ray").values()) == ["completed", "completed"]


# ----------------------------------------------------------------------------- progress
def test_progress_view_counts_runs_and_steps(tmp_path):
    runs = [RunDir(tmp_path / f"r{i}") for i in range(4)]
    runs[0].set_status("completed", steps=100)
    runs[1].set_status("running", steps=40)
    runs[2].set_status("failed", steps=10, error="boom")  # from an earlier sweep: retried
    console = Console(file=io.StringIO(), width=200, force_terminal=True)
    view = SweepProgress(
        "demo", [(r, 100) for r in runs], {"r0"}, enabled=True, console=console, interval=0.05
    )
    with view:
        figures = view.poll()
        assert figures["completed"] == 1 and figures["failed"] == 0 and figures["steps"] == 150
        runs[1].set_status("running", steps=90)
        runs[2].set_status("failed", steps=20, error="boom again")  # failed in this sweep
        time.sleep(0.2)
        figures = view.poll()
    assert figures["failed"] == 1 and figures["steps"] == 210 and figures["steps_per_second"] > 0
    text = console.file.getvalue()
    assert "runs 2/4" in text and "steps/s" in text and "ETA" in text


def write_completed_runs(spec, root: Path) -> Path:
    """A sweep folder of completed one-log runs of ``spec`` (what `explore report` reads)."""
    (root / "sweep.yaml").write_text(spec.text)
    for point in expand(spec):
        for seed in point.seeds:
            run = RunDir.for_config(root, point.for_seed(seed))
            run.path.mkdir()
            (run.path / "config.yaml").write_text(
                yaml.safe_dump(point.for_seed(seed).model_dump(mode="json"))
            )
            run.write_metrics([{"step": 1280, "metric": "success_rate", "value": 0.5}])
            run.set_status("completed", steps=1280)
    return root


def test_report_labels_algorithms_by_dotted_grid_keys(tmp_path):
    """A grid over env.contexts (config.yaml: env_kwargs.contexts) splits the algorithms."""
    import analysis

    spec = parse_spec(
        {
            "name": "ctx",
            "base": TINY_BASE,
            "grid": {"env.contexts": [0, 1], "bonus": ["rnd"]},
            "seeds": "0-1",
        }
    )
    sweep = analysis.load(write_completed_runs(spec, tmp_path))
    assert sweep.algorithms == ["ppo+rnd env_kwargs.contexts=0", "ppo+rnd env_kwargs.contexts=1"]


def test_report_labels_bundles_by_the_fields_they_vary(tmp_path):
    """A bundle axis varies its own fields: one bonus at two int_coefs is two algorithms,
    each label naming the field that varies."""
    import analysis

    spec = parse_spec(
        {
            "name": "bund",
            "base": TINY_BASE,
            "grid": {
                "method": [
                    {"bonus": "rnd", "ppo.int_coef": 0.5},
                    {"bonus": "rnd", "ppo.int_coef": 1.0},
                    {"bonus": "count", "ppo.int_coef": 1.0},
                ]
            },
            "seeds": "0-1",
        }
    )
    sweep = analysis.load(write_completed_runs(spec, tmp_path))
    assert sweep.algorithms == [
        "ppo+count ppo.int_coef=1.0",
        "ppo+rnd ppo.int_coef=0.5",
        "ppo+rnd ppo.int_coef=1.0",
    ]


def test_progress_without_a_terminal_prints_plain_lines(tmp_path):
    # A log file or CI: rich's live view would stay blank until the end, so a plain line
    # comes every plain_interval seconds instead.
    runs = [RunDir(tmp_path / f"r{i}") for i in range(2)]
    runs[0].set_status("running", steps=30)
    console = Console(file=io.StringIO(), width=200, force_terminal=False)
    view = SweepProgress(
        "logged", [(r, 100) for r in runs], set(), enabled=True, console=console,
        plain_interval=0.05,
    )  # fmt: skip
    assert not view.live
    with view:
        time.sleep(0.3)
    lines = [line for line in console.file.getvalue().splitlines() if line.startswith("logged")]
    assert len(lines) >= 2
    assert "runs 0/2" in lines[0] and "30/200 steps" in lines[0] and "\x1b" not in lines[0]
