"""`explore report` on few runs and on mixed runs, through the console script.

A 2-seed sweep prints no degenerate interval and says why; many comparisons are counted
and Holm-corrected; cells mixing code fingerprints or env versions are refused (one line,
exit 2) unless --allow-mixed; provenance lists fingerprints, env versions and seeds per cell.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import yaml

from explore.cli import main


def make_sweep(
    root: Path,
    values: dict[str, list[float]],
    fingerprints: dict[tuple[str, int], str] | None = None,
    env_versions: dict[tuple[str, int], int] | None = None,
) -> Path:
    """Completed runs of ``{bonus: [score per seed]}`` on one task, as explore writes them."""
    root.mkdir(parents=True, exist_ok=True)
    spec = {"name": root.name, "grid": {"bonus": list(values)}, "score": "success_rate"}
    (root / "sweep.yaml").write_text(yaml.safe_dump(spec))
    for bonus, scores in values.items():
        for seed, value in enumerate(scores):
            run = root / f"Empty-5x5__{bonus}__0000__s{seed}"
            run.mkdir()
            version = (env_versions or {}).get((bonus, seed), 0)
            config = {"env": "Empty-5x5", "bonus": bonus, "agent": "ppo", "seed": seed}
            (run / "config.yaml").write_text(yaml.safe_dump({**config, "env_version": version}))
            code = (fingerprints or {}).get((bonus, seed), "f00dfeedf00dfeed")
            (run / "versions.json").write_text(
                json.dumps({"fingerprint": code, "code": {"fingerprint": code}})
            )
            (run / "status.json").write_text(json.dumps({"status": "completed"}))
            frame = pd.DataFrame(
                {"step": [100, 200], "metric": ["success_rate"] * 2, "value": [value / 2, value]}
            )
            frame.to_parquet(run / "metrics.parquet")
    return root


def report(sweep: Path, out: Path, *extra: str) -> int:
    return main(["report", str(sweep), "--out", str(out), "--reps", "500", *extra])


def test_two_seed_report_prints_no_degenerate_interval_and_says_why(tmp_path, capsys):
    # The case that overclaimed: the two runs of each config agree on the order.
    sweep = make_sweep(
        tmp_path / "two", {"count": [0.2, 0.3], "decay_count": [0.8, 0.9], "rnd": [0.5, 0.6]}
    )
    assert report(sweep, tmp_path / "rep", "--power") == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    printed = capsys.readouterr().out
    assert "1.00 [1.00, 1.00]" not in text and "[1.00, 1.00]" not in printed
    aggregate = text.split("## Aggregate metrics")[1].split("##")[0]
    table = [line for line in aggregate.splitlines() if line.startswith("|")]
    assert not any("[" in line for line in table)  # no interval at all
    assert aggregate.count("too few runs for an interval (n = 2; needs ≥") == 12
    assert "| ppo+count | 2 |" in aggregate  # n per cell
    assert "too few runs for an interval (n = 2; needs ≥" in printed
    # P(X > Y): no interval; 3 comparisons counted, none survives Holm with 2 runs each.
    poi = text.split("## Probability of improvement")[1].split("## Figures")[0]
    assert "3 pairwise comparisons" in poi
    assert "No claim can hold with these runs" in poi and "(n = 2 and 2: p ≥ 0.333)" in poi
    assert re.search(r"\| 1\.00 \| 0\.333 \| no \|", poi) or "| 0.00 | 0.333 | no |" in poi
    assert "yes:" not in poi
    # Power: never "enough" from two runs.
    power = text.split("## Seeds needed")[1].split("## Provenance")[0]
    assert "run at least 5 seeds first" in power and "| yes |" not in power
    # Provenance: fingerprints, env versions and seeds per cell.
    assert "| ppo+count | Empty-5x5 | 2 | 0, 1 | 0 | f00dfeedf00dfeed |" in text
    assert "f00dfeedf00dfeed" in (tmp_path / "rep" / "report.html").read_text()


def test_enough_runs_print_intervals_and_holm_marks_claims(tmp_path, capsys):
    good = [0.80 + 0.01 * i for i in range(20)]
    bad = [0.10 + 0.01 * i for i in range(20)]
    sweep = make_sweep(tmp_path / "many", {"a": good, "b": bad})
    assert report(sweep, tmp_path / "rep") == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    aggregate = text.split("## Aggregate metrics")[1].split("##")[0]
    assert "too few runs" not in aggregate and re.search(r"0\.\d\d \[0\.\d\d, 0\.\d\d\]", aggregate)
    assert "1 pairwise comparison." in text and "yes: ppo+a > ppo+b" in text


def test_report_refuses_mixed_code_and_allow_mixed_pools(tmp_path, capsys):
    sweep = make_sweep(
        tmp_path / "mixed",
        {"count": [0.2, 0.3], "rnd": [0.5, 0.6]},
        fingerprints={("count", 1): "0123456789abcdef"},
    )
    assert report(sweep, tmp_path / "rep") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    assert err[0].startswith("explore report: error: refusing to pool: ppo+count on Empty-5x5")
    assert "different code" in err[0] and "Empty-5x5__count__0000__s1" in err[0]
    assert "--allow-mixed" in err[0]
    assert report(sweep, tmp_path / "rep", "--allow-mixed") == 0
    out = capsys.readouterr().out
    assert "pooled by --allow-mixed" in out
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "0123456789abcdef, f00dfeedf00dfeed" in text  # both fingerprints in the cell


def test_report_refuses_mixed_env_versions(tmp_path, capsys):
    sweep = make_sweep(tmp_path / "versions", {"count": [0.2, 0.3]}, env_versions={("count", 0): 1})
    assert report(sweep, tmp_path / "rep") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert (
        "different env versions (v0: Empty-5x5__count__0000__s1; v1: Empty-5x5__count__0000__s0)"
        in err[0]
    )
