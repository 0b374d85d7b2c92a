"""Running many seeds of one agent in one compiled program.

On the CPU every seed runs its own unbatched program: the seeds are split across JAX CPU
devices (about one per core, see :func:`configure_cpu_devices` and :func:`seed_devices`)
and each device runs its share one seed after another (``lax.map``). On an accelerator the
seeds are ``jax.vmap``-ed.

Why not ``vmap`` on the CPU: a vmapped seed axis turns every dense layer into a batched
matmul (``dot_general`` with a batch dimension), which misses XLA's fast CPU matmul path, and
XLA's intra-op threads parallelise the small ops of one program poorly (1.7 of 2 cores busy,
much of it waiting). Measured here on DoorKey-8x8, 5 seeds × 16 envs, PPO+RND
(docs/performance.md, 2026-12-03): vmap 14.0 k steps/s, ``lax.map`` on one device 16.2 k,
4 seeds on two devices 20.2–21.5 k. A side effect worth having: each seed's numbers are
those of the same single-seed program however many seeds run beside it and however they
are spread over devices, so a run resumed in a group of another size continues bit for bit.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec

State = TypeVar("State")
SEED_AXIS = "seeds"


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# The cores configure_cpu_devices sized the devices for (None: it did not run).
_configured_cores: int | None = None


def configure_cpu_devices(cores: int | None = None, seeds: int | None = None) -> int | None:
    """Expose as many JAX CPU devices as ``seeds`` seeds finish soonest on (default: one per
    core), so the seeds run on every core at once.

    The count is :func:`device_count_for`: 5 seeds on 2 cores get 3 devices (2 + 2 + 1
    seeds sharing the cores) rather than 2 (3 + 2: one core idles while the last seed runs).
    Devices are not made spare: XLA's CPU runtime slows a program as devices are added even
    when they stay idle (one PPO+RND seed: 99.6 ms per update with 1 device, 113.8 with 4,
    148.7 with 8; docs/performance.md).

    Must run before JAX's first operation in the process (JAX sizes its CPU client once); it
    may run again until then, e.g. once a command knows its seeds. Leaves things as they are,
    and returns None, when the user chose a count (``JAX_NUM_CPU_DEVICES``, or
    ``--xla_force_host_platform_device_count`` in ``XLA_FLAGS``) or when JAX is already
    initialised (e.g. inside a test process); otherwise returns the device count set.
    ``cores``: the cores this process may use (default: all usable ones, or those of an
    earlier call).
    """
    global _configured_cores
    if "JAX_NUM_CPU_DEVICES" in os.environ:
        return None
    if "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return None
    cores = cores or _configured_cores or usable_cores()
    count = device_count_for(seeds, cores) if seeds else cores
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # backends already initialised: keep what this process has
        return None
    _configured_cores = cores
    return count


def device_count_for(num_seeds: int, cores: int, most: int | None = None) -> int:
    """The fewest devices (at most ``most``) on which ``num_seeds`` seeds finish soonest
    (:func:`makespan`) on ``cores`` cores."""
    most = max(1, min(num_seeds, most or num_seeds))
    return min(range(1, most + 1), key=lambda d: (round(makespan(num_seeds, d, cores), 9), d))


def makespan(num_seeds: int, devices: int, cores: int) -> float:
    """Time, in one seed's time on a free core, for ``num_seeds`` seeds dealt to ``devices``
    devices as :func:`run_seeds` deals them (blocks of ``ceil(num_seeds / devices)``), each
    device running its block one seed after another, the devices sharing ``cores`` cores
    evenly."""
    per_device = -(-num_seeds // devices)
    left = [float(min(per_device, max(0, num_seeds - i * per_device))) for i in range(devices)]
    left = [x for x in left if x > 0]
    elapsed = 0.0
    while left:
        speed = min(1.0, cores / len(left))
        step = min(left) / speed
        elapsed += step
        left = [x - step * speed for x in left if x - step * speed > 1e-9]
    return elapsed


def seed_devices(num_seeds: int) -> list[Any]:
    """The CPU devices ``num_seeds`` seeds are spread over: the fewest that finish soonest
    (:func:`device_count_for`) on the cores the devices were made for."""
    devices = jax.local_devices()
    cores = min(_configured_cores or usable_cores(), len(devices))
    return devices[: device_count_for(num_seeds, cores, len(devices))]


def run_seeds(
    run_one: Callable[[State], tuple[State, Any]],
    num_seeds: int,
    vectorize: bool | None = None,
) -> Callable[[State], tuple[State, Any]]:
    """A jitted function from stacked seed states ``[num_seeds, ...]`` to ``run_one``'s outputs,
    stacked the same way.

    On the CPU the seeds are dealt to :func:`seed_devices` in contiguous blocks of
    ``ceil(num_seeds / devices)``; each device maps ``run_one`` over its block. Blocks are
    padded to equal length with a copy of the last seed that a ``lax.cond`` skips (under
    ``lax.map`` a real branch, so padding costs nothing), and the padding is cut off again.
    On other backends (a GPU, a TPU) it is ``jax.vmap(run_one)``: the seeds are one batched
    program on the one device, where a wider batch is what an accelerator is for.
    ``vectorize`` chooses explicitly (``True``: the accelerator path on any backend, e.g. to
    test it on the CPU; ``False``: the per-device split); ``None`` chooses by backend.
    """
    if vectorize is None:
        vectorize = jax.default_backend() != "cpu"
    if vectorize:
        return jax.jit(jax.vmap(run_one))
    devices = seed_devices(num_seeds)
    per_device = -(-num_seeds // len(devices))
    padded = per_device * len(devices)
    valid = np.arange(padded) < num_seeds
    mesh = Mesh(np.array(devices), (SEED_AXIS,))
    spec = PartitionSpec(SEED_AXIS)

    def one_seed(args: tuple[State, jax.Array]) -> tuple[State, Any]:
        state, is_real = args
        if padded == num_seeds:
            return run_one(state)
        _, metrics_like = jax.eval_shape(run_one, state)

        def skip(state: State) -> tuple[State, Any]:
            return state, jax.tree.map(lambda m: jnp.zeros(m.shape, m.dtype), metrics_like)

        return jax.lax.cond(is_real, run_one, skip, state)

    def block(states: State, is_real: jax.Array) -> tuple[State, Any]:
        return jax.lax.map(one_seed, (states, is_real))

    # Each device's block is independent; no collectives, so the varying-axis bookkeeping
    # (which the envs' scans with constant carries would trip) is switched off.
    sharded = jax.shard_map(
        block, mesh=mesh, in_specs=(spec, spec), out_specs=spec, check_vma=False
    )

    def run_all(states: State) -> tuple[State, Any]:
        pad = padded - num_seeds
        if pad:
            states = jax.tree.map(
                lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)]),
                states,
            )
        out = sharded(states, jnp.asarray(valid))
        return jax.tree.map(lambda x: x[:num_seeds], out)

    # States enter and leave whole on every device (replicated), so every chunk sees the same
    # input layout and the program compiles once: an output left spread over the devices would
    # be a new input sharding for the next chunk, and a second compilation.
    whole = jax.sharding.NamedSharding(mesh, PartitionSpec())
    compiled = jax.jit(run_all, in_shardings=whole, out_shardings=whole)

    def call(states: State) -> tuple[State, Any]:
        # A no-op for a previous chunk's output; a copy to every device for a fresh state.
        return compiled(jax.device_put(states, whole))

    return call
