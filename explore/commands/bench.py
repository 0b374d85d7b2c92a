"""``explore bench <suite>``: speed against peers measured in the same run."""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import json
from pathlib import Path

from explore.bench import SUITES


class _LazySuites(argparse._SubParsersAction):
    """Suite sub-parsers whose options are added only when that suite is chosen.

    Suite modules import JAX, torch and the peers; importing them all to build the parser
    made every ``explore`` command (even ``explore report --help``) pay seconds of imports.
    """

    def __call__(self, parser, namespace, values, option_string=None):
        sub = self._name_parser_map.get(values[0]) if values else None
        if sub is not None and sub.get_default("module") is None:
            module = importlib.import_module(SUITES[values[0]])
            module.add_arguments(sub)
            sub.add_argument("--json", default=None, help="also write the rows to this JSON file")
            sub.set_defaults(func=_run, module=module)
        super().__call__(parser, namespace, values, option_string)


def _summary(module_name: str) -> str | None:
    """First docstring line of a suite module, read without importing it; None if absent."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None:
        return None  # suite not built yet
    doc = ast.get_docstring(ast.parse(Path(spec.origin).read_text())) or ""
    return (doc.strip().splitlines() or [""])[0]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``explore bench`` and one sub-parser per suite that exists."""
    parser = subparsers.add_parser(
        "bench",
        help="benchmarks against peers (xminigrid, PureJaxRL, rliable, ...) in the same run",
        description="Run a benchmark suite; every figure is a ratio against a peer measured in this run.",
    )
    suites = parser.add_subparsers(dest="suite", metavar="<suite>", action=_LazySuites)
    for name, module_name in SUITES.items():
        summary = _summary(module_name)
        if summary is not None:
            suites.add_parser(name, help=summary)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _run(args: argparse.Namespace) -> int:
    from agents.seeds import configure_cpu_devices

    # Devices for the seeds a suite runs in one program (--seeds); one for the suites that
    # time one program at a time (envs, mo, sb3, ...): idle devices slow a program down.
    configure_cpu_devices(seeds=getattr(args, "seeds", None) or 1)
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
