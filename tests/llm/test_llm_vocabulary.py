"""The open caption vocabulary used by ``oni`` on text environments."""

from __future__ import annotations

import threading

import pytest

from agents.llm.vocabulary import CaptionVocabulary


def test_codes_are_assigned_on_first_sight_and_stable():
    vocabulary = CaptionVocabulary(capacity=8)
    assert vocabulary.code("") == 0
    assert list(vocabulary.codes(["a", "b", "a", "", "c"])) == [1, 2, 1, 0, 3]
    assert vocabulary.size == 4 and len(vocabulary) == 8
    assert list(vocabulary) == ["", "a", "b", "c", "", "", "", ""]
    assert vocabulary[2] == "b" and vocabulary[7] == "" and vocabulary[-1] == ""
    with pytest.raises(IndexError):
        vocabulary[8]


def test_overflow_gets_code_zero_and_is_counted():
    vocabulary = CaptionVocabulary(capacity=3, captions=["a", "b"])
    assert vocabulary.code("c") == 0 and vocabulary.code("c") == 0
    assert vocabulary.overflow == 1  # distinct captions, not occurrences
    assert vocabulary.code("a") == 1


def test_json_round_trip_keeps_codes():
    vocabulary = CaptionVocabulary(capacity=16, captions=["x", "y"])
    restored = CaptionVocabulary(capacity=16)
    restored.load_json(vocabulary.to_json())
    assert restored.code("y") == 2 and restored.code("z") == 3
    with pytest.raises(ValueError, match="capacity"):
        CaptionVocabulary(capacity=4).load_json(vocabulary.to_json())


def test_concurrent_assignment_gives_each_caption_one_code():
    vocabulary = CaptionVocabulary(capacity=512)
    texts = [f"message {i}" for i in range(200)]
    results: list[list[int]] = []

    def worker():
        results.append([vocabulary.code(t) for t in texts])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == results[0] for r in results)
    assert sorted(results[0]) == list(range(1, 201))
