"""An open caption vocabulary: caption text → a small integer code, assigned on first sight.

The JAX gridworlds have a closed caption table (``env.captions``, indexed by
``info["event"]``), so the ONI bonus can hold a ``f32[C]`` reward table inside ``jit``. Text
environments such as MiniHack say anything (NetHack's messages are open-ended), and their
``info["event"]`` is a hash, not an index. :class:`CaptionVocabulary` bridges the two: the
host code that collects a rollout (the Stable-Baselines3 bridge) turns each
``info["caption"]`` into a code with :meth:`~CaptionVocabulary.code`, and the bonus sees a
table of fixed size ``capacity``, whose unfilled slots read as ``""`` (no event, no reward).

Code 0 is reserved for "no caption"; captions beyond ``capacity - 1`` distinct texts get
code 0 as well and are counted in :attr:`~CaptionVocabulary.overflow` (logged, never
raised: a long run must not crash on its 4096th distinct message).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

__all__ = ["CaptionVocabulary"]


class CaptionVocabulary(Sequence[str]):
    """A growing caption → code map of fixed capacity; as a sequence, ``capacity`` strings.

    Thread-safe: the training loop assigns codes while the ONI labelling thread reads.
    """

    def __init__(self, capacity: int = 1024, captions: Iterable[str] = ()) -> None:
        if int(capacity) < 2:
            raise ValueError(f"capacity must be >= 2 (slot 0 is 'no caption'), got {capacity}")
        self.capacity = int(capacity)
        self._lock = threading.Lock()
        self._texts: list[str] = [""]
        self._codes: dict[str, int] = {}
        #: distinct captions that found the vocabulary full (they get code 0)
        self.overflow = 0
        self._overflowed: set[str] = set()
        #: bumped whenever a caption is added, so reward models know to rebuild
        self.version = 0
        for text in captions:
            if text:
                self.code(text)

    # -- assigning codes ---------------------------------------------------------------
    def code(self, text: str) -> int:
        """The code of ``text`` (assigning the next free one on first sight); 0 for ``""``."""
        if not text:
            return 0
        found = self._codes.get(text)
        if found is not None:
            return found
        with self._lock:
            found = self._codes.get(text)
            if found is not None:
                return found
            if len(self._texts) >= self.capacity:
                if text not in self._overflowed:
                    self._overflowed.add(text)
                    self.overflow += 1
                return 0
            code = len(self._texts)
            self._texts.append(text)
            self._codes[text] = code
            self.version += 1
            return code

    def codes(self, texts: Iterable[str]) -> np.ndarray:
        """``int32`` codes of ``texts``, in order."""
        return np.array([self.code(t) for t in texts], np.int32)

    @property
    def size(self) -> int:
        """Slots in use, slot 0 included."""
        return len(self._texts)

    # -- Sequence[str] of length capacity ------------------------------------------------
    def __len__(self) -> int:
        return self.capacity

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.capacity))]
        index = int(index)
        if index < 0:
            index += self.capacity
        if not 0 <= index < self.capacity:
            raise IndexError(f"caption code {index} outside 0..{self.capacity - 1}")
        texts = self._texts
        return texts[index] if index < len(texts) else ""

    def __iter__(self) -> Iterator[str]:
        texts = list(self._texts)
        yield from texts
        yield from [""] * (self.capacity - len(texts))

    # -- persistence (JSON beside the checkpoint: no pickle) --------------------------
    def to_json(self) -> str:
        """The assigned captions, in code order, as JSON."""
        with self._lock:
            return json.dumps({"capacity": self.capacity, "captions": self._texts[1:]})

    def load_json(self, text: str) -> None:
        """Restore codes saved by :meth:`to_json` (the same captions get the same codes)."""
        payload = json.loads(text)
        if int(payload["capacity"]) != self.capacity:
            raise ValueError(
                f"saved caption vocabulary has capacity {payload['capacity']}, this run "
                f"{self.capacity}"
            )
        with self._lock:
            self._texts = ["", *(str(t) for t in payload["captions"])]
            self._codes = {t: i for i, t in enumerate(self._texts) if t}
            self.version += 1

    def __repr__(self) -> str:
        return f"CaptionVocabulary({self.size - 1} captions, capacity={self.capacity})"
