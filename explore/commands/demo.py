"""``explore demo``: the main job on the embedded default (local CPU, no cluster, no LLM).

Trains plain PPO and PPO with two intrinsic rewards on DoorKey-5x5 (3 seeds each,
vmapped), renders a picture of the task, then writes the statistical report
(``demo/report/report.html``) and prints the aggregate table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_BONUSES = ("none", "count", "rnd")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``explore demo``."""
    parser = subparsers.add_parser(
        "demo", help="train PPO ± intrinsic rewards on a sparse gridworld and write a report",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo", help="output folder (runs/, report/, pictures)")
    parser.add_argument("--env", default="DoorKey-5x5", help="task")
    parser.add_argument("--bonuses", nargs="+", default=list(DEFAULT_BONUSES), help="bonuses to compare")
    parser.add_argument("--seeds", default="0-2", help="seeds (vmapped)")
    parser.add_argument("--total-steps", default="1e5", help="environment steps per seed")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train, render, report."""
    import imageio.v3 as iio
    import jax

    import envs
    from explore.cli import main as cli_main
    from explore.config import load_config, parse_seeds
    from explore.train import train

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env, params = envs.make(args.env)
    _, state = env.reset(jax.random.PRNGKey(0), params)
    iio.imwrite(out / f"{args.env}.png", env.render(state, tile_size=24))
    print(f"task picture: {out / (args.env + '.png')}")
    seeds = parse_seeds(args.seeds)
    for bonus in args.bonuses:
        cfg = load_config(None, [f"env={args.env}", f"bonus={bonus}", f"total_steps={args.total_steps}",
                                 "log_every=5"])
        train(cfg, seeds, out / "runs", progress=True)
    return cli_main(["report", str(out / "runs"), "--out", str(out / "report")])
