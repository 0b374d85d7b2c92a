"""Multi-objective environments: vector rewards ``[m]`` over the suite's functional contract.

>>> import envs
>>> env, params = envs.make("DeepSeaTreasure-Concave")
>>> env.reward_dim, env.reward_space(params).shape, env.pareto_front(0.99).shape
(2, (2,), (10, 2))

The contract is in :mod:`envs.multiobjective.base`; the tasks are registered in
:mod:`envs.multiobjective.tasks`; weight sets for linear scalarisation are in
:mod:`envs.multiobjective.weights`.
"""

from envs.multiobjective.base import MOEnvironment, is_multiobjective

__all__ = ["MOEnvironment", "is_multiobjective"]
