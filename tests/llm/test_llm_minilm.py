"""The embedding annotator with the real all-MiniLM-L6-v2 (installed by the `embedding` extra)."""

from __future__ import annotations

from agents.bonuses import make
from agents.llm.annotators import EmbeddingAnnotator

CAPTIONS = ("", "You pick up the yellow key.", "You drop the grey ball.", "The yellow door opens.")
TASK = "Pick up the yellow key and open the yellow door."


def test_minilm_labels_and_classification_features():
    ann = EmbeddingAnnotator(TASK, model="all-MiniLM-L6-v2", threshold=0.3)
    key, ball, door = (a.value for a in ann.label(list(CAPTIONS[1:])))
    assert key > 0.5 and door > 0.5 and ball == 0.0
    bonus = make(
        "oni(classification,annotator=embedding,prefetch=true)",
        captions=CAPTIONS,
        task=TASK,
        store="none",
    )
    bonus.start()
    assert bonus.service.wait_idle(30)
    values, known = bonus.host_table()
    assert known[1:].all() and values[1] > values[2] and values[3] > values[2]
    bonus.close()
