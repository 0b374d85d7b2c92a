"""``explore envs``: list the registered environments."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``explore envs``."""
    parser = subparsers.add_parser(
        "envs",
        help="list registered environments",
        description="List every registered environment with its size and episode limit.",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print one line per environment."""
    import envs

    for name in envs.registered():
        env, params = envs.make(name)
        task = getattr(env, "task", None)
        size = f"{task.height}x{task.width}" if task else ""
        limit = getattr(params, "max_steps_in_episode", "")
        description = getattr(task, "description", "")
        print(f"{name:<24} {size:>7}  T={limit!s:<6} {description}")
    print("gymnax:<id>              any gymnax environment, e.g. gymnax:CartPole-v1")
    return 0
