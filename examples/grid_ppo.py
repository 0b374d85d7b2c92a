"""An agent: PPO for gridworlds only, whose learning rate follows the number of envs.

Shows the agent contract of :func:`agents.register`: a settings class (``PPOConfig`` plus
its own fields, each a pydantic ``Field`` with default and description: the ``grid_ppo.*``
section on the command line, in ``--help`` and in config.yaml), a runner class (a subclass of
``agents.ppo.PPO``, which ``explore train`` drives), and the envs it accepts, declared by the
class (``accepts``) rather than probed by the caller.

    explore train agent=grid_ppo env=Empty-5x5 grid_ppo.lr_ref_envs=8 \\
        --import examples/grid_ppo.py
    explore train agent=grid_ppo --help --import examples/grid_ppo.py
"""

from __future__ import annotations

from pydantic import Field

import agents
from agents.configs import PPOConfig
from agents.ppo import PPO


class GridPPOConfig(PPOConfig):
    """PPO's settings plus the number of envs at which ``lr`` applies as given."""

    lr_ref_envs: int = Field(
        0,
        ge=0,
        description="scale lr by num_envs / lr_ref_envs (linear scaling rule; 0: lr as given)",
    )


class GridPPO(PPO):
    """PPO for gridworlds, with the learning rate scaled to the number of envs."""

    @classmethod
    def accepts(cls, env) -> str | None:
        """PPO's envs (one agent, scalar reward) that are gridworlds (``env.task`` is set)."""
        reason = super().accepts(env)
        if reason is None and env.task is None:
            return f"{env.name} is not a gridworld; {cls.__name__} trains gridworlds only"
        return reason

    def __init__(self, env, env_params, bonus, cfg: GridPPOConfig) -> None:
        if cfg.lr_ref_envs:
            # Settings are frozen: the agent trains on a copy, the run records what was given.
            cfg = cfg.model_copy(update={"lr": cfg.lr * cfg.num_envs / cfg.lr_ref_envs})
        super().__init__(env, env_params, bonus, cfg)


agents.register("grid_ppo", GridPPO, GridPPOConfig, help="PPO for gridworlds, lr scaled by envs")
