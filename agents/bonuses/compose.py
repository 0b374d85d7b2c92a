"""``product(a, b)`` and ``sum(a, b)``: combine any two registered bonuses.

Reference: Henaff, Jiang, Raileanu 2023, "A Study of Global and Episodic Bonuses for
Exploration in Contextual MDPs" (ICML). Episodic bonuses win when episodes share little
structure, global ones when much is shared; their product b = b_global · b_episodic (e.g.
``product(rnd,e3b)``, ``product(count,episodic_count)``) is robust across both. The sum is
the paper's ablation.

The two parts are built from spec strings (``product(rnd(lr=3e-4),e3b)``) or given as
:class:`Bonus` objects; the state is the tuple of their states, ``reward`` combines their
rewards computed on the same batch from the same pre-update states, and ``update`` updates
both. No class per pair.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.bonuses import make, register
from agents.bonuses.base import Bonus, Metrics, Transitions
from envs.spaces import Box, Discrete


def _build(part: str | Bonus) -> Bonus:
    return part if isinstance(part, Bonus) else make(part)


class Compose(Bonus):
    """Two bonuses combined pointwise by ``combine``."""

    name = "compose"
    #: how the two rewards combine: "product" or "sum"
    mode = "product"

    def __init__(self, first: str | Bonus, second: str | Bonus):
        self.first, self.second = _build(first), _build(second)
        self.episodic = self.first.episodic or self.second.episodic
        self.name = f"{self.mode}({self.first.name},{self.second.name})"

    def combine(self, a: jax.Array, b: jax.Array) -> jax.Array:
        return a * b if self.mode == "product" else a + b

    def init(self, key: jax.Array, obs_space: Box, action_space: Discrete, num_envs: int):
        k1, k2 = jax.random.split(key)
        return (
            self.first.init(k1, obs_space, action_space, num_envs),
            self.second.init(k2, obs_space, action_space, num_envs),
        )

    def reward(self, state: tuple, batch: Transitions) -> jax.Array:
        return self.combine(
            self.first.reward(state[0], batch), self.second.reward(state[1], batch)
        ).astype(jnp.float32)

    def update(self, state: tuple, batch: Transitions) -> tuple[tuple, Metrics]:
        s1, m1 = self.first.update(state[0], batch)
        s2, m2 = self.second.update(state[1], batch)
        return (s1, s2), self._metrics(m1, m2)

    def reward_and_update(self, state: tuple, batch: Transitions):
        r1, s1, m1 = self.first.reward_and_update(state[0], batch)
        r2, s2, m2 = self.second.reward_and_update(state[1], batch)
        metrics = self._metrics(m1, m2)
        metrics["first_reward_mean"] = jnp.mean(r1)
        metrics["second_reward_mean"] = jnp.mean(r2)
        return self.combine(r1, r2).astype(jnp.float32), (s1, s2), metrics

    def _metrics(self, m1: Metrics, m2: Metrics) -> Metrics:
        # Prefixes keep the two parts apart even when both report e.g. "overflow_visits".
        p1, p2 = self.first.name, self.second.name
        if p1 == p2:
            p1, p2 = f"{p1}#1", f"{p2}#2"
        return {
            **{f"{p1}/{k}": v for k, v in m1.items()},
            **{f"{p2}/{k}": v for k, v in m2.items()},
        }


class Product(Compose):
    """``product(a, b)``: b = b_a · b_b (global × episodic)."""

    mode = "product"


class Sum(Compose):
    """``sum(a, b)``: b = b_a + b_b (the ablation of the product)."""

    mode = "sum"


register("product", Product)
register("sum", Sum)
