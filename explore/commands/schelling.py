"""``explore schelling <env>``: Schelling diagram of a social dilemma (table + PNG)."""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``explore schelling``."""
    parser = subparsers.add_parser(
        "schelling",
        help="Schelling diagram of a social env (scripted cooperators vs defectors)",
        description=(
            "For k = 0..N-1 other cooperators, the mean episode return of one cooperator and "
            "of one defector (scripted policies of envs/social/scripted.py), with 95% "
            "intervals over episodes and seeds. Writes <out>/schelling_<env>.csv and .png "
            "and says whether the env is a dilemma (defecting pays the individual at every k; "
            "full cooperation beats full defection)."
        ),
    )
    parser.add_argument("env", help="a social env, e.g. Harvest-Open, CleanUp, Coins")
    parser.add_argument("--steps", type=int, default=1000, help="steps per episode (fixed)")
    parser.add_argument("--episodes", type=int, default=8, help="episodes per population and seed")
    parser.add_argument("--seeds", type=int, default=2, help="seeds (independent batches)")
    parser.add_argument("--seed", type=int, default=0, help="base seed")
    parser.add_argument("--out", default="docs/social", help="folder for the CSV and PNG")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="env option (repeatable), e.g. --option num_agents=4",
    )
    parser.set_defaults(func=run)


def _parse_options(items: list[str]) -> dict:
    import yaml

    options = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--option: expected KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        options[key] = yaml.safe_load(value)
    return options


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"--{name}: must be at least 1, got {value}")


def run(args: argparse.Namespace) -> int:
    """Compute, print, and write the diagram."""
    _check_positive(steps=args.steps, episodes=args.episodes, seeds=args.seeds)
    if args.episodes * args.seeds < 2:
        raise ValueError("--episodes × --seeds must be at least 2 for an interval")
    import envs
    from envs.social.base import GridSocialEnv
    from envs.social.schelling import schelling

    env, params = envs.make(args.env, **_parse_options(args.option))
    if not isinstance(env, GridSocialEnv):
        raise ValueError(f"env: {args.env!r} is not a social (multi-agent) environment")
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        progress.add_task(
            f"{args.env}: {env.num_agents + 1} populations × {args.episodes} episodes × "
            f"{args.seeds} seeds × {args.steps} steps",
            total=None,
        )
        result = schelling(env, params, args.steps, args.episodes, args.seeds, args.seed)
    rows = result.rows()
    _print_table(args.env, rows)
    verdict = result.verdict()
    print(_verdict_text(args.env, env.num_agents, verdict))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / f"schelling_{args.env}.csv"
    png_path = out / f"schelling_{args.env}.png"
    _write_csv(csv_path, rows)
    _plot(png_path, args.env, rows, result, args)
    print(f"wrote {csv_path} and {png_path}")
    return 0


def _print_table(name: str, rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Schelling diagram: {name} (mean episode return [95% CI])")
    for column in ("other cooperators", "cooperator", "defector", "episodes"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r["other_cooperators"]),
            f"{r['cooperator']:.2f} [{r['cooperator_lo']:.2f}, {r['cooperator_hi']:.2f}]",
            f"{r['defector']:.2f} [{r['defector_lo']:.2f}, {r['defector_hi']:.2f}]",
            str(r["episodes"]),
        )
    Console(width=120).print(table)


def _verdict_text(name: str, n: int, v: dict) -> str:
    pays = (
        "at every k" if v["defection_pays_everywhere"] else f"only at k in {v['defection_pays_at']}"
    )
    group = ">" if v["cooperation_pays_the_group"] else "<="
    status = "IS" if v["is_dilemma"] else "is NOT"
    return (
        f"{name} {status} a social dilemma with these scripted policies: defecting pays the "
        f"individual {pays}; full cooperation C({n - 1}) = {v['full_cooperation']:.2f} {group} "
        f"full defection D(0) = {v['full_defection']:.2f}."
    )


def _write_csv(path: Path, rows: list[dict]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def _plot(path: Path, name: str, rows: list[dict], result, args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = [r["other_cooperators"] for r in rows]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for key, colour, label in (
        ("cooperator", "tab:blue", "cooperator"),
        ("defector", "tab:red", "defector"),
    ):
        mean = [r[key] for r in rows]
        ax.plot(k, mean, "o-", color=colour, label=label)
        ax.fill_between(
            k,
            [r[f"{key}_lo"] for r in rows],
            [r[f"{key}_hi"] for r in rows],
            color=colour,
            alpha=0.2,
        )
    ax.set_xlabel("number of other cooperators")
    ax.set_ylabel("mean episode return")
    ax.set_xticks(k)
    ax.set_title(
        f"{name}: {result.num_agents} agents, {args.steps}-step episodes,\n"
        f"{args.episodes} episodes × {args.seeds} seeds per point (95% CI)",
        fontsize=9,
    )
    ax.legend()
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".png")
    os.close(fd)
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
