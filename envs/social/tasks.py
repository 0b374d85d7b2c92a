"""The social-dilemma registry lines: ``_add("Name", EnvClass, **fixed_kwargs)``.

Options of ``envs.make(name, **options)`` are the class's constructor arguments (e.g.
``num_agents``, ``episode_length``, ``ascii_map``); an unknown one raises the suite's
close-match ``KeyError``.
"""

from __future__ import annotations

import inspect
from typing import Any

from envs.registry import register, unknown_name_error
from envs.social.cleanup import CleanUp
from envs.social.coins import Coins
from envs.social.harvest import (
    MAP_CLOSED,
    MAP_OPEN,
    MAP_PARTNERSHIP,
    REGROWTH_CLOSED,
    REGROWTH_OPEN,
    Harvest,
)

# name -> (class, fixed kwargs), in registry order.
TASKS: dict[str, tuple[type, dict[str, Any]]] = {}


def options(name: str) -> list[str]:
    """The options ``envs.make(name, ...)`` accepts (the substrate's values may be overridden)."""
    cls, _ = TASKS[name]
    params = inspect.signature(cls.__init__).parameters
    return [p for p in params if p not in ("self", "name")]


def _add(name: str, cls: type, **fixed: Any) -> None:
    TASKS[name] = (cls, fixed)

    def factory(**overrides: Any):
        known = options(name)
        for key in overrides:
            if key not in known:
                raise unknown_name_error(f"option of {name}", key, known)
        env = cls(name=name, **{**fixed, **overrides})
        return env, env.default_params

    # Version 1: Melting Pot's dynamics as measured by tests/conformance/test_meltingpot.py
    # (waste does not block, collection under standing agents, absence after a zap,
    # episode-end steps, Harvest's regrowth wait, pollution under agents).
    register(name, factory, kind="multi-agent", version=1)


# Values: meltingpot/configs/substrates/commons_harvest__{open,closed,partnership}.py.
_add(
    "Harvest-Open",
    Harvest,
    default_map=MAP_OPEN,
    regrowth_probabilities=REGROWTH_OPEN,
    zap_length=3,
    zap_cooldown=2,
    zap_timeout=4,
)
_add(
    "Harvest-Closed",
    Harvest,
    default_map=MAP_CLOSED,
    regrowth_probabilities=REGROWTH_CLOSED,
    zap_length=4,
    zap_cooldown=1,
    zap_timeout=100,
)
_add(
    "Harvest-Partnership",
    Harvest,
    default_map=MAP_PARTNERSHIP,
    regrowth_probabilities=REGROWTH_CLOSED,
    zap_length=4,
    zap_cooldown=1,
    zap_timeout=100,
)
_add("CleanUp", CleanUp)  # meltingpot/configs/substrates/clean_up.py
_add("Coins", Coins)  # meltingpot/configs/substrates/coins.py
