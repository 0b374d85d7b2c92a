"""Install Melting Pot's substrate sources (the reference of ``envs/social``) into a venv.

The conformance tests (``tests/conformance/test_meltingpot.py``) and ``explore bench social
--meltingpot`` run Melting Pot's own substrates through ``dmlab2d``. The ``dm-meltingpot``
package cannot simply be pip-installed: its ``setup.py`` downloads assets from outside the
package registry and its requirements pull TensorFlow (for the bots, which the substrates
do not use). This script instead downloads the ``dm-meltingpot`` sdist from the registry with
pip, extracts only what the substrates need (the ``meltingpot`` package's Python configs and
utilities and its Lua files, no tests) into ``<venv>/meltingpot-src/``, writes an empty
``meltingpot/__init__.py`` (the real one imports the bots and so TensorFlow) and puts the
folder on the venv's path with a ``.pth`` file. ``dmlab2d`` and the small Python packages the
configs import come from the ``conformance`` extra of ``pyproject.toml``.

Idempotent: a stamp file records the installed version; a second run does nothing.

    python scripts/install_meltingpot.py [--venv .venv] [--version 2.4.1] [--force]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "2.4.1"
FOLDER = "meltingpot-src"
STAMP = ".meltingpot-version"
# What the substrates import: configs and the substrate utilities (Python), the Lua levels
# and modules. Tests, bots, scenarios and human-player scripts are left out.
KEEP_PREFIXES = (
    "meltingpot/configs/",
    "meltingpot/utils/",
    "meltingpot/lua/",
)
KEEP_SUFFIXES = (".py", ".lua")


def _wanted(relative: str) -> bool:
    """Whether a file of the sdist (path relative to its top folder) is extracted."""
    if not relative.startswith(KEEP_PREFIXES) or not relative.endswith(KEEP_SUFFIXES):
        return False
    name = relative.rsplit("/", 1)[-1]
    return not (name.endswith("_test.py") or name.endswith("_test.lua"))


def site_packages(venv: Path) -> Path:
    """The venv's ``site-packages`` (asked of its own interpreter)."""
    python = venv / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"--venv: no interpreter at {python}")
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip())


def download_sdist(venv: Path, version: str, into: Path) -> Path:
    """``pip download`` the sdist (no dependencies, no wheels) into ``into``."""
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"dm-meltingpot=={version}",
            "-d",
            str(into),
        ],
        check=True,
    )
    found = sorted(into.glob("dm_meltingpot-*.tar.gz")) + sorted(
        into.glob("dm-meltingpot-*.tar.gz")
    )
    if not found:
        raise SystemExit(f"pip download left no dm-meltingpot sdist in {into}")
    return found[0]


def extract(sdist: Path, target: Path) -> int:
    """Extract the wanted files of ``sdist`` under ``target``; returns how many."""
    count = 0
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            _, _, relative = member.name.partition("/")
            if not _wanted(relative):
                continue
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            destination.write_bytes(source.read())
            count += 1
    # The real package __init__ imports the bots (TensorFlow); the substrates need none of it.
    (target / "meltingpot" / "__init__.py").write_text('"""Melting Pot substrates only."""\n')
    return count


def install(venv: Path, version: str, force: bool = False) -> Path:
    """Install (or keep) the sources; returns the folder put on the path."""
    site = site_packages(venv)
    target = venv / FOLDER
    stamp = target / STAMP
    pth = site / "meltingpot_src.pth"
    if not force and stamp.exists() and stamp.read_text().strip() == version and pth.exists():
        print(f"Melting Pot {version} substrate sources already in {target}")
        return target
    with tempfile.TemporaryDirectory() as tmp:
        sdist = download_sdist(venv, version, Path(tmp))
        staging = Path(tmp) / "staging"
        count = extract(sdist, staging)
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(staging), str(target))
    stamp.write_text(version + "\n")
    pth.write_text(str(target.resolve()) + "\n")
    print(f"Melting Pot {version}: {count} files in {target}; on the path via {pth}")
    return target


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", default=".venv", help="the virtual environment (default .venv)")
    parser.add_argument("--version", default=VERSION, help=f"dm-meltingpot version ({VERSION})")
    parser.add_argument("--force", action="store_true", help="reinstall even if present")
    args = parser.parse_args(argv)
    install(Path(args.venv), args.version, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
