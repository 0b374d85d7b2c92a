"""Synthetic run directories written by hand, following docs/run_store.md."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml


def write_run(
    root: Path,
    env: str,
    bonus: str,
    seed: int,
    values: Sequence[float],
    steps: Sequence[int] | None = None,
    status: str = "completed",
    metric: str = "success_rate",
    agent: str = "ppo",
    coverage: np.ndarray | None = None,
    extra: dict | None = None,
) -> Path:
    """One run directory with config.yaml, status.json, metrics.parquet (+ coverage.npy)."""
    steps = list(steps) if steps is not None else [1000 * (i + 1) for i in range(len(values))]
    config = {"env": env, "agent": agent, "bonus": bonus, "seed": seed, "total_steps": 5000}
    config.update(extra or {})
    digest = abs(hash(json.dumps(config, sort_keys=True))) % 10**8
    run = root / f"{env}__{bonus}__{digest:08d}__s{seed}"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    (run / "status.json").write_text(
        json.dumps(
            {
                "status": status,
                "error": "boom" if status == "failed" else None,
                "started": "2025-01-01T00:00:00",
                "finished": None,
                "steps": steps[-1],
            }
        )
    )
    rows = [(s, metric, float(v)) for s, v in zip(steps, values, strict=True)]
    rows += [(s, "episode_length", 10.0) for s in steps]
    frame = pd.DataFrame(rows, columns=["step", "metric", "value"]).astype(
        {"step": "int64", "value": "float64"}
    )
    frame.to_parquet(run / "metrics.parquet")
    (run / "versions.json").write_text(
        json.dumps(
            {
                "python": "3.11",
                "packages": {"jax": "0.10.2"},
                "git_commit": "abc123",
                "git_dirty": False,
            }
        )
    )
    if coverage is not None:
        np.save(run / "coverage.npy", coverage.astype(np.int64))
    return run


def make_sweep(
    root: Path,
    bonuses: Sequence[str] = ("rnd", "e3b"),
    envs: Sequence[str] = ("A", "B", "C"),
    seeds: int = 4,
    steps: int = 5,
    spec: dict | None = None,
    coverage: bool = False,
    seed: int = 0,
) -> Path:
    """A complete sweep with random success-rate curves in [0, 1]."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "sweep.yaml").write_text(yaml.safe_dump(spec or {"score": "success_rate"}))
    for b, bonus in enumerate(bonuses):
        for env in envs:
            for s in range(seeds):
                final = rng.beta(1 + b, 2)
                curve = np.linspace(0, final, steps)
                cov = None
                if coverage:
                    cov = rng.integers(0, 5, size=(5, 5)) * (rng.random((5, 5)) < 0.5 + 0.2 * b)
                    cov[0, 0] = 1
                write_run(root, env, bonus, s, curve, coverage=cov)
    return root


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    """A 2-algorithm × 3-task × 4-seed sweep."""
    return make_sweep(tmp_path / "sweep")
