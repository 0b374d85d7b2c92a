"""``explore bench train --ippo``: ours against SocialJax's own IPPO, through the boundary.

The console-script test runs the bench end to end at a tiny size against a stand-in SocialJax
folder laid out as the real one (its IPPO module imports hydra, omegaconf and wandb at the
top and logs through ``jax.debug.callback``; its YAML has numbers PyYAML reads as strings).
The real SocialJax is exercised when ``$EXPLORE_SOCIALJAX`` names its folder. No timing is
asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from explore.bench import train as bench_train

# A SocialJax-shaped module: the same top-level imports, make_train(config) -> train(rng),
# logging each update through jax.debug.callback into wandb.log. It records the config it
# was given, so the test can check what the bench handed over.
FAKE_IPPO = """
import json
from pathlib import Path

import hydra
import jax
import jax.numpy as jnp
import wandb
from omegaconf import OmegaConf


def make_train(config):
    Path(__file__).with_name("seen_config.json").write_text(json.dumps(config))
    config["NUM_ACTORS"] = 7 * config["NUM_ENVS"]
    updates = config["TOTAL_TIMESTEPS"] // config["NUM_STEPS"] // config["NUM_ENVS"]

    def train(rng):
        def update(carry, _):
            carry = carry + jax.random.normal(jax.random.fold_in(rng, 1), (8,)).sum()
            jax.debug.callback(lambda m: wandb.log(m), {"loss": carry})
            return carry, carry

        return jax.lax.scan(update, jnp.zeros(()), None, updates)

    return train
"""

FAKE_CONFIGS = {
    "ippo_base.yaml": '"LR": 0.0005\n"NUM_ENVS": 256\n"TOTAL_TIMESTEPS": 1e8\n'
    '"REW_SHAPING_HORIZON": 2.5e6\n"ENV_KWARGS":\n  "num_inner_steps": 1000\n'
    '  "shared_rewards": False\n"WANDB_MODE": "online"\n',
    "ippo_cnn_cleanup.yaml": 'defaults:\n  - ippo_base\n  - _self_\n"ENV_NAME": "clean_up"\n'
    '"ENV_KWARGS":\n  "num_agents": 7\n',
    "reward/individual.yaml": "ENV_KWARGS:\n  shared_rewards: False\nREWARD: individual\n",
}


@pytest.fixture
def fake_socialjax(tmp_path: Path) -> Path:
    root = tmp_path / "socialjax_checkout"
    ippo = root / "algorithms" / "IPPO"
    (ippo / "config" / "reward").mkdir(parents=True)
    (root / "algorithms" / "__init__.py").write_text("")
    (ippo / "__init__.py").write_text("")
    (ippo / "ippo_cnn_cleanup.py").write_text(FAKE_IPPO)
    for name, text in FAKE_CONFIGS.items():
        (ippo / "config" / name).write_text(text)
    return root


def test_socialjax_config_merges_its_yaml_with_numbers_as_numbers(fake_socialjax):
    config = bench_train.socialjax_config(fake_socialjax, 4, 128, 2, 4, updates=3)
    assert config["REW_SHAPING_HORIZON"] == 2_500_000 and isinstance(
        config["REW_SHAPING_HORIZON"], int
    )
    assert config["ENV_NAME"] == "clean_up" and config["REWARD"] == "individual"
    assert config["ENV_KWARGS"] == {
        "num_inner_steps": 1000,
        "shared_rewards": False,
        "num_agents": 7,
    }
    assert (config["NUM_ENVS"], config["NUM_STEPS"], config["TOTAL_TIMESTEPS"]) == (4, 128, 1536)
    assert (config["UPDATE_EPOCHS"], config["NUM_MINIBATCHES"]) == (2, 4)
    assert config["PARAMETER_SHARING"] is True and config["WANDB_MODE"] == "disabled"
    assert "defaults" not in config


def test_socialjax_loads_with_stand_ins_and_leaves_no_trace(fake_socialjax):
    before = {name: sys.modules.get(name) for name in ("hydra", "omegaconf", "wandb")}
    module = bench_train.load_socialjax(fake_socialjax)
    assert isinstance(module.wandb, bench_train._WandbStandIn)
    assert {name: sys.modules.get(name) for name in before} == before
    assert str(fake_socialjax) not in sys.path


def test_socialjax_folder_from_the_variable_and_clear_errors(monkeypatch, fake_socialjax):
    monkeypatch.delenv(bench_train.SOCIALJAX_ENV, raising=False)
    monkeypatch.setattr(bench_train, "DEFAULT_SOCIALJAX", None)
    assert bench_train.resolve_socialjax(None) is None  # no peers folder: row unmeasured
    monkeypatch.setenv(bench_train.SOCIALJAX_ENV, str(fake_socialjax))
    assert bench_train.resolve_socialjax(None) == fake_socialjax.resolve()
    with pytest.raises(FileNotFoundError, match="--socialjax"):
        bench_train.resolve_socialjax(str(fake_socialjax / "algorithms"))


def test_bench_train_ippo_through_the_console_script(tmp_path, fake_socialjax):
    out = tmp_path / "rows.json"
    explore = Path(sys.executable).with_name("explore")
    # Coins, 1 env × 4 steps, 1 epoch × 1 minibatch: the code path, not a measurement.
    done = subprocess.run(
        [
            str(explore),
            "bench",
            "train",
            "--ippo",
            "--no-ippo-social",
            "--no-ippo-defaults",
            "--ippo-env",
            "Coins",
            "--socialjax",
            str(fake_socialjax),
            "--ippo-num-envs",
            "1",
            "--ippo-num-steps",
            "4",
            "--ippo-epochs",
            "1",
            "--ippo-minibatches",
            "1",
            "--ippo-repeats",
            "1",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != bench_train.SOCIALJAX_ENV},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (row,) = json.loads(out.read_text())
    assert row["bench"] == "IPPO Coins, matched to SocialJax"
    assert row["SocialJax source"].startswith(bench_train.MEASURED_LABEL)
    for key in ("ours agent-steps/s", "SocialJax agent-steps/s", "ours / SocialJax"):
        assert row[key] > 0, row
    seen = json.loads((fake_socialjax / "algorithms/IPPO/seen_config.json").read_text())
    assert (seen["NUM_ENVS"], seen["NUM_STEPS"], seen["TOTAL_TIMESTEPS"]) == (1, 4, 4)
    assert seen["REW_SHAPING_HORIZON"] == 2_500_000  # a number, not the string "2.5e6"


def test_bench_ippo_baseline_must_be_a_checkout(tmp_path):
    args = bench_train.argparse.Namespace(ippo_baseline=str(tmp_path), socialjax=None)
    with pytest.raises(FileNotFoundError, match="--ippo-baseline"):
        bench_train.ippo_speed_rows(args)


def test_real_socialjax_ippo_builds_through_the_boundary():
    peer = bench_train.resolve_socialjax(None)
    # Deliberately a failure, not a skip, so the peer comparison cannot vanish unnoticed.
    assert peer is not None, (
        "SocialJax's files not found: put the shared peers next to this checkout or set "
        f"${bench_train.SOCIALJAX_ENV} to the folder holding algorithms/ and socialjax/"
    )
    module = bench_train.load_socialjax(peer)
    config = bench_train.socialjax_config(peer, 1, 8, 1, 1, updates=1)
    module.make_train(config)  # builds its env and reads the converted numbers
    assert config["NUM_ACTORS"] == 7  # Clean Up's 7 agents × 1 env, parameters shared
    assert isinstance(module.wandb, bench_train._WandbStandIn)
