"""Benchmarks: ``explore bench <suite>``. Each suite module defines ``add_arguments(parser)``
and ``run(args) -> list[dict]`` (rows printed as a table, ratios against peers measured in
the same run). Tests never assert wall-clock times; these are the place for speed."""

# suite name -> module; order is the order in `explore bench --help`.
SUITES = {
    "envs": "explore.bench.envs",
    "train": "explore.bench.train",
    "analysis": "explore.bench.analysis",
    "sweep": "explore.bench.sweep",
    "sb3": "explore.bench.sb3",
    "social": "explore.bench.social",
    "mo": "explore.bench.mo",
    "gpu": "explore.bench.gpu",
}
