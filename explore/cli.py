"""Entry point of the ``explore`` console script."""

from __future__ import annotations

import argparse
import importlib
import sys

from explore import __version__
from explore.commands import COMMAND_MODULES


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="explore",
        description="Exploration in deep RL: train, sweep, report, benchmark.",
        epilog="Run `explore <command> --help` for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"explore {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name == module_name:  # command not built yet
                continue
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen sub-command; returns the exit code."""
    parser = build_parser()
    # Options may come after ``key=value`` overrides (``explore train a=1 --no-progress b=2``):
    # argparse stops filling a positional list at the first option, so leftovers that are
    # overrides are appended to it here.
    args, leftover = parser.parse_known_args(argv)
    if leftover:
        if hasattr(args, "overrides") and all("=" in x and not x.startswith("-") for x in leftover):
            args.overrides = [*(args.overrides or []), *leftover]
        else:
            parser.error(f"unrecognized arguments: {' '.join(leftover)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError, FileNotFoundError) as err:
        # Bad input: one clear line, no traceback.
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"explore {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
