"""Agents: PPO in JAX, the SB3 bridge, intrinsic rewards (bonuses/) and LLM feedback (llm/).

``agents.register(name, runner, config)`` adds an agent (:func:`agents.configs.register`);
importing this package imports nothing heavy (no JAX).
"""

from agents.configs import register, registered

__all__ = ["register", "registered"]
