"""Functional JAX environments, their registry, and adapters (Gymnasium, gymnax).

>>> import envs
>>> env, params = envs.make("DoorKey-8x8", contexts=0)
>>> obs, state = env.reset(key, params)
"""

from envs.core import Environment, EnvParams
from envs.registry import make, register, registered

__all__ = ["EnvParams", "Environment", "make", "register", "registered"]
