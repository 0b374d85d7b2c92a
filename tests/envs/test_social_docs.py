"""The Melting Pot pages cannot drift from the conformance tests and the envs."""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import envs

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / "tests" / "conformance"))
import meltingpot_harness  # noqa: E402
import test_meltingpot  # noqa: E402

PAGE = ROOT / "docs" / "conformance" / "meltingpot.md"
SOCIAL = ROOT / "docs" / "social.md"


def test_conformance_page_lists_every_test_with_what_it_compares():
    text = PAGE.read_text()
    tests = {
        name
        for name, fn in inspect.getmembers(test_meltingpot, inspect.isfunction)
        if name.startswith("test_") and name != "test_reference_version"
    }
    assert tests == set(test_meltingpot.COMPARED), tests ^ set(test_meltingpot.COMPARED)
    rows = dict(re.findall(r"^\| `(test_\w+)` \| ([^|]+?) \|", text, re.M))
    assert rows == test_meltingpot.COMPARED


def test_pages_name_the_reference_version_and_the_env_version():
    version = meltingpot_harness.REFERENCE_VERSION
    for page in (PAGE, SOCIAL):
        text = page.read_text()
        assert f"Melting Pot {version}" in text, page
        for name in ("Harvest-Open", "Harvest-Closed", "CleanUp", "Coins"):
            assert envs.env_version(name) == 1
        assert "env version 1" in text, page
