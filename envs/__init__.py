"""Functional JAX environments, their registry, and adapters (Gymnasium, gymnax).

>>> import envs
>>> env, params = envs.make("DoorKey-8x8", contexts=0)
>>> obs, state = env.reset(key, params)

``import envs`` also registers every gridworld task with Gymnasium as
``explore/<Name>-v0`` (as ``import minigrid`` does), so after it
``gymnasium.make("explore/DoorKey-8x8-v0")`` works; the wrappers (:mod:`envs.gymnasium`)
are imported only when Gymnasium builds one.
"""

from envs.core import Environment, EnvParams
from envs.registry import make, register, registered

__all__ = ["EnvParams", "Environment", "make", "register", "register_gymnasium", "registered"]

GYMNASIUM_NAMESPACE = "explore"


def register_gymnasium() -> list[str]:
    """Register ``explore/<Name>-v0`` for every gridworld task (idempotent); returns the ids.

    Only ids and string entry points (``envs.gymnasium:GridWorldEnv``) are registered, so this
    costs the import of Gymnasium and of the task table, nothing jitted; an empty list when
    Gymnasium is not installed.
    """
    try:
        import gymnasium
    except ImportError:  # Gymnasium is only needed for the Gymnasium front door
        return []
    from envs.gridworld.tasks import TASKS

    ids = []
    for name in TASKS:
        env_id = f"{GYMNASIUM_NAMESPACE}/{name}-v0"
        if env_id not in gymnasium.registry:
            gymnasium.register(
                id=env_id,
                entry_point="envs.gymnasium:GridWorldEnv",
                vector_entry_point="envs.gymnasium:GridWorldVectorEnv",
                kwargs={"name": name},
                # The env truncates itself at the task's max_steps: no TimeLimit wrapper.
                max_episode_steps=None,
            )
        ids.append(env_id)
    return ids


register_gymnasium()
