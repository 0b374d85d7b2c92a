"""Functional JAX environments, their registry, and adapters (Gymnasium, gymnax).

>>> import envs
>>> env, params = envs.make("DoorKey-8x8", contexts=0)
>>> obs, state = env.reset(key, params)

``import envs`` also registers every gridworld and multi-objective task with Gymnasium as
``explore/<Name>-v0`` (as ``import minigrid`` does), so after it
``gymnasium.make("explore/DoorKey-8x8-v0")`` and
``mo_gymnasium.make("explore/DeepSeaTreasure-v0")`` work; the wrappers
(:mod:`envs.gymnasium`, :mod:`envs.mo_gymnasium`) are imported only when one is built.
"""

from envs.core import Environment, EnvParams
from envs.registry import make, register, registered

__all__ = ["EnvParams", "Environment", "make", "register", "register_gymnasium", "registered"]

GYMNASIUM_NAMESPACE = "explore"


# (module of the task table, Gymnasium entry-point module) for each family with a Gymnasium
# door; ids are registered with string entry points, so nothing is built until a make.
_GYMNASIUM_FAMILIES = (
    ("envs.gridworld.tasks", "envs.gymnasium:GridWorld"),
    ("envs.multiobjective.tasks", "envs.mo_gymnasium:MO"),
)


def register_gymnasium(table: str | None = None) -> list[str]:
    """Register ``explore/<Name>-v0`` for every gridworld and multi-objective task
    (idempotent); returns the ids (only the family whose task-table module is ``table``,
    when given).

    Only ids and string entry points (``envs.gymnasium:GridWorldEnv``,
    ``envs.mo_gymnasium:MOEnv``) are registered, so this costs the import of Gymnasium and of
    the task tables, nothing jitted; an empty list when Gymnasium is not installed. The
    multi-objective ids are made with ``mo_gymnasium.make`` (MO-Gymnasium's convention).
    """
    try:
        import gymnasium
    except ImportError:  # Gymnasium is only needed for the Gymnasium front door
        return []
    import importlib

    ids = []
    for module, entry in _GYMNASIUM_FAMILIES:
        if table is not None and module != table:
            continue
        for name in importlib.import_module(module).TASKS:
            env_id = f"{GYMNASIUM_NAMESPACE}/{name}-v0"
            if env_id not in gymnasium.registry:
                gymnasium.register(
                    id=env_id,
                    entry_point=f"{entry}Env",
                    vector_entry_point=f"{entry}VectorEnv",
                    kwargs={"name": name},
                    # The envs truncate themselves (the task's max_steps): no TimeLimit wrapper.
                    max_episode_steps=None,
                )
            ids.append(env_id)
    return ids


register_gymnasium()
