"""MiniGrid-style sparse-reward gridworlds in pure JAX (see ``env.py`` for the semantics).

A new task is a :class:`Task` subclass (``generate(key) -> Layout``, built with the helpers of
:mod:`envs.gridworld.layout` and the cell codes of :mod:`envs.gridworld.objects`) registered
with :func:`register_task`; :func:`preview` draws a layout in ASCII. See docs/extending.md.
"""

from envs.gridworld.env import ACTION_NAMES, GridParams, GridState, GridWorld
from envs.gridworld.layout import Layout, Task
from envs.gridworld.solver import preview, solvable

__all__ = [
    "ACTION_NAMES",
    "GridParams",
    "GridState",
    "GridWorld",
    "Layout",
    "Task",
    "preview",
    "register_task",
    "solvable",
]


def register_task(name: str, task: Task, *, version: int = 0, **env_options) -> None:
    """Register gridworld ``task`` (a :class:`Task` instance) as env ``name`` (kind
    ``gridworld``): ``envs.make(name, **overrides)`` builds ``GridWorld(task, ...)`` with
    ``env_options`` under the overrides (``contexts``, ``noisy_tv``, ``max_steps``, ...)."""
    from envs.registry import register

    def factory(**overrides):
        env = GridWorld(task, name=name, **{**env_options, **overrides})
        return env, env.default_params

    register(name, factory, kind="gridworld", version=version, description=task.description or "")
