"""The ``explore`` command line, config schema, run store, sweeps and benchmarks."""

__version__ = "0.1.0"
