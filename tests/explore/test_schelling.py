"""``explore schelling``: the table, the CSV, the PNG and the verdict, through the CLI."""

from __future__ import annotations

import csv

from explore.cli import main

TINY_COINS = [
    "--option", "min_width=4", "--option", "max_width=4",
    "--option", "min_height=4", "--option", "max_height=4",
    "--option", "regrow_rate=0.05",
]  # fmt: skip


def test_schelling_writes_table_png_and_verdict(tmp_path, capsys):
    args = ["schelling", "Coins", "--steps", "25", "--episodes", "3", "--seeds", "1"]
    code = main([*args, "--out", str(tmp_path), *TINY_COINS])
    assert code == 0
    out = capsys.readouterr().out
    assert "Schelling diagram: Coins" in out and "social dilemma" in out
    with open(tmp_path / "schelling_Coins.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["other_cooperators"]) for r in rows] == [0, 1]
    for r in rows:
        assert float(r["cooperator_lo"]) <= float(r["cooperator"]) <= float(r["cooperator_hi"])
        assert int(r["episodes"]) == 3
    png = (tmp_path / "schelling_Coins.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_schelling_bad_input_exits_2(tmp_path, capsys):
    assert main(["schelling", "DoorKey-8x8", "--out", str(tmp_path)]) == 2
    assert "not a social" in capsys.readouterr().err
    assert main(["schelling", "Coins", "--episodes", "0", "--out", str(tmp_path)]) == 2
    assert "--episodes" in capsys.readouterr().err
    assert main(["schelling", "Coin", "--out", str(tmp_path)]) == 2
    assert "Did you mean: Coins" in capsys.readouterr().err
