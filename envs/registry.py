"""Name → environment factory, with helpful errors for unknown names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from envs.core import Environment, EnvParams
from explore.names import did_you_mean

Factory = Callable[..., tuple[Environment, EnvParams]]
_REGISTRY: dict[str, Factory] = {}


def unknown_name_error(kind: str, name: str, candidates: list[str]) -> KeyError:
    """A KeyError that names the closest matches, shared by every registry in the suite."""
    hint = did_you_mean(name, candidates)
    return KeyError(f"Unknown {kind} {name!r}.{hint} Known: {', '.join(sorted(candidates))}")


def register(name: str, factory: Factory) -> None:
    """Register ``factory(**overrides) -> (env, params)`` under ``name``."""
    if name in _REGISTRY:
        raise ValueError(f"environment {name!r} is already registered")
    _REGISTRY[name] = factory


def registered() -> list[str]:
    """All registered environment names, sorted."""
    _ensure_builtin()
    return sorted(_REGISTRY)


def make(name: str, **overrides: Any) -> tuple[Environment, EnvParams]:
    """Build an environment and its default params; ``gymnax:<id>`` wraps a gymnax env."""
    _ensure_builtin()
    if name.startswith("gymnax:"):
        from envs.gymnax_adapter import make_gymnax

        return make_gymnax(name.removeprefix("gymnax:"), **overrides)
    if name not in _REGISTRY:
        raise unknown_name_error("environment", name, list(_REGISTRY))
    return _REGISTRY[name](**overrides)


_LOADED = False


def _ensure_builtin() -> None:
    # Import lazily so `import envs` stays cheap and registration happens once.
    global _LOADED
    if not _LOADED:
        _LOADED = True
        import envs.gridworld.tasks  # noqa: F401
        from envs.multiobjective import tasks as _mo_tasks  # noqa: F401
        from envs.social import tasks as _social_tasks  # noqa: F401
