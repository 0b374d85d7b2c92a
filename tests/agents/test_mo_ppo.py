"""Multi-objective PPO (agents/mo_ppo.py) through `explore train`: the front it records, the
weights vmapped in one program, checkpoints and resume, scalarised advantages, bad input."""

from __future__ import annotations

import types

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import envs
from agents.configs import MOPPOConfig
from agents.mo_ppo import MOPPO
from agents.ppo import PPO, Rollout
from analysis.load import load
from explore.cli import main
from explore.config import load_config
from explore.runs import RunDir
from explore.sweep.launchers import use_compile_cache
from explore.train import train

TINY = [
    "env=DeepSeaTreasure",
    "agent=mo_ppo",
    "total_steps=256",
    "log_every=2",
    "num_envs=4",
    "num_steps=16",
    "hidden=8",
    "update_epochs=1",
    "num_minibatches=1",
    "gamma_ext=1.0",
    "seeds=0",
]
EXTREMES = "mo_ppo.weights=[[1,0],[0,1]]"


def _train(out, *extra: str) -> RunDir:
    assert main(["train", *TINY, *extra, f"out={out}", "--no-progress"]) == 0
    (run,) = [RunDir(p) for p in out.iterdir() if p.is_dir()]
    return run


def _final_state(run: RunDir):
    return np.load(run.checkpoint_dir / run.checkpoints()[max(run.checkpoints())]["file"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two-weight and one-weight fronts trained by the console script (one compile cache)."""
    from jax.experimental.compilation_cache import compilation_cache

    root = tmp_path_factory.mktemp("mo_ppo")
    previous = jax.config.jax_compilation_cache_dir
    use_compile_cache(str(root / "jax_cache"))
    try:
        yield {
            "root": root,
            "pair": _train(root / "pair", EXTREMES),
            "single": _train(root / "single", "mo_ppo.weights=[[1,0]]"),
        }
    finally:
        jax.config.update("jax_compilation_cache_dir", previous)
        compilation_cache.reset_cache()


def test_run_logs_each_weights_front_point_and_the_true_front(runs):
    run = runs["pair"]
    assert run.is_complete()
    metrics = pd.read_parquet(run.path / "metrics.parquet")
    last = metrics[metrics.step == 256].set_index("metric")["value"]
    env, _ = envs.make("DeepSeaTreasure")
    true = env.pareto_front(1.0)
    logged_true = np.array(
        [[last[f"front/true/p{j:02d}/obj{k}"] for k in (0, 1)] for j in range(10)]
    )
    np.testing.assert_allclose(logged_true, true, rtol=1e-6)
    for i, weight in enumerate([(1, 0), (0, 1)]):
        assert (last[f"front/w{i:02d}/weight0"], last[f"front/w{i:02d}/weight1"]) == weight
        point = np.array([last[f"front/w{i:02d}/obj0"], last[f"front/w{i:02d}/obj1"]])
        # A greedy episode either reaches a treasure (a front point) or is cut at 100 steps
        # with no treasure: undiscounted time is then -100.
        on_front = np.isclose(true, point).all(axis=1).any()
        assert on_front or tuple(point) == (0.0, -100.0), point
    # The front is a score like any other for analysis (EUM needs no reference point).
    sweep = load(run.path.parent, score="eum")
    assert sweep.runs[0].values.shape == (2,) and np.isfinite(sweep.runs[0].values).all()


def test_weights_vmapped_in_one_program_equal_one_weight_alone(runs):
    """Weight (1, 0) trained next to (0, 1) ends where it ends when trained alone."""
    pair, single = _final_state(runs["pair"]), _final_state(runs["single"])
    inner = [name for name in single.files if name.startswith(".inner")]
    assert inner and set(inner) <= set(pair.files)
    for name in inner:
        assert pair[name].shape[0] == 2 and single[name].shape[0] == 1, name
        np.testing.assert_allclose(
            pair[name][0], single[name][0], rtol=1e-5, atol=1e-6, err_msg=name
        )
    # ...and the two weights' policies are two different policies.
    params = [n for n in inner if ".train.params" in n]
    assert any(not np.array_equal(pair[n][0], pair[n][1]) for n in params)
    m_pair = pd.read_parquet(runs["pair"].path / "metrics.parquet").set_index(["step", "metric"])
    m_one = pd.read_parquet(runs["single"].path / "metrics.parquet").set_index(["step", "metric"])
    for k in (0, 1):
        key = f"front/w00/obj{k}"
        np.testing.assert_allclose(
            m_pair.xs(key, level="metric").value, m_one.xs(key, level="metric").value
        )


def test_resume_is_bit_identical_and_checkpoint_round_trips(runs):
    out = runs["root"] / "resumed"
    cfg = load_config(None, [t for t in TINY if not t.startswith("seeds")] + [EXTREMES])
    (part,) = train(cfg, [0], out, progress=False, max_chunks=1)
    assert part.status()["status"] == "running" and part.checkpoint_steps() == 128
    resumed = _train(out, EXTREMES)
    assert resumed.path == part.path and resumed.is_complete()
    a, b = _final_state(runs["pair"]), _final_state(resumed)
    assert a.files == b.files
    for name in a.files:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    ma, mb = (
        pd.read_parquet(r.path / "metrics.parquet")
        .query("metric != 'steps_per_second'")  # wall clock
        .sort_values(["step", "metric"])
        .reset_index(drop=True)
        for r in (runs["pair"], resumed)
    )
    pd.testing.assert_frame_equal(ma, mb)

    # Round trip: the checkpoint loads into the runner's state and saves back to the same file.
    from explore.train import build

    runner = build(cfg)[3]
    like = jax.tree.map(lambda x: x[0], runner.init_seeds([jax.random.PRNGKey(0)]))
    state, _, updates = resumed.load_checkpoint(like)
    assert updates == 4 and state.weights.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    copy = RunDir(runs["root"] / "copy")
    copy.save_checkpoint(state, 256, updates)
    c = _final_state(copy)
    assert c.files == b.files
    for name in b.files:
        np.testing.assert_array_equal(b[name], c[name], err_msg=name)


def test_policy_advantage_is_the_scalarised_gae_and_critic_targets_are_per_objective():
    env, params = envs.make("DeepSeaTreasure")
    cfg = MOPPOConfig(
        num_envs=3, num_steps=5, num_minibatches=1, num_weights=3, gamma_ext=0.9, gae_lambda=0.8
    )
    agent = MOPPO(env, params, None, cfg)
    assert agent.network.value_dim == 2 and agent.weights.shape == (3, 2)
    keys = jax.random.split(jax.random.PRNGKey(1), 4)
    shape = (cfg.num_steps, cfg.num_envs)
    reward = jax.random.normal(keys[0], (*shape, 2))
    v, next_v = jax.random.normal(keys[1], (2, *shape, 2))
    terminated = jax.random.bernoulli(keys[2], 0.2, shape)
    done = terminated | jax.random.bernoulli(keys[3], 0.1, shape)
    zeros = jnp.zeros(shape)
    traj = Rollout(zeros, zeros, zeros, v, zeros, reward, terminated, done, done, zeros, zeros)
    w = jnp.array([0.3, 0.7])
    adv, target = agent._extrinsic_advantages(types.SimpleNamespace(weight=w), traj, next_v)
    scalar_adv, _ = PPO._gae(reward @ w, v @ w, next_v @ w, terminated, done, 0.9, 0.8)
    np.testing.assert_allclose(adv, scalar_adv, rtol=1e-5, atol=1e-6)
    for k in range(2):
        _, target_k = PPO._gae(
            reward[..., k], v[..., k], next_v[..., k], terminated, done, 0.9, 0.8
        )
        np.testing.assert_allclose(target[..., k], target_k, rtol=1e-6)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["env=DeepSeaTreasure", "agent=ppo"], "agent=mo_ppo"),
        (["env=Empty-5x5", "agent=mo_ppo"], "agent=ppo"),
        (
            ["env=DeepSeaTreasure", "agent=mo_ppo", "mo_ppo.weights=[[0.5,0.3,0.2]]"],
            "mo_ppo.weights must have 2 entries",
        ),
        (
            ["env=DeepSeaTreasure", "agent=mo_ppo", "mo_ppo.weights=[[1.5,-0.5]]"],
            "mo_ppo.weights must be non-negative",
        ),
        (
            ["env=DeepSeaTreasure", "agent=mo_ppo", "mo_ppo.weights=[[0.5,0.6]]"],
            "mo_ppo.weights must sum to 1",
        ),
        (["env=DeepSeaTreasure", "agent=mo_ppo", "mo_ppo.num_weights=0"], "mo_ppo.num_weights"),
    ],
)
def test_bad_input_is_one_line_naming_the_field(overrides, message, tmp_path, capsys):
    assert main(["train", *overrides, "total_steps=64", f"out={tmp_path}", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert not any(tmp_path.iterdir())


def test_normalised_weights_are_rescaled():
    env, params = envs.make("DeepSeaTreasure")
    cfg = MOPPOConfig(weights=[[1.0, 3.0]], normalize_weights=True)
    assert MOPPO(env, params, None, cfg).weights.tolist() == [[0.25, 0.75]]
