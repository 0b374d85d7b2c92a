"""The SB3 bridge: training runs, bonus parity with the JAX path, checkpoints, run store."""

from __future__ import annotations

import json
import tempfile

import jax
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("torch")

import torch

import agents.bonuses
from agents import sb3
from agents.bonuses.base import Transitions
from explore import train_sb3 as driver
from explore.config import load_config
from explore.runs import RunDir

torch.set_num_threads(1)

TINY = [
    "agent=sb3_ppo",
    "ppo.num_envs=2",
    "ppo.num_steps=64",
    "ppo.num_minibatches=2",
    "ppo.update_epochs=1",
    "ppo.hidden=16",
    "log_every=2",
]
JAX_METRICS = {
    "episodes",
    "episode_return",
    "episode_length",
    "success_rate",
    "intrinsic_reward_mean",
    "intrinsic_reward_std",
    "loss/total",
    "loss/policy",
    "loss/value",
    "loss/entropy",
    "approx_kl",
    "clipfrac",
    "steps_per_second",
}


def tiny(*extra: str):
    return load_config(None, [*TINY, *extra])


def metrics(run: RunDir) -> pd.DataFrame:
    return pd.read_parquet(run.path / "metrics.parquet")


# ------------------------------------------------------------------------------ training
def test_ppo_rnd_on_gymnasium_env(tmp_path, monkeypatch):
    # SB3's default logger makes a /tmp/SB3-<time> folder per learn(); ours keeps it in memory.
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    run = driver.train_sb3(
        tiny("env=gym:CartPole-v1", "bonus=rnd", "total_steps=2048"), tmp_path / "runs"
    )
    assert run.is_complete()
    assert not list(scratch.glob("SB3-*"))
    frame = metrics(run)
    assert list(frame.columns) == ["step", "metric", "value"]
    names = set(frame.metric)
    assert JAX_METRICS | {"extrinsic_reward_mean", "bonus/predictor_loss"} <= names
    assert frame.step.max() == 2048
    r_int = frame.query("metric == 'intrinsic_reward_mean'").value
    assert (r_int > 0).all()
    # CartPole pays +1 per step: the extrinsic stream is logged apart from the intrinsic one.
    assert np.allclose(frame.query("metric == 'extrinsic_reward_mean'").value, 1.0)
    assert frame.query("metric == 'episode_return'").value.notna().all()


def test_ppo_rnd_on_minihack(tmp_path):
    pytest.importorskip("minihack")
    cfg = tiny(
        "env=gym:MiniHack-Room-5x5-v0",
        "bonus=rnd",
        "total_steps=2048",
        "ppo.num_envs=4",
        "ppo.num_steps=32",
    )
    run = driver.train_sb3(cfg, tmp_path)
    assert run.is_complete()
    frame = metrics(run)
    assert frame.step.max() == 2048
    assert set(frame.metric) >= JAX_METRICS
    success = frame.query("metric == 'success_rate'").value.dropna()
    assert len(success) and success.between(0, 1).all()


def test_a2c_with_episodic_bonus_runs(tmp_path):
    cfg = tiny(
        "agent=sb3_a2c",
        "env=gym:CartPole-v1",
        "bonus=episodic_count",
        "total_steps=512",
        "ppo.num_steps=16",
    )
    run = driver.train_sb3(cfg, tmp_path)
    assert run.is_complete()
    assert {"intrinsic_reward_mean", "loss/policy", "loss/value"} <= set(metrics(run).metric)


def test_unknown_names_fail_before_writing(tmp_path):
    with pytest.raises(KeyError, match="Did you mean"):
        driver.train_sb3(tiny("env=DoorKy-8x8"), tmp_path)
    with pytest.raises(KeyError):
        driver.train_sb3(tiny("env=gym:CartPole-v1", "bonus=rndd"), tmp_path)
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------ bonus parity
@pytest.mark.parametrize(
    "spec",
    [
        "rnd",
        "episodic_count",
        pytest.param("e3b", marks=pytest.mark.slow),
        pytest.param("product(rnd,e3b)", marks=pytest.mark.slow),
    ],
)
def test_bonus_equals_jax_path_on_same_batch(spec):
    """The bridge's r_int, updated bonus state and normalisation equal what the JAX PPO
    computes on the same batch, from the state the JAX PPO initialises for the same seed."""
    from agents.ppo import RunningMoments
    from envs import make

    env, params = make("Empty-5x5")
    obs_space, action_space = env.observation_space(params), env.action_space(params)
    t, n, seed = 8, 3, 7
    bonus = agents.bonuses.make(spec)
    # The JAX PPO initialises its bonus with the third of four keys split from the seed key
    # (PPO.init); test_initial_bonus_state_is_the_jax_ppos checks that against PPO itself.
    jax_bonus_state = bonus.init(
        jax.random.split(jax.random.PRNGKey(seed), 4)[2], obs_space, action_space, n
    )
    bridge = sb3.IntrinsicReward(bonus, obs_space, action_space, n, seed=seed, gamma_int=0.99)
    for a, b in zip(
        jax.tree.leaves(jax_bonus_state), jax.tree.leaves(bridge.state["bonus"]), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

    rng = np.random.default_rng(0)
    obs = rng.integers(0, 4, (t, n, *obs_space.shape)).astype(np.uint8)
    next_obs = rng.integers(0, 4, (t, n, *obs_space.shape)).astype(np.uint8)
    action = rng.integers(0, action_space.n, (t, n))
    done = rng.random((t, n)) < 0.2
    raw, scaled, _ = bridge(obs, action, next_obs, done)

    batch = Transitions.from_arrays(obs, action.astype(np.int32), next_obs, done)
    r_jax, state_jax, _ = jax.jit(bonus.reward_and_update)(jax_bonus_state, batch)
    np.testing.assert_allclose(raw, np.asarray(r_jax), rtol=1e-5, atol=1e-6)
    for a, b in zip(
        jax.tree.leaves(state_jax), jax.tree.leaves(bridge.state["bonus"]), strict=True
    ):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)

    # The normalisation, as agents/ppo.py writes it, in NumPy.
    discounted, acc = [], np.zeros(n, np.float32)
    for row in np.asarray(r_jax):
        acc = acc * 0.99 + row
        discounted.append(acc)
    moments = RunningMoments.create().update(np.stack(discounted))
    np.testing.assert_allclose(
        scaled, np.asarray(r_jax) / np.sqrt(float(moments.var) + 1e-8), rtol=1e-5, atol=1e-6
    )


@pytest.mark.slow
def test_initial_bonus_state_is_the_jax_ppos():
    from agents.ppo import PPO, PPOConfig
    from envs import make

    env, params = make("Empty-5x5")
    bonus = agents.bonuses.make("rnd")
    ppo = PPO(env, params, bonus, PPOConfig(num_envs=3, num_steps=8, hidden=8))
    jax_state = jax.tree.map(lambda x: x[0], ppo.init_seeds([jax.random.PRNGKey(7)]))
    bridge = sb3.IntrinsicReward(
        bonus, env.observation_space(params), env.action_space(params), 3, seed=7
    )
    for a, b in zip(
        jax.tree.leaves(jax_state.bonus_state), jax.tree.leaves(bridge.state["bonus"]), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_rollout_batch_and_buffer_rewards():
    """next_obs is the terminal observation at episode ends, the batch is time-major, and the
    buffer holds r_ext + int_coef * normalised r_int with advantages recomputed from it."""
    cfg = tiny("env=gym:CartPole-v1", "bonus=rnd", "ppo.int_coef=0.5", "ppo.num_steps=128")
    model = sb3.build_sb3(cfg)
    try:
        model.learn(total_timesteps=256, log_interval=None)
        batch = model._recorder.batch()
        t, n = 128, 2
        assert batch["obs"].shape == (t, n, 4) and batch["done"].shape == (t, n)
        assert batch["done"].any()
        cont = ~batch["done"][:-1]
        np.testing.assert_array_equal(batch["next_obs"][:-1][cont], batch["obs"][1:][cont])
        ends = batch["done"][:-1]
        # A reset observation follows an episode end; the terminal one is far from it.
        assert not np.allclose(batch["next_obs"][:-1][ends], batch["obs"][1:][ends])

        fresh = sb3.IntrinsicReward(
            agents.bonuses.make("rnd"),
            model.intrinsic.obs_space,
            model.intrinsic.action_space,
            n,
            seed=cfg.seed,
        )
        _, scaled, _ = fresh(**batch)
        extrinsic = np.stack(model._recorder.rewards)
        buffer = model.rollout_buffer
        p = cfg.agent_settings
        np.testing.assert_allclose(
            buffer.rewards, p.ext_coef * extrinsic + p.int_coef * scaled, rtol=1e-5, atol=1e-6
        )
        # GAE on the combined reward: the last step's advantage is r + γV(s') − V(s).
        last = buffer.returns[-1] - buffer.values[-1]
        np.testing.assert_allclose(buffer.advantages[-1], last, rtol=1e-5, atol=1e-6)
    finally:
        model.get_env().close()


# ------------------------------------------------------------------------------ checkpoints
def test_checkpoint_round_trip(tmp_path):
    cfg = tiny("env=gym:CartPole-v1", "bonus=rnd")
    model = sb3.build_sb3(cfg)
    other = sb3.build_sb3(cfg.model_copy(update={"seed": 1}))
    try:
        model.learn(total_timesteps=256, log_interval=None)
        run = RunDir(tmp_path / "run")
        run.save_checkpoint(sb3.checkpoint_state(model), model.num_timesteps, 2)
        assert not list(run.checkpoint_dir.glob("*.pt")) and list(run.checkpoint_dir.glob("*.npz"))
        state, steps, _ = run.load_checkpoint(sb3.checkpoint_state(other))
        sb3.restore_state(other, state)
        assert steps == other.num_timesteps == model.num_timesteps == 256
        for (name, a), b in zip(
            model.policy.state_dict().items(), other.policy.state_dict().values(), strict=True
        ):
            torch.testing.assert_close(a, b, msg=name)
        opt_a, opt_b = model.policy.optimizer.state_dict(), other.policy.optimizer.state_dict()
        for i, s in opt_a["state"].items():
            for k, v in s.items():
                torch.testing.assert_close(v, opt_b["state"][i][k])
        for a, b in zip(
            jax.tree.leaves(model.intrinsic.state),
            jax.tree.leaves(other.intrinsic.state),
            strict=True,
        ):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        # The restored model keeps training.
        other.learn(total_timesteps=128, reset_num_timesteps=False, log_interval=None)
        assert other.num_timesteps == 384
    finally:
        model.get_env().close()
        other.get_env().close()


def test_interrupted_run_resumes_with_bonus_state(tmp_path, monkeypatch):
    cfg = tiny("env=gym:CartPole-v1", "bonus=rnd", "total_steps=512", "log_every=1")
    real, calls = driver._summarise, {"n": 0}

    def interrupt_on_second_log(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(driver, "_summarise", interrupt_on_second_log)
    with pytest.raises(KeyboardInterrupt):
        driver.train_sb3(cfg, tmp_path)
    run = RunDir.for_config(tmp_path, cfg)
    assert run.status()["status"] == "running" and run.checkpoint_steps() == 256
    monkeypatch.setattr(driver, "_summarise", real)
    driver.train_sb3(cfg, tmp_path)
    assert run.is_complete() and run.checkpoint_steps() == 512
    # RND's observation statistics saw every step, before and after the interruption.
    like = sb3.checkpoint_state(sb3.build_sb3(cfg))
    state, _, updates = run.load_checkpoint(like)
    assert updates == 4
    assert float(state["intrinsic"]["bonus"].obs_norm.count) == pytest.approx(512, abs=1e-3)
    assert metrics(run).step.max() == 512


# ------------------------------------------------------------------------------ run store
def test_run_store_has_the_shape_of_jax_runs(tmp_path):
    from analysis import load
    from explore.train import train

    jax_cfg = load_config(
        None,
        [
            "env=Empty-5x5",
            "bonus=count",
            "total_steps=256",
            "log_every=2",
            "ppo.num_envs=2",
            "ppo.num_steps=32",
            "ppo.hidden=8",
            "ppo.update_epochs=1",
            "ppo.num_minibatches=1",
        ],
    )
    jax_run = train(jax_cfg, [0], tmp_path, progress=False)[0]
    sb3_run = driver.train_sb3(jax_cfg.model_copy(update={"agent": "sb3_ppo"}), tmp_path)
    assert jax_run.path != sb3_run.path

    def files(run):
        names = {p.relative_to(run.path).as_posix() for p in run.path.rglob("*") if p.is_file()}
        return {"checkpoint/state.npz" if n.startswith("checkpoint/state-") else n for n in names}

    # coverage.npy and bonus_by_cell.csv need privileged agent positions, which only the JAX
    # gridworld loop sees.
    assert files(sb3_run) == files(jax_run) - {"coverage.npy", "bonus_by_cell.csv"}
    a, b = metrics(jax_run), metrics(sb3_run)
    assert list(a.dtypes) == list(b.dtypes)
    # The run-store contract's names (docs/run_store.md) plus the JAX agent's extras.
    # Coverage metrics need the gridworld's privileged positions (JAX loop only).
    assert set(a.metric) - {"coverage/cells_per_episode", "coverage/cells_visited"} <= set(b.metric)
    for name in ("status.json", "versions.json"):
        assert set(json.loads((jax_run.path / name).read_text())) <= set(
            json.loads((sb3_run.path / name).read_text())
        )

    sweep = load(tmp_path, warn=False)
    assert {r.config["agent"] for r in sweep.runs} == {"ppo", "sb3_ppo"}
    assert sweep.tasks == ["Empty-5x5"]
    scores = sweep.scores()
    assert set(scores.matrices) == {"ppo+count", "sb3_ppo+count"}


# ------------------------------------------------------------------------------ LLM feedback
def test_oni_through_sb3_labels_caption_texts(tmp_path, monkeypatch):
    """Gymnasium envs caption events as text: an open vocabulary codes them, the annotator
    labels them, the store keeps them, and the codes are saved beside the checkpoint."""
    db = tmp_path / "labels.sqlite"
    monkeypatch.setenv("EXPLORE_LABELS_DB", str(db))
    cfg = tiny(
        "env=DoorKey-5x5",
        "bonus=sum(oni(retrieval,annotator=rules),count)",
        "total_steps=1024",
        "ppo.num_envs=4",
        "ppo.num_steps=32",
    )
    run = driver.train_sb3(cfg, tmp_path)
    assert run.is_complete()
    saved = json.loads((run.path / "captions.json").read_text())
    assert "You bump into an obstacle." in saved["captions"]  # random walks hit walls
    frame = metrics(run)
    seen = frame[frame.metric.str.endswith("oni/seen_captions")]
    assert seen.value.max() >= 1
    from agents.llm.store import LabelStore

    stored = {row.caption for row in LabelStore(str(db)).rows()}
    # train_sb3 closes the bonus, which lets the annotator finish: every caption seen got a
    # label, persisted in the store.
    assert set(saved["captions"]) <= stored


def test_task_descriptions_for_prompts():
    assert "key" in sb3.task_description("DoorKey-8x8")  # the gridworld's mission text
    pytest.importorskip("minihack")
    assert "staircase" in sb3.task_description("gym:MiniHack-KeyRoom-S5-v0")
    assert "levitat" in sb3.task_description("gym:MiniHack-Levitate-Potion-v1")
