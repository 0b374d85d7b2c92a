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
        from explore.runs import atomic_write_text

        atomic_write_text(Path(args.json), json.dumps(rows, indent=2))
    return 0


def print_rows(rows: list[dict], width: int = 200) -> None:
    """Print benchmark rows as aligned tables: one table per kind of row (rows whose fields
    are a subset of one another's, e.g. `bench train`'s CartPole row apart from its bonus
    rows), each transposed (a line per field, a column per row) when its fields would not fit
    side by side in ``width``."""
    if not rows:
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(width=width)
    groups: list[tuple[dict[str, None], list[dict]]] = []  # (ordered fields, rows)
    for row in rows:
        for fields, members in groups:
            if set(row) <= set(fields) or set(fields) <= set(row):
                fields.update(dict.fromkeys(row))
                members.append(row)
                break
        else:
            groups.append((dict.fromkeys(row), [row]))
    for fields, members in groups:
        columns = list(fields)
        cells = [[_fmt(row.get(c, "")) for c in columns] for row in members]
        # Each column needs its widest cell (or header) plus rich's padding and border.
        needed = sum(max(len(c), *(len(r[i]) for r in cells)) + 3 for i, c in enumerate(columns))
        table = Table(show_header=True, header_style="bold")
        if needed <= width:
            for column in columns:
                table.add_column(column)
            for line in cells:
                table.add_row(*line)
        else:  # a column per row, headed by its first field (the task, bench, launcher, ...)
            table.add_column(columns[0])
            for line in cells:
                table.add_column(line[0])
            for i, column in enumerate(columns[1:], start=1):
                table.add_row(column, *(line[i] for line in cells))
        console.print(table)


def _fmt(value) -> str:
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    return str(value)
