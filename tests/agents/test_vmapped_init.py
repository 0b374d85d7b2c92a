"""Initialising under ``jax.vmap`` is safe and exact (issue: the batched-QR deadlock).

A vmapped ``init`` of networks with orthogonal kernels hung XLA's CPU runtime intermittently
on this 2-core machine: both threads blocked in ``ParallelBatchMap`` under ``OrthogonalQr``,
the batched QR of the orthogonal initialiser. The fix (``agents.networks.orthogonal``) draws
each key's matrix with an unbatched QR. Two checks:

* the defining property, for every bonus and for PPO, cheaply: the jaxpr of the init vmapped
  over 8 keys holds no batched QR (tracing only, nothing compiled);
* the real thing: vmapped inits over 8 keys run in a subprocess with a timeout, so a hang
  fails the test instead of stalling the suite (PPO with RDD, and every registered bonus
  through ``agents.bonuses.check``, what ``explore check bonus=SPEC`` runs).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from agents.bonuses import make, registered
from agents.bonuses.check import GRID, INIT_SEEDS, check_vmapped_init, prepare, small_spec
from agents.networks import orthogonal
from agents.ppo import PPO, PPOConfig
from envs.spaces import Discrete

ACTIONS = Discrete(7)
KEYS = jax.random.split(jax.random.PRNGKey(0), INIT_SEEDS)
# Every registered bonus (with the context it declares, e.g. ONI's captions), small.
BONUSES = [small_spec(name) for name in registered()]


def _qr_operand_shapes(jaxpr) -> list[tuple[int, ...]]:
    """Operand shapes of every QR in a jaxpr, including those inside scans, jits, loops."""
    shapes = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name in ("qr", "geqrf", "householder_product"):
            shapes.append(eqn.invars[0].aval.shape)
        for param in eqn.params.values():
            for sub in param if isinstance(param, list | tuple) else [param]:
                inner = getattr(sub, "jaxpr", sub)
                inner = getattr(inner, "jaxpr", inner)
                if hasattr(inner, "eqns"):
                    shapes.extend(_qr_operand_shapes(inner))
    return shapes


@pytest.mark.parametrize("spec", BONUSES)
def test_vmapped_bonus_init_has_no_batched_qr(spec):
    bonus, num_envs = prepare(spec)
    jaxpr = jax.make_jaxpr(jax.vmap(lambda k: bonus.init(k, GRID, ACTIONS, num_envs)))(KEYS)
    assert all(len(shape) == 2 for shape in _qr_operand_shapes(jaxpr.jaxpr))


@pytest.mark.parametrize("gru", [0, 4])
def test_vmapped_ppo_init_has_no_batched_qr(gru):
    env, params = envs.make("Empty-5x5")
    ppo = PPO(
        env, params, make("rnd(hidden=16,out_dim=8)"), PPOConfig(num_envs=4, hidden=8, gru=gru)
    )
    shapes = _qr_operand_shapes(jax.make_jaxpr(jax.vmap(ppo.init))(KEYS).jaxpr)
    assert shapes and all(len(shape) == 2 for shape in shapes)


def test_the_old_initialiser_would_have_been_caught():
    """The check above is not vacuous: flax's own orthogonal init batches its QR under vmap."""
    import flax.linen as nn

    init = nn.initializers.orthogonal(1.0)
    jaxpr = jax.make_jaxpr(jax.vmap(lambda k: init(k, (6, 4))))(KEYS).jaxpr
    assert _qr_operand_shapes(jaxpr) == [(8, 6, 4)]


def test_vmapped_orthogonal_equals_single_draws():
    """The batched rule draws each key's matrix alone: the same values as unbatched calls."""
    init = orthogonal(np.sqrt(2))
    batched = jax.jit(jax.vmap(lambda k: init(k, (6, 4))))(KEYS[:4])
    for i in range(4):
        single = init(KEYS[i], (6, 4))
        np.testing.assert_array_equal(np.asarray(batched[i]), np.asarray(single))
        np.testing.assert_allclose(single.T @ single, 2 * jnp.eye(4), atol=1e-5)
    # Nested vmaps (seeds × agents) take the same path.
    nested = jax.vmap(jax.vmap(lambda k: init(k, (6, 4))))(KEYS[:4].reshape(2, 2, -1))
    np.testing.assert_array_equal(np.asarray(nested).reshape(4, 6, 4), np.asarray(batched))


SCRIPT = textwrap.dedent(
    """
    import jax
    import envs
    from agents.bonuses import make
    from agents.ppo import PPO, PPOConfig

    keys = list(jax.random.split(jax.random.PRNGKey(0), 8))
    env, params = envs.make("Empty-5x5")
    ppo = PPO(env, params, make("rdd(hidden=16,out_dim=8)"), PPOConfig(num_envs=2, hidden=8))
    jax.block_until_ready(ppo.init_seeds(keys))
    print("ok", flush=True)
    """
)


def test_vmapped_init_runs_without_hanging():
    """PPO with RDD (the init seen hanging), 8 seeds, in a subprocess with a timeout."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok", done.stdout


def test_every_registered_bonus_inits_vmapped_in_a_fresh_process():
    """What ``explore check bonus=SPEC`` runs, for every registered bonus in one process."""
    assert "finishes" in check_vmapped_init(BONUSES, plugins=[])
