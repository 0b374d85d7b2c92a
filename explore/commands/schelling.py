"""``explore schelling <env>``: Schelling diagram of a social dilemma (table + PNG)."""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


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
            "full cooperation beats full defection), each condition decided by whether the "
            "two intervals are apart. With --max-episodes it sizes the diagram with the power "
            "tools (analysis/power.py) and plays more episodes where they ask for them."
        ),
    )
    parser.add_argument("env", help="a social env, e.g. Harvest-Open, CleanUp, Coins")
    parser.add_argument("--steps", type=int, default=1000, help="steps per episode (fixed)")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per population and seed")
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
    parser.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="scripted-policy option (repeatable): Harvest keep=4 / take=2 (live apples within "
        "radius 2 an apple needs for a cooperator / a defector to take it) and walk_around=1 "
        "(cooperators never step onto the apples they spare; 0: they may), CleanUp "
        "clean_above=0.2 (waste share above which cooperators clean); Coins has none",
    )
    parser.add_argument(
        "--max-episodes",
        type=int,
        default=0,
        help="size the diagram: after the first --episodes × --seeds, estimate (analysis/power.py) "
        "the episodes per point each condition needs for 80%% power with intervals apart, and "
        "play more seeds for those needing at most this many episodes per point (0: none; the "
        "estimates are printed either way)",
    )
    parser.set_defaults(func=run)


def _parse_options(items: list[str], flag: str = "--option") -> dict:
    import yaml

    options = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"{flag}: expected KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        options[key] = yaml.safe_load(value)
    return options


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"--{name}: must be at least 1, got {value}")


#: Level of the difference test the sizing simulates. Two 95% intervals of equal width are
#: apart when the difference exceeds 1.96·√2 standard errors of it, a two-sided test at
#: α ≈ 0.0056: sizing at 0.005 asks for intervals that separate, not just a difference.
SIZING_ALPHA = 0.005
SIZING_POWER = 0.8
# Bootstrap replicates per simulated experiment: the 0.25th percentile needs more than the
# power tool's default 200; fewer simulated experiments keep the cost (power to ±0.05).
SIZING_REPS, SIZING_SIMS = 400, 100


def _conditions(result) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, should-be-greater samples, should-be-smaller samples) of every condition."""
    n = result.num_agents
    named = [(f"D({k}) > C({k})", result.defector[k], result.cooperator[k]) for k in range(n)]
    named.append((f"C({n - 1}) > D(0)", result.cooperator[n - 1], result.defector[0]))
    return named


def _sizing(result, grid_max: int) -> list[dict]:
    """Per condition: its decision and the episodes per point for 80% power.

    The power tool (:func:`analysis.power.seeds_estimate`, episodes in the role of seeds,
    one task) resamples the episodes played so far, with the sample of the larger mean as
    X: the episodes needed to decide the condition whichever way the data point.
    """
    from analysis.power import DEFAULT_SEED_GRID, seeds_estimate

    grid = sorted({*(g for g in DEFAULT_SEED_GRID if g <= grid_max), grid_max})
    verdict = result.verdict()
    decisions = [*verdict["defection_pays"], verdict["cooperation_pays_the_group_decided"]]
    sized = []
    for (name, a, b), decision in zip(_conditions(result), decisions, strict=True):
        x, y = (a, b) if a.mean() >= b.mean() else (b, a)
        estimate = seeds_estimate(
            x[:, None], pilot_y=y[:, None], alpha=SIZING_ALPHA, seed_grid=grid,
            target_power=SIZING_POWER, reps=SIZING_REPS, sims=SIZING_SIMS,
        )  # fmt: skip
        sized.append({"condition": name, "decision": decision, "estimate": estimate})
    return sized


def run(args: argparse.Namespace) -> int:
    """Compute, print, and write the diagram."""
    _check_positive(steps=args.steps, episodes=args.episodes, seeds=args.seeds)
    if args.episodes * args.seeds < 2:
        raise ValueError("--episodes × --seeds must be at least 2 for an interval")
    if args.max_episodes < 0:
        raise ValueError(f"--max-episodes: must be at least 0, got {args.max_episodes}")
    import envs
    from envs.social.base import GridSocialEnv
    from envs.social.schelling import schelling

    env, params = envs.make(args.env, **_parse_options(args.option))
    if not isinstance(env, GridSocialEnv):
        raise ValueError(f"env: {args.env!r} is not a social (multi-agent) environment")
    policy = _parse_options(args.policy, "--policy")
    from envs.social.scripted import policy_options, scripted_policy

    try:
        scripted_policy(env, **policy)  # validates the options before any episode runs
    except ValueError as error:
        raise ValueError(f"--policy: {error}") from None
    from rich.progress import Progress

    def play(seeds: int, first: int):
        with Progress(transient=True) as progress:
            progress.add_task(
                f"{args.env}: {env.num_agents + 1} populations × {args.episodes} episodes × "
                f"{seeds} seeds × {args.steps} steps",
                total=None,
            )
            return schelling(
                env, params, args.steps, args.episodes, seeds, args.seed, policy, first
            )

    seeds = args.seeds
    result = play(seeds, 0)
    grid_max = max(args.max_episodes, 100)
    sized = _sizing(result, grid_max)
    played = args.episodes * seeds
    # Every condition, decided or not, is sized: one decided at low power is a lucky draw.
    wanted = [s["estimate"].seeds for s in sized if s["estimate"].seeds is not None]
    wanted = [w for w in wanted if w <= args.max_episodes]
    if wanted and max(wanted) > played:
        extra = -(-(max(wanted) - played) // args.episodes)
        print(
            f"sizing: with {played} episodes per point the power tool asks for up to "
            f"{max(wanted)} (80% power, intervals apart): playing {extra} more seeds"
        )
        result = result.merge(play(extra, seeds))
        seeds += extra
        sized = _sizing(result, grid_max)
    rows = result.rows()
    for row, s in zip(rows, sized, strict=False):
        row["defection_pays"] = s["decision"]
        row["episodes_needed"] = s["estimate"].text()
    _print_table(args.env, rows, sized)
    verdict = result.verdict()
    options = {**policy_options(env), **policy}
    print(_verdict_text(args.env, env.num_agents, verdict, options))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / f"schelling_{args.env}.csv"
    png_path = out / f"schelling_{args.env}.png"
    _write_csv(csv_path, rows)
    _plot(png_path, args.env, rows, result, args.steps, seeds * args.episodes, options)
    print(f"wrote {csv_path} and {png_path}")
    return 0


def _print_table(name: str, rows: list[dict], sized: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Schelling diagram: {name} (mean episode return [95% CI])")
    for column in ("k", "cooperator C(k)", "defector D(k)", "episodes", "D > C", "needs"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r["other_cooperators"]),
            f"{r['cooperator']:.2f} [{r['cooperator_lo']:.2f}, {r['cooperator_hi']:.2f}]",
            f"{r['defector']:.2f} [{r['defector_lo']:.2f}, {r['defector_hi']:.2f}]",
            str(r["episodes"]),
            r["defection_pays"],
            r["episodes_needed"],
        )
    console = Console(width=120)
    console.print(table)
    group = sized[-1]
    console.print(
        f"{group['condition']}: {group['decision']} (needs {group['estimate'].text()}). "
        "'needs': episodes per point for 80% power to decide the condition the way the data "
        f"point, intervals apart (power tool, alpha {SIZING_ALPHA}), [range from the "
        "uncertainty of the spread].",
        markup=False,
    )


def _verdict_text(name: str, n: int, v: dict, options: dict) -> str:
    pays = (
        "at every k" if v["defection_pays_everywhere"] else f"only at k in {v['defection_pays_at']}"
    )
    group = ">" if v["cooperation_pays_the_group"] else "<="
    status = "IS" if v["is_dilemma"] else "is NOT"
    decided = {"yes": "decided: yes", "no": "decided: no", "undecided": "undecided"}[v["decided"]]
    shown = ", ".join(f"{k}={value}" for k, value in options.items()) or "no options"
    return (
        f"{name} {status} a social dilemma with these scripted policies ({shown}) on the "
        f"means: defecting pays the individual {pays}; full cooperation C({n - 1}) = "
        f"{v['full_cooperation']:.2f} {group} full defection D(0) = "
        f"{v['full_defection']:.2f}. By the intervals: {decided}."
    )


def _write_csv(path: Path, rows: list[dict]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def _plot(
    path: Path,
    name: str,
    rows: list[dict],
    result,
    steps: int,
    episodes: int,
    options: dict,
) -> None:
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
    shown = ", ".join(f"{k}={value}" for k, value in options.items())
    ax.set_title(
        f"{name}: {result.num_agents} agents, {steps}-step episodes{', ' + shown if shown else ''}"
        f",\n{episodes} episodes per point (95% CI)",
        fontsize=9,
    )
    ax.legend()
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".png")
    os.close(fd)
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
