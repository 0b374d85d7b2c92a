"""Intrinsic rewards. ``make("rnd")``, ``make("product(rnd,e3b)")``, ``make("rdd", sigma=0.5)``.

Adding a method is one file in this folder that subclasses :class:`Bonus` and calls
:func:`register` at import time, plus its name in ``_BUILTIN_MODULES``.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from typing import Any

from agents.bonuses.base import Bonus, NoBonus, Transitions
from envs.registry import unknown_name_error

_REGISTRY: dict[str, Callable[..., Bonus]] = {"none": NoBonus}
# Modules that register bonuses when imported (one file per method).
_BUILTIN_MODULES = [
    "agents.bonuses.counts",
    "agents.bonuses.rnd",
    "agents.bonuses.rdd",
    "agents.bonuses.noveld",
    "agents.bonuses.e3b",
    "agents.bonuses.icm",
    "agents.bonuses.compose",
    "agents.bonuses.byol_explore",
    "agents.bonuses.byol_hindsight",
    "agents.bonuses.oni",
    "agents.bonuses.social.inequity_aversion",
    "agents.bonuses.social.svo",
    "agents.bonuses.social.social_influence",
]
_loaded = False


def register(name: str, factory: Callable[..., Bonus]) -> None:
    """Register a bonus class (or factory) under ``name``."""
    _REGISTRY[name] = factory


def registered() -> list[str]:
    """Names of all registered bonuses."""
    _load_builtin()
    return sorted(_REGISTRY)


def _load_builtin() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in _BUILTIN_MODULES:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as err:  # a method whose optional deps are missing
                if not err.name or not err.name.startswith("agents."):
                    raise


def parse_spec(spec: str) -> tuple[str, list[Any], dict[str, Any]]:
    """Split ``"product(rnd,e3b,mode=sum)"`` into name, positional and keyword arguments.

    Arguments nest (``product(rnd,oni(retrieval,annotator=rules))``); positional arguments
    stay strings (usually bonus specs), keyword values are parsed as int/float/bool when
    they look like one.
    """
    spec = spec.strip()
    match = re.fullmatch(r"([A-Za-z_][\w\-]*)\s*(?:\((.*)\))?", spec, flags=re.S)
    if not match:
        raise ValueError(f"bonus: cannot parse {spec!r}; expected name or name(arg, key=value)")
    name, inner = match.group(1), match.group(2)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    if inner:
        depth, start, parts = 0, 0, []
        for i, ch in enumerate(inner):
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif ch == "," and depth == 0:
                parts.append(inner[start:i])
                start = i + 1
        parts.append(inner[start:])
        for part in (p.strip() for p in parts):
            if not part:
                continue
            key, sep, value = part.partition("=")
            if sep and "(" not in key:
                kwargs[key.strip()] = _literal(value.strip())
            else:
                args.append(part)
    return name, args, kwargs


def _literal(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def make(spec: str, **cfg: Any) -> Bonus:
    """Build a bonus from a spec string; ``cfg`` adds keyword arguments.

    Unknown names list the closest registered ones; unknown keyword arguments name the
    bonus and its accepted fields.
    """
    _load_builtin()
    name, args, kwargs = parse_spec(spec)
    kwargs.update(cfg)
    if name not in _REGISTRY:
        raise unknown_name_error("bonus", name, list(_REGISTRY))
    factory = _REGISTRY[name]
    params = inspect.signature(factory).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if not accepts_any:
        unknown = [k for k in kwargs if k not in params]
        if unknown:
            fields = [p for p in params if p != "self"]
            raise ValueError(
                f"bonus {name!r}: unknown field(s) {unknown}; accepted: {', '.join(fields)}"
            )
    return factory(*args, **kwargs)


def accepted_kwargs(spec: str, context: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``context`` that the bonus named by ``spec`` accepts as keywords.

    Composites (``product(oni(...), rnd)``) pass the run's context (``captions``, ``task``)
    down with this, so each part gets what it understands and nothing else.
    """
    _load_builtin()
    name = parse_spec(spec)[0]
    factory = _REGISTRY.get(name)
    if factory is None:
        return {}
    params = inspect.signature(factory).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(context)
    return {k: v for k, v in context.items() if k in params}


def agent_defaults(spec: str) -> dict[str, Any]:
    """The agent settings that the bonuses named in ``spec`` recommend (``Bonus.agent_defaults``).

    A composite (``product(rnd,svo)``) collects its parts'; a setting two parts recommend
    differently is left to the agent's default. Unknown names, and a spec that does not
    parse, give ``{}`` here: this only adds defaults, and the same spec then reaches ``make``
    (config validation builds the bonus), which reports either as a one-line error.
    """
    _load_builtin()
    found: dict[str, Any] = {}
    conflicting: set[str] = set()

    def visit(text: str) -> None:
        name, args, _ = parse_spec(text)
        for key, value in getattr(_REGISTRY.get(name), "agent_defaults", {}).items():
            if key in found and found[key] != value:
                conflicting.add(key)
            found.setdefault(key, value)
        for arg in args:
            if isinstance(arg, str) and parse_spec(arg)[0] in _REGISTRY:
                visit(arg)

    try:
        visit(spec)
    except ValueError:
        return {}
    return {k: v for k, v in found.items() if k not in conflicting}


__all__ = [
    "Bonus",
    "Transitions",
    "accepted_kwargs",
    "agent_defaults",
    "make",
    "parse_spec",
    "register",
    "registered",
]
