"""``explore report --power`` says whether the sweep's seeds were enough for the effects seen."""

from __future__ import annotations

import numpy as np
from conftest import write_run

from analysis.report import ReportOptions, build_report

FAST = {"reps": 200, "profile_reps": 100, "curve_reps": 100, "sims": 30, "power_reps": 60}


def _rows(md: str, header_start: str) -> list[list[str]]:
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_power_says_whether_seeds_sufficed_for_the_effect_seen(tmp_path):
    rng = np.random.default_rng(0)
    sweep = tmp_path / "sweep"
    # 10 seeds: "strong" is far above "weak"; "close" barely differs from "weak".
    for seed in range(10):
        write_run(sweep, "A", "strong", seed, [0.0, 0.8 + 0.1 * rng.random()])
        write_run(sweep, "A", "weak", seed, [0.0, 0.2 + 0.1 * rng.random()])
        write_run(sweep, "A", "close", seed, [0.0, 0.21 + 0.1 * rng.random()])
    out = tmp_path / "report"
    build_report(sweep, out, ReportOptions(power=True, **FAST))  # explore report --power
    md = (out / "report.md").read_text()
    assert "Were these seeds enough for the effects seen?" in md
    rows = {(r[0], r[1]): r for r in _rows(md, "| X | Y | P(X>Y) seen")}
    strong = rows[("ppo+strong", "ppo+weak")]
    assert strong[2] == "1.00" and strong[3] == "10" and strong[5] == "yes"
    # Seeds needed, with the range the pilots' variance allows: even its top is ≤ 10 here.
    needed, _, rest = strong[6].partition(" [")
    assert float(strong[4]) >= 0.8 and int(needed) <= 10
    assert int(rest.rstrip("]").split(", ")[1]) <= 10
    close = rows[("ppo+close", "ppo+weak")]
    assert 0.5 < float(close[2]) < 0.8 and close[5] == "no"
    assert float(close[4]) < 0.8
    # The seeds that would detect it: more than now.
    needed = close[6].partition(" [")[0]
    assert needed == "> 100" or int(needed) > 10
