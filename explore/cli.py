"""Entry point of the ``explore`` console script."""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

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
    for sub in subparsers.choices.values():
        _add_common_options(sub)
    return parser


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    """``--import`` and ``--debug`` on a command's parser and on its sub-commands' parsers."""
    # SUPPRESS: a sub-command's parser must not reset what its parent parsed.
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        metavar="MODULE",
        default=argparse.SUPPRESS,
        help="import a plugin module (or .py file) that registers envs, bonuses or agents first; "
        "repeatable (also: $EXPLORE_PLUGINS, entry points 'explore.plugins')",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the full traceback of an error",
    )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _add_common_options(sub)


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
        from explore import plugins

        # Before the command: plugins register the envs and bonuses its config names.
        plugins.load_all(getattr(args, "imports", None) or [])
        return int(args.func(args) or 0)
    except (ValueError, KeyError, FileNotFoundError) as err:
        # Bad input: one clear line, no traceback (unless --debug).
        if getattr(args, "debug", False):
            traceback.print_exc()
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"explore {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
