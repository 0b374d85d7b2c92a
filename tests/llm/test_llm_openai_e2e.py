"""End to end over real HTTP: a scripted chat-completions server on 127.0.0.1.

Labels flow server → labelling thread → SQLite → ``sync`` → jitted reward, while a
"training" loop keeps calling reward/update/sync; bad servers never stall or crash it.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from llm_testlib import HANG, ChatServer, caption_of, chat_reply

from agents.bonuses import make
from agents.bonuses.base import Transitions
from agents.llm.annotators import OpenAIAnnotator
from agents.llm.store import LabelStore

CAPTIONS = (
    "",
    "You pick up the yellow key.",
    "You bump into an obstacle.",
    "The yellow door opens.",
)
TASK = "Pick up the yellow key and open the yellow door."
T, N = 4, 3


def batch() -> Transitions:
    event = np.array([[1, 0, 2], [0, 3, 0], [2, 0, 1], [0, 0, 0]], np.int32)
    zeros = np.zeros((T, N, 1), np.float32)
    return Transitions.from_arrays(
        zeros, np.zeros((T, N), np.int32), zeros, np.zeros((T, N), bool), event
    )


def helpful_if_key_or_door(body: dict, number: int):
    caption = caption_of(body)
    return 200, chat_reply("Yes." if ("key" in caption or "door" in caption) else "No")


def make_bonus(server: ChatServer, tmp_path, **options):
    settings = dict(
        captions=CAPTIONS,
        task=TASK,
        store=str(tmp_path / "labels.sqlite"),
        base_url=server.url,
        llm_model="scripted-llm",
        api_key_env="TEST_ONI_KEY",
        timeout=0.5,
        max_retries=1,
        backoff=0.01,
    )
    settings.update(options)
    return make("oni(retrieval,annotator=openai)", **settings)


def train(bonus, state, iterations: int, until=None, jit: bool = True):
    """A stand-in training loop: jitted reward/update plus the host hooks, never waiting.

    ``jit=False`` only runs the host hooks and looks the reward up in NumPy (saves compiles).
    """
    reward, update = jax.jit(bonus.reward), jax.jit(bonus.update)
    data = batch()
    r = None
    for i in range(iterations):
        if jit:
            r = reward(state, data)
            state, _ = update(state, data)
        else:
            r = np.where(
                np.asarray(data.event) > 0, bonus.host_table()[0][np.asarray(data.event)], 0
            )
        bonus.observe_events(np.asarray(data.event))
        state = bonus.sync(state)
        if until is not None and until(r):
            return state, r, i + 1
        time.sleep(0.005)
    return state, r, iterations


def test_labels_flow_from_server_through_sqlite_into_rewards(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_ONI_KEY", "sk-test-secret-123")
    with ChatServer(helpful_if_key_or_door, delay=0.05) as server:
        bonus = make_bonus(server, tmp_path)
        state = bonus.init(jax.random.key(0), None, None, N)
        first = jax.jit(bonus.reward)(state, batch())
        assert float(jnp.abs(first).sum()) == 0.0  # nothing labelled yet: zero, not a wait
        state, r, steps = train(bonus, state, 2000, until=lambda r: float(r.sum()) >= 3.0)
        bonus.close()
    assert steps > 1  # training went on while the labels were in flight
    np.testing.assert_array_equal(
        np.asarray(r), [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]]
    )  # key and door: 1; bump: 0; no event: 0
    assert bool(state.known[1]) and bool(state.known[2]) and not bool(state.known[0])
    # Each caption was asked once, with the key from the environment, and stored once.
    assert len(server.requests) == 3
    assert set(server.auth) == {"Bearer sk-test-secret-123"}
    assert server.requests[0]["model"] == "scripted-llm"
    annotator = bonus.service.annotator
    with LabelStore(tmp_path / "labels.sqlite") as store:
        assert store.get_labels(annotator.key) == {
            CAPTIONS[1]: 1.0,
            CAPTIONS[2]: 0.0,
            CAPTIONS[3]: 1.0,
        }
        assert annotator.prompt_hash in store.prompts()
    # The key is never written anywhere: not the store, not the metrics, not a repr.
    assert b"sk-test-secret-123" not in (tmp_path / "labels.sqlite").read_bytes()
    for path in tmp_path.iterdir():
        assert b"sk-test-secret-123" not in path.read_bytes()
    assert (
        "sk-test-secret-123"
        not in repr(bonus.host_metrics()) + repr(annotator) + annotator.stats.last_error
    )
    assert bonus.host_metrics()["oni/labelled"] == 3.0


def test_a_hanging_server_never_stalls_training(tmp_path):
    with ChatServer(lambda body, n: HANG) as server:
        bonus = make_bonus(server, tmp_path, max_attempts=1)
        state = bonus.init(jax.random.key(0), None, None, N)
        state, r, steps = train(bonus, state, 30)
        # The loop finished while the server still holds requests open.
        assert server.hanging >= 1 and not server.release.is_set()
        assert steps == 30 and float(r.sum()) == 0.0
        assert bonus.service.wait_idle(10)  # each request is cut at its deadline
        stats = bonus.service.annotator.stats
        assert stats["timeouts"] >= 3 and stats["failed"] == 3 and stats["retries"] == 3
        assert bonus.host_metrics()["oni/skipped"] == 3.0
        bonus.close()
        assert not bonus.service._thread.is_alive()


@pytest.mark.parametrize(
    ("script", "counter"),
    [
        (lambda body, n: (500, "internal error"), "http_errors"),
        (lambda body, n: (200, "<html>not json</html>"), "malformed"),
        (lambda body, n: (200, {"choices": []}), "malformed"),
        (lambda body, n: (200, chat_reply("banana")), "malformed"),
        (lambda body, n: (200, chat_reply("I'm sorry, I can't help with that.")), "refused"),
        (lambda body, n: (200, chat_reply("", refusal="policy")), "refused"),
        (lambda body, n: (404, "{}"), "http_errors"),
    ],
)
def test_bad_answers_are_counted_and_skipped(tmp_path, script, counter):
    with ChatServer(script) as server:
        bonus = make_bonus(server, tmp_path, max_attempts=2)
        state = bonus.init(jax.random.key(0), None, None, N)
        state, r, _ = train(bonus, state, 5, jit=False)
        assert bonus.service.wait_idle(10)
        state, r, _ = train(
            bonus, state, 3, jit=False
        )  # resubmits the failures once (max_attempts=2)
        assert bonus.service.wait_idle(10)
        stats = bonus.service.annotator.stats
        assert stats[counter] >= 3
        assert float(r.sum()) == 0.0 and not bool(state.known.any())
        assert bonus.service.stats()["skipped"] == 6  # 3 captions × 2 attempts
        bonus.close()
    with LabelStore(tmp_path / "labels.sqlite") as store:
        assert store.rows() == []


def test_transient_failures_are_retried_with_backoff(tmp_path):
    def flaky(body, number):
        return (500, "busy") if number < 2 else helpful_if_key_or_door(body, number)

    with ChatServer(flaky) as server:
        annotator = OpenAIAnnotator(
            TASK, base_url=server.url, max_retries=3, backoff=0.01, concurrency=1
        )
        answers = annotator.label(["You pick up the yellow key."])
    assert answers[0].value == 1.0
    assert annotator.stats["retries"] == 2 and annotator.stats["http_errors"] == 2
    assert annotator.stats["failed"] == 0


def test_concurrency_limit_is_respected(tmp_path):
    active, peak = [0], [0]
    import threading

    lock = threading.Lock()

    def slow(body, number):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return 200, chat_reply("yes")

    with ChatServer(slow) as server:
        annotator = OpenAIAnnotator(TASK, base_url=server.url, concurrency=2, timeout=5)
        answers = annotator.label([f"caption {i}" for i in range(8)])
    assert all(a.value == 1.0 for a in answers)
    assert peak[0] <= 2
