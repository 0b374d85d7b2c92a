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

from typing import Any

import jax
import jax.numpy as jnp

from agents.bonuses import accepted_kwargs, make, register
from agents.bonuses.base import Bonus, Metrics, Transitions
from envs.spaces import Box, Discrete


def _build(part: str | Bonus, context: dict[str, Any]) -> Bonus:
    if isinstance(part, Bonus):
        return part
    return make(part, **accepted_kwargs(part, context))


class Compose(Bonus):
    """Two bonuses combined pointwise by ``combine``."""

    name = "compose"
    #: how the two rewards combine: "product" or "sum"
    mode = "product"

    def __init__(self, first: str | Bonus, second: str | Bonus, **context: Any):
        # ``context`` (e.g. an env's ``captions`` and ``task`` for ``oni``) goes to the parts
        # that accept it.
        self.first, self.second = _build(first, context), _build(second, context)
        # The composite declares what either part declares (agents read these, not the parts).
        parts = self._parts()
        self.episodic = any(part.episodic for part in parts)
        self.host_work = any(part.host_work for part in parts)
        self.social = any(part.social for part in parts)
        self.utility = any(part.utility for part in parts)
        self.needs_counterfactuals = any(part.needs_counterfactuals for part in parts)
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

    # -- declared hooks: forwarded to both parts (the base's no-ops where a part has none) -
    def _parts(self) -> tuple[Bonus, Bonus]:
        return self.first, self.second

    def bind(self, num_agents: int) -> None:
        """Tell both parts the number of agents (social parts need it)."""
        for part in self._parts():
            part.bind(num_agents)

    def sync(self, state: tuple, events: Any = None) -> tuple:
        """Run each part's ``sync`` (host code between jitted chunks) on its own state."""
        return tuple(part.sync(sub, events) for part, sub in zip(self._parts(), state, strict=True))

    def host_metrics(self) -> dict[str, float]:
        """The parts' host-side counters, merged."""
        out: dict[str, float] = {}
        for part in self._parts():
            out.update(part.host_metrics())
        return out

    def services(self) -> list[Any]:
        """The parts' background services."""
        return [service for part in self._parts() for service in part.services()]

    def close(self, wait: bool = True) -> None:
        """Close the parts that hold background resources (labelling threads)."""
        for part in self._parts():
            part.close(wait=wait)

    @property
    def vocabulary(self) -> Any:
        """The first part's open caption vocabulary, if any (see ``oni``)."""
        for part in self._parts():
            if part.vocabulary is not None:
                return part.vocabulary
        return None

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


register("product", Product, example="product(count,episodic_count)")
register("sum", Sum, example="sum(count,episodic_count)")
