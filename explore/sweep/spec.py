"""Sweep specs (``experiments/*.yaml``): parsing, validation and grid expansion.

A spec names a base config, a grid (every combination of the listed values is one config)
and the seeds every config runs with::

    name: global_vs_episodic
    base: {agent: ppo, total_steps: 5e6}
    grid:
      env: [MultiRoom-N4-S5, KeyCorridorS3R3]
      env.contexts: [0, 1]
      bonus: [rnd, e3b, "product(rnd,e3b)"]
    seeds: 0-9
    score: success_rate

Keys of ``base`` and ``grid`` are the ``key=value`` fields of ``explore train`` (dotted
``env.*``, ``bonus.*``, ``ppo.*``, bare PPO fields); they go through the same parser and
validator (:mod:`explore.config`), so a sweep reports the same errors as ``explore train``.

A grid axis whose values are mappings is a *bundle*: the fields of one mapping vary
together, so each method can run at its own settings (e.g. its tuned ``int_coef``) while the
other axes still cross with it. The axis name is only a label::

    grid:
      env: [DoorKey-8x8, MultiRoom-N4-S5]
      method:
        - {bonus: "rdd(sigma=3.0)", ppo.int_coef: 1.0}
        - {bonus: noveld}            # the other fields from base / the defaults

No field may be set by two axes.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from envs.names import did_you_mean
from explore.config import (
    RunConfig,
    apply_overrides,
    build_config,
    in_jax_loop,
    parse_seeds,
    read_yaml_file,
)

#: Top-level keys of a spec. ``score``/``score_refs`` are read by ``analysis.load`` from the
#: copy written as ``<sweep>/sweep.yaml``.
SPEC_KEYS = (
    "name",
    "base",
    "grid",
    "seeds",
    "score",
    "score_refs",
    "launcher",
    "description",
    "notes",
)
LAUNCHERS = ("auto", "inline", "pool", "ray")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class SweepSpec:
    """A parsed (structurally valid) sweep spec; :func:`expand` turns it into configs."""

    name: str
    base: dict[str, Any]
    grid: dict[str, list[Any]]
    seeds: list[int]
    score: Any = None
    score_refs: dict[str, Any] | None = None
    launcher: str | None = None
    text: str = ""  # the YAML as given; copied verbatim to <sweep>/sweep.yaml
    path: Path | None = None


@dataclass(frozen=True)
class GridPoint:
    """One combination of grid values: one config, trained for every seed of the sweep."""

    index: int
    values: dict[str, Any]  # grid key (as written in the spec) → value
    config: RunConfig  # seed 0; ``for_seed`` gives the others
    seeds: list[int] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``env=DoorKey-5x5 bonus=rnd`` (the grid values) or the config's env/bonus."""
        if self.values:
            return show_value(_fields_of(self.values))
        return f"env={self.config.env} bonus={self.config.bonus}"

    @property
    def is_jax(self) -> bool:
        """Whether the agent trains in the JAX loop (seeds vmapped) rather than SB3."""
        return in_jax_loop(self.config.agent)  # the live registry: plugin agents count too

    def for_seed(self, seed: int) -> RunConfig:
        """This point's config with ``seed``."""
        return self.config.model_copy(update={"seed": seed})


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _fields_of(values: dict[str, Any]) -> dict[str, Any]:
    """Grid values as config fields: a bundle axis (a mapping value) gives its own fields."""
    fields: dict[str, Any] = {}
    for key, value in values.items():
        fields.update(value if isinstance(value, dict) else {key: value})
    return fields


def show_value(value: Any) -> str:
    """One grid value as text: ``rnd``, ``0.5``, or a bundle's ``bonus=rdd ppo.int_coef=1.0``."""
    if isinstance(value, dict):
        return " ".join(f"{k}={_show(v)}" for k, v in value.items())
    return _show(value)


def _override(key: str, value: Any) -> str:
    # JSON text is YAML, so explore.config's value parser reads back the same type (a quoted
    # string stays a string); one parser for `explore train` and sweeps.
    return f"{key}={json.dumps(value)}"


def load_spec(path: str | Path) -> SweepSpec:
    """Read and structurally validate a spec file (``yaml.safe_load``)."""
    path = Path(path)
    data = read_yaml_file(path, "sweep spec")  # one-line errors, shared with `explore train`
    return parse_spec(data, default_name=path.stem, text=path.read_text(), path=path)


def parse_spec(
    data: Any, default_name: str = "sweep", text: str | None = None, path: Path | None = None
) -> SweepSpec:
    """Check the shape of a spec mapping (field names and values are checked by :func:`expand`)."""
    where = f"{path}: " if path else ""
    if not isinstance(data, dict):
        raise ValueError(f"{where}a sweep spec must be a YAML mapping, got {type(data).__name__}")
    for key in data:
        if key not in SPEC_KEYS:
            if isinstance(key, str) and (key in RunConfig.model_fields or "." in key):
                hint = " Config fields go under base: (one value) or grid: (a list of values)."
            else:
                hint = did_you_mean(str(key), SPEC_KEYS)
            raise ValueError(
                f"{where}unknown spec key {key!r}.{hint} Known: {', '.join(SPEC_KEYS)}"
            )
    name = str(data.get("name") or default_name)
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"{where}name {name!r}: use letters, digits, '.', '_' and '-' (it names the sweep folder)"
        )
    base = data.get("base") or {}
    if not isinstance(base, dict):
        raise ValueError(f"{where}base: expected a mapping of config fields, got {base!r}")
    if "seed" in base or "seeds" in base:
        raise ValueError(f"{where}base: give seeds at the top level (seeds: 0-4), not in base")
    grid_in = data.get("grid") or {}
    if not isinstance(grid_in, dict):
        raise ValueError(
            f"{where}grid: expected a mapping of field → list of values, got {grid_in!r}"
        )
    grid: dict[str, list[Any]] = {}
    for key, values in grid_in.items():
        if key in ("seed", "seeds"):
            raise ValueError(f"{where}grid: give seeds at the top level (seeds: 0-4), not in grid")
        values = _rejoin(values) if isinstance(values, list) else [values]
        if not values:
            raise ValueError(
                f"{where}grid.{key}: empty list (a grid axis needs at least one value)"
            )
        bundles = [isinstance(v, dict) for v in values]
        if any(bundles) and not all(bundles):
            raise ValueError(
                f"{where}grid.{key}: mix of mappings and single values; a bundle axis lists "
                "mappings of fields that vary together ({bonus: rnd, ppo.int_coef: 0.5})"
            )
        for i, value in enumerate(values if all(bundles) else []):
            if not value or not all(isinstance(k, str) for k in value):
                raise ValueError(
                    f"{where}grid.{key}[{i}]: a bundle is a non-empty mapping of config fields"
                )
            if {"seed", "seeds"} & set(value):
                raise ValueError(
                    f"{where}grid.{key}[{i}]: give seeds at the top level (seeds: 0-4)"
                )
        grid[str(key)] = values
    try:
        seeds = parse_seeds(data.get("seeds", 0))
    except ValueError as err:
        raise ValueError(f"{where}{err}") from None  # the message starts with "seeds:"
    if not seeds:
        raise ValueError(f"{where}seeds: no seeds")
    score = data.get("score")
    if score is not None and not isinstance(score, str | dict):
        raise ValueError(
            f"{where}score: expected a metric name (success_rate, return, ...) or a mapping"
        )
    refs = data.get("score_refs")
    if refs is not None and not isinstance(refs, dict):
        raise ValueError(
            f"{where}score_refs: expected {{task: {{min: .., max: ..}}}}, got {refs!r}"
        )
    launcher = data.get("launcher")
    if launcher is not None and launcher not in LAUNCHERS:
        raise ValueError(f"{where}launcher {launcher!r}: choose one of {', '.join(LAUNCHERS)}")
    if text is None:
        text = yaml.safe_dump(data, sort_keys=False)
    return SweepSpec(name, dict(base), grid, seeds, score, refs, launcher, text, path)


def _check_axes_disjoint(spec: SweepSpec, base: dict[str, Any]) -> None:
    """No config field may be set by two grid axes (a bundle's fields included), however it
    is spelt (``int_coef`` and ``ppo.int_coef`` are one field)."""
    from analysis.load import flatten_config

    start = {"agent": base["agent"]} if "agent" in base else {}
    owner: dict[str, str] = {}
    for key, values in spec.grid.items():
        paths: set[str] = set()
        for value in values:
            overrides = [_override(k, v) for k, v in _fields_of({key: value}).items()]
            paths |= set(flatten_config(apply_overrides(start, overrides))) - set(start)
        for path in sorted(paths):
            if path in owner:
                raise ValueError(
                    f"{_where(spec)}grid: field {path!r} is set by two axes ({owner[path]}, "
                    f"{key}); list it in one of them"
                )
            owner[path] = key


def _rejoin(values: list[Any]) -> list[Any]:
    """Undo YAML's split of ``[rnd, product(rnd,e3b)]`` at the comma inside the parentheses."""
    out: list[Any] = []
    for value in values:
        if (
            out
            and isinstance(out[-1], str)
            and out[-1].count("(") > out[-1].count(")")
            and isinstance(value, str)
        ):
            out[-1] = f"{out[-1]},{value}"
        else:
            out.append(value)
    return out


def _base_data(spec: SweepSpec) -> dict[str, Any]:
    try:
        return apply_overrides({}, [_override(k, v) for k, v in spec.base.items()])
    except ValueError as err:
        raise ValueError(f"{_where(spec)}base: {err}") from None


def _where(spec: SweepSpec) -> str:
    return f"{spec.path}: " if spec.path else ""


def expand(spec: SweepSpec) -> list[GridPoint]:
    """Every grid combination as a validated config (spec order: the last key varies fastest).

    Errors are ``ValueError`` naming where the problem is (``base``, ``grid.<key>[i]``) and,
    as in ``explore train``, the field and its close matches or accepted values.
    """
    where = _where(spec)
    base = _base_data(spec)
    try:
        build_config(base)
    except ValueError as err:
        raise ValueError(f"{where}base: {err}") from None
    # One axis at a time on top of base: a bad value is reported once, at its place.
    for key, values in spec.grid.items():
        for i, value in enumerate(values):
            fields = _fields_of({key: value})
            try:
                build_config(apply_overrides(base, [_override(k, v) for k, v in fields.items()]))
            except ValueError as err:
                raise ValueError(f"{where}grid.{key}[{i}] = {show_value(value)}: {err}") from None
    _check_axes_disjoint(spec, base)
    points: list[GridPoint] = []
    seen: dict[str, GridPoint] = {}
    keys = list(spec.grid)
    for index, combo in enumerate(itertools.product(*spec.grid.values())):
        values = dict(zip(keys, combo, strict=True))
        fields = _fields_of(values)
        try:
            cfg = build_config(apply_overrides(base, [_override(k, v) for k, v in fields.items()]))
        except ValueError as err:
            raise ValueError(f"{where}grid point {show_value(fields)}: {err}") from None
        point = GridPoint(index, values, cfg.model_copy(update={"seed": 0}), list(spec.seeds))
        digest = cfg.config_hash()
        if digest in seen:
            raise ValueError(
                f"{where}grid points '{seen[digest].label}' and '{point.label}' give the same config"
            )
        seen[digest] = point
        points.append(point)
    return points


def check_points(points: list[GridPoint], build_envs: bool = True, where: str = "") -> None:
    """Check names the schema cannot: environments, bonuses and their options, PPO shapes.

    With ``build_envs`` every distinct (env, env options) is built once (building a pool of
    fixed layouts, ``env.contexts>0``, takes seconds), so env option values are checked too;
    without it only names are checked. Raises ``ValueError`` listing every bad grid point.
    """
    import envs

    env_cache: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}  # message → labels of the grid points it concerns
    for point in points:
        cfg = point.config
        try:
            if not point.is_jax:
                from explore.train_sb3 import check_sb3  # the torch side, only for sb3_* agents

                check_sb3(cfg)
                continue
            env_key = json.dumps([cfg.env, cfg.env_kwargs], sort_keys=True)
            if env_key not in env_cache:
                if build_envs or cfg.env.startswith("gymnax:"):
                    env_cache[env_key] = make_env(cfg.env, cfg.env_kwargs)
                    if build_envs and not cfg.env.startswith("gymnax:"):
                        from envs.check import check_env

                        # The env contract's cheap checks (traced, nothing compiled).
                        check_env(cfg.env, cheap=True, env=env_cache[env_key])
                elif cfg.env not in envs.registered():
                    raise envs.registry.unknown_name_error(
                        "environment", cfg.env, envs.registered()
                    )
                else:
                    env_cache[env_key] = None
            if env_cache[env_key] is not None:
                from explore.train import build

                build(cfg, env=env_cache[env_key])
            else:
                import agents.bonuses

                agents.bonuses.make(cfg.bonus, **cfg.bonus_kwargs)
        except (KeyError, ValueError, TypeError) as err:
            message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
            errors.setdefault(message, []).append(point.label)
    if errors:
        parts = []
        for message, labels in errors.items():
            more = f" and {len(labels) - 1} more" if len(labels) > 1 else ""
            parts.append(f"{message} (grid point {labels[0]}{more})")
        raise ValueError(f"{where}invalid sweep: " + "; ".join(parts))


def make_env(env_name: str, env_kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """``envs.make(env_name, **env_kwargs)``; a misspelt option raises a one-line ``ValueError``
    (``unknown env option 'env.contxts' for DoorKey-8x8. Did you mean: contexts? ...``).

    The one check of ``env.*`` options, used by sweeps (:func:`check_points`) and by
    ``explore train`` before it builds anything.
    """
    import envs

    try:
        return envs.make(env_name, **env_kwargs)
    except TypeError as err:
        message = str(err)
        if "unexpected keyword argument" not in message:
            raise
        raise ValueError(_unknown_env_option(env_name, env_kwargs, message)) from None


def _unknown_env_option(env_name: str, env_kwargs: dict[str, Any], message: str) -> str:
    """``env.<name>``: unknown option, with the env's accepted options and close matches."""
    import inspect

    import envs

    try:
        env, _ = envs.make(env_name)
        accepted = [
            p
            for p in inspect.signature(type(env).__init__).parameters
            if p not in ("self", "task", "name")
        ]
    except Exception:  # best effort: fall back to the raw message
        return message
    bad = [k for k in env_kwargs if k not in accepted]
    if not bad:
        return message
    return f"unknown env option 'env.{bad[0]}' for {env_name}.{did_you_mean(bad[0], accepted)} Accepted: {', '.join(accepted)}"
