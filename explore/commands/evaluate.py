"""``explore evaluate spec.yaml``: focal-vs-background evaluation (Melting Pot's protocol)."""

from __future__ import annotations

import argparse
import sys

EXAMPLES = """spec (experiments/evaluate_*.yaml):
  name: evaluate_social
  runs: runs                                   # where run directories are found
  defaults: {episodes: 8, seeds: 0-2}          # fields every scenario starts from
  scenarios:
    harvest_ippo_vs_defectors:
      env: Harvest-Open
      env_options: {ascii_map: small, num_agents: 3}
      steps: 200                               # fixed episode length
      focal: {runs: "social_harvest/Harvest-Open__none__*"}   # checkpoints (glob)
      background: {scripted: defector}         # or cooperator, or runs: ...
      focal_agents: [1, 2]                     # k focal, N - k background agents

examples:
  explore evaluate experiments/evaluate_social.yaml
  explore evaluate experiments/evaluate_social.yaml --runs /data/runs --scenario coins_ippo_vs_defectors

Results: <out>/<name>/<scenario>.json and .csv, and <out>/<name>/evaluation.csv. A scenario
whose stored result has the current fingerprint (its fields, env version, checkpoints'
contents) is skipped; a changed one runs again.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``explore evaluate``."""
    parser = subparsers.add_parser(
        "evaluate",
        help="focal-vs-background evaluation of trained policies (Melting Pot's protocol)",
        description=(
            "Play k focal agents (checkpoints of trained IPPO runs, or scripted bots) with N-k "
            "background agents (scripted bots or other runs' checkpoints) in a social env, "
            "vmapped over episodes, and report the focal per-capita return (and the "
            "background's) with 95% bootstrap intervals over seeds and episodes."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", help="evaluation spec YAML (e.g. experiments/evaluate_social.yaml)")
    parser.add_argument("--out", default="runs", help="root of the run store (default: runs/)")
    parser.add_argument(
        "--runs",
        default=None,
        help="where the spec's run directories are found (default: the spec's runs:, else runs/)",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        default=None,
        metavar="NAME",
        help="run only this scenario (repeatable)",
    )
    parser.add_argument("--reps", type=int, default=10_000, help="bootstrap replicates")
    parser.add_argument(
        "--dry-run", action="store_true", help="validate the spec and list the scenarios"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress lines")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate the spec, run what is not done yet, print the table."""
    from explore.evaluate import evaluate_spec, load_spec

    if args.reps < 100:
        raise ValueError(f"--reps: at least 100 bootstrap replicates, got {args.reps}")
    spec = load_spec(args.spec, runs=args.runs)
    if args.dry_run:
        for s in spec.scenarios:
            print(
                f"{s.name}: {s.env} k={list(s.focal_agents)} focal [{s.focal_text}] "
                f"background [{s.background_text}]; {s.episodes} episodes × {len(s.seeds)} "
                f"seeds × {s.steps} steps"
            )
        return 0

    def say(line: str) -> None:
        if not args.no_progress:
            print(line, flush=True)

    outcome = evaluate_spec(spec, args.out, say=say, reps=args.reps, only=args.scenario)
    _print_table(spec.name, outcome.rows)
    print(
        f"{len(outcome.ran)} scenarios run, {len(outcome.skipped)} skipped (done before); "
        f"results in {outcome.folder}"
    )
    return 0


def _cell(row: dict, name: str) -> str:
    if row.get(name) is None:
        return "—"
    return f"{row[name]:.2f} [{row[f'{name}_lo']:.2f}, {row[f'{name}_hi']:.2f}]"


def _print_table(name: str, rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{name}: per-capita episode return, mean [95% CI]")
    for column in ("scenario", "env", "k / N", "focal", "background", "episodes"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["scenario"],
            r["env"],
            f"{r['focal_agents']} / {r['agents']}",
            _cell(r, "focal"),
            _cell(r, "background"),
            str(r["episodes"]),
        )
    # Wide enough for the table in a log file too (no terminal: rich would use 80 columns).
    Console(width=max(120, Console(file=sys.stdout).width), soft_wrap=True).print(table)
