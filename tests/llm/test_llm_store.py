"""The SQLite label store: concurrent writers, reuse across runs, crash safety."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sqlite3

import pytest
from llm_testlib import KEY, write_labels, write_then_hang

from agents.llm.annotators import RulesAnnotator
from agents.llm.service import LabelService
from agents.llm.store import LabelStore


def test_put_get_first_label_wins(tmp_path):
    with LabelStore(tmp_path / "labels.sqlite") as store:
        assert store.put_labels(KEY, [("a", 1.0), ("b", 0.0, "no")]) == 2
        assert store.put_labels(KEY, [("a", 0.0), ("c", 1.0)]) == 1  # "a" kept
        assert store.get_labels(KEY) == {"a": 1.0, "b": 0.0, "c": 1.0}
        assert store.get_labels(KEY, ["a", "zzz"]) == {"a": 1.0}
        assert store.get_labels(("other", "m", "h")) == {}  # namespaces never mix
        store.put_preferences(KEY, [("a", "b", 1.0), ("b", "c", 0.5)])
        assert store.get_preferences(KEY) == [("a", "b", 1.0), ("b", "c", 0.5)]
        conn = sqlite3.connect(store.path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()


def test_concurrent_writer_processes(tmp_path):
    path = str(tmp_path / "labels.sqlite")
    LabelStore(path).close()
    ctx = mp.get_context("spawn")
    workers = [ctx.Process(target=write_labels, args=(path, w, 60, 6)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=60)
        assert p.exitcode == 0
    with LabelStore(path) as store:
        labels = store.get_labels(KEY)
        assert store.integrity_check() == "ok"
    for w in range(4):
        for i in range(60):
            assert labels[f"w{w}-c{i}"] == (w + i) % 2
    shared = [labels[f"shared-c{i}"] for i in range(60)]
    assert len(shared) == 60 and all(v in (0.0, 0.1, 0.2, 0.3) for v in shared)
    assert len(labels) == 4 * 60 + 60  # every label stored exactly once


class CountingRules(RulesAnnotator):
    """Rules annotator that counts the captions it was asked about."""

    asked = 0

    async def alabel(self, captions):
        CountingRules.asked += len(captions)
        return await super().alabel(captions)


def test_labels_reused_across_runs(tmp_path):
    path = tmp_path / "labels.sqlite"
    captions = ["You pick up the yellow key.", "You bump into an obstacle."]
    CountingRules.asked = 0
    with LabelService(CountingRules("pick up the key"), LabelStore(path)) as service:
        service.submit(captions)
        assert service.wait_idle(10)
        first = service.labels()
    assert CountingRules.asked == 2 and first == {captions[0]: 1.0, captions[1]: 0.0}
    # A second run (new process in real life): labels are there at start, nobody is asked.
    with LabelService(CountingRules("pick up the key"), LabelStore(path)) as service:
        assert service.labels() == first
        service.submit(captions)
        assert service.pending == 0
    assert CountingRules.asked == 2
    # Another seed whose in-memory copy is empty still takes the stored label over asking.
    service = LabelService(CountingRules("pick up the key"), None).start()
    service.store = LabelStore(path)
    service.submit(captions)
    assert service.wait_idle(10)
    service.close()
    assert CountingRules.asked == 2 and service.stats()["reused"] == 2
    # A different task is a different prompt hash: a new label set.
    with LabelService(CountingRules("open the door"), LabelStore(path)) as service:
        assert service.labels() == {}


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_writer_killed_mid_transaction_loses_nothing_committed(tmp_path):
    path = str(tmp_path / "labels.sqlite")
    ctx = mp.get_context("spawn")
    committed, ready = ctx.Value("i", 0), ctx.Event()
    proc = ctx.Process(target=write_then_hang, args=(path, committed, ready))
    proc.start()
    assert ready.wait(timeout=60), "writer never reached its open transaction"
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(timeout=30)
    assert proc.exitcode == -signal.SIGKILL
    with LabelStore(path, busy_timeout=5) as store:
        assert store.integrity_check() == "ok"
        labels = store.get_labels(KEY)
        assert committed.value == 20
        assert sum(k.startswith("done-") for k in labels) == 5 * committed.value
        assert not any(k.startswith("uncommitted-") for k in labels)
        assert store.put_labels(KEY, [("after-crash", 1.0)]) == 1  # the lock died with it
