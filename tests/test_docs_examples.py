"""The code blocks the README and the documentation mark as runnable run, so they cannot rot.

A fenced block is runnable when the line just above its opening fence is the HTML comment
``<!-- test: run -->`` (invisible on GitHub and on the documentation site):

* a ``python`` block runs as a script of its own, in a fresh process, in an empty folder;
* a ``bash`` block holds ``explore ...`` commands (one per line, ``# comments`` allowed),
  run in order through the ``explore`` console script in an empty folder that sees the
  repository's ``experiments/``; each must exit 0.

Examples are written at tiny sizes (a few thousand steps) so that this stays cheap; a
block too long for a test is simply left unmarked.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- test: run -->"
FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)")
EXPLORE = Path(sys.executable).parent / "explore"
# A runnable example that hangs should fail, not stall the suite.
TIMEOUT_S = 600
README_LIMIT_BYTES = 15_000


@dataclass(frozen=True)
class Block:
    """One runnable fenced block: where it is, its language and its text."""

    path: Path
    line: int
    lang: str
    code: str

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def runnable_blocks(path: Path) -> list[Block]:
    """The blocks of ``path`` whose opening fence follows the runnable marker."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i].strip())
        if opening is None:
            i += 1
            continue
        fence, lang = opening.groups()
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        if i > 0 and lines[i - 1].strip() == MARKER:
            code = "\n".join(lines[i + 1 : end])
            blocks.append(Block(path, i + 1, lang, code))
        i = end + 1
    return blocks


def documentation_files() -> list[Path]:
    """README.md and every Markdown page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


BLOCKS = [block for path in documentation_files() for block in runnable_blocks(path)]


def explore_commands(code: str) -> list[list[str]]:
    """The ``explore`` command lines of a bash block, comments dropped, each as argv."""
    commands = []
    for raw in code.splitlines():
        argv = shlex.split(raw, comments=True)
        if not argv:
            continue
        assert argv[0] == "explore", f"a runnable bash block may only run explore: {raw!r}"
        commands.append([str(EXPLORE), *argv[1:]])
    return commands


def test_there_are_runnable_examples():
    """The README's quickstart (CLI and Python) is among the runnable blocks."""
    readme = {block.lang for block in BLOCKS if block.path.name == "README.md"}
    assert {"bash", "python"} <= readme


def test_readme_is_short_and_shows_the_two_commands():
    """The README stays a front page: under 15 KB, with `make demo` and `make test`."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) < README_LIMIT_BYTES
    assert "make demo" in text and "make test" in text


def test_the_site_home_page_is_the_readme():
    """docs/index.md is the README with its links re-rooted (``make docs`` rewrites it)."""
    spec = importlib.util.spec_from_file_location(
        "readme_to_index", ROOT / "scripts" / "readme_to_index.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    expected = module.index_from_readme(readme)
    assert (ROOT / "docs" / "index.md").read_text(encoding="utf-8") == expected, (
        "docs/index.md is out of step with README.md: run scripts/readme_to_index.py"
    )


def test_the_marker_parser_finds_marked_blocks_only(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "text\n```python\nskipped()\n```\n"
        f"{MARKER}\n```python\nrun_me()\n```\n"
        f"{MARKER}\n```bash\nexplore envs   # the suite\n```\n",
        encoding="utf-8",
    )
    found = runnable_blocks(page)
    assert [(b.lang, b.code) for b in found] == [
        ("python", "run_me()"),
        ("bash", "explore envs   # the suite"),
    ]
    assert explore_commands(found[1].code) == [[str(EXPLORE), "envs"]]


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_runnable_block(block: Block, tmp_path: Path):
    """Each marked block runs to completion at the size written in the page."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if block.lang == "python":
        script = tmp_path / "example.py"
        script.write_text(block.code + "\n", encoding="utf-8")
        done = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        assert done.returncode == 0, f"{block.id} failed:\n{done.stderr[-3000:]}"
    elif block.lang in ("bash", "sh", "console"):
        (tmp_path / "experiments").symlink_to(ROOT / "experiments")
        commands = explore_commands(block.code)
        assert commands, f"{block.id}: a runnable bash block with no command"
        for argv in commands:
            done = subprocess.run(
                argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
            )
            assert done.returncode == 0, (
                f"{block.id}: {shlex.join(argv[1:])} exited {done.returncode}:\n"
                f"{done.stderr[-3000:]}"
            )
    else:
        pytest.fail(f"{block.id}: runnable blocks are python or bash, not {block.lang!r}")
