"""Intrinsic rewards. ``make("rnd")``, ``make("product(rnd,e3b)")``, ``make("rdd", sigma=0.5)``.

Adding a method is one module that subclasses :class:`Bonus` and calls :func:`register` at
import time: in this folder (plus its name in ``_BUILTIN_MODULES``), or in your own package,
loaded as a plugin (``explore train --import my_pkg.my_bonus``, see :mod:`explore.plugins`
and docs/extending.md). ``explore check bonus=NAME`` runs the contract's checks on it.
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
# name -> what ``explore bonuses`` and ``explore check`` show beyond the factory itself.
_INFO: dict[str, dict[str, str]] = {"none": {"paper": "", "description": "", "example": ""}}
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


def register(
    name: str,
    factory: Callable[..., Bonus],
    *,
    paper: str = "",
    description: str = "",
    example: str = "",
) -> None:
    """Register a bonus class (or factory) under ``name``.

    ``paper`` cites the method (default: the reference in its module's docstring),
    ``description`` is one line for ``explore bonuses`` (default: the class docstring's
    first line), ``example`` a small spec that ``explore check`` and the test suite build
    (default: ``name``; composites need their parts, e.g. ``product(count,episodic_count)``).
    Registering a taken name with another factory is an error.
    """
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][\w\-]*", name):
        raise ValueError(f"bonus name {name!r}: letters, digits, _ and - only")
    if not callable(factory):
        raise ValueError(f"bonus {name!r}: factory must be callable, got {factory!r}")
    if _REGISTRY.get(name, factory) is not factory:
        raise ValueError(f"bonus {name!r} is already registered")
    _REGISTRY[name] = factory
    _INFO[name] = {"paper": paper, "description": description, "example": example}


def registered() -> list[str]:
    """Names of all registered bonuses."""
    _load_builtin()
    return sorted(_REGISTRY)


def _first_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").strip().splitlines()]
    # Bonus docstrings open with their spec ("``rnd``: b(s') = ..."): the rest describes it.
    return re.sub(r"^``[^`]+``:\s*", "", lines[0]) if lines else ""


def _paper(factory: Any) -> str:
    # "Author, Author YEAR, "Title"" as the bonus modules' docstrings cite their method.
    module = inspect.getmodule(factory)
    text = " ".join((getattr(module, "__doc__", None) or "").split())
    match = re.search(
        r"([A-Z][^.:;\"]{0,120}?(?: et al\.)?[^.:;\"]{0,40}?\b(?:19|20)\d\d), \"([^\"]+)\"", text
    )
    return f'{match.group(1)}, "{match.group(2)}"' if match else ""


def info(name: str) -> dict[str, Any]:
    """What the registry knows of bonus ``name``: ``paper``, ``description``, ``example``
    (a spec that builds it), ``fields`` (constructor fields → defaults) and ``needs`` (what
    it needs from the agent, from its declarations on :class:`Bonus`); ``required``: the
    fields without a default."""
    _load_builtin()
    if name not in _REGISTRY:
        raise unknown_name_error("bonus", name, list(_REGISTRY))
    factory = _REGISTRY[name]
    given = _INFO.get(name, {})
    fields, required = {}, []
    for param in inspect.signature(factory).parameters.values():
        if param.name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.default is param.empty:
            required.append(param.name)
        fields[param.name] = None if param.default is param.empty else param.default
    declared = _declared(name)
    needs = [f"env {key}" for key in declared.env_context]
    if declared.social:
        needs.append("multi-agent agent (every agent's reward)")
    if declared.needs_counterfactuals:
        needs.append("policy logits and counterfactual logits")
    if declared.host_work:
        needs.append("host work between chunks")
    if declared.episodic:
        needs.append("done flags (episodic state)")
    return {
        "name": name,
        "paper": given.get("paper") or _paper(factory),
        "description": given.get("description") or _first_line(factory.__doc__),
        "example": given.get("example") or name,
        "fields": fields,
        "required": required,
        "needs": needs,
        "agent_defaults": dict(declared.agent_defaults),
    }


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


def _declared(name: str) -> type[Bonus]:
    """The class whose declarations (``Bonus``'s class attributes) the bonus ``name`` carries:
    the registered class itself, or :class:`Bonus`'s defaults for an unknown name or a
    factory that is not a ``Bonus`` subclass (register the class to declare needs)."""
    factory = _REGISTRY.get(name)
    return factory if isinstance(factory, type) and issubclass(factory, Bonus) else Bonus


def _named_parts(spec: str) -> list[str]:
    """The registered names in ``spec``, the outer one first (``product(rnd,oni)`` → product,
    rnd, oni); ``ValueError`` for a spec that does not parse."""
    name, args, _ = parse_spec(spec)
    names = [name]
    for arg in args:
        if isinstance(arg, str) and parse_spec(arg)[0] in _REGISTRY:
            names += _named_parts(arg)
    return names


def env_context(spec: str) -> tuple[str, ...]:
    """What the bonuses named in ``spec`` take from the env when built (``Bonus.env_context``:
    ``captions``, ``task``), over a composite's parts; ``()`` for a spec that does not parse
    (``make`` reports it)."""
    _load_builtin()
    try:
        names = _named_parts(spec)
    except ValueError:
        return ()
    return tuple(dict.fromkeys(key for name in names for key in _declared(name).env_context))


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
        for key, value in _declared(name).agent_defaults.items():
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
    "env_context",
    "info",
    "make",
    "parse_spec",
    "register",
    "registered",
]
