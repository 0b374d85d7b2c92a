"""Annotators: turn captions into labels (helpful or not) and pairwise preferences.

Three kinds, built by :func:`make_annotator`:

* ``openai`` — any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, llama.cpp,
  Ollama, ...). Asynchronous HTTP with a deadline per request, retries with exponential
  backoff and jitter on timeouts, connection errors, 429 and 5xx, and a concurrency limit
  shared by every request in flight. The API key is read from the environment variable
  named by ``api_key_env`` and is never logged, stored, or put in a ``repr``. This is the
  labelling of ONI (Zheng et al. 2024) and, pairwise, of Motif (Klissarov et al. 2023).
* ``embedding`` — offline and zero-shot: cosine similarity of the caption's sentence
  embedding to the task description's (as in ELLM, Du et al. 2023); needs
  sentence-transformers.
* ``rules`` — deterministic keyword matching against the task description; a baseline and
  the annotator of tests.

Every answer is an :class:`Answer` with a ``status``: ``ok`` answers carry a value;
``malformed``, ``refused`` and ``failed`` ones are counted in :attr:`Annotator.stats` and
skipped by the caller. Nothing here raises on a bad server.

An annotator is identified in the label store by ``(name, model, prompt_hash)``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.llm.http import HTTPError, post_json
from agents.llm.prompts import Prompt, is_refusal, make_prompt, parse_label, parse_preference

OK, MALFORMED, REFUSED, FAILED = "ok", "malformed", "refused", "failed"


@dataclass(frozen=True)
class Answer:
    """One annotation: ``value`` (label in [0, 1], or P(first preferred)) when ``status == ok``."""

    value: float | None
    status: str = OK
    raw: str = ""


class Stats:
    """Thread-safe counters (requests, retries, timeouts, http_errors, malformed, ...)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self.last_error = ""

    def add(self, key: str, n: int = 1) -> None:
        """Increase counter ``key`` by ``n``."""
        with self._lock:
            self._counts[key] += n

    def error(self, message: str) -> None:
        """Remember the last error message (never contains credentials)."""
        with self._lock:
            self.last_error = message

    def snapshot(self) -> dict[str, int]:
        """A copy of the counters."""
        with self._lock:
            return dict(self._counts)

    def __getitem__(self, key: str) -> int:
        with self._lock:
            return self._counts[key]


class Annotator:
    """Base class: ``alabel``/``aprefer`` are coroutines; ``label``/``prefer`` wrap them."""

    #: kind, stored in the label store's ``annotator`` column
    name: str = "annotator"

    def __init__(self, prompt: Prompt, model: str) -> None:
        self.prompt = prompt
        self.model = model
        self.stats = Stats()

    @property
    def prompt_hash(self) -> str:
        """Hash of everything besides the caption that determines a label."""
        return self.prompt.hash

    @property
    def key(self) -> tuple[str, str, str]:
        """``(annotator, model, prompt_hash)``: the label store's namespace of this annotator."""
        return (self.name, self.model, self.prompt_hash)

    async def alabel(self, captions: Sequence[str]) -> list[Answer]:
        """Labels of ``captions`` (1.0 helpful, 0.0 not), one :class:`Answer` each."""
        raise NotImplementedError

    async def aprefer(self, pairs: Sequence[tuple[str, str]]) -> list[Answer]:
        """For each pair, the probability that the first caption is the more helpful."""
        raise NotImplementedError

    def label(self, captions: Sequence[str]) -> list[Answer]:
        """Blocking :meth:`alabel` (for scripts and tests; the service uses the coroutine)."""
        return asyncio.run(self.alabel(captions))

    def prefer(self, pairs: Sequence[tuple[str, str]]) -> list[Answer]:
        """Blocking :meth:`aprefer`."""
        return asyncio.run(self.aprefer(pairs))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, prompt_hash={self.prompt_hash!r})"


# ---------------------------------------------------------------------------------------


class OpenAIAnnotator(Annotator):
    """An OpenAI-compatible ``/chat/completions`` endpoint (see the module docstring)."""

    name = "openai"

    def __init__(
        self,
        task: str,
        *,
        base_url: str = "http://127.0.0.1:8000/v1",
        model: str = "gpt-4o-mini",
        api_key_env: str = "OPENAI_API_KEY",
        prompt: str = "default",
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        concurrency: int = 8,
        temperature: float = 0.0,
        max_tokens: int = 16,
    ) -> None:
        super().__init__(make_prompt(task, prompt), model)
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.concurrency = max(1, int(concurrency))
        self.temperature = float(temperature)
        self.max_tokens = int(max_tokens)
        self._semaphore: asyncio.Semaphore | None = None
        self._semaphore_loop: asyncio.AbstractEventLoop | None = None
        self._rng = random.Random(0)

    @property
    def url(self) -> str:
        """The chat-completions URL."""
        return f"{self.base_url}/chat/completions"

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _limit(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._semaphore_loop is not loop:
            self._semaphore, self._semaphore_loop = asyncio.Semaphore(self.concurrency), loop
        return self._semaphore

    async def chat(self, messages: list[dict[str, str]]) -> Answer:
        """One chat completion with retries; the answer's ``raw`` is the reply text."""
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        limit = self._limit()
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.stats.add("retries")
                delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
                await asyncio.sleep(delay * (0.5 + self._rng.random()))
            self.stats.add("requests")
            try:
                async with limit:
                    response = await post_json(self.url, payload, self._headers(), self.timeout)
            except TimeoutError:
                self.stats.add("timeouts")
                self.stats.error(f"timeout after {self.timeout:g}s")
                continue
            except (HTTPError, OSError, ValueError) as err:
                self.stats.add("connection_errors")
                self.stats.error(f"{type(err).__name__}: {err}")
                continue
            if response.status == 429 or response.status >= 500:
                self.stats.add("http_errors")
                self.stats.error(f"HTTP {response.status}")
                continue
            if response.status >= 300:  # 4xx: wrong URL, model or key; retrying will not help
                self.stats.add("http_errors")
                self.stats.error(f"HTTP {response.status}")
                break
            return self._content(response)
        self.stats.add("failed")
        return Answer(None, FAILED)

    def _content(self, response: Any) -> Answer:
        try:
            choice = response.json()["choices"][0]
            message = choice["message"]
            content = message.get("content") or ""
            refusal = message.get("refusal")
            finish = choice.get("finish_reason")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            self.stats.add("malformed")
            self.stats.error("malformed response body")
            return Answer(None, MALFORMED, response.body[:200].decode("utf-8", "replace"))
        if not isinstance(content, str):
            self.stats.add("malformed")
            return Answer(None, MALFORMED, str(content)[:200])
        if refusal or finish == "content_filter":
            self.stats.add("refused")
            return Answer(None, REFUSED, str(refusal or content)[:200])
        return Answer(None, OK, content[:500])

    async def _ask(self, messages: list[dict[str, str]], parse: Callable) -> Answer:
        reply = await self.chat(messages)
        if reply.status != OK:
            return reply
        value = parse(reply.raw)
        if value is None:
            status = REFUSED if is_refusal(reply.raw) else MALFORMED
            self.stats.add(status)
            return Answer(None, status, reply.raw)
        self.stats.add("answers")
        return Answer(float(value), OK, reply.raw)

    async def alabel(self, captions: Sequence[str]) -> list[Answer]:
        """Ask for all labels concurrently (at most ``concurrency`` requests in flight)."""
        jobs = [self._ask(self.prompt.label_messages(c), parse_label) for c in captions]
        return list(await asyncio.gather(*jobs))

    async def aprefer(self, pairs: Sequence[tuple[str, str]]) -> list[Answer]:
        """Ask for all pairwise preferences concurrently."""
        jobs = [self._ask(self.prompt.pair_messages(a, b), parse_preference) for a, b in pairs]
        return list(await asyncio.gather(*jobs))

    def __repr__(self) -> str:  # the key itself never appears, only the variable's name
        return (
            f"OpenAIAnnotator(base_url={self.base_url!r}, model={self.model!r}, "
            f"api_key_env={self.api_key_env!r}, prompt_hash={self.prompt_hash!r})"
        )


# ---------------------------------------------------------------------------------------


class EmbeddingAnnotator(Annotator):
    """Zero-shot labels from embedding similarity: ``label = cos`` if ``cos >= threshold`` else 0."""

    name = "embedding"

    def __init__(
        self,
        task: str,
        *,
        model: str = "all-MiniLM-L6-v2",
        threshold: float = 0.3,
        embed_fn: Callable[[Sequence[str]], np.ndarray] | None = None,
    ) -> None:
        if embed_fn is None:
            from agents.llm.embeddings import load_embedder

            embed_fn = load_embedder(model)  # ImportError with an install hint if missing
        self.embed = embed_fn
        self.task = task
        self.threshold = float(threshold)
        prompt = make_prompt(task)
        super().__init__(prompt, model)
        text = f"embedding-similarity\x1f{task}\x1f{self.threshold!r}"
        self._hash = hashlib.sha256(text.encode()).hexdigest()[:16]
        self._task_vec = self._unit(self.embed([task]))[0]

    @property
    def prompt_hash(self) -> str:
        """Hash of the task description and threshold."""
        return self._hash

    @staticmethod
    def _unit(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-8)

    def similarity(self, captions: Sequence[str]) -> np.ndarray:
        """Cosine similarity of each caption to the task description."""
        if not captions:
            return np.zeros((0,), np.float32)
        return self._unit(self.embed(list(captions))) @ self._task_vec

    async def alabel(self, captions: Sequence[str]) -> list[Answer]:
        """Thresholded similarities, clipped to [0, 1]."""
        try:
            sims = self.similarity(captions)
        except Exception as err:  # a broken model must not kill the labelling thread
            self.stats.add("failed", len(captions))
            self.stats.error(f"embedding failed: {type(err).__name__}")
            return [Answer(None, FAILED) for _ in captions]
        self.stats.add("answers", len(captions))
        return [
            Answer(float(np.clip(s, 0.0, 1.0)) if s >= self.threshold else 0.0, OK, f"{s:.4f}")
            for s in sims
        ]

    async def aprefer(self, pairs: Sequence[tuple[str, str]]) -> list[Answer]:
        """The caption closer to the task is preferred (0.5 on ties)."""
        sims = self.similarity([c for pair in pairs for c in pair]).reshape(-1, 2)
        self.stats.add("answers", len(pairs))
        return [Answer(float(0.5 + 0.5 * np.sign(a - b)), OK, f"{a:.4f} {b:.4f}") for a, b in sims]


# ---------------------------------------------------------------------------------------

_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "you",
        "your",
        "to",
        "of",
        "and",
        "or",
        "in",
        "on",
        "at",
        "into",
        "up",
        "down",
        "it",
        "its",
        "is",
        "are",
        "be",
        "then",
        "with",
        "for",
        "from",
        "by",
        "as",
        "that",
        "this",
        "there",
        "their",
        "them",
        "get",
        "go",
        "use",
        "make",
        "find",
        "reach",
    ]
)
_WORD = re.compile(r"[a-z]+")


def content_words(text: str) -> set[str]:
    """Lower-case words of ``text`` minus stop words, with a plural ``s`` stripped."""
    words = set()
    for word in _WORD.findall(text.lower()):
        if word in _STOPWORDS:
            continue
        words.add(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return words


class RulesAnnotator(Annotator):
    """Keyword annotator: a caption is helpful if it names a keyword and no negative word.

    Keywords default to the content words of the task description; ``keywords`` and
    ``negative`` take ``|``-separated words (``keywords=key|door``) so they fit in a spec.
    """

    name = "rules"

    def __init__(
        self, task: str, *, keywords: str | Sequence[str] = "", negative: str | Sequence[str] = ""
    ) -> None:
        self.keywords = self._words(keywords) or content_words(task)
        self.negative = self._words(negative)
        super().__init__(make_prompt(task), "keywords-v1")
        text = (
            "rules\x1f" + "|".join(sorted(self.keywords)) + "\x1f" + "|".join(sorted(self.negative))
        )
        self._hash = hashlib.sha256(text.encode()).hexdigest()[:16]

    @staticmethod
    def _words(spec: str | Sequence[str]) -> set[str]:
        items = spec.split("|") if isinstance(spec, str) else list(spec)
        return set().union(*(content_words(w) for w in items)) if items else set()

    @property
    def prompt_hash(self) -> str:
        """Hash of the keyword sets."""
        return self._hash

    def score(self, caption: str) -> int:
        """Number of keywords named, or -1 if a negative word is named."""
        words = content_words(caption)
        if words & self.negative:
            return -1
        return len(words & self.keywords)

    async def alabel(self, captions: Sequence[str]) -> list[Answer]:
        """1.0 when the caption names a keyword and no negative word, else 0.0."""
        self.stats.add("answers", len(captions))
        return [Answer(1.0 if self.score(c) > 0 else 0.0, OK, "rules") for c in captions]

    async def aprefer(self, pairs: Sequence[tuple[str, str]]) -> list[Answer]:
        """The caption with more keywords is preferred (0.5 on ties)."""
        self.stats.add("answers", len(pairs))
        return [
            Answer(float(0.5 + 0.5 * np.sign(self.score(a) - self.score(b))), OK, "rules")
            for a, b in pairs
        ]


# ---------------------------------------------------------------------------------------

ANNOTATORS: dict[str, type[Annotator]] = {
    "openai": OpenAIAnnotator,
    "embedding": EmbeddingAnnotator,
    "rules": RulesAnnotator,
}


def make_annotator(kind: str, task: str, **options: Any) -> Annotator:
    """Build the annotator ``kind`` (``openai``, ``embedding``, ``rules``) for ``task``."""
    if kind not in ANNOTATORS:
        raise ValueError(
            f"annotator: unknown kind {kind!r}; known: {', '.join(sorted(ANNOTATORS))}"
        )
    return ANNOTATORS[kind](task, **options)
