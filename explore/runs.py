"""The run store: one directory per (config, seed), every write atomic.

Layout and file formats: ``docs/run_store.md``. A run is complete only when its
``status.json`` says ``completed``; readers (``analysis``) never need anything else.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import subprocess
import tempfile
import traceback
from collections.abc import Callable, Iterable
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

#: The packages whose sources make a run's numbers: their files (code and data, not
#: documentation) are hashed into every run's code fingerprint.
SOURCE_PACKAGES = ("envs", "agents", "explore")
#: Parts of those packages that never touch a run (benchmarks, the report command): editing
#: them leaves runs current.
SOURCE_EXCLUDED = ("explore/bench", "explore/commands/report.py", "explore/commands/bench.py")
#: The folder holding :data:`SOURCE_PACKAGES`: the installed package's own tree. Tests point
#: it at an edited copy of the sources.
SOURCE_ROOT = _PROJECT_ROOT
#: Where runs made by other code are moved when they are trained again (never deleted).
STALE_DIR = ".stale"


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


# ----------------------------------------------------------------------------- run identity
_NOT_SOURCE_SUFFIXES = (".pyc", ".pyo", ".md", ".rst")
_digest_cache: dict[tuple, str] = {}


def _source_files(root: Path, excluded: Iterable[str] = ()) -> list[Path]:
    """Files under ``root`` that define behaviour: not caches, docs, tests or hidden files."""
    skip = {Path(e) for e in excluded}
    files = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        parts = rel.parts
        if any(p.startswith(".") or p in ("__pycache__", "tests", "docs") for p in parts):
            continue
        if not path.is_file() or path.suffix in _NOT_SOURCE_SUFFIXES:
            continue
        if path.name.lower().startswith("readme"):
            continue
        if any(rel == e or e in rel.parents for e in skip):
            continue
        files.append(path)
    return sorted(files)


def _tree_digest(root: Path, files: list[Path]) -> str:
    """SHA-256 (16 hex digits) of the files' relative paths and contents; memoised on their
    sizes and modification times, so a sweep of many configs hashes the tree once."""
    stats = tuple((str(f.relative_to(root)), *_stat(f)) for f in files)
    key = (str(root), stats)
    if key not in _digest_cache:
        h = hashlib.sha256()
        for f in files:
            h.update(str(f.relative_to(root).as_posix()).encode() + b"\0")
            h.update(hashlib.sha256(f.read_bytes()).digest())
        _digest_cache[key] = h.hexdigest()[:16]
    return _digest_cache[key]


def _stat(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_mtime_ns, info.st_size


def sources_digest(root: Path | None = None) -> str:
    """Hash of the sources of :data:`SOURCE_PACKAGES` under ``root`` (default
    :data:`SOURCE_ROOT`), without documentation, tests and :data:`SOURCE_EXCLUDED`."""
    root = Path(root or SOURCE_ROOT)
    files: list[Path] = []
    for package in SOURCE_PACKAGES:
        excluded = [
            str(Path(e).relative_to(package))
            for e in SOURCE_EXCLUDED
            if e.startswith(package + "/")
        ]
        files += [f for f in _source_files(root / package, excluded)]
    return _tree_digest(root, files)


def plugin_digest(source: str) -> str:
    """Hash of a plugin's source: its file, or its whole package for an ``__init__.py``;
    ``"missing"`` when the file is gone, ``"builtin"`` when it has none."""
    if not source:
        return "builtin"
    path = Path(source)
    if not path.is_file():
        return "missing"
    if path.name == "__init__.py":
        return _tree_digest(path.parent, _source_files(path.parent))
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def env_version_of(env: str) -> int | None:
    """The registered version of ``env`` (``envs.env_version``); None for an env the
    registry does not know (e.g. an SB3 agent's Gymnasium id)."""
    import envs

    try:
        return int(envs.env_version(env))
    except (KeyError, ValueError, ImportError):
        return None


def code_identity(cfg: RunConfig) -> dict[str, Any]:
    """What produced a run of ``cfg``: the package sources, each plugin's source, the env and
    its version, and the fingerprint hashing them all (recorded in versions.json)."""
    plugins = {name: plugin_digest(src) for name, src in sorted(dict(cfg.plugins or {}).items())}
    body = {
        "sources": sources_digest(),
        "plugins": plugins,
        "env": cfg.env,
        "env_version": env_version_of(cfg.env),
    }
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return {"fingerprint": fingerprint, **body}


def code_difference(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    """What differs between two :func:`code_identity` records, in words (``""``: nothing)."""
    if not old or not old.get("fingerprint"):
        return "no code fingerprint recorded"
    if old.get("fingerprint") == new.get("fingerprint"):
        return ""
    parts = []
    if old.get("sources") != new.get("sources"):
        parts.append(f"package sources {old.get('sources')} → {new.get('sources')}")
    if old.get("env_version") != new.get("env_version") or old.get("env") != new.get("env"):
        now = f"v{new.get('env_version')}"
        if old.get("env") != new.get("env"):
            now = f"{new.get('env')} {now}"
        parts.append(f"env {old.get('env')} v{old.get('env_version')} → {now}")
    old_p, new_p = old.get("plugins") or {}, new.get("plugins") or {}
    for name in sorted(set(old_p) | set(new_p)):
        if old_p.get(name) != new_p.get(name):
            parts.append(f"plugin {name} {old_p.get(name, 'absent')} → {new_p.get(name, 'absent')}")
    if not parts:
        parts.append(f"fingerprint {old.get('fingerprint')} → {new.get('fingerprint')}")
    return "; ".join(parts)


def settle_stale(
    configs: Iterable[RunConfig],
    out: str | Path,
    reuse_stale: bool = False,
    say: Callable[[str], None] | None = None,
) -> dict[str, str]:
    """Find the runs of ``configs`` under ``out`` that other code made, before training.

    A run counts when it is complete, or interrupted with a checkpoint to resume, and its
    recorded code fingerprint differs from the current one (or, for a complete run, none was
    recorded). Each gets one line,
    ``stale: made by other code (…)``, through ``say``; it is then moved aside to
    ``<out>/.stale/<run>@<time>`` (never deleted), so it trains again from scratch, unless
    ``reuse_stale`` keeps it as it is. Returns ``{run name: reason}`` of the stale runs.
    """
    stale: dict[str, str] = {}
    for cfg in configs:
        run = RunDir.for_config(out, cfg)
        try:
            state = (run.status() or {}).get("status")
            resumable = bool(run.checkpoints())
        except (OSError, ValueError):
            continue  # unreadable: the caller's own checks report it
        if state != "completed" and not resumable:
            continue
        recorded = run.recorded_code()
        if state != "completed" and recorded is None:
            # An interrupted run that recorded no code (made before runs recorded it, or a
            # broken directory): resumed as before; the resume reports what it finds.
            continue
        reason = code_difference(recorded, code_identity(cfg))
        if not reason:
            continue
        stale[run.path.name] = reason
        if reuse_stale:
            action = "kept as it is (--reuse-stale)"
        else:
            aside = run.set_aside()
            action = f"training it again; old run kept in {aside}"
        if say is not None:
            say(f"stale: made by other code ({reason}): {run.path.name}; {action}")
    return stale


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

    # --- identity ------------------------------------------------------------------------
    def recorded_code(self) -> dict[str, Any] | None:
        """The code identity recorded in versions.json (None when absent or unreadable)."""
        try:
            record = json.loads((self.path / "versions.json").read_text())
        except (OSError, ValueError):
            return None
        code = record.get("code") if isinstance(record, dict) else None
        return code if isinstance(code, dict) else None

    def set_aside(self) -> Path:
        """Move this run to ``<out>/.stale/<run>@<UTC time>`` (kept, never deleted)."""
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        target = self.path.parent / STALE_DIR / f"{self.path.name}@{stamp}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, target)
        return target

    # --- files ---------------------------------------------------------------------------
    def start(self, cfg: RunConfig) -> None:
        """Create the directory and write config.yaml (with the env's version),
        versions.json (with the code identity) and status running."""
        self.path.mkdir(parents=True, exist_ok=True)
        code = code_identity(cfg)
        cfg = cfg.model_copy(update={"env_version": code["env_version"]})
        atomic_write_text(
            self.path / "config.yaml", yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
        )
        record = versions()
        record["fingerprint"] = code["fingerprint"]
        record["code"] = code
        atomic_write_text(self.path / "versions.json", json.dumps(record, indent=2))
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
