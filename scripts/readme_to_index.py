"""Write the documentation site's home page, ``docs/index.md``, from ``README.md``.

The README is the front page on GitHub and the home page of the site; only its links
differ (``docs/x.md`` there is ``x.md`` here). Run by ``make docs``; a test checks that the
two are in step.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNNABLE_MARKER = "<!-- test: run -->\n"


def index_from_readme(readme: str) -> str:
    """The home page's Markdown: the README with links re-rooted at ``docs/``.

    The runnable markers are dropped, so the tests run the README's examples once.
    """
    text = readme.replace("](docs/", "](").replace("](CHANGELOG.md)", "](changelog.md)")
    return text.replace(RUNNABLE_MARKER, "")


def main() -> int:
    """Rewrite ``docs/index.md`` when it differs from the README's transform."""
    page = ROOT / "docs" / "index.md"
    text = index_from_readme((ROOT / "README.md").read_text(encoding="utf-8"))
    if not page.exists() or page.read_text(encoding="utf-8") != text:
        page.write_text(text, encoding="utf-8")
        print(f"wrote {page.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
