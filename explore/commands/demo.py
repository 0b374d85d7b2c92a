"""``explore demo``: the main job on the embedded default (local CPU, no cluster, no LLM).

Runs the sweep spec ``experiments/demo.yaml`` (plain PPO and PPO with intrinsic rewards on a
sparse gridworld, seeds vmapped) through ``explore sweep``, renders a picture of the task,
then writes the statistical report (``demo/report.html`` with figures) and prints the
aggregate table. Re-running resumes: completed runs are skipped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_SPEC = Path(__file__).resolve().parents[2] / "experiments" / "demo.yaml"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``explore demo``."""
    parser = subparsers.add_parser(
        "demo",
        help="sweep PPO ± intrinsic rewards on a sparse gridworld and write a report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out", default="demo", help="output folder: runs/, report.html, figures, task picture"
    )
    parser.add_argument(
        "--spec", default=str(DEFAULT_SPEC), help="sweep spec (default: experiments/demo.yaml)"
    )
    parser.add_argument(
        "--reps", type=int, default=None, help="bootstrap replicates (default: explore report's)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no live view")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Sweep, render, report."""
    import imageio.v3 as iio
    import jax
    from rich.console import Console

    import envs
    from explore.cli import main as cli_main
    from explore.sweep import check_points, expand, load_spec, run_sweep

    console = Console(soft_wrap=True)  # long run names and errors stay on one line
    out = Path(args.out)
    spec = load_spec(args.spec)
    from agents.seeds import configure_cpu_devices

    configure_cpu_devices(seeds=len(spec.seeds))  # before JAX starts (the picture below)
    points = expand(spec)
    check_points(points, where=f"{args.spec}: ")
    out.mkdir(parents=True, exist_ok=True)
    for name in dict.fromkeys(p.config.env for p in points if p.is_jax):
        env, params = envs.make(name)
        _, state = env.reset(jax.random.PRNGKey(0), params)
        iio.imwrite(out / f"{name}.png", env.render(state, tile_size=24))
        console.print(f"task picture: {out / (name + '.png')}", highlight=False)
    result = run_sweep(
        spec, out / "runs", progress=not args.no_progress, console=console, points=points
    )
    console.print(result.summary(), highlight=False)
    if not (result.completed or result.skipped):
        return 1
    reps = ["--reps", str(args.reps)] if args.reps else []
    code = cli_main(["report", str(out / "runs"), "--out", str(out), *reps])
    return code or (0 if result.ok else 1)
