"""The multi-objective tasks and their registry lines (one ``_add`` per task).

Names follow the suite's registry (``envs.make("DeepSeaTreasure-Concave")``); the Gymnasium
and MO-Gymnasium door (``envs/mo_gymnasium.py``) registers each as ``explore/<Name>-v0``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from envs.multiobjective.base import MOEnvironment
from envs.multiobjective.deep_sea_treasure import DeepSeaTreasure
from envs.multiobjective.fruit_tree import FruitTree
from envs.multiobjective.gridworld import TwoGoalsGridWorld
from envs.multiobjective.resource_gathering import ResourceGathering
from envs.registry import register, unknown_name_error

# name -> (env class, constructor kwargs), in the order the registry lists them.
TASKS: dict[str, tuple[Callable[..., MOEnvironment], dict[str, Any]]] = {}


def _add(name: str, env_cls: Callable[..., MOEnvironment], **kwargs: Any) -> None:
    TASKS[name] = (env_cls, kwargs)

    options = [p for p in inspect.signature(env_cls).parameters if p != "name"]

    def factory(**overrides: Any):
        for option in overrides:
            if option not in options:
                raise unknown_name_error(f"option of {name}", option, options)
        env = env_cls(name=name, **{**kwargs, **overrides})
        return env, env.default_params

    register(name, factory, kind="multi-objective")


_add("DeepSeaTreasure", DeepSeaTreasure, version="convex")
_add("DeepSeaTreasure-Concave", DeepSeaTreasure, version="concave")
_add("DeepSeaTreasure-Mirrored", DeepSeaTreasure, version="mirrored")
_add("ResourceGathering", ResourceGathering)
_add("FruitTree-5", FruitTree, depth=5)
_add("FruitTree-6", FruitTree, depth=6)
_add("FruitTree-7", FruitTree, depth=7)
_add("FourRooms-TwoGoals", TwoGoalsGridWorld)
# An 11×11 FourRooms sized for a CPU; layout 9 (env_seed) puts the goal and the ball in other
# rooms than the start, 13 and 17 actions away (layouts 0, 2, 5, 6, 10 have one within 3).
_add("FourRooms-TwoGoals-S11", TwoGoalsGridWorld, size=11, env_seed=9)
