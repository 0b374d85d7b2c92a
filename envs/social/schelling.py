"""Schelling diagrams (Schelling 1973; Perolat et al. 2017; Hughes et al. 2018) in JAX.

For k = 0 … N−1 other cooperators: the mean episode return of one cooperator and of one
defector. Every population c = 0 … N of scripted cooperators (``envs.social.scripted``)
plays ``episodes`` episodes per seed, with the roles shuffled over the agent slots each
episode; a population with c cooperators gives the cooperator payoff at k = c − 1 (the
mean over its cooperators) and the defector payoff at k = c (the mean over its
defectors). All populations, episodes of one seed run in one vmapped, jitted rollout.

An environment is a social dilemma here when (a) defecting pays the individual —
D(k) > C(k) at every k — and (b) full cooperation pays the group more than full
defection — C(N−1) > D(0) (Leibo et al. 2017's conditions). :meth:`SchellingResult.verdict`
applies them to the means and, to decide, to the 95% intervals: a condition holds ("yes")
when the two intervals are apart in its direction, fails ("no") when they are apart the
other way or touch (two equal constants, e.g. nobody ever eats), and is "undecided" when
they overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from envs.social.base import GridSocialEnv, SocialParams
from envs.social.scripted import scripted_policy


@dataclass
class SchellingResult:
    """Per-k samples (one value per episode) of the cooperator and defector payoffs."""

    num_agents: int
    cooperator: list[np.ndarray]  # index k: episode means of cooperators with k others
    defector: list[np.ndarray]  # index k: episode means of defectors with k others cooperating
    steps: int

    def merge(self, other: SchellingResult) -> SchellingResult:
        """The samples of both results (more episodes of the same diagram)."""
        if (other.num_agents, other.steps) != (self.num_agents, self.steps):
            raise ValueError("merge: the results differ in agents or episode length")
        return SchellingResult(
            self.num_agents,
            [np.concatenate(p) for p in zip(self.cooperator, other.cooperator, strict=True)],
            [np.concatenate(p) for p in zip(self.defector, other.defector, strict=True)],
            self.steps,
        )

    @staticmethod
    def _interval(samples: np.ndarray) -> tuple[float, float, float]:
        mean = float(samples.mean())
        half = (
            1.96 * float(samples.std(ddof=1)) / np.sqrt(len(samples)) if len(samples) > 1 else 0.0
        )
        return mean, mean - half, mean + half

    def rows(self) -> list[dict]:
        """One row per k: means and 95% normal intervals over episodes × seeds."""
        rows = []
        for k in range(self.num_agents):
            c, c_lo, c_hi = self._interval(self.cooperator[k])
            d, d_lo, d_hi = self._interval(self.defector[k])
            rows.append(
                {
                    "other_cooperators": k,
                    "cooperator": c,
                    "cooperator_lo": c_lo,
                    "cooperator_hi": c_hi,
                    "defector": d,
                    "defector_lo": d_lo,
                    "defector_hi": d_hi,
                    "episodes": len(self.cooperator[k]),
                }
            )
        return rows

    @staticmethod
    def decide(greater: tuple[float, float], smaller: tuple[float, float]) -> str:
        """``"yes"`` when interval ``greater`` lies above ``smaller``, ``"no"`` when it lies at
        or below it, ``"undecided"`` when they overlap. Intervals are ``(lo, hi)``."""
        if greater[0] > smaller[1]:
            return "yes"
        if greater[1] <= smaller[0]:
            return "no"
        return "undecided"

    def verdict(self) -> dict[str, object]:
        """Whether the two dilemma conditions hold: on the means, and decided by the intervals.

        ``defection_pays`` lists the decision per k; ``cooperation_pays_the_group_decided``
        that of C(N−1) > D(0); ``decided`` is "yes" when every condition is "yes", "no" when
        any is "no", else "undecided".
        """
        rows = self.rows()
        defect_pays = [r["defector"] > r["cooperator"] for r in rows]
        full_c, full_d = rows[-1]["cooperator"], rows[0]["defector"]
        pays = [
            self.decide(
                (r["defector_lo"], r["defector_hi"]), (r["cooperator_lo"], r["cooperator_hi"])
            )
            for r in rows
        ]
        group = self.decide(
            (rows[-1]["cooperator_lo"], rows[-1]["cooperator_hi"]),
            (rows[0]["defector_lo"], rows[0]["defector_hi"]),
        )
        every = [*pays, group]
        decided = (
            "yes" if all(d == "yes" for d in every) else "no" if "no" in every else "undecided"
        )
        return {
            "defection_pays": pays,
            "cooperation_pays_the_group_decided": group,
            "decided": decided,
            "defection_pays_at": [
                r["other_cooperators"] for r, ok in zip(rows, defect_pays, strict=True) if ok
            ],
            "defection_pays_everywhere": all(defect_pays),
            "full_cooperation": full_c,
            "full_defection": full_d,
            "cooperation_pays_the_group": full_c > full_d,
            "is_dilemma": all(defect_pays) and full_c > full_d,
        }


def schelling(
    env: GridSocialEnv,
    params: SocialParams,
    steps: int,
    episodes: int,
    seeds: int = 1,
    seed: int = 0,
    policy_options: dict[str, float] | None = None,
    first: int = 0,
) -> SchellingResult:
    """Play every population of cooperators for fixed-length episodes of ``steps`` steps.

    Seeds ``first … first + seeds − 1`` run (batch ``s`` from ``PRNGKey(seed · 1000 + s)``),
    so a later call with ``first`` = the seeds run so far adds episodes to a diagram
    (:meth:`SchellingResult.merge`). ``policy_options`` go to
    :func:`envs.social.scripted.scripted_policy`.
    """
    n = env.num_agents
    params = params.replace(max_steps_in_episode=steps, min_steps=steps, end_probability=0.0)
    policy = scripted_policy(env, **(policy_options or {}))
    counts = np.repeat(np.arange(n + 1), episodes)  # cooperators in each episode

    def episode(key, num_cooperators):
        k_reset, k_roles, k_run = jax.random.split(key, 3)
        _, state = env.reset_env(k_reset, params)
        cooperator = jax.random.permutation(k_roles, jnp.arange(n) < num_cooperators)

        def body(state, k):
            k_act, k_step = jax.random.split(k)
            action = policy(k_act, state, cooperator)
            _, state, reward, *_ = env.step_env(k_step, state, action, params)
            return state, reward

        rewards = jax.lax.scan(body, state, jax.random.split(k_run, steps))[1].sum(0)
        coop = jnp.where(cooperator, rewards, 0).sum() / jnp.maximum(cooperator.sum(), 1)
        defect = jnp.where(~cooperator, rewards, 0).sum() / jnp.maximum((~cooperator).sum(), 1)
        return coop, defect

    run = jax.jit(jax.vmap(episode))
    coop_all, defect_all = [], []
    for s in range(first, first + seeds):
        keys = jax.random.split(jax.random.PRNGKey(seed * 1000 + s), len(counts))
        coop, defect = run(keys, jnp.asarray(counts))
        coop_all.append(np.asarray(coop))
        defect_all.append(np.asarray(defect))
    coop_all, defect_all = np.concatenate(coop_all), np.concatenate(defect_all)
    counts_all = np.tile(counts, seeds)
    cooperator = [coop_all[counts_all == k + 1] for k in range(n)]
    defector = [defect_all[counts_all == k] for k in range(n)]
    return SchellingResult(n, cooperator, defector, steps)
