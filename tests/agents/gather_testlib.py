"""Checks that an agent's gathered bootstrap values equal a full critic pass where GAE uses them."""

from __future__ import annotations

import jax
import numpy as np


def assert_gathered_values_match_full_pass(agent, num_envs: int) -> None:
    """Run one update of ``agent`` (PPO or a subclass), capturing its gathered next values and
    a full critic pass over every next observation; they must agree wherever the step was not
    terminal, and more than one pass of the gather must have been needed."""
    captured = {}
    gathered = agent._next_values

    def both(params, hidden0, traj, last_v_ext, last_v_int):
        out = gathered(params, hidden0, traj, last_v_ext, last_v_int)
        _, _, full_ext, full_int = agent._evaluate(params, hidden0, traj, traj.next_obs)
        captured.update(traj=traj, out=out, full=(full_ext, full_int))
        return out

    agent._next_values = both
    agent.update(agent.init(jax.random.PRNGKey(3)))
    traj = captured["traj"]
    truncated = np.asarray(traj.done & ~traj.terminated)
    assert truncated.sum() > num_envs  # more than one pass of the gather
    used = ~np.asarray(traj.terminated)
    for got, want in zip(captured["out"], captured["full"], strict=True):
        np.testing.assert_allclose(
            np.asarray(got)[used], np.asarray(want)[used], rtol=1e-5, atol=1e-6
        )
