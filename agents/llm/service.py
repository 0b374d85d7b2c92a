"""The labelling service: a background thread between the training loop and an annotator.

::

    service = LabelService(annotator, LabelStore("runs/labels.sqlite")).start()
    service.submit(["You pick up the yellow key."])     # never blocks
    service.labels()                                    # whatever exists now: {caption: label}

``submit`` hands captions to an asyncio event loop running in a daemon thread; the loop
batches them (``batch_size``), first takes any label already in the store (another run,
seed or process paid for it), asks the annotator for the rest with up to
``max_inflight_batches`` batches in flight, commits the answers to the store in one
transaction, and only then publishes them to ``labels()``. Answers that are malformed,
refused or failed are counted and skipped; the caption may be submitted again later, up
to ``max_attempts`` times. A slow, hanging or broken server therefore delays labels but
never the caller: the training loop only ever copies a dict under a lock.

This is the asynchronous annotation loop of ONI (Zheng et al. 2024); pairwise
preferences (``submit_pairs``) serve the Bradley–Terry reward model of Motif
(Klissarov et al. 2023).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from agents.llm.annotators import OK, Annotator
from agents.llm.store import LabelStore

_STOP = object()
# Counters reported even while zero, so logs have a column for each from the first chunk.
_ANNOTATOR_COUNTERS = ("timeouts", "http_errors", "connection_errors", "malformed", "refused")
_ANNOTATOR_COUNTERS += ("failed", "requests", "answers")
_SERVICE_COUNTERS = ("submitted", "labelled", "reused", "skipped", "errors", "store_errors")


class LabelService:
    """Asynchronous, non-blocking labelling of captions (see the module docstring)."""

    def __init__(
        self,
        annotator: Annotator,
        store: LabelStore | None = None,
        *,
        batch_size: int = 16,
        max_inflight_batches: int = 4,
        max_pending: int = 10_000,
        max_attempts: int = 3,
        close_timeout: float = 2.0,
        warn_after: float = 300.0,
    ) -> None:
        self.annotator = annotator
        self.store = store
        self.batch_size = max(1, int(batch_size))
        self.max_inflight_batches = max(1, int(max_inflight_batches))
        self.max_pending = int(max_pending)
        self.max_attempts = int(max_attempts)
        self.close_timeout = float(close_timeout)
        # Health (see :meth:`health`): seconds without any label before a warning (0: never).
        self.warn_after = float(warn_after)
        self._first_submit: float | None = None  # time.monotonic() of the first queued item
        self._answers_arrived = 0  # labels and preferences obtained since then (any source)
        self._warned_stall = False
        self._warned_failures = 0  # failure count at the last failure warning
        self._lock = threading.Lock()
        self._labels: dict[str, float] = {}
        self._prefs: dict[tuple[str, str], float] = {}
        self._pending: set[tuple] = set()
        self._attempts: Counter[tuple] = Counter()
        self._counts: Counter[str] = Counter()
        self._version = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None
        self._ready = threading.Event()
        self._pid = -1
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> LabelService:
        """Load what the store already knows and start the worker thread (idempotent)."""
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return self
        self._closed = False
        self._pid = os.getpid()
        if self.store is not None:
            self._preload()
        self._ready.clear()
        self._thread = threading.Thread(target=self._thread_main, name="label-service", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=10.0)
        return self

    def _preload(self) -> None:
        key = self.annotator.key
        try:
            self.store.put_prompt(self.annotator.prompt_hash, self.annotator.prompt.describe())
            labels = self.store.get_labels(key)
            prefs = self.store.get_preferences(key)
        except Exception as err:  # an unreadable store must not stop training
            self._count("store_errors")
            self.annotator.stats.error(f"store: {type(err).__name__}: {err}")
            return
        with self._lock:
            self._labels.update(labels)
            self._prefs.update({(a, b): p for a, b, p in prefs})
            self._counts["reused"] += len(labels) + len(prefs)
            self._version += 1

    def close(self, wait: bool = True) -> None:
        """Stop the worker: in-flight requests get ``close_timeout`` s, then are cancelled.

        ``wait=False`` only signals the worker (for finalizers, which must not block).
        """
        self._closed = True
        thread, loop = self._thread, self._loop
        if thread is None or loop is None or not thread.is_alive():
            return
        try:
            loop.call_soon_threadsafe(self._queue.put_nowait, _STOP)
        except RuntimeError:  # loop already closed
            return
        if wait:
            thread.join(timeout=self.close_timeout + 5.0)

    def __enter__(self) -> LabelService:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the caller's side ---------------------------------------------------------------
    def submit(self, captions: Iterable[str]) -> int:
        """Queue captions without a label for labelling; returns how many were queued."""
        return self._submit(("label", c) for c in captions)

    def submit_pairs(self, pairs: Iterable[tuple[str, str]]) -> int:
        """Queue ``(caption_1, caption_2)`` pairs for a preference; returns how many."""
        return self._submit(("pair", a, b) for a, b in pairs)

    def _submit(self, items: Iterable[tuple]) -> int:
        if self._closed:
            return 0
        if self._pid != os.getpid():  # forked child: the worker thread did not survive
            self.start()
        fresh = []
        with self._lock:
            for item in items:
                if item in self._pending or self._attempts[item] >= self.max_attempts:
                    continue
                if item[0] == "label" and item[1] in self._labels:
                    continue
                if item[0] == "pair" and item[1:] in self._prefs:
                    continue
                if len(self._pending) >= self.max_pending:
                    self._counts["dropped"] += 1
                    continue
                self._pending.add(item)
                fresh.append(item)
            self._counts["submitted"] += len(fresh)
            if fresh and self._first_submit is None:
                self._first_submit = time.monotonic()
        loop = self._loop
        for item in fresh:
            try:
                loop.call_soon_threadsafe(self._queue.put_nowait, item)
            except (RuntimeError, AttributeError):  # loop gone: forget the item
                with self._lock:
                    self._pending.discard(item)
        return len(fresh)

    def labels(self) -> dict[str, float]:
        """A snapshot of every label known now (never waits for the annotator)."""
        with self._lock:
            return dict(self._labels)

    def preferences(self) -> list[tuple[str, str, float]]:
        """A snapshot of every preference known now."""
        with self._lock:
            return [(a, b, p) for (a, b), p in self._prefs.items()]

    @property
    def version(self) -> int:
        """Increases whenever labels or preferences change (cheap change detection)."""
        return self._version

    @property
    def pending(self) -> int:
        """Items queued or in flight."""
        with self._lock:
            return len(self._pending)

    def stats(self) -> dict[str, float]:
        """Service counters (submitted, labelled, reused, skipped, dropped, pending, ...), the
        annotator's (``annotator_timeouts``, ``annotator_http_errors``, ``annotator_failed``,
        ``annotator_malformed``, ...) and ``seconds_without_label``."""
        waited = self.seconds_without_label()
        with self._lock:
            out: dict[str, float] = dict(self._counts)
            out["pending"] = len(self._pending)
            out["labels"] = len(self._labels)
            out["preferences"] = len(self._prefs)
            out["seconds_without_label"] = round(waited, 1)
        annotator = dict.fromkeys(_ANNOTATOR_COUNTERS, 0) | self.annotator.stats.snapshot()
        for key, value in annotator.items():
            out[f"annotator_{key}"] = value
        for key in _SERVICE_COUNTERS:
            out.setdefault(key, 0)
        return out

    def failures(self) -> int:
        """Items the annotator gave no usable answer for (failed, malformed, refused) plus
        service and store errors: each is a caption (or pair) that stayed without a label."""
        stats = self.stats()
        keys = ("annotator_failed", "annotator_malformed", "annotator_refused")
        return sum(int(stats.get(k, 0)) for k in (*keys, "errors", "store_errors"))

    def seconds_without_label(self) -> float:
        """Seconds since the first caption was queued, while no label has arrived since
        (0 before anything was queued and once a label or preference arrived)."""
        with self._lock:
            if self._first_submit is None or self._answers_arrived:
                return 0.0
            return time.monotonic() - self._first_submit

    def health(self) -> list[str]:
        """New warnings about the annotator, for the training loop to print (rate-limited).

        * no label ``warn_after`` seconds after the first caption was queued (once);
        * failures piling up: more failed items than labels, warned again each time the
          failure count doubles (so a dead server gives a handful of lines, not one per chunk).
        """
        out = []
        stats = self.stats()
        labels = int(stats.get("labels", 0)) + int(stats.get("preferences", 0))
        annotator = f"{self.annotator.name} annotator ({self.annotator.model})"
        last = self.annotator.stats.last_error
        detail = (
            f"timeouts {stats.get('annotator_timeouts', 0)}, HTTP errors "
            f"{stats.get('annotator_http_errors', 0)}, connection errors "
            f"{stats.get('annotator_connection_errors', 0)}, malformed "
            f"{stats.get('annotator_malformed', 0)}, refused {stats.get('annotator_refused', 0)}, "
            f"pending {stats.get('pending', 0)}" + (f"; last error: {last}" if last else "")
        )
        waited = self.seconds_without_label()
        if self.warn_after > 0 and waited >= self.warn_after and not self._warned_stall:
            self._warned_stall = True
            out.append(
                f"{annotator}: no label {waited:.1f} s after the first caption was queued "
                f"({detail}); the intrinsic reward stays 0 until labels arrive"
            )
        failures = self.failures()
        if failures > max(labels, 2 * self._warned_failures - 1):
            self._warned_failures = failures
            plural = "s" if failures != 1 else ""
            out.append(
                f"{annotator}: {failures} failed annotation{plural}, {labels} labels so far "
                f"({detail})"
            )
        return out

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is pending (scripts and tests only; training never calls it)."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.005)
        return not self.pending

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n

    # -- the worker's side ---------------------------------------------------------------
    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main(loop))
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()

    async def _main(self, loop: asyncio.AbstractEventLoop) -> None:
        self._queue = asyncio.Queue()
        self._loop = loop
        self._ready.set()
        slots = asyncio.Semaphore(self.max_inflight_batches)
        tasks: set[asyncio.Task] = set()
        stop = False
        while not stop:
            item = await self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            while len(batch) < self.batch_size and not self._queue.empty():
                extra = self._queue.get_nowait()
                if extra is _STOP:
                    stop = True
                    break
                batch.append(extra)
            await slots.acquire()
            task = asyncio.create_task(self._process(batch))
            tasks.add(task)
            task.add_done_callback(lambda t: (tasks.discard(t), slots.release()))
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self.close_timeout)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def _process(self, batch: list[tuple]) -> None:
        try:
            captions = [item[1] for item in batch if item[0] == "label"]
            pairs = [item[1:] for item in batch if item[0] == "pair"]
            if captions:
                await self._label(captions)
            if pairs:
                await self._prefer(pairs)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a bug or a broken annotator: count it, keep the thread alive
            self._count("errors")
            self.annotator.stats.error(f"service: {type(err).__name__}: {err}")
        finally:
            with self._lock:
                for item in batch:
                    self._pending.discard(item)
                    done = (item[0] == "label" and item[1] in self._labels) or (
                        item[0] == "pair" and item[1:] in self._prefs
                    )
                    if not done:
                        self._attempts[item] += 1

    async def _store_call(self, fn, *args):
        if self.store is None:
            return None
        try:
            return await asyncio.to_thread(fn, *args)
        except Exception as err:
            self._count("store_errors")
            self.annotator.stats.error(f"store: {type(err).__name__}: {err}")
            return None

    async def _label(self, captions: list[str]) -> None:
        key = self.annotator.key
        stored = (
            await self._store_call(self.store.get_labels, key, captions) if self.store else None
        )
        stored = stored or {}
        todo = [c for c in captions if c not in stored]
        answers = await self.annotator.alabel(todo) if todo else []
        fresh = [(c, a.value, a.raw) for c, a in zip(todo, answers, strict=True) if a.status == OK]
        if fresh and self.store is not None:
            await self._store_call(self.store.put_labels, key, fresh)
            # Another process may have committed first; INSERT OR IGNORE kept its label.
            winners = await self._store_call(self.store.get_labels, key, [c for c, *_ in fresh])
            if winners:
                fresh = [(c, winners.get(c, v), r) for c, v, r in fresh]
        with self._lock:
            self._labels.update(stored)
            self._labels.update({c: v for c, v, _ in fresh})
            self._counts["reused"] += len(stored)
            self._counts["labelled"] += len(fresh)
            self._counts["skipped"] += len(todo) - len(fresh)
            self._answers_arrived += len(stored) + len(fresh)
            if stored or fresh:
                self._version += 1

    async def _prefer(self, pairs: list[tuple[str, str]]) -> None:
        key = self.annotator.key
        answers = await self.annotator.aprefer(pairs)
        fresh = [
            (a, b, ans.value, ans.raw)
            for (a, b), ans in zip(pairs, answers, strict=True)
            if ans.status == OK
        ]
        if fresh and self.store is not None:
            await self._store_call(self.store.put_preferences, key, fresh)
        with self._lock:
            self._prefs.update({(a, b): v for a, b, v, _ in fresh})
            self._counts["preferred"] += len(fresh)
            self._counts["skipped"] += len(pairs) - len(fresh)
            self._answers_arrived += len(fresh)
            if fresh:
                self._version += 1


def label_services(bonus: Any) -> list[LabelService]:
    """The labelling services of a bonus and of its parts (``product(oni(...), rnd)``),
    started if need be; empty for bonuses without LLM feedback. For the training loop."""
    # Composites (agents.bonuses.compose) list their parts' services (Bonus.services).
    return [s for s in bonus.services() if isinstance(s, LabelService)]
