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


TINY_HARVEST = ["--option", "ascii_map=small", "--option", "num_agents=2"]


def test_schelling_policy_option_reaches_the_bots(tmp_path, capsys):
    # keep=13: an apple needs 13 live apples within radius 2 (at most 12 exist), so
    # cooperators never eat, whatever the others do; defectors do.
    args = ["schelling", "Harvest-Open", "--steps", "30", "--episodes", "3", "--seeds", "1"]
    code = main([*args, "--out", str(tmp_path), *TINY_HARVEST, "--policy", "keep=13"])
    assert code == 0
    out = capsys.readouterr().out
    assert "keep=13" in out and "By the intervals" in out
    with open(tmp_path / "schelling_Harvest-Open.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["cooperator"]) for r in rows] == [0.0, 0.0]
    assert float(rows[0]["defector"]) > 0
    assert {r["defection_pays"] for r in rows} <= {"yes", "no", "undecided"}


def test_schelling_bad_policy_option_exits_2(tmp_path, capsys):
    args = ["schelling", "Harvest-Open", "--out", str(tmp_path), *TINY_HARVEST]
    assert main([*args, "--policy", "kep=3"]) == 2
    err = capsys.readouterr().err
    assert "--policy" in err and "Did you mean: keep" in err
    assert main([*args, "--policy", "keep"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert main(["schelling", "Coins", "--out", str(tmp_path), "--max-episodes", "-1"]) == 2
    assert "--max-episodes" in capsys.readouterr().err


def test_schelling_sizing_plays_more_seeds(tmp_path, capsys, monkeypatch):
    # The sizing step asks for 6 episodes per point on the first pass (3 played): the
    # command plays one more seed of 3 episodes and reports 6 per point.
    from analysis.power import SeedsEstimate
    from explore.commands import schelling as command

    calls = []

    def fake_sizing(result, grid_max):
        calls.append(len(result.defector[0]))
        estimate = SeedsEstimate(6, 5, 8, len(result.defector[0]))
        names = [f"k{k}" for k in range(result.num_agents + 1)]
        return [{"condition": c, "decision": "undecided", "estimate": estimate} for c in names]

    monkeypatch.setattr(command, "_sizing", fake_sizing)
    args = ["schelling", "Coins", "--steps", "10", "--episodes", "3", "--seeds", "1"]
    assert main([*args, "--max-episodes", "10", "--out", str(tmp_path), *TINY_COINS]) == 0
    assert calls == [3, 6]
    assert "playing 1 more seeds" in capsys.readouterr().out
    with open(tmp_path / "schelling_Coins.csv") as handle:
        assert [int(r["episodes"]) for r in csv.DictReader(handle)] == [6, 6]


def test_verdict_decides_by_the_intervals():
    import numpy as np

    from envs.social.schelling import SchellingResult

    low, high = np.array([0.0, 1.0, 0.5, 0.2]), np.array([5.0, 6.0, 5.5, 5.2])
    zero = np.zeros(4)
    # D > C apart at both k, C(1) > D(0) apart: a dilemma, decided.
    yes = SchellingResult(2, [low, high + 10], [high, high + 20], 10)
    assert yes.verdict()["decided"] == "yes" and yes.verdict()["is_dilemma"]
    # Nobody ever eats at k = 0: D(0) = C(0) = 0 is decided against "defecting pays".
    tie = SchellingResult(2, [zero, high], [zero, high + 10], 10)
    assert tie.verdict()["defection_pays"] == ["no", "yes"] and tie.verdict()["decided"] == "no"
    # Overlapping intervals: undecided; merging the samples keeps every episode.
    close = SchellingResult(2, [low, high], [low + 0.1, high + 10], 10)
    assert close.verdict()["defection_pays"][0] == "undecided"
    assert close.verdict()["decided"] == "undecided"
    assert [len(c) for c in close.merge(close).cooperator] == [8, 8]


def test_schelling_cleanup_cleaners_against_harvesters(tmp_path, capsys):
    # Clean Up's cleaners walk, turn and fire the beam inside the vmapped, scanned rollout
    # of every population; the clean_above option reaches the bots and the verdict line.
    args = ["schelling", "CleanUp", "--steps", "20", "--episodes", "3", "--seeds", "1"]
    tiny = ["--option", "ascii_map=small", "--option", "num_agents=2"]
    assert main([*args, "--out", str(tmp_path), *tiny, "--policy", "clean_above=1"]) == 0
    assert "clean_above=1" in capsys.readouterr().out
    with open(tmp_path / "schelling_CleanUp.csv") as handle:
        assert [int(r["other_cooperators"]) for r in csv.DictReader(handle)] == [0, 1]
