"""``explore envs``: list the registered environments (yours too, with ``--import``)."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``explore envs``."""
    parser = subparsers.add_parser(
        "envs",
        help="list registered environments",
        description="List every registered environment: kind, version, agents or objectives, "
        "size, episode limit, the agents that accept it, and its description.",
    )
    parser.add_argument(
        "--kind", default=None, help="only this kind (gridworld, single-agent, ...)"
    )
    parser.set_defaults(func=run)


def accepting_agents(env) -> list[str]:
    """The registered JAX agents whose class accepts ``env`` (their own declaration)."""
    from agents.configs import AGENTS, runner_class

    names = []
    for name in AGENTS:
        cls = runner_class(name)
        if cls is not None and cls.accepts(env) is None:
            names.append(name)
    return names


def run(args: argparse.Namespace) -> int:
    """Print one block of columns per environment."""
    import envs

    if args.kind is not None and args.kind not in envs.KINDS:
        from envs.names import did_you_mean

        raise ValueError(
            f"--kind: unknown kind {args.kind!r}.{did_you_mean(args.kind, list(envs.KINDS))} "
            f"Kinds: {', '.join(envs.KINDS)}"
        )
    header = f"{'name':<24} {'kind':<15} {'ver':>3} {'agents':>6} {'obj':>3} {'size':>7}  {'T':<5}"
    print(f"{header}  {'agents that accept it':<22} description")
    for name in envs.registered(args.kind):
        env, params = envs.make(name)
        info = envs.describe(name, env)
        task = getattr(env, "task", None)
        layout = getattr(env, "layout", None)
        size = ""
        if task is not None:
            size = f"{task.height}x{task.width}"
        elif layout is not None and hasattr(layout, "height"):
            size = f"{layout.height}x{layout.width}"
        limit = getattr(params, "max_steps_in_episode", "")
        accepted = ",".join(accepting_agents(env)) or "-"
        print(
            f"{name:<24} {info['kind']:<15} {info['version']:>3} {info['agents']:>6} "
            f"{info['objectives']:>3} {size:>7}  {limit!s:<5}  {accepted:<22} "
            f"{info['description']}"
        )
    if args.kind is None:
        print("gymnax:<id>              any gymnax environment, e.g. gymnax:CartPole-v1")
    return 0
