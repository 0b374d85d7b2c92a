"""Name → environment factory, with the env's kind, version and description.

One mechanism for every family and for user code::

    import envs
    envs.register("TwoEnds", make_two_ends, kind="single-agent", version=0,
                  description="walk to either end of a corridor")

``kind`` decides which doors open for the env (ids follow from it, no hand lists):
``gridworld`` and ``single-agent`` envs get ``gymnasium.make("explore/<Name>-v<version>")``,
``multi-objective`` envs ``mo_gymnasium.make(...)`` with the same id, ``multi-agent`` envs the
PettingZoo door (``envs.pettingzoo.parallel_env(name)``). The number of agents or objectives
is read from the built env (:func:`describe`), never declared twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from envs.core import Environment, EnvParams
from envs.names import did_you_mean

Factory = Callable[..., tuple[Environment, EnvParams]]

#: The kinds an env may declare, with the contract each implies.
KINDS: dict[str, str] = {
    "gridworld": "single-agent MiniGrid-style grid (a gridworld Task); Gymnasium door",
    "single-agent": "one agent, scalar reward; Gymnasium door",
    "multi-objective": "one agent, float32 reward vector [m] (env.reward_space); MO-Gymnasium door",
    "multi-agent": "N agents on a leading axis (obs [N, ...], reward [N]); PettingZoo door",
}


@dataclass(frozen=True)
class EnvSpec:
    """What the registry knows of an env without building it."""

    name: str
    factory: Factory
    kind: str = "single-agent"
    version: int = 0
    description: str = ""

    @property
    def gymnasium_id(self) -> str | None:
        """``explore/<Name>-v<version>`` for kinds with a (MO-)Gymnasium door, else None."""
        if self.kind == "multi-agent":
            return None
        return f"explore/{self.name}-v{self.version}"


_REGISTRY: dict[str, EnvSpec] = {}
# Called with each new spec (the Gymnasium door registers its id); see ``on_register``.
_LISTENERS: list[Callable[[EnvSpec], None]] = []


def unknown_name_error(kind: str, name: str, candidates: list[str]) -> KeyError:
    """A KeyError that names the closest matches, shared by every registry in the suite."""
    hint = did_you_mean(name, candidates)
    return KeyError(f"Unknown {kind} {name!r}.{hint} Known: {', '.join(sorted(candidates))}")


def register(
    name: str,
    factory: Factory,
    *,
    version: int = 0,
    kind: str = "single-agent",
    description: str = "",
) -> EnvSpec:
    """Register ``factory(**overrides) -> (env, params)`` under ``name``; returns its spec.

    ``kind`` is one of :data:`KINDS` (it picks the doors and the checks ``explore check``
    runs). ``version`` is the env's version: bump it whenever a change alters what an agent
    sees or receives (dynamics, observations, rewards, episode ends); it is the ``-v<N>`` of
    the door id. ``description`` is the one line ``explore envs`` shows (default: the
    first line of the built env's docstring).
    """
    if not isinstance(name, str) or not name or any(c.isspace() or c in "/:" for c in name):
        raise ValueError(f"environment name {name!r}: a non-empty name without spaces, / or :")
    if name in _REGISTRY:
        raise ValueError(f"environment {name!r} is already registered")
    if kind not in KINDS:
        raise ValueError(f"environment {name!r}: unknown kind {kind!r}.{did_you_mean(kind, KINDS)}")
    if not callable(factory):
        raise ValueError(f"environment {name!r}: factory must be callable, got {factory!r}")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(f"environment {name!r}: version must be an integer ≥ 0, got {version!r}")
    spec = EnvSpec(name, factory, kind, int(version), " ".join(description.split()))
    _REGISTRY[name] = spec
    for listener in _LISTENERS:
        listener(spec)
    return spec


def on_register(listener: Callable[[EnvSpec], None]) -> None:
    """Call ``listener(spec)`` for every env registered so far and every later one."""
    _LISTENERS.append(listener)
    for spec in list(_REGISTRY.values()):
        listener(spec)


def env_version(name: str) -> int:
    """The registered version of environment ``name`` (0 for ``gymnax:`` ids)."""
    if name.startswith("gymnax:"):
        return 0
    return spec(name).version


def spec(name: str) -> EnvSpec:
    """The :class:`EnvSpec` of ``name``; unknown names raise the close-match ``KeyError``."""
    _ensure_builtin()
    if name not in _REGISTRY:
        raise unknown_name_error("environment", name, list(_REGISTRY))
    return _REGISTRY[name]


def registered(kind: str | None = None) -> list[str]:
    """All registered environment names (of one ``kind`` when given), sorted."""
    _ensure_builtin()
    return sorted(n for n, s in _REGISTRY.items() if kind is None or s.kind == kind)


def make(name: str, **overrides: Any) -> tuple[Environment, EnvParams]:
    """Build an environment and its default params; ``gymnax:<id>`` wraps a gymnax env."""
    _ensure_builtin()
    if name.startswith("gymnax:"):
        from envs.gymnax_adapter import make_gymnax

        return make_gymnax(name.removeprefix("gymnax:"), **overrides)
    return spec(name).factory(**overrides)


def describe(name: str, env: Environment | None = None) -> dict[str, Any]:
    """Kind, version, description and the counts read from the built env: ``agents`` (1
    unless multi-agent) and ``objectives`` (1 unless multi-objective)."""
    entry = spec(name)
    if env is None:
        env, _ = make(name)
    doc = (type(env).__doc__ or "").strip().splitlines()
    task = getattr(env, "task", None)
    description = (
        entry.description
        or " ".join(str(getattr(task, "description", "") or "").split())
        or (doc[0].strip() if doc else "")
    ).replace("``", "")
    objectives = 1
    if getattr(env, "vector_reward", False):
        objectives = int(env.reward_space().shape[0])
    return {
        "name": name,
        "kind": entry.kind,
        "version": entry.version,
        "agents": int(getattr(env, "num_agents", 1)),
        "objectives": objectives,
        "description": description,
    }


_LOADED = False


def _ensure_builtin() -> None:
    # Import lazily so `import envs` stays cheap and registration happens once.
    global _LOADED
    if not _LOADED:
        _LOADED = True
        import envs.gridworld.tasks  # noqa: F401
        from envs.multiobjective import tasks as _mo_tasks  # noqa: F401
        from envs.social import tasks as _social_tasks  # noqa: F401
