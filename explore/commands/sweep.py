"""``explore sweep spec.yaml``: run a grid of configs × seeds (inline, process pool or Ray)."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLES = """spec (experiments/*.yaml):
  name: global_vs_episodic
  base: {agent: ppo, total_steps: 5e6}        # config fields, as in `explore train`
  grid:                                        # every combination is one config
    env: [MultiRoom-N4-S5, KeyCorridorS3R3]
    env.contexts: [0, 1]
    bonus: [rnd, e3b, "product(rnd,e3b)"]
  seeds: 0-9
  score: success_rate                          # what `explore report` scores

  A grid axis of mappings is a bundle: their fields vary together (each method at its own
  settings), e.g.  method: [{bonus: rnd, ppo.int_coef: 1.0}, {bonus: noveld}]

examples:
  explore sweep experiments/noisy_tv.yaml --dry-run
  explore sweep experiments/noisy_tv.yaml                       # runs/noisy_tv/, inline
  explore sweep experiments/mixed.yaml --launcher pool --workers 4
  explore sweep experiments/rdd_vs_rnd.yaml --launcher ray --address auto --gpus-per-task 0.25
  explore report runs/noisy_tv

Re-running a sweep skips completed runs and resumes interrupted ones from their checkpoints;
runs made by other code (code fingerprint or env version) are trained again (--reuse-stale
keeps them), the old ones kept in <sweep>/.stale/.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``explore sweep``."""
    parser = subparsers.add_parser(
        "sweep",
        help="run a sweep spec: grid of configs × seeds, resumable, inline / pool / Ray",
        description="Validate a sweep spec, then train every (config, seed) that is not complete yet "
        "into <out>/<name>/ (the spec is copied there as sweep.yaml for `explore report`).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", help="sweep spec YAML (e.g. experiments/noisy_tv.yaml)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="validate, print the run table and the cost; run nothing",
    )
    parser.add_argument("--out", default="runs", help="root of the run store (default: runs/)")
    parser.add_argument("--dir", default=None, help="sweep directory (default: <out>/<spec name>)")
    parser.add_argument(
        "--launcher",
        choices=("auto", "inline", "pool", "ray"),
        default=None,
        help="auto (default): inline if every agent is JAX, else pool; or the spec's launcher:",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="pool processes (default: cores, at most 8); with --address local, Ray's CPUs",
    )
    parser.add_argument(
        "--seeds-per-task",
        type=int,
        default=None,
        help="split a config's seeds into tasks of this many (default: all seeds in one program)",
    )
    parser.add_argument(
        "--address",
        default="local",
        help="Ray: 'auto' joins the running cluster, 'local' starts Ray here (default)",
    )
    parser.add_argument("--cpus-per-task", type=float, default=1, help="Ray CPU request per task")
    parser.add_argument("--gpus-per-task", type=float, default=0, help="Ray GPU request per task")
    parser.add_argument(
        "--compile-cache",
        default="auto",
        help="JAX compilation cache folder; 'auto': $JAX_COMPILATION_CACHE_DIR or <sweep>/.jax_cache; 'none'",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no live view; one line per finished run"
    )
    parser.add_argument(
        "--reuse-stale",
        action="store_true",
        help="keep runs made by other code (another code fingerprint or env version) as they "
        "are; by default they are set aside in <sweep>/.stale/ and trained again",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate, then run (or print the plan); exit code 1 if any run failed."""
    from rich.console import Console

    from explore.sweep import (
        SweepLocked,
        check_points,
        default_workers,
        estimate,
        expand,
        format_estimate,
        load_spec,
        plan_table,
        resolve_launcher,
        run_sweep,
    )

    if args.workers is not None and args.workers < 1:
        raise ValueError("--workers must be ≥ 1")
    if args.seeds_per_task is not None and args.seeds_per_task < 1:
        raise ValueError("--seeds-per-task must be ≥ 1")
    console = Console(soft_wrap=True)  # long run names and errors stay on one line
    spec = load_spec(args.spec)
    points = expand(spec)
    check_points(points, where=f"{args.spec}: ")
    from agents.seeds import configure_cpu_devices

    # Before JAX starts: devices for one task's seeds (inline runs; pool workers size theirs).
    configure_cpu_devices(seeds=min(len(spec.seeds), args.seeds_per_task or len(spec.seeds)))
    sweep_dir = Path(args.dir) if args.dir else Path(args.out) / spec.name
    launcher = resolve_launcher(points, args.launcher or spec.launcher)
    workers = args.workers or default_workers()
    if args.dry_run:
        console.print(plan_table(spec, points, sweep_dir))
        cost = estimate(points, sweep_dir, launcher, workers, args.seeds_per_task)
        console.print(
            f"launcher {launcher}: " + format_estimate(cost, launcher, workers), highlight=False
        )
        return 0
    try:
        result = run_sweep(
            spec,
            sweep_dir,
            launcher=launcher,
            workers=args.workers,
            address=args.address,
            seeds_per_task=args.seeds_per_task,
            cpus_per_task=args.cpus_per_task,
            gpus_per_task=args.gpus_per_task,
            progress=not args.no_progress,
            compile_cache=args.compile_cache,
            console=console,
            points=points,
            reuse_stale=args.reuse_stale,
        )
    except SweepLocked as err:
        console.print(f"[red]explore sweep: refused:[/red] {err}", highlight=False)
        return 3
    except KeyboardInterrupt:
        console.print(
            "interrupted: runs saved checkpoints; run the same command again to resume",
            highlight=False,
        )
        return 130
    console.print(result.summary(), highlight=False)
    if result.completed or result.skipped:
        console.print(f"report: explore report {sweep_dir}", highlight=False)
    return 0 if result.ok else 1
