"""Close-match suggestions for unknown names, shared by every registry and parser.

It lives in the lowest layer (``envs``) so that every layer above (``agents``, ``explore``)
suggests names the same way without importing upwards; standard library only. ``analysis``
imports nothing from the training side and words its own hints with ``difflib``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_matches(name: str, candidates: Iterable[str], n: int = 5) -> list[str]:
    """Candidates most similar to ``name`` (case-insensitive), best first.

    ``difflib``'s ratio finds misspellings; substring hits add short prefixes such as
    "DoorKey", which are too short for the ratio.
    """
    lowered = {c.lower(): c for c in candidates}
    found = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.4)
    found += [c for c in lowered if name.lower() in c and c not in found]
    return [lowered[c] for c in found[:n]]


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` Did you mean: a, b?`` for the close matches of ``name``, or ``""`` when none."""
    matches = close_matches(name, candidates)
    return f" Did you mean: {', '.join(matches)}?" if matches else ""
