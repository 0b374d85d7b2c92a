"""Where the benchmarks find the peers' own code (timed in the same run as ours).

A peer's folder is given by a flag (``--purejaxrl DIR``, ``--socialjax DIR``), else by its
environment variable (``$EXPLORE_PUREJAXRL``, ``$EXPLORE_SOCIALJAX``), else it is the
``peers/<name>`` folder of a ``shared`` checkout that sits beside this repository, when one
exists. Peers are loaded at run time by the benchmarks only, never imported by the package.
"""

from __future__ import annotations

from pathlib import Path

# The folder that holds this repository's checkout.
_CHECKOUT_PARENT = Path(__file__).resolve().parents[2].parent


def default_peer_folder(name: str) -> Path | None:
    """``shared/peers/<name>`` beside the checkout, or ``None`` when it is not there."""
    path = _CHECKOUT_PARENT / "shared" / "peers" / name
    return path if path.is_dir() else None
