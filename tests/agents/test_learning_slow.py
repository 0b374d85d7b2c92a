"""Slow learning runs that reproduce the README's learning claims with fewer seeds.

Run with ``make test-slow`` (``pytest -m slow``); each takes minutes on a 2-core CPU (the
DoorKey-8x8 one about 20 min).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from explore.runs import RunDir

EXPLORE = str(Path(sys.executable).with_name("explore"))


@pytest.mark.slow
def test_ppo_rnd_solves_doorkey_8x8_at_the_defaults(tmp_path):
    """The first command a researcher types, with no settings: RND solves DoorKey-8x8.

    5 seeds through the console script at the defaults of ``agents.configs.PPOConfig``; the
    budget is 1.5 M steps (the defaults results page: 5/5 solved by then on 2026-12-03,
    final successes 1.0 in every seed; 4/5 on 2026-12-02), shorter than the 5 M of the
    original claim's command, so passing here implies the claim's median at 1.5 M.
    """
    done = subprocess.run(
        [
            EXPLORE,
            "train",
            "env=DoorKey-8x8",
            "bonus=rnd",
            "seeds=0-4",
            "total_steps=1.5e6",
            f"out={tmp_path}",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    final = []
    for path in sorted(p.parent for p in tmp_path.rglob("status.json")):
        success = [r["value"] for r in RunDir(path).read_metrics() if r["metric"] == "success_rate"]
        final.append(float(np.nanmean(success[-5:])))
    assert len(final) == 5
    assert np.median(final) >= 0.9, final
