"""One module per ``explore`` sub-command; each defines ``add_parser(subparsers)``.

The parser's ``func`` default is called with the parsed arguments and returns an exit code.
"""

# Order here is the order in `explore --help`.
COMMAND_MODULES = [
    "explore.commands.train",
    "explore.commands.sweep",
    "explore.commands.report",
    "explore.commands.bench",
    "explore.commands.envs",
    "explore.commands.bonuses",
    "explore.commands.check",
    "explore.commands.schelling",
    "explore.commands.evaluate",
    "explore.commands.labels",
    "explore.commands.demo",
]
