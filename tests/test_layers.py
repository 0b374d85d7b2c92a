"""The packages' layers point one way, and agents read declarations instead of probing.

Layers (DESIGN.md, "Packages"): ``explore`` → ``agents`` → ``envs``; ``analysis`` reads run
files and imports nothing from the training side. ``agents`` may use ``analysis`` (a leaf
with no training imports: MO-PPO shares its weight sets). A helper that every layer needs
lives in the lowest layer (``envs.names``: close-match suggestions); ``analysis``, which may
import none of it, words its own hints with ``difflib``.

These are source scans (``ast``), so they see lazy imports inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("envs", "agents", "analysis", "explore")
#: The project packages each package may import (besides itself).
ALLOWED = {
    "envs": set(),
    "analysis": set(),
    "agents": {"envs", "analysis"},
    "explore": {"envs", "agents", "analysis"},
}
#: What a bonus declares on agents.bonuses.base.Bonus; probing an object for one of these
#: (``hasattr(bonus, "sync")``) is what the declarations replace.
DECLARED = {
    "agent_defaults",
    "bind",
    "close",
    "env_context",
    "episodic",
    "host_metrics",
    "host_work",
    "needs_counterfactuals",
    "services",
    "social",
    "sync",
    "utility",
    "vocabulary",
    # a composite's parts and oni's labelling service, once probed by the label-service walk
    "first",
    "second",
    "service",
}


def _where(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in ``path``, including those in functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_runs_up_a_layer(package):
    upward = []
    for path in _modules(package):
        for line, module in _imports(path):
            top = module.split(".")[0]
            if top in PACKAGES and top != package and top not in ALLOWED[package]:
                upward.append(f"{_where(path)}:{line} imports {module}")
    assert not upward, "imports that run up a layer:\n" + "\n".join(upward)


def test_the_scan_sees_lazy_imports(tmp_path):
    # The test above would pass vacuously if function-level imports were skipped.
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from explore.runs import RunDir\n")
    assert _imports(source) == [(2, "explore.runs")]


def _probe_scan_files() -> list[Path]:
    return [
        *_modules("agents"),
        ROOT / "explore" / "train.py",
        ROOT / "explore" / "train_sb3.py",
        *_modules("explore/bench"),
    ]


def _probes(path: Path) -> list[str]:
    """``hasattr``/``getattr`` calls that probe a bonus: on an expression naming a bonus, or
    for one of the declared capabilities."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("hasattr", "getattr")
            and len(node.args) >= 2
        ):
            continue
        target, name = node.args[0], node.args[1]
        names_bonus = "bonus" in ast.unparse(target).lower()
        declared = isinstance(name, ast.Constant) and name.value in DECLARED
        if names_bonus or declared:
            found.append(f"{_where(path)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_capability_probe_of_a_bonus():
    probes = [probe for path in _probe_scan_files() for probe in _probes(path)]
    assert not probes, "read the Bonus declarations instead:\n" + "\n".join(probes)


def test_the_probe_scan_finds_probes(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "a = hasattr(self.bonus, 'anything')\n"
        "b = getattr(part, 'needs_counterfactuals', False)\n"
        "c = getattr(cfg, 'lr')\n"
    )
    assert len(_probes(source)) == 2


def _spec_sniffs(path: Path) -> list[str]:
    """String tests on a config's bonus spec (``"oni" in cfg.bonus``, ``.startswith``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Compare) and any(
            isinstance(op, ast.In | ast.NotIn) for op in node.ops
        ):
            if any(ast.unparse(c).endswith("cfg.bonus") for c in node.comparators):
                found.append(f"{_where(path)}:{node.lineno}: {ast.unparse(node)}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("startswith", "endswith", "find", "split", "count")
            and ast.unparse(node.func.value).endswith("cfg.bonus")
        ):
            found.append(f"{_where(path)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_bonus_spec_sniffing():
    sniffs = [s for path in _probe_scan_files() for s in _spec_sniffs(path)]
    assert not sniffs, "declare it on the bonus (Bonus.env_context, ...):\n" + "\n".join(sniffs)


def test_the_driver_is_chosen_in_one_place():
    # explore.config.in_jax_loop decides; explore.train.train dispatches. No other module of
    # explore picks the SB3 driver or reads the registry's runner to decide.
    pickers = []
    for path in _modules("explore"):
        if path.name in ("config.py", "train.py", "train_sb3.py"):
            continue
        text = path.read_text()
        for needle in ("train_sb3(", "train_seeds(", ".runner is"):
            if needle in text:
                pickers.append(f"{_where(path)}: {needle}")
    assert not pickers, "\n".join(pickers)
