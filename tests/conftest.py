"""Test-session set-up shared by every test (and by the ``explore`` processes tests start).

Many tests compile the same small programs again: each ``explore train`` / ``explore sweep``
subprocess, each resume after a kill, each new ``PPO`` object with the same settings. JAX's
persistent compilation cache stores each compiled program on disk under a key made of its
HLO, the compile options and the JAX/XLA versions, so an identical program is loaded
instead of recompiled (the same executable: results are unchanged, and a changed program
gets a new key). The environment variables reach the subprocesses too. Set
``JAX_COMPILATION_CACHE_DIR`` to choose the folder; ``EXPLORE_TEST_JAX_CACHE=0`` turns the
cache off (e.g. to time cold compiles as CI's fresh machine does on its first run).

Test programs are tiny and run briefly, so most of their time is compilation; LLVM's
optimisation level 0 for XLA's CPU backend (XLA's own graph optimisations, fusion included,
still run) roughly halves compile times here. Set ``XLA_FLAGS`` to override it.

Tests see two JAX CPU devices (``JAX_NUM_CPU_DEVICES``, below).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

# Two CPU devices whatever the machine, so every test that trains seeds goes through the
# path ``explore train`` takes on a multi-core machine: seeds dealt to devices, padded where
# they do not divide evenly (agents.seeds). Read by JAX at import, and by the subprocesses.
os.environ.setdefault("JAX_NUM_CPU_DEVICES", "2")

if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
    ).strip()

if os.environ.get("EXPLORE_TEST_JAX_CACHE", "1") != "0":
    os.environ.setdefault(
        "JAX_COMPILATION_CACHE_DIR", str(Path(tempfile.gettempdir()) / "explore-tests-jax-cache")
    )
    # Cache every program, however small or quick to compile (JAX's defaults skip those).
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    if "jax" in sys.modules:  # a plugin imported JAX first: the variables were already read
        import jax

        jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
