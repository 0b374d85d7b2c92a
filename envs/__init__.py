"""Functional JAX environments, their registry, and adapters (Gymnasium, gymnax).

>>> import envs
>>> env, params = envs.make("DoorKey-8x8", contexts=0)
>>> obs, state = env.reset(key, params)

``import envs`` also registers every env with a Gymnasium door (as ``import minigrid`` does):
gridworld and single-agent envs as ``explore/<Name>-v<version>`` for ``gymnasium.make``,
multi-objective ones with the same pattern for ``mo_gymnasium.make``; multi-agent envs go
through the PettingZoo door (:func:`envs.pettingzoo.parallel_env`). The ids follow from each
env's registered kind, so an env a user registers later (``envs.register(...)``) gets its id
at once. The wrappers (:mod:`envs.gymnasium`, :mod:`envs.mo_gymnasium`) are imported only
when one is built.
"""

from envs.core import Environment, EnvParams
from envs.registry import KINDS, EnvSpec, describe, env_version, make, register, registered, spec

__all__ = [
    "KINDS",
    "EnvParams",
    "EnvSpec",
    "Environment",
    "describe",
    "env_version",
    "make",
    "register",
    "register_gymnasium",
    "registered",
    "spec",
]

GYMNASIUM_NAMESPACE = "explore"

# Gymnasium entry-point prefix of each kind with a (MO-)Gymnasium door; ids are registered
# with string entry points, so nothing is built until a make.
_DOORS = {
    "gridworld": "envs.gymnasium:GridWorld",
    "single-agent": "envs.gymnasium:GridWorld",
    "multi-objective": "envs.mo_gymnasium:MO",
}


def _register_door(entry: EnvSpec) -> None:
    """Register ``entry``'s Gymnasium id (idempotent; nothing when Gymnasium is missing)."""
    door = _DOORS.get(entry.kind)
    if door is None:
        return
    try:
        import gymnasium
    except ImportError:  # Gymnasium is only needed for the Gymnasium front door
        return
    if entry.gymnasium_id not in gymnasium.registry:
        gymnasium.register(
            id=entry.gymnasium_id,
            entry_point=f"{door}Env",
            vector_entry_point=f"{door}VectorEnv",
            kwargs={"name": entry.name},
            # The envs truncate themselves (their own max_steps): no TimeLimit wrapper.
            max_episode_steps=None,
        )


def register_gymnasium(kind: str | None = None) -> list[str]:
    """The Gymnasium ids of every registered env with a door (of one ``kind`` when given),
    in registration order; registers any that are missing (idempotent).

    Only ids and string entry points (``envs.gymnasium:GridWorldEnv``,
    ``envs.mo_gymnasium:MOEnv``) are registered, so this costs the import of Gymnasium and of
    the task tables, nothing jitted. The multi-objective ids are made with
    ``mo_gymnasium.make`` (MO-Gymnasium's convention).
    """
    from envs import registry

    registry._ensure_builtin()
    ids = []
    for entry in list(registry._REGISTRY.values()):
        if entry.gymnasium_id is None or (kind is not None and entry.kind != kind):
            continue
        _register_door(entry)
        ids.append(entry.gymnasium_id)
    return ids


def _install_doors() -> None:
    from envs import registry

    registry._ensure_builtin()
    registry.on_register(_register_door)


_install_doors()
