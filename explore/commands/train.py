"""``explore train key=value ...``: train one config for one or more seeds."""

from __future__ import annotations

import argparse

from explore.config import bonus_settings_help, field_help, load_config, parse_seeds

EXAMPLES = """examples:
  explore train env=DoorKey-8x8 bonus=rnd seeds=0-4 total_steps=5e6 out=runs/demo
  explore train env=MultiRoom-N4-S5 env.contexts=1 bonus='product(rnd,e3b)' ppo.lr=3e-4
  explore train --config experiments/my_run.yaml seeds=0,1,2
"""


def _fields_epilog(
    agent: str | None = None,
    bonuses: bool = False,
    plugins: list[tuple[str, dict[str, list[str]]]] | None = None,
) -> str:
    # bonuses: list the settings each bonus brings (imports the bonus modules, so JAX: only
    # when the help is printed, never when the parser is built).
    rows = field_help(agent)
    width = max(len(name) for name, _, _ in rows)
    lines = [f"  {name:<{width}}  {default:<12} {doc}" for name, default, doc in rows]
    lines.append(f"  {'seeds':<{width}}  {'0':<12} seeds to train, in one program: 0-4 or 1,3,5")
    lines.append(f"  {'out':<{width}}  {'runs/default':<12} root folder of the run store")
    lines.append(
        f"  {'env.<name>':<{width}}  {'':<12} any env option (contexts, noisy_tv, sticky_actions, "
        "see_through_walls, fully_observable: the whole grid instead of the 7×7 view, ...)"
    )
    lines.append(
        f"  {'bonus.<name>':<{width}}  {'':<12} any field of the bonus (e.g. bonus.lr=1e-4)"
    )
    lines.append(
        f"  {'bonus.store':<{width}}  {'':<12} oni: LLM label store (default <out>/labels.sqlite, "
        "or $EXPLORE_LABELS_DB; printed when training starts)"
    )
    lines.append(
        f"  {'bonus.warn_after':<{width}}  {'300':<12} oni: warn when no label arrived this "
        "many seconds after the first caption was queued (0: never)"
    )
    brought = bonus_settings_help() if bonuses else []
    if brought:
        lines.append("")
        lines.append(
            "settings a bonus brings (used unless the run sets them; saved in config.yaml):"
        )
        lines.extend(f"  bonus={name}: {settings}" for name, settings in brought)
    if bonuses:
        import agents.bonuses

        lines.append("")
        lines.append("bonuses (`explore bonuses` describes them; `explore envs` lists the envs):")
        lines.append("  " + ", ".join(agents.bonuses.registered()))
    if plugins:
        lines.append("")
        lines.append("from plugins (--import, $EXPLORE_PLUGINS, entry points 'explore.plugins'):")
        for source, names in plugins:
            found = "; ".join(
                f"{kind} {', '.join(items)}" for kind, items in names.items() if items
            )
            lines.append(f"  {source}: {found}")
    scope = (
        f"fields of agent={agent}"
        if agent
        else "fields (the default agent's in full; `explore train agent=NAME --help` lists another's)"
    )
    return (
        f"{scope} (key=value, dotted keys for nested ones):\n"
        + "\n".join(lines)
        + "\n\n"
        + EXAMPLES
    )


class _AgentHelp(argparse.Action):
    """``--help`` that lists the fields of the agent chosen by an ``agent=NAME`` override."""

    def __init__(
        self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None
    ):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        import sys

        from agents.configs import AGENTS
        from explore.plugins import PluginError, load_and_describe

        words = [*(getattr(namespace, "overrides", None) or []), *sys.argv[1:]]
        # Plugins named on this command line (main loads them only after parsing, and --help
        # ends parsing), so their agents, bonuses and envs are listed too.
        targets = list(getattr(namespace, "imports", None) or [])
        for i, word in enumerate(words):
            if word == "--import" and i + 1 < len(words):
                targets.append(words[i + 1])
            elif word.startswith(("--import=", "imports=")):
                targets.extend(t for t in word.partition("=")[2].split(",") if t.strip())
        try:
            plugins = load_and_describe(dict.fromkeys(targets))
        except PluginError as err:
            parser.exit(2, f"explore train: error: {err}\n")
        agent = next((w.partition("=")[2] for w in words if w.startswith("agent=")), None)
        parser.epilog = _fields_epilog(
            agent if agent in AGENTS else None, bonuses=True, plugins=plugins
        )
        parser.print_help()
        parser.exit()


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``explore train``."""
    parser = subparsers.add_parser(
        "train",
        help="train an agent (PPO + intrinsic reward) for one or more seeds",
        description="Train one config; all seeds run in one compiled program (on the CPU spread over every core). "
        "Completed runs are skipped and interrupted ones resume from their checkpoints.",
        epilog=_fields_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    parser.add_argument(
        "-h",
        "--help",
        action=_AgentHelp,
        help="show this help (with agent=NAME: that agent's fields)",
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="key=value", help="config fields (see below)"
    )
    parser.add_argument(
        "--config", default=None, help="YAML file with config fields (loaded safely)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--reuse-stale",
        action="store_true",
        help="keep runs made by other code (another code fingerprint or env version) as they "
        "are; by default they are set aside in <out>/.stale/ and trained again",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate the config, then train."""
    overrides, seeds_text, out = [], "0", "runs/default"
    for item in args.overrides:
        key, _, value = item.partition("=")
        if key == "seeds":
            seeds_text = value
        elif key == "out":
            out = value
        else:
            overrides.append(item)
    seeds = parse_seeds(seeds_text)
    from agents.seeds import configure_cpu_devices

    configure_cpu_devices(seeds=len(seeds))  # before JAX starts: devices for these seeds
    cfg = load_config(args.config, overrides)
    from explore.train import check, train  # train picks the agent's driver (JAX loop or SB3)

    # Fail on bad env options / names before creating any run directory, with the same
    # checks and messages as `explore sweep`.
    check(cfg)
    from explore.runs import RunDir, settle_stale

    # Stale runs first (one line each), so that "already complete" means made by this code.
    configs = [cfg.model_copy(update={"seed": s}) for s in seeds]
    settle_stale(configs, out, reuse_stale=args.reuse_stale, say=print)
    already = {RunDir.for_config(out, c).path for c in configs}
    already = {p for p in already if RunDir(p).is_complete()}
    runs = train(
        cfg,
        seeds,
        out,
        progress=not args.no_progress,
        reuse_stale=args.reuse_stale,
        on_stale=None,  # named above
    )
    for run_dir in runs:
        if run_dir.path in already:
            print(f"skipped (already complete)  {run_dir.path}")
            continue
        status = run_dir.status() or {}
        print(f"{status.get('status', '?'):>9}  {run_dir.path}")
    return 0 if all(r.is_complete() for r in runs) else 1
