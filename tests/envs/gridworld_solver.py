"""The tests' names for the package's gridworld planner and preview
(:mod:`envs.gridworld.solver`)."""

from __future__ import annotations

from envs.gridworld.solver import preview as ascii_grid
from envs.gridworld.solver import solvable

__all__ = ["ascii_grid", "solvable"]
