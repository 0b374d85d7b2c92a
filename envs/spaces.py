"""Observation and action spaces, shaped like gymnax's so adapters map one to one."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True)
class Discrete:
    """Integers ``0 .. n-1``."""

    n: int
    dtype: jnp.dtype = jnp.int32

    @property
    def shape(self) -> tuple[int, ...]:
        return ()

    def sample(self, key: jax.Array) -> jax.Array:
        """Draw a uniform action."""
        return jax.random.randint(key, (), 0, self.n, dtype=self.dtype)

    def contains(self, x: jax.Array) -> jax.Array:
        """Whether ``x`` is a valid element (works under jit)."""
        return jnp.logical_and(x >= 0, x < self.n)


@dataclass(frozen=True)
class Box:
    """A box ``[low, high]`` of the given shape and dtype."""

    low: float | np.ndarray
    high: float | np.ndarray
    shape: tuple[int, ...]
    dtype: jnp.dtype = jnp.float32

    def sample(self, key: jax.Array) -> jax.Array:
        """Draw uniformly inside the box (integers: inclusive bounds)."""
        if jnp.issubdtype(self.dtype, jnp.integer):
            return jax.random.randint(
                key, self.shape, self.low, jnp.asarray(self.high) + 1, dtype=jnp.int32
            ).astype(self.dtype)
        return jax.random.uniform(key, self.shape, minval=self.low, maxval=self.high).astype(
            self.dtype
        )

    def contains(self, x: jax.Array) -> jax.Array:
        """Whether ``x`` lies inside the box (works under jit)."""
        return jnp.logical_and(jnp.all(x >= self.low), jnp.all(x <= self.high))
