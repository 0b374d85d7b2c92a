"""The run store: one directory per (config, seed), every write atomic.

Layout and file formats: ``docs/run_store.md``. A run is complete only when its
``status.json`` says ``completed``; readers (``analysis``) never need anything else.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import os
import platform
import re
import subprocess
import tempfile
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from explore.config import RunConfig

KEY_PACKAGES = (
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "numpy",
    "gymnasium",
    "gymnax",
    "torch",
    "stable-baselines3",
    "rliable",
    "minihack",
    "pettingzoo",
    "mo-gymnasium",
    "ray",
)
_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same folder, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode())


def now() -> str:
    """UTC timestamp in ISO format."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def versions() -> dict[str, Any]:
    """Python, key package versions and the project's git commit."""
    packages = {}
    for name in KEY_PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    commit, dirty = None, None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=_PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=_PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
        dirty = bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": packages,
        "git_commit": commit,
        "git_dirty": dirty,
    }


def slug(text: str) -> str:
    """File-system-safe form of a name such as ``product(rnd,e3b)``."""
    return re.sub(r"[^A-Za-z0-9.\-]+", "-", text).strip("-")


def run_name(cfg: RunConfig) -> str:
    """``<env>__<bonus>__<hash8>__s<seed>``."""
    return f"{slug(cfg.env)}__{slug(cfg.bonus)}__{cfg.config_hash()}__s{cfg.seed}"


class RunDir:
    """One run's directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @classmethod
    def for_config(cls, root: str | Path, cfg: RunConfig) -> RunDir:
        """The directory of ``cfg`` under ``root``."""
        return cls(Path(root) / run_name(cfg))

    # --- status --------------------------------------------------------------------------
    def status(self) -> dict[str, Any] | None:
        """Parsed status.json, or None when the run was never started.

        Raises ``ValueError`` naming the file when it is not a JSON object (a corrupt or
        hand-edited file), so the CLI prints one line instead of a bare decoder message.
        """
        path = self.path / "status.json"
        if not path.exists():
            return None
        try:
            status = json.loads(path.read_text())
        except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
            raise ValueError(
                f"{path}: corrupt status.json ({err}); delete the file to start this run again"
            ) from None
        if not isinstance(status, dict):
            raise ValueError(
                f"{path}: corrupt status.json (not a JSON object: {json.dumps(status)[:40]}); "
                "delete the file to start this run again"
            )
        return status

    def is_complete(self) -> bool:
        """Whether status.json says completed."""
        status = self.status()
        return bool(status and status.get("status") == "completed")

    def set_status(
        self, status: str, steps: int = 0, error: str | None = None, **extra: Any
    ) -> None:
        """Write status.json (running / completed / failed)."""
        previous = self.status() or {}
        record = {
            "status": status,
            "error": error,
            "started": previous.get("started", now()),
            "finished": now() if status in ("completed", "failed") else None,
            "steps": int(steps),
            **extra,
        }
        atomic_write_text(self.path / "status.json", json.dumps(record, indent=2))

    def fail(self, error: BaseException, steps: int = 0) -> None:
        """Mark failed with the error's type, message and traceback."""
        text = "".join(traceback.format_exception_only(type(error), error)).strip()
        detail = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        self.set_status("failed", steps=steps, error=text, traceback=detail[-4000:])

    # --- files ---------------------------------------------------------------------------
    def start(self, cfg: RunConfig) -> None:
        """Create the directory and write config.yaml, versions.json and status running."""
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            self.path / "config.yaml", yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
        )
        atomic_write_text(self.path / "versions.json", json.dumps(versions(), indent=2))
        self.set_status("running", steps=self.checkpoint_steps())

    def write_metrics(self, rows: list[dict[str, Any]]) -> None:
        """Replace metrics.parquet with ``rows`` (long format: step, metric, value)."""
        frame = pd.DataFrame(rows, columns=["step", "metric", "value"])
        frame = frame.astype({"step": "int64", "metric": "string", "value": "float64"})
        with tempfile.TemporaryDirectory(dir=self.path) as tmp:
            tmp_path = Path(tmp) / "metrics.parquet"
            frame.to_parquet(tmp_path, index=False)
            atomic_write_bytes(self.path / "metrics.parquet", tmp_path.read_bytes())

    def read_metrics(self) -> list[dict[str, Any]]:
        """Rows of metrics.parquet ([] when absent)."""
        path = self.path / "metrics.parquet"
        if not path.exists():
            return []
        frame = pd.read_parquet(path)
        return [
            {"step": int(s), "metric": str(m), "value": float(v)}
            for s, m, v in zip(frame["step"], frame["metric"], frame["value"], strict=True)
        ]

    def write_coverage(self, counts: np.ndarray) -> None:
        """Save visit counts of agent positions."""
        import io

        buffer = io.BytesIO()
        np.save(buffer, np.asarray(counts, np.int64), allow_pickle=False)
        atomic_write_bytes(self.path / "coverage.npy", buffer.getvalue())

    # --- checkpoints -----------------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        return self.path / "checkpoint"

    def checkpoint_steps(self) -> int:
        """Environment steps stored in the checkpoint (0 when none)."""
        meta = self.checkpoint_dir / "meta.json"
        return int(json.loads(meta.read_text())["steps"]) if meta.exists() else 0

    def save_checkpoint(self, state: Any, steps: int, updates: int) -> None:
        """Save the whole training state (safe npz) and its step count.

        The previous checkpoint is kept too (named in meta.json as ``previous``): seeds that
        train as one vmapped program write their checkpoints one after another, and a kill
        between two of those writes leaves them one chunk apart. Resuming them together from
        the last point they all have (see :meth:`checkpoints`) keeps the program's width,
        and so the numbers, the same as an uninterrupted run.
        """
        from agents.bonuses.checkpoint import save_state

        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        name = f"state-{int(updates):08d}.npz"
        save_state(self.checkpoint_dir / name, state)
        latest = self._checkpoint_meta()
        previous = None
        if latest is not None and latest["file"] != name:
            previous = {k: latest[k] for k in ("steps", "updates", "file")}
        # meta.json last: a checkpoint counts only once meta names it, so a crash between the
        # two writes leaves the previous checkpoint in force.
        atomic_write_text(
            self.checkpoint_dir / "meta.json",
            json.dumps(
                {
                    "steps": int(steps),
                    "updates": int(updates),
                    "file": name,
                    "time": now(),
                    "previous": previous,
                }
            ),
        )
        keep = {name, previous["file"] if previous else name}
        for old in self.checkpoint_dir.glob("state-*.npz"):
            if old.name not in keep:
                old.unlink(missing_ok=True)

    def _checkpoint_meta(self) -> dict[str, Any] | None:
        meta = self.checkpoint_dir / "meta.json"
        return json.loads(meta.read_text()) if meta.exists() else None

    def checkpoints(self) -> dict[int, dict[str, Any]]:
        """The checkpoints on disk by update count: the latest and, if kept, the one before."""
        meta = self._checkpoint_meta()
        if meta is None:
            return {}
        found = {int(meta["updates"]): meta}
        previous = meta.get("previous")
        if previous and (self.checkpoint_dir / previous["file"]).exists():
            found[int(previous["updates"])] = previous
        return found

    def load_checkpoint(
        self, like_state: Any, updates: int | None = None
    ) -> tuple[Any, int, int] | None:
        """(state, steps, updates) of the last checkpoint (or of the one at ``updates``), or None."""
        from agents.bonuses.checkpoint import load_state

        found = self.checkpoints()
        if not found:
            return None
        info = found[max(found) if updates is None else int(updates)]
        state = load_state(self.checkpoint_dir / info["file"], like_state)
        return state, int(info["steps"]), int(info["updates"])
