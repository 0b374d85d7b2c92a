"""``explore bonuses``: list the registered intrinsic rewards (yours too, with ``--import``)."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``explore bonuses``."""
    parser = subparsers.add_parser(
        "bonuses",
        help="list registered intrinsic rewards: paper, fields, what they need",
        description="List every registered bonus: its paper, its fields with their defaults "
        "(set them as bonus=name(field=value) or bonus.field=value), what it needs from the "
        "agent, and the agent settings it brings.",
    )
    parser.add_argument("names", nargs="*", help="only these bonuses")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print one block per bonus."""
    from agents.bonuses import info, registered
    from agents.configs import SameAs

    names = args.names or registered()
    for name in names:
        entry = info(name)  # unknown names: the close-match KeyError (exit 2)
        print(f"{name}: {entry['description']}")
        if entry["paper"]:
            print(f"  paper:  {entry['paper']}")
        if entry["fields"]:
            fields = ", ".join(
                f"{k} (required)" if k in entry["required"] else f"{k}={v!r}"
                for k, v in entry["fields"].items()
            )
            print(f"  fields: {fields}")
        print(f"  needs:  {', '.join(entry['needs']) or 'nothing beyond the contract'}")
        if entry["agent_defaults"]:
            brought = ", ".join(
                f"{k}={v.field if isinstance(v, SameAs) else v}"
                for k, v in entry["agent_defaults"].items()
            )
            print(f"  brings: {brought}")
        if entry["example"] != name:
            print(f"  e.g.:   bonus={entry['example']!r}")
    return 0
