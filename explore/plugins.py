"""Loading user code that registers environments, bonuses or agents (plugins).

A plugin is an ordinary Python module that calls ``envs.register(...)``,
``agents.bonuses.register(...)`` or ``agents.register(...)`` when imported. Every ``explore`` command loads plugins from
three places, in this order:

1. the entry-point group ``explore.plugins`` of every installed package (in the package's
   ``pyproject.toml``: ``[project.entry-points."explore.plugins"] my_envs = "my_pkg.my_envs"``;
   a ``module:function`` value is imported and the function called with no arguments);
2. the ``EXPLORE_PLUGINS`` environment variable (module names or ``.py`` paths, separated by
   commas or the path separator);
3. ``--import MODULE`` on the command line, and the ``imports: [...]`` field of a config or
   sweep spec (recorded with the run).

A module is named by its import name (``my_pkg.my_envs``) or by the path of a ``.py`` file.
The working directory is importable, as with ``python -m``. The modules loaded in a process
and their source files are :func:`loaded`; every run records them in the ``plugins`` field
of its ``config.yaml`` (``{module: source path}``). A module that fails to import raises
:class:`PluginError`: one line naming the module and where it was asked for.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
from collections.abc import Iterable
from pathlib import Path

ENTRY_POINT_GROUP = "explore.plugins"
ENV_VAR = "EXPLORE_PLUGINS"
DOCS = "docs/extending.md"

# module name -> source file ("" when it has none), in load order.
_LOADED: dict[str, str] = {}
# What this process was asked to load (--import, EXPLORE_PLUGINS), for child processes.
_REQUESTED: list[str] = []
_AMBIENT_DONE = False


class PluginError(ValueError):
    """A plugin module could not be loaded (one line; the cause is chained)."""


def _split(text: str) -> list[str]:
    items = []
    for part in text.replace(os.pathsep, ",").split(","):
        part = part.strip()
        if part:
            items.append(part)
    return items


def _source(module: object) -> str:
    path = getattr(module, "__file__", None)
    return str(Path(path).resolve()) if path else ""


def _import(target: str, where: str) -> tuple[str, str]:
    """Import one module name or ``.py`` path; returns (module name, source file)."""
    try:
        if target.endswith(".py") or os.sep in target or "/" in target:
            path = Path(target).expanduser().resolve()
            if not path.is_file():
                raise FileNotFoundError(f"no such file {path}")
            name = path.stem
            existing = sys.modules.get(name)
            if existing is not None and _source(existing) == str(path):
                return name, str(path)
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot import {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(name, None)
                raise
            return name, str(path)
        if os.getcwd() not in sys.path and "" not in sys.path:
            # The console script does not put the working directory on the path; python -m
            # does. Appended, so it never shadows an installed package.
            sys.path.append(os.getcwd())
        module = importlib.import_module(target)
        return target, _source(module)
    except Exception as err:
        message = " ".join(str(err).split()) or type(err).__name__
        raise PluginError(
            f"plugin {target!r} ({where}) failed to load: {type(err).__name__}: {message} "
            f"(see {DOCS}; --debug shows the traceback)"
        ) from err


def load(targets: Iterable[str], where: str = "--import") -> dict[str, str]:
    """Import each module name or ``.py`` path in ``targets`` (once); returns
    ``{module: source file}`` of those. ``where`` says who asked, for the error line."""
    out = {}
    for target in targets:
        target = str(target).strip()
        if not target:
            continue
        name, source = _import(target, where)
        _LOADED.setdefault(name, source)
        out[name] = source
    return out


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def load_entry_points() -> dict[str, str]:
    """Load every ``explore.plugins`` entry point of the installed packages."""
    out = {}
    for point in _entry_points():
        where = f"entry point {point.name!r} of group {ENTRY_POINT_GROUP}"
        module_name = point.module
        name, source = _import(module_name, where)
        if point.attr:
            try:
                hook = point.load()
                if callable(hook):
                    hook()
            except Exception as err:
                raise PluginError(
                    f"plugin {point.value!r} ({where}) failed: {type(err).__name__}: {err} "
                    f"(see {DOCS}; --debug shows the traceback)"
                ) from err
        _LOADED.setdefault(name, source)
        out[name] = source
    return out


def load_all(extra: Iterable[str] = ()) -> dict[str, str]:
    """Entry points and ``EXPLORE_PLUGINS`` (the first time), then ``extra`` (``--import``);
    returns every plugin loaded in this process so far (:func:`loaded`)."""
    global _AMBIENT_DONE
    if not _AMBIENT_DONE:
        _AMBIENT_DONE = True
        load_entry_points()
        from_env = _split(os.environ.get(ENV_VAR, ""))
        load(from_env, where=f"${ENV_VAR}")
        _remember(from_env)
    extra = [str(x) for x in extra]
    load(extra)
    _remember(extra)
    return loaded()


def _names() -> dict[str, set[str]]:
    # What the three registries hold now (imports JAX: for help and listings only).
    import agents.bonuses
    import envs
    from agents.configs import registered as agent_names

    return {
        "envs": set(envs.registered()),
        "bonuses": set(agents.bonuses.registered()),
        "agents": set(agent_names()),
    }


def load_and_describe(extra: Iterable[str] = ()) -> list[tuple[str, dict[str, list[str]]]]:
    """:func:`load_all`, saying what each source registered: ``[(source, {"envs": [...],
    "bonuses": [...], "agents": [...]})]``, one entry per ``--import`` target and one for
    the entry points and ``$EXPLORE_PLUGINS`` together (only sources that loaded something
    new in this call). For ``--help`` listings, so a user sees where a name came from."""
    out = []
    before = _names()

    def added(source: str) -> None:
        nonlocal before
        now = _names()
        new = {kind: sorted(now[kind] - before[kind]) for kind in now}
        before = now
        if any(new.values()):
            out.append((source, new))

    ambient = not _AMBIENT_DONE
    load_all()
    if ambient:
        added(f"entry points {ENTRY_POINT_GROUP!r} / ${ENV_VAR}")
    for target in extra:
        load_all([target])
        added(str(target))
    return out


def _remember(targets: list[str]) -> None:
    for target in targets:
        if target.endswith(".py") or "/" in target or os.sep in target:
            target = str(Path(target).expanduser().resolve())
        if target not in _REQUESTED:
            _REQUESTED.append(target)


def requested() -> list[str]:
    """The modules and paths this process was asked to load (``--import``, ``EXPLORE_PLUGINS``):
    what a worker process (sweep pool or Ray) loads before it runs a task."""
    return list(_REQUESTED)


def loaded() -> dict[str, str]:
    """``{module: source file}`` of every plugin loaded in this process, in load order."""
    return dict(_LOADED)


__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_VAR",
    "PluginError",
    "load",
    "load_all",
    "load_and_describe",
    "load_entry_points",
    "loaded",
    "requested",
]
