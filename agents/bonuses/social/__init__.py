"""Social intrinsic rewards for the agents of a social env (trained by ``agent=ippo``).

They read what no single-agent bonus needs: every agent's extrinsic reward
(``Transitions.reward``) and, for social influence, each policy under other agents'
counterfactual actions (``Transitions.logits``, ``Transitions.counterfactual_logits``), which
IPPO fills. IPPO folds the N agents of an env into the env axis (index ``env·N + agent``), so
the bonus sees ``E·N`` "envs"; :meth:`SocialBonus.bind` tells it N before ``init``.

Inequity aversion and SVO are utilities: the bonus returns the social term ``u_i − r_i``, and
the agent trains on ``ext_coef·r_i + int_coef·(u_i − r_i)``. That is exactly the paper's
``u_i`` (up to the overall scale, which PPO's advantage normalisation removes) when
``int_coef = ext_coef``, ``normalize_int_reward=false``, ``int_episodic=true`` and
``gamma_int = gamma_ext``: these are the bonuses' :data:`UTILITY_SETTINGS`, which a run
takes unless it sets them itself (``explore train --help`` lists them).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agents.bonuses.base import Bonus, Transitions
from agents.configs import SameAs

#: The agent settings under which a utility bonus trains the paper's u_i (module docstring).
UTILITY_SETTINGS = {
    "ext_coef": 1.0,
    "int_coef": 1.0,
    "normalize_int_reward": False,
    "int_episodic": True,
    "gamma_int": SameAs("gamma_ext"),
}


class SocialBonus(Bonus):
    """Base of the social rewards: knows the number of agents N of the env it serves."""

    # Declared (see agents.bonuses.base.Bonus): reads every agent's reward, so only agents
    # that train several agents accept it; ``utility`` / ``needs_counterfactuals`` are set by
    # the subclasses that are one.
    social = True
    num_agents: int | None = None

    def bind(self, num_agents: int) -> None:
        """Serve an env of ``num_agents`` agents (called by IPPO before ``init``)."""
        if num_agents < 2:
            raise ValueError(f"bonus {self.name!r}: a social reward needs ≥ 2 agents")
        self.num_agents = int(num_agents)

    @property
    def agents(self) -> int:
        """N, or a clear error when the bonus is used outside IPPO."""
        if self.num_agents is None:
            raise ValueError(
                f"bonus {self.name!r} is a social reward: train it with agent=ippo on a social "
                "env (CleanUp, Harvest-*, Coins)"
            )
        return self.num_agents

    def per_agent(self, x: jax.Array) -> jax.Array:
        """``[T, E·N, ...]`` → ``[T, E, N, ...]``."""
        return x.reshape(x.shape[0], -1, self.agents, *x.shape[2:])

    @staticmethod
    def folded(x: jax.Array) -> jax.Array:
        """``[T, E, N, ...]`` → ``[T, E·N, ...]``."""
        return x.reshape(x.shape[0], -1, *x.shape[3:])

    def rewards(self, batch: Transitions) -> jax.Array:
        """Every agent's extrinsic reward ``[T, E, N]``."""
        if batch.reward is None:
            raise ValueError(
                f"bonus {self.name!r} needs every agent's reward (Transitions.reward), which "
                "agent=ippo provides"
            )
        return self.per_agent(jnp.asarray(batch.reward, jnp.float32))
