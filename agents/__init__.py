"""Agents: PPO in JAX, the SB3 bridge, intrinsic rewards (bonuses/) and LLM feedback (llm/)."""
