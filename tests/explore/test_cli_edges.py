"""Rough edges a new user hits, each checked through the real ``explore`` console script.

The rough edges: a misspelt env option, a malformed or unsafe ``--config``, a corrupt
``status.json``, a report that fails after skipping runs, ``--help`` text, an LLM annotator
that never answers, the label store's place and the Gymnasium ids of ``import envs``.
Every CLI error is one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))
from llm_testlib import HANG, ChatServer, chat_reply

ROOT = Path(__file__).resolve().parents[2]
EXPLORE = str(Path(sys.executable).with_name("explore"))
# The smallest training that still runs PPO's compiled chunk (one compile per run).
TINY = [
    "env=Empty-5x5",
    "num_envs=2",
    "num_steps=8",
    "update_epochs=1",
    "num_minibatches=1",
    "hidden=8",
    "log_every=1",
]


def explore(
    *args: str, cwd: Path | None = None, timeout: float = 1200
) -> subprocess.CompletedProcess:
    """Run the installed console script; ``--no-progress`` is the caller's choice."""
    # COLUMNS: rich draws the final progress bar at this width instead of 80 (no "…").
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "400"}
    env.pop("EXPLORE_LABELS_DB", None)
    return subprocess.run(
        [EXPLORE, *args], cwd=cwd or ROOT, capture_output=True, text=True, timeout=timeout, env=env
    )


def first_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert lines, f"nothing on stderr (rc {proc.returncode}): {proc.stdout[-2000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


# ------------------------------------------------------------------ 1. misspelt env option
def test_train_reports_a_misspelt_env_option_like_sweep(tmp_path):
    train = explore("train", "env=DoorKey-8x8", "env.contxts=1", f"out={tmp_path / 'runs'}")
    assert train.returncode == 2
    line = first_error_line(train)
    assert line.startswith(
        "explore train: error: unknown env option 'env.contxts' for DoorKey-8x8."
    )
    assert "Did you mean: contexts?" in line
    spec = tmp_path / "typo.yaml"
    spec.write_text("name: typo\nbase: {env: DoorKey-8x8, env.contxts: 1}\nseeds: 0\n")
    sweep = explore("sweep", str(spec), "--dir", str(tmp_path / "sweep"), "--dry-run")
    assert sweep.returncode == 2
    # The same message, from the same function (explore.sweep.make_env).
    assert line.removeprefix("explore train: error: ") in first_error_line(sweep)
    assert not (tmp_path / "runs").exists()  # nothing created before the check


# ------------------------------------------------------------------ 2. bad --config YAML
@pytest.mark.parametrize(
    "text, problem",
    [
        ("env: DoorKey-8x8\nppo: {lr: [1, 2\nbonus: rnd\n", "(line 3, column 6): expected ','"),
        (
            "env: !!python/object/apply:os.system ['echo pwned']\n",
            "could not determine a constructor for the tag",
        ),
    ],
    ids=["malformed", "python-tag"],
)
def test_train_config_with_bad_yaml_is_one_line_naming_the_file(tmp_path, text, problem):
    config = tmp_path / "f.yaml"
    config.write_text(text)
    proc = explore("train", "--config", str(config), f"out={tmp_path / 'runs'}")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0, proc.stderr  # one line
    line = first_error_line(proc)
    assert line.startswith(f"explore train: error: {config}: not valid YAML")
    assert problem in line
    assert "pwned" not in proc.stdout + proc.stderr
    # explore sweep reads YAML through the same function and says the same.
    sweep = explore("sweep", str(config), "--dry-run")
    assert sweep.returncode == 2
    assert first_error_line(sweep) == line.replace("explore train:", "explore sweep:")


# ------------------------------------------------------------------ 4. corrupt status.json
def _run_dir(root: Path, overrides: list[str]) -> Path:
    from explore.config import load_config
    from explore.runs import RunDir

    return RunDir.for_config(root, load_config(None, overrides)).path


def test_train_and_sweep_name_a_corrupt_status_json(tmp_path):
    overrides = [*TINY, "total_steps=16"]
    run = _run_dir(tmp_path / "runs", overrides)
    run.mkdir(parents=True)
    (run / "status.json").write_text('{"status": "comp')  # torn by hand
    proc = explore("train", *overrides, f"out={tmp_path / 'runs'}")
    assert proc.returncode == 2
    line = first_error_line(proc)
    assert line.startswith(f"explore train: error: {run / 'status.json'}: corrupt status.json")

    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump({"name": "tiny", "base": dict(o.split("=") for o in overrides)}))
    sweep_run = _run_dir(tmp_path / "sweep", overrides)
    sweep_run.mkdir(parents=True)
    (sweep_run / "status.json").write_text('"completed"')  # valid JSON, not an object
    proc = explore("sweep", str(spec), "--dir", str(tmp_path / "sweep"), "--no-progress")
    assert proc.returncode == 2
    line = first_error_line(proc)
    assert line.startswith(
        f"explore sweep: error: {sweep_run / 'status.json'}: corrupt status.json"
    )
    assert "not a JSON object" in line


# ------------------------------------------------------------------ 4, 5, 6. explore report
def _fake_run(root: Path, name: str, bonus: str, seed: int, status: object) -> None:
    run = root / name
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"env": "A", "bonus": bonus, "seed": seed}))
    (run / "status.json").write_text(json.dumps(status))
    rows = [(1000 * (i + 1), "success_rate", 0.1 * i + 0.05 * seed) for i in range(4)]
    pd.DataFrame(rows, columns=["step", "metric", "value"]).to_parquet(run / "metrics.parquet")


BAD_STATUSES = {"list": [], "null": None, "string": "completed"}


def test_report_skips_and_lists_runs_whose_status_is_not_an_object(tmp_path):
    sweep = tmp_path / "sweep"
    for bonus in ("rnd", "e3b"):
        for seed in range(3):
            _fake_run(sweep, f"A__{bonus}__s{seed}", bonus, seed, {"status": "completed"})
    for name, status in BAD_STATUSES.items():
        _fake_run(sweep, f"bad_{name}", "rnd", 9, status)
    proc = explore("report", str(sweep), "--out", str(tmp_path / "report"), "--reps", "200")
    assert proc.returncode == 0, proc.stderr
    assert "skipped 3 runs" in proc.stdout
    # The note is wrapped to the console's width wherever a space falls (the temporary
    # path's length varies), so the comparison ignores whitespace.
    printed = "".join(proc.stdout.split())
    for name, status in BAD_STATUSES.items():
        expected = f"bad_{name} (unreadable status.json (not a JSON object: {json.dumps(status)}"
        assert "".join(expected.split()) in printed
    assert (tmp_path / "report" / "report.md").is_file()


def test_report_prints_the_skip_notes_before_failing(tmp_path):
    sweep = tmp_path / "sweep"
    for bonus in ("rnd", "e3b"):  # one usable run per algorithm: no interval is possible
        _fake_run(sweep, f"A__{bonus}__s0", bonus, 0, {"status": "completed"})
        _fake_run(sweep, f"A__{bonus}__s1", bonus, 1, None)
    proc = explore("report", str(sweep), "--out", str(tmp_path / "report"), "--reps", "200")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    notes = [i for i, line in enumerate(lines) if line.startswith("note:")]
    errors = [i for i, line in enumerate(lines) if line.startswith("explore report: error:")]
    assert notes and errors and max(notes) < min(errors), proc.stderr
    assert "A__rnd__s1 (unreadable status.json" in " ".join(lines[: min(errors)])
    assert "only 1 run per task" in lines[min(errors)]


def test_report_help_shows_a_plain_percent_sign():
    proc = explore("report", "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert "95% stratified bootstrap" in text and "%%" not in text


def test_bench_suites_keep_their_options_while_other_commands_skip_their_imports():
    # explore bench imports a suite (JAX, peers) only when it is chosen.
    proc = explore("bench", "analysis", "--help")
    assert proc.returncode == 0
    assert "--reps" in proc.stdout and "--json" in proc.stdout
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from explore.cli import build_parser; build_parser(); "
            "print('jax' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert check.stdout.strip() == "False"


# ------------------------------------------------------------------ 3, 7. an annotator that fails
def _broken_server(body: dict, number: int):
    """Requests meet the three failures in turn: a hang (the client times out), HTTP 500,
    then garbage (a body that is not JSON, or a reply that is not a label)."""
    kind = number % 3
    if kind == 0:
        return HANG
    if kind == 1:
        return 500, {"error": "overloaded"}
    return 200, b"<html>not json</html>" if number % 2 else chat_reply("banana?")


@pytest.fixture(scope="module")
def broken_annotator_run(tmp_path_factory):
    """One `explore train` with oni(annotator=openai) against a server that never labels."""
    tmp = tmp_path_factory.mktemp("oni")
    cwd = tmp / "elsewhere"
    cwd.mkdir()
    with ChatServer(_broken_server) as server:
        bonus = (
            "oni(retrieval,annotator=openai,base_url="
            f"{server.url},timeout=0.05,max_retries=1,backoff=0.01,warn_after=0.001)"
        )
        out = tmp / "runs"
        proc = explore("train", *TINY, "total_steps=640", f"bonus={bonus}", f"out={out}", cwd=cwd)
        requests = len(server.requests)
    return proc, out, cwd, requests


def test_train_logs_and_warns_about_annotator_failures(broken_annotator_run):
    proc, out, _, requests = broken_annotator_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert requests >= 3
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    metrics = pd.read_parquet(run / "metrics.parquet")
    chunks = sorted(metrics.step.unique())
    counters = [
        "timeouts",
        "http_errors",
        "malformed",
        "failed",
        "pending",
        "labels",
        "seconds_without_label",
    ]
    for counter in counters:  # logged every chunk, zeros included
        rows = metrics[metrics.metric == f"bonus/oni/annotator_{counter}"]
        if rows.empty:
            rows = metrics[metrics.metric == f"bonus/oni/{counter}"]
        assert sorted(rows.step) == chunks, counter
    last = metrics[metrics.step == chunks[-1]].set_index("metric").value
    assert last["bonus/oni/labels"] == 0
    assert last["bonus/oni/annotator_http_errors"] >= 1
    assert last["bonus/oni/annotator_malformed"] >= 1
    assert last["bonus/oni/annotator_timeouts"] >= 1
    output = proc.stdout + proc.stderr
    warnings = [line for line in output.splitlines() if line.startswith("warning:")]
    assert any("no label" in w and "after the first caption was queued" in w for w in warnings)
    assert any("failed annotation" in w and "0 labels so far" in w for w in warnings), warnings
    # The progress bar (drawn once more when it closes) carries the counters.
    assert "labels 0 pending" in output and "failed" in output


def test_annotator_warnings_are_rate_limited(tmp_path):
    """A dead annotator gives a handful of warning lines (failure count doubling), not one per
    chunk; the stall warning comes once; labels silence both."""
    import time

    from agents.llm.annotators import FAILED, Answer, RulesAnnotator
    from agents.llm.service import LabelService

    class Down(RulesAnnotator):
        broken = True

        async def alabel(self, captions):
            if not Down.broken:
                return await super().alabel(captions)
            self.stats.add("failed", len(captions))
            return [Answer(None, FAILED)] * len(captions)

    service = LabelService(Down("reach the goal"), None, max_attempts=1, warn_after=0.05)
    with service:
        assert service.health() == []  # nothing asked yet: nothing to say
        lines = []
        for i in range(16):  # one new failing caption per "chunk"
            service.submit([f"caption {i}"])
            assert service.wait_idle(5.0)
            lines += service.health()
        time.sleep(0.06)
        lines += service.health()
        stalls = [line for line in lines if "no label" in line]
        failures = [line for line in lines if "failed annotation" in line]
        assert len(stalls) == 1 and stalls[0].startswith("rules annotator (keywords-v1): no label")
        counts = [int(line.split(": ")[1].split()[0]) for line in failures]
        assert counts == [1, 2, 4, 8, 16]  # doubling: 5 lines for 16 failures
        Down.broken = False
        service.submit(["You reach the goal."])
        assert service.wait_idle(5.0)
        assert service.stats()["labels"] == 1 and service.seconds_without_label() == 0.0
        for i in range(16, 40):
            service.submit([f"caption {i}"])  # labelled now: no failure, no warning
            assert service.wait_idle(5.0)
        assert service.health() == []


def test_label_store_defaults_under_out_and_is_announced(broken_annotator_run):
    proc, out, cwd, _ = broken_annotator_run
    store = out / "labels.sqlite"
    assert store.is_file()
    assert f"label store: {store}" in proc.stdout.replace("\n", "")
    assert not (cwd / "runs").exists()  # nothing written relative to the working directory


def test_bonus_is_closed_when_training_raises(tmp_path, monkeypatch):
    import explore.train as train_module
    from explore.config import load_config

    built = {}
    real_build = train_module.build

    def spy_build(cfg, env=None):
        parts = real_build(cfg, env)
        built["bonus"] = parts[2]
        return parts

    def failing_group(ppo, bonus, *args, **kwargs):
        bonus.start()  # the labelling thread runs, as after a first chunk
        raise RuntimeError("disk full")

    monkeypatch.setattr(train_module, "build", spy_build)
    monkeypatch.setattr(train_module, "_train_group", failing_group)
    cfg = load_config(None, [*TINY, "total_steps=16", "bonus=oni(retrieval,annotator=rules)"])
    with pytest.raises(RuntimeError, match="disk full"):
        train_module.train(cfg, [0], tmp_path / "runs", progress=False)
    service = built["bonus"].service
    assert service._closed and not service._thread.is_alive()


# ------------------------------------------------------------------ 8. Gymnasium ids
def test_import_envs_registers_the_gymnasium_ids_cheaply():
    code = textwrap.dedent("""
        import sys
        import envs
        assert "envs.gymnasium" not in sys.modules  # wrappers load when an env is made
        import gymnasium
        env = gymnasium.make("explore/DoorKey-8x8-v0", contexts=0)
        obs, info = env.reset(seed=0)
        print(type(env.unwrapped).__name__, obs.shape)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=1200
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["GridWorldEnv", "(7,", "7,", "3)"]
