"""``explore labels show / export / import``."""

from __future__ import annotations

import argparse
import json

import pytest

from agents.llm.store import LabelStore
from explore.commands import labels as labels_command

KEY = ("openai", "some-llm", "abcd1234abcd1234")


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="explore")
    labels_command.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "labels.sqlite"
    with LabelStore(path) as store:
        store.put_prompt(KEY[2], "[system]\n...\n[label]\nIs it helpful?")
        store.put_labels(
            KEY,
            [
                ("You pick up the yellow key.", 1.0, "Yes."),
                ("You bump into an obstacle.", 0.0, "No"),
            ],
        )
        store.put_labels(("rules", "keywords-v1", "ffff"), [("The red door opens.", 1.0)])
        store.put_preferences(
            KEY, [("You pick up the yellow key.", "You bump into an obstacle.", 1.0, "1")]
        )
    return path


def test_show(store_path, capsys):
    assert run(["labels", "show", "--db", str(store_path)]) == 0
    out = capsys.readouterr().out
    assert "some-llm" in out and "keywords-v1" in out and "You pick up the yellow key." in out
    assert (
        run(["labels", "show", "--db", str(store_path), "--annotator", "rules", "--limit", "5"])
        == 0
    )
    out = capsys.readouterr().out
    assert "The red door opens." in out and "yellow key" not in out
    assert run(["labels", "show", "--db", str(store_path), "--preferences"]) == 0
    assert "P(1>2)" in capsys.readouterr().out


def test_export_import_roundtrip(store_path, tmp_path, capsys):
    exported = tmp_path / "labels.jsonl"
    assert (
        run(
            [
                "labels",
                "export",
                "--db",
                str(store_path),
                "-o",
                str(exported),
                "--annotator",
                "openai",
            ]
        )
        == 0
    )
    records = [json.loads(line) for line in exported.read_text().splitlines()]
    assert [r["type"] for r in records] == ["prompt", "label", "label", "preference"]
    key_label = next(r for r in records if r.get("caption") == "You pick up the yellow key.")
    assert (
        key_label["label"] == 1.0
        and key_label["raw"] == "Yes."
        and key_label["model"] == "some-llm"
    )

    other = tmp_path / "other.sqlite"
    with LabelStore(other) as store:  # a conflicting label already there is kept
        store.put_labels(KEY, [("You bump into an obstacle.", 1.0)])
    assert run(["labels", "import", str(exported), "--db", str(other)]) == 0
    assert "1 new labels, 1 new preferences (1 already present)" in capsys.readouterr().out
    with LabelStore(other) as store:
        assert store.get_labels(KEY) == {
            "You pick up the yellow key.": 1.0,
            "You bump into an obstacle.": 1.0,
        }
        assert store.get_preferences(KEY) == [
            ("You pick up the yellow key.", "You bump into an obstacle.", 1.0)
        ]
        assert KEY[2] in store.prompts()
    # Importing twice adds nothing.
    assert run(["labels", "import", str(exported), "--db", str(other)]) == 0
    assert "0 new labels, 0 new preferences" in capsys.readouterr().out


def test_import_rejects_bad_lines(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"type": "label", "annotator": "a", "model": "m", "prompt_hash": "h", "caption": "c", "label": 7}\n'
    )
    with pytest.raises(ValueError, match="line 1"):
        run(["labels", "import", str(bad), "--db", str(tmp_path / "x.sqlite")])
    bad.write_text("not json\n")
    with pytest.raises(ValueError, match="line 1"):
        run(["labels", "import", str(bad), "--db", str(tmp_path / "x.sqlite")])


def test_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no label store"):
        run(["labels", "show", "--db", str(tmp_path / "nope.sqlite")])
