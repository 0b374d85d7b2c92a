"""Save and load pytrees (bonus states, and every other checkpoint of a run) as ``.npz``.

The leaves are stored under their key paths (``jax.tree_util.keystr``) in one ``.npz``
file, without pickle: loading uses ``np.load(allow_pickle=False)`` and needs a pytree of the
same structure (``like_state``, e.g. a fresh ``bonus.init(...)``) to rebuild the tree. Shapes
and dtypes are checked against it. Typed PRNG keys (``jax.random.key``) are stored as their
raw key data. Writes are atomic (temporary file + rename), as the run store requires.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

# Prefix of the entries holding the raw data of typed PRNG key leaves.
_KEY_PREFIX = "prng_key_data:"


def _is_typed_key(leaf: Any) -> bool:
    return isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _entries(state: Any) -> list[tuple[str, Any]]:
    leaves, _ = jax.tree_util.tree_flatten_with_path(state)
    return [(jax.tree_util.keystr(path), leaf) for path, leaf in leaves]


def save_state(path: str | os.PathLike, state: Any) -> Path:
    """Write the leaves of ``state`` to ``path`` (``.npz`` appended if missing)."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    arrays: dict[str, np.ndarray] = {}
    for name, leaf in _entries(state):
        if _is_typed_key(leaf):
            arrays[_KEY_PREFIX + name] = np.asarray(jax.random.key_data(leaf))
        else:
            arrays[name] = np.asarray(leaf)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_state(path: str | os.PathLike, like_state: Any) -> Any:
    """Read a state written by :func:`save_state`, shaped like ``like_state``."""
    path = Path(path)
    if not path.exists() and path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    leaves, treedef = jax.tree_util.tree_flatten_with_path(like_state)
    out = []
    with np.load(path, allow_pickle=False) as data:
        stored = set(data.files)
        for key_path, like in leaves:
            name = jax.tree_util.keystr(key_path)
            if _is_typed_key(like):
                raw = data[_KEY_PREFIX + name]
                out.append(jax.random.wrap_key_data(raw, impl=jax.random.key_impl(like)))
                stored.discard(_KEY_PREFIX + name)
                continue
            if name not in stored:
                raise KeyError(f"{path}: no entry {name!r} for this state")
            value = data[name]
            stored.discard(name)
            like_arr = np.asarray(like)
            if value.shape != like_arr.shape or value.dtype != like_arr.dtype:
                raise ValueError(
                    f"{path}: entry {name!r} is {value.dtype}{list(value.shape)}, expected "
                    f"{like_arr.dtype}{list(like_arr.shape)}"
                )
            out.append(jnp.asarray(value) if isinstance(like, jax.Array) else value)
        if stored:
            raise ValueError(f"{path}: entries {sorted(stored)} do not belong to this state")
    return jax.tree_util.tree_unflatten(treedef, out)
