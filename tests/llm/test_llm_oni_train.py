"""``explore train`` with ``oni``: events seen inside the jitted loop reach the annotator.

The training loop only calls ``bonus.sync`` between chunks; the captions that occurred in
the chunk travel in the bonus state's ``seen`` mask, so they are labelled and stored
without any callback (a regression: once, no caption was ever queued from ``explore train``
and ONI silently gave zero reward).
"""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd

from agents.bonuses import make
from agents.llm.store import LabelStore
from explore.config import load_config
from explore.train import train

TINY = [
    "env=Empty-5x5",
    "total_steps=1024",
    "log_every=2",
    "ppo.num_envs=4",
    "ppo.num_steps=16",
    "ppo.hidden=8",
    "ppo.update_epochs=1",
    "ppo.num_minibatches=1",
]
GOAL = "You reach the goal."


def test_captions_seen_in_explore_train_are_labelled_and_stored(tmp_path, monkeypatch):
    db = tmp_path / "labels.sqlite"
    monkeypatch.setenv("EXPLORE_LABELS_DB", str(db))
    for spec in ["oni(retrieval,annotator=rules)", "sum(oni(retrieval,annotator=rules),count)"]:
        cfg = load_config(None, [*TINY, f"bonus={spec}"])
        (run,) = train(cfg, [0], tmp_path / "runs", progress=False)
        metrics = pd.read_parquet(run.path / "metrics.parquet")
        seen = metrics[metrics.metric.str.endswith("oni/seen_captions")].value
        assert seen.max() >= 1, spec  # the goal (and bumping into walls) happened
        # train() closes the bonus, which waits for the labelling thread: the goal's label
        # is in the store, positive (the task is "get to the green goal square").
        labels = {row.caption: row.label for row in LabelStore(str(db)).rows()}
        assert labels.get(GOAL) == 1.0, (spec, labels)


def test_sync_queues_the_captions_of_the_seen_mask(tmp_path):
    captions = ("", GOAL, "You bump into an obstacle.", "You step into the lava.")
    bonus = make(
        "oni(retrieval,annotator=rules)",
        captions=captions,
        task="get to the goal",
        store=str(tmp_path / "l.sqlite"),
    )
    state = bonus.init(jax.random.PRNGKey(0), None, None, 2)
    assert not np.asarray(state.seen).any()
    from agents.bonuses.base import Transitions

    event = np.array([[1, 0], [2, 1]], np.int32)  # the goal twice, a bump once; never lava
    zeros = np.zeros((2, 2, 1), np.float32)
    batch = Transitions.from_arrays(
        zeros, np.zeros((2, 2), np.int32), zeros, np.zeros((2, 2), bool), event
    )
    _, state, metrics = jax.jit(bonus.reward_and_update)(state, batch)
    np.testing.assert_array_equal(np.asarray(state.seen), [True, True, True, False])
    assert int(metrics["oni/seen_captions"]) == 2
    state = bonus.sync(state)
    assert bonus.service.wait_idle(10.0)  # the annotator has labelled what sync queued
    state = bonus.sync(state)
    bonus.close()
    assert bool(state.known[1]) and float(state.reward_table[1]) == 1.0
    assert not bool(state.known[3])  # lava never happened: never asked
