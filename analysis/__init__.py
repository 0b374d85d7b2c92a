"""Analysis of run directories: rliable-based metrics, fast bootstrap, power analysis, reports.

Typical use::

    import analysis
    sweep = analysis.load("runs/my-sweep")            # completed runs only
    scores = sweep.scores()                           # runs × tasks per algorithm
    agg = analysis.aggregate_estimates(scores.matrices)  # IQM, median, mean, optimality gap

Reads only the run files described in docs/run_store.md; imports nothing from the
training side (explore/, agents/, envs/).
"""

from analysis import bootstrap, metrics, power
from analysis.bootstrap import interval_estimates
from analysis.estimates import (
    aggregate_estimates,
    check_scores,
    performance_profiles,
    probability_of_improvement_matrix,
    sample_efficiency,
)
from analysis.load import Run, ScoreSet, Sweep, load

__all__ = [
    "Run",
    "ScoreSet",
    "Sweep",
    "aggregate_estimates",
    "bootstrap",
    "check_scores",
    "interval_estimates",
    "load",
    "metrics",
    "performance_profiles",
    "power",
    "probability_of_improvement_matrix",
    "sample_efficiency",
]
