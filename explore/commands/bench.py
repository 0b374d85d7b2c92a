"""``explore bench <suite>``: speed against peers measured in the same run."""

from __future__ import annotations

import argparse
import importlib
import json

from explore.bench import SUITES


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``explore bench`` and one sub-parser per suite that exists."""
    parser = subparsers.add_parser(
        "bench",
        help="benchmarks against peers (xminigrid, PureJaxRL, rliable, ...) in the same run",
        description="Run a benchmark suite; every figure is a ratio against a peer measured in this run.",
    )
    suites = parser.add_subparsers(dest="suite", metavar="<suite>")
    for name, module_name in SUITES.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name == module_name:
                continue
            raise
        sub = suites.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
        module.add_arguments(sub)
        sub.add_argument("--json", default=None, help="also write the rows to this JSON file")
        sub.set_defaults(func=_run, module=module)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _run(args: argparse.Namespace) -> int:
    rows = args.module.run(args)
    print_rows(rows)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)
    return 0


def print_rows(rows: list[dict]) -> None:
    """Print benchmark rows as an aligned table."""
    if not rows:
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=True, header_style="bold")
    columns = list(dict.fromkeys(k for row in rows for k in row))
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*[_fmt(row.get(c, "")) for c in columns])
    Console(width=200).print(table)


def _fmt(value) -> str:
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    return str(value)
