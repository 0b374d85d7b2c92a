"""``explore bench social --meltingpot``: the code path on a tiny run (no timing asserted)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "conformance"))
from meltingpot_harness import available

from explore.bench import social


def _args(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    social.add_arguments(parser)
    return parser.parse_args(["--tasks", "Harvest-Open", "--no-peers", *extra])


@pytest.mark.skipif(available() is not None, reason=f"Melting Pot: {available()}")
def test_meltingpot_rows_come_with_a_ratio():
    args = _args("--meltingpot", "--batch", "2", "--steps", "2", "--repeats", "1",
                 "--meltingpot-steps", "3")  # fmt: skip
    (row,) = social.run(args)
    assert row["Melting Pot agents"] == 7 and row["agents"] == 7
    assert row["Melting Pot env-steps/s"] > 0
    assert row["ours / Melting Pot"] == pytest.approx(
        row["ours env-steps/s"] / row["Melting Pot env-steps/s"]
    )
    assert row["ours / Melting Pot (cpu)"] == pytest.approx(
        row["ours env-steps/cpu-s"] / row["Melting Pot env-steps/cpu-s"]
    )


def test_meltingpot_missing_is_one_line_and_exit_2(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name.startswith(("meltingpot", "dmlab2d")) else real(name, *a),
    )
    with pytest.raises(SystemExit) as exit_info:
        social.run(_args("--meltingpot"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("--meltingpot:") and "\n" not in err
