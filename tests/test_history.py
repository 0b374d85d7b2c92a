"""No development history in the code, tests, specs or docs.

A user reading a comment, a docstring, a spec or a documentation page cannot make sense of
a session or issue number, or a path on the machine the project was written on; comments
keep the why and lose the when. The changelog is the one place for history. This scans
every text file git tracks or would track (untracked files that are not ignored).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The changelog is where history belongs. The samples below are built from pieces, so this
# file needs no exemption (and other scanners of the repository do not trip on it).
EXEMPT = {"CHANGELOG.md"}
SESSION, ISSUE, PARENT, WORK = "sess" + "ion", "iss" + "ue", "." + ".", "wo" + "rk"
PATTERNS = {
    "a session number": re.compile(r"\bsessions? \d", re.IGNORECASE),
    "an issue number": re.compile(r"\bissues? #?\d+", re.IGNORECASE),
    "a path outside the repository": re.compile(r"\.\./shared|/" + WORK + "/"),
}


def repository_files() -> list[Path]:
    """Tracked files and untracked files that git does not ignore."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout (e.g. an unpacked sdist): nothing to scan")
    return [ROOT / name for name in listed.decode().split("\0") if name]


def history_lines(path: Path, root: Path = ROOT) -> list[str]:
    """``path:line: text`` for every line of a text file that matches a pattern."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        return []  # binary files, and files deleted in the working tree
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for what, pattern in PATTERNS.items():
            if pattern.search(line):
                found.append(f"{path.relative_to(root)}:{number}: {what}: {line.strip()[:120]}")
    return found


def test_no_development_history_in_the_repository():
    found = [
        hit
        for path in repository_files()
        if str(path.relative_to(ROOT)) not in EXEMPT
        for hit in history_lines(path)
    ]
    assert not found, "development history (move it to CHANGELOG.md):\n" + "\n".join(found)


def test_the_patterns_catch_what_they_are_for(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        f"# measured in {SESSION} 12\n# see {ISSUE} 17\n# {ISSUE.title()} #3's claim\n"
        f"# from {PARENT}/shared/peers\n# /{WORK}/x\n# the {ISSUE}'s target; one {SESSION}; 2 {SESSION}s\n",
        encoding="utf-8",
    )
    whats = [hit.split(": ")[1] for hit in history_lines(sample, tmp_path)]
    assert whats == [
        "a session number",
        "an issue number",
        "an issue number",
        "a path outside the repository",
        "a path outside the repository",
    ]
