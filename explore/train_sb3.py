"""The run-store driver of the Stable-Baselines3 agents (``agent=sb3_ppo`` / ``sb3_a2c``).

The JAX agents train in :mod:`explore.train` (every seed in one compiled program); SB3's
algorithms train one seed at a time, in SB3's own loop, through :func:`train_sb3` here. Both
write the same run store (:mod:`explore.runs`), so sweeps and reports treat their runs alike.
Which driver an agent uses is decided in one place, :func:`explore.config.in_jax_loop`; call
:func:`explore.train.train`, which dispatches.

Metrics are logged every ``log_every`` updates (the names of :mod:`explore.train`) and
checkpointed every ``checkpoint_every`` logs; resuming restores networks, optimiser, bonus and
normalisation state (:func:`agents.sb3.checkpoint_state`) and, for ``oni`` on text envs, the
open caption vocabulary (``captions.json``).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from agents.sb3 import build_sb3, checkpoint_state, restore_state
from explore.config import RunConfig
from explore.runs import RunDir, atomic_write_text


def check_sb3(cfg: RunConfig) -> None:
    """Fail on an unknown env id or a bad bonus before anything is written or started."""
    import agents.bonuses
    from agents.sb3 import gym_id

    gym_id(cfg.env)
    agents.bonuses.make(cfg.bonus, **cfg.bonus_kwargs)


def train_seeds(cfg: RunConfig, seeds: list[int], out: str | Path) -> list[RunDir]:
    """Train ``cfg`` for every seed under ``out``, one after the other; returns the runs.

    The LLM label store of ``oni`` defaults to ``<out>/labels.sqlite``, next to the runs it
    serves, as for the JAX agents.
    """
    from agents.llm.store import default_store_under

    with default_store_under(out):
        return [train_sb3(cfg.model_copy(update={"seed": s}), out) for s in seeds]


def _summarise(updates: list[dict[str, Any]], elapsed: float, steps: int) -> dict[str, float]:
    """Per-update metrics of one logging window → the logged values (as explore.train's)."""
    episodes = [e for u in updates for e in u.get("episodes_list", [])]
    successes = [s for _, _, s in episodes if not math.isnan(s)]
    out = {
        "episodes": float(len(episodes)),
        "episode_return": float(np.mean([r for r, _, _ in episodes])) if episodes else math.nan,
        "episode_length": float(np.mean([n for _, n, _ in episodes])) if episodes else math.nan,
        "success_rate": float(np.mean(successes)) if successes else math.nan,
    }
    keys = dict.fromkeys(k for u in updates for k in u if k != "episodes_list")
    for key in keys:
        out[key] = float(np.mean([u[key] for u in updates if key in u]))
    out["steps_per_second"] = steps / elapsed if elapsed > 0 else math.nan
    return out


def train_sb3(cfg: RunConfig, out: str | Path) -> RunDir:
    """Train one seed of an ``sb3_*`` config under ``out``; returns its ``RunDir``.

    Complete runs are skipped; interrupted ones resume from their checkpoint. Metrics are
    logged every ``log_every`` updates and checkpointed every ``checkpoint_every`` logs.
    """
    run = RunDir.for_config(out, cfg)
    if run.is_complete():
        return run
    model = build_sb3(cfg)
    venv = model.get_env()
    try:
        settings = cfg.agent_settings
        batch = settings.num_envs * settings.num_steps
        num_updates = max(1, int(cfg.total_steps) // batch)
        run.path.mkdir(parents=True, exist_ok=True)
        loaded = run.load_checkpoint(checkpoint_state(model)) if run.checkpoint_steps() else None
        vocabulary = model._recorder.vocabulary
        vocabulary_file = run.path / "captions.json"
        if loaded is not None:
            restore_state(model, loaded[0])
            if vocabulary is not None and vocabulary_file.exists():
                vocabulary.load_json(vocabulary_file.read_text())
        run.start(cfg)
        done_steps = model.num_timesteps
        rows = [r for r in run.read_metrics() if r["step"] <= done_steps]
        window: list[dict[str, Any]] = []
        clock = {"start": time.perf_counter(), "logs": 0}

        def flush(m) -> None:
            elapsed = time.perf_counter() - clock["start"]
            summary = _summarise(window, elapsed, len(window) * batch)
            rows.extend(
                {"step": m.num_timesteps, "metric": k, "value": v} for k, v in summary.items()
            )
            window.clear()
            clock["logs"] += 1
            if clock["logs"] % cfg.checkpoint_every == 0 or m.updates >= num_updates:
                if vocabulary is not None:  # before the checkpoint that refers to its codes
                    atomic_write_text(vocabulary_file, vocabulary.to_json())
                run.save_checkpoint(checkpoint_state(m), m.num_timesteps, m.updates)
                run.write_metrics(rows)
                run.set_status("running", steps=m.num_timesteps)
            clock["start"] = time.perf_counter()

        def on_update(m, metrics: dict[str, Any]) -> None:
            window.append(metrics)
            if len(window) >= cfg.log_every or m.updates >= num_updates:
                flush(m)

        model.on_update = on_update
        remaining = num_updates * batch - model.num_timesteps
        try:
            if remaining > 0:
                model.learn(
                    total_timesteps=remaining,
                    reset_num_timesteps=loaded is None,
                    log_interval=None,
                    progress_bar=False,
                )
        except KeyboardInterrupt:
            if vocabulary is not None:
                atomic_write_text(vocabulary_file, vocabulary.to_json())
            run.save_checkpoint(checkpoint_state(model), model.num_timesteps, model.updates)
            run.write_metrics(rows)
            run.set_status("running", steps=model.num_timesteps, interrupted=True)
            raise
        except Exception as err:
            run.fail(err, steps=model.num_timesteps)
            raise
        run.write_metrics(rows)
        run.set_status("completed", steps=model.num_timesteps)
    finally:
        venv.close()
        if model.intrinsic is not None:
            model.intrinsic.sync()  # the last rollout's captions are queued too
            model.intrinsic.bonus.close()
    return run
