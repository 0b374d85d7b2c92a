"""``explore check env=NAME`` / ``explore check bonus=SPEC``: run the contract's checks."""

from __future__ import annotations

import argparse
import time

EXAMPLES = """examples:
  explore check env=DoorKey-5x5
  explore check env=TwoEnds --import my_pkg.my_envs
  explore check bonus='rnd(hidden=16)' bonus=count
  explore check env=Coins env.num_agents=3 --cheap

env checks: spaces, shapes (reset/step traced, alone and under vmap, with the required info
keys), rollout (jit(vmap) random steps: final_observation, same seed → same trajectory),
door (Gymnasium's env checker / MO-Gymnasium's wrappers / PettingZoo's API test + a
determinism test), solvable (gridworlds: sampled layouts solved by a planner).
bonus checks: shapes (init and reward_and_update jit + vmap over seeds), purity, episodic
resets, checkpoint round trip, vmapped init in a fresh process with a timeout.
What each check requires: docs/extending.md.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``explore check``."""
    parser = subparsers.add_parser(
        "check",
        help="check that an env or a bonus (yours too, with --import) follows the contract",
        description="Run the env or bonus contract's checks; one line per check passed, "
        "one line naming the problem (exit 2) at the first that fails.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "targets",
        nargs="*",
        metavar="env=NAME|bonus=SPEC",
        help="what to check (repeatable); env.<option>=value sets an env option",
    )
    parser.add_argument(
        "--cheap", action="store_true", help="only the checks that compile nothing (as train)"
    )
    parser.add_argument(
        "--no-subprocess",
        action="store_true",
        help="bonuses: skip the vmapped init in a fresh process",
    )
    parser.set_defaults(func=run)


def _parse(targets: list[str]) -> tuple[list[str], list[str], dict]:
    from explore.config import _parse_value

    envs, bonuses, options = [], [], {}
    for item in targets:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not value.strip():
            raise ValueError(f"{item!r} is not env=NAME or bonus=SPEC")
        if key == "env":
            envs.append(value.strip())
        elif key == "bonus":
            bonuses.append(value.strip())
        elif key.startswith("env."):
            options[key.removeprefix("env.")] = _parse_value(value.strip())
        else:
            from envs.names import did_you_mean

            raise ValueError(
                f"unknown target {key!r}.{did_you_mean(key, ['env', 'bonus'])} "
                "Use env=NAME or bonus=SPEC"
            )
    if not envs and not bonuses:
        raise ValueError("name what to check: env=NAME and/or bonus=SPEC")
    if options and not envs:
        raise ValueError("env.<option>=value needs an env=NAME")
    return envs, bonuses, options


def run(args: argparse.Namespace) -> int:
    """Check every target; the first failure raises a one-line ContractError (exit 2)."""
    envs_to_check, bonuses, options = _parse(args.targets)
    for name in envs_to_check:
        from envs.check import check_env

        started = time.perf_counter()
        results = check_env(name, cheap=args.cheap, **options)
        for check, what in results:
            print(f"ok  {check:<12} {what}")
        print(f"env {name}: {len(results)} checks passed ({time.perf_counter() - started:.1f} s)")
    for spec in bonuses:
        from agents.bonuses.check import check_bonus

        started = time.perf_counter()
        from explore.plugins import requested

        results = check_bonus(
            spec, subprocess=not (args.cheap or args.no_subprocess), plugins=requested()
        )
        for check, what in results:
            print(f"ok  {check:<12} {what}")
        print(f"bonus {spec}: {len(results)} checks passed ({time.perf_counter() - started:.1f} s)")
    return 0
