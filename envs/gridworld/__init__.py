"""MiniGrid-style sparse-reward gridworlds in pure JAX (see ``env.py`` for the semantics)."""

from envs.gridworld.env import ACTION_NAMES, GridParams, GridState, GridWorld
from envs.gridworld.layout import Layout, Task

__all__ = ["ACTION_NAMES", "GridParams", "GridState", "GridWorld", "Layout", "Task"]
