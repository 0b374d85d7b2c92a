"""MiniHack tasks of the global-vs-episodic study, with a compact observation for the networks.

References:

* Samvelyan et al. 2021, "MiniHack the Planet: A Sandbox for Open-Ended Reinforcement
  Learning Research" (NeurIPS Datasets and Benchmarks) — the environments.
* Henaff, Raileanu, Jiang, Rocktäschel 2022, "Exploration via Elliptical Episodic Bonuses"
  (E3B, NeurIPS) — the suite of sparse-reward MiniHack tasks, the observation used by its
  networks (glyph crop, message, bottom-line stats) and the glyph-embedding encoder.
* Henaff, Jiang, Raileanu 2023, "A Study of Global and Episodic Bonuses for Exploration in
  Contextual MDPs" (ICML) — reports global, episodic and combined bonuses on 16 tasks of the
  E3B suite.

The task list (:data:`STUDY_TASKS`) is E3B's ``ALL_TASKS`` (facebookresearch/e3b,
``e3b_minihack/sweep_slurm.py``), on which the 2023 study reports its MiniHack results:

========================================  ==============================================
E3B id                                    id in stock ``minihack 1.0.2``
========================================  ==============================================
MiniHack-KeyRoom-S5-v0                    same
MiniHack-MultiRoom-N4-Locked-v0           same
MiniHack-MultiRoom-N6-Locked-v0           same
MiniHack-MultiRoom-N6-Lava-v0             same
MiniHack-MultiRoom-N6-Lava-OpenDoor-v0    same
MiniHack-MultiRoom-N6-LavaMonsters-v0     same
MiniHack-MultiRoom-N10-v0                 same
MiniHack-MultiRoom-N10-OpenDoor-v0        same
MiniHack-MultiRoom-N10-Lava-v0            same
MiniHack-MultiRoom-N10-Lava-OpenDoor-v0   same
MiniHack-LavaCrossingS19N13-v0            same
MiniHack-LavaCrossingS19N17-v0            same
MiniHack-Labyrinth-Small-v0               same
MiniHack-Labyrinth-Big-v0                 same
MiniHack-LavaCross-Levitate-Potion-       MiniHack-LavaCross-Levitate-Potion-Pickup-
Pickup-v1                                 Restricted-v0
MiniHack-Levitate-Potion-v1               MiniHack-Levitate-Potion-Restricted-v0
MiniHack-Levitate-Ring-v1                 MiniHack-Levitate-Ring-Restricted-v0
MiniHack-Levitate-Boots-v1                MiniHack-Levitate-Boots-Restricted-v0
MiniHack-WoD-Medium-v1                    MiniHack-WoD-Medium-Restricted-v0
MiniHack-Freeze-Horn-v1                   MiniHack-Freeze-Horn-Restricted-v0
MiniHack-Freeze-Wand-v1                   MiniHack-Freeze-Wand-Restricted-v0
MiniHack-Freeze-Random-v1                 MiniHack-Freeze-Random-Restricted-v0
========================================  ==============================================

The ``-v1`` skill tasks exist only in E3B's fork of MiniHack, where ``v1`` means "restricted
action set"; stock MiniHack ships the same restriction as ``-Restricted-v0`` (same objects,
a few more actions in some tasks), which is what we use. Which 16 of these 22 the 2023 paper
kept is in its appendix; we list all 22. :data:`EXTRA_TASKS` adds further sparse navigation
tasks named in our issue (River, Corridor, KeyRoom, MultiRoom variants) that are not part
of the study's list.

Observation (:class:`CompactObservation`): a ``gymnasium.spaces.Dict`` of

* ``glyphs``  — ``int16 [crop, crop]`` glyph ids around the agent (NLE's ``glyphs_crop``),
* ``message`` — ``uint8 [256]`` the bytes of the game message,
* ``blstats`` — ``float32 [27]`` the bottom-line statistics (position, HP, depth, time, ...).

The bonus sees ``glyphs`` (shape ``[crop, crop, 1]``, see :func:`bonus_view`); the policy
sees all three through :class:`GlyphCNN`, an SB3 features extractor (glyph embedding → CNN,
message byte embedding → mean pool, symlog of stats → MLP). The decoded message is the
caption for LLM feedback: ``info["caption"]`` (text) and ``info["event"]`` (a stable int code
of the text, 0 = no message), as our gridworlds' ``info["event"]``. ``info["success"]`` says
whether the task was solved; NLE's time limit (``end_status == ABORTED``) is reported as
``truncated`` (it comes from NLE as ``terminated``), so value targets bootstrap through it.
"""

from __future__ import annotations

import zlib
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

STUDY_TASKS: dict[str, str] = {
    "MiniHack-KeyRoom-S5-v0": "MiniHack-KeyRoom-S5-v0",
    "MiniHack-MultiRoom-N4-Locked-v0": "MiniHack-MultiRoom-N4-Locked-v0",
    "MiniHack-MultiRoom-N6-Locked-v0": "MiniHack-MultiRoom-N6-Locked-v0",
    "MiniHack-MultiRoom-N6-Lava-v0": "MiniHack-MultiRoom-N6-Lava-v0",
    "MiniHack-MultiRoom-N6-Lava-OpenDoor-v0": "MiniHack-MultiRoom-N6-Lava-OpenDoor-v0",
    "MiniHack-MultiRoom-N6-LavaMonsters-v0": "MiniHack-MultiRoom-N6-LavaMonsters-v0",
    "MiniHack-MultiRoom-N10-v0": "MiniHack-MultiRoom-N10-v0",
    "MiniHack-MultiRoom-N10-OpenDoor-v0": "MiniHack-MultiRoom-N10-OpenDoor-v0",
    "MiniHack-MultiRoom-N10-Lava-v0": "MiniHack-MultiRoom-N10-Lava-v0",
    "MiniHack-MultiRoom-N10-Lava-OpenDoor-v0": "MiniHack-MultiRoom-N10-Lava-OpenDoor-v0",
    "MiniHack-LavaCrossingS19N13-v0": "MiniHack-LavaCrossingS19N13-v0",
    "MiniHack-LavaCrossingS19N17-v0": "MiniHack-LavaCrossingS19N17-v0",
    "MiniHack-Labyrinth-Small-v0": "MiniHack-Labyrinth-Small-v0",
    "MiniHack-Labyrinth-Big-v0": "MiniHack-Labyrinth-Big-v0",
    "MiniHack-LavaCross-Levitate-Potion-Pickup-v1": "MiniHack-LavaCross-Levitate-Potion-Pickup-Restricted-v0",
    "MiniHack-Levitate-Potion-v1": "MiniHack-Levitate-Potion-Restricted-v0",
    "MiniHack-Levitate-Ring-v1": "MiniHack-Levitate-Ring-Restricted-v0",
    "MiniHack-Levitate-Boots-v1": "MiniHack-Levitate-Boots-Restricted-v0",
    "MiniHack-WoD-Medium-v1": "MiniHack-WoD-Medium-Restricted-v0",
    "MiniHack-Freeze-Horn-v1": "MiniHack-Freeze-Horn-Restricted-v0",
    "MiniHack-Freeze-Wand-v1": "MiniHack-Freeze-Wand-Restricted-v0",
    "MiniHack-Freeze-Random-v1": "MiniHack-Freeze-Random-Restricted-v0",
}
"""E3B / global-vs-episodic task id → the stock MiniHack id we build."""

EXTRA_TASKS: tuple[str, ...] = (
    "MiniHack-Room-5x5-v0",  # smoke tests and benchmarks
    "MiniHack-MultiRoom-N2-v0",
    "MiniHack-MultiRoom-N4-v0",
    "MiniHack-MultiRoom-N6-v0",
    "MiniHack-KeyRoom-Fixed-S5-v0",  # the same layout every episode: a "shared structure" control
    "MiniHack-KeyRoom-S15-v0",
    "MiniHack-River-Narrow-v0",
    "MiniHack-River-v0",
    "MiniHack-River-Lava-v0",
    "MiniHack-Corridor-R2-v0",
    "MiniHack-Corridor-R3-v0",
    "MiniHack-Corridor-R5-v0",
)
"""Further sparse tasks (not in the study's list)."""

CROP = 9
MESSAGE_LEN = 256
NUM_BLSTATS = 27
NUM_GLYPHS = 5976  # nle.nethack.MAX_GLYPH (1.3.0); ids are 0 .. NUM_GLYPHS - 1, plus padding
_ABORTED = -1  # NLE StepStatus.ABORTED: the episode hit max_episode_steps
_SUCCESS = 2  # MiniHack StepStatus.TASK_SUCCESSFUL


def resolve(task: str) -> str:
    """Map a study id (E3B's ``-v1`` names included) to the stock MiniHack id."""
    return STUDY_TASKS.get(task, task)


# The goal of each task family in words, for LLM-feedback prompts (ONI asks whether a
# message helps with "the task"). Paraphrased from the MiniHack documentation's task pages
# (Samvelyan et al. 2021): every navigation task ends on the staircase down.
_GOALS: tuple[tuple[str, str], ...] = (
    (
        "KeyRoom",
        "pick up the key, unlock the door of the room with it and reach the staircase down",
    ),
    (
        "LavaCross-Levitate",
        "pick up the potion of levitation, drink it, float over the lava and reach the "
        "staircase down",
    ),
    ("LavaCrossing", "cross the lava without stepping into it and reach the staircase down"),
    ("Levitate", "use the item to levitate over the lava and reach the staircase down"),
    ("Freeze", "freeze the lava with the wand or horn, cross it and reach the staircase down"),
    ("WoD", "kill the minotaur with the wand of death and reach the staircase down"),
    ("River", "push boulders into the water to cross the river and reach the staircase down"),
    ("MultiRoom", "go through the rooms, opening doors, and reach the staircase down"),
    ("Labyrinth", "find the way through the labyrinth to the staircase down"),
    ("Corridor", "follow the corridors between the rooms and reach the staircase down"),
    ("Room", "reach the staircase down in the room"),
)


def task_description(env_id: str) -> str:
    """The goal of a MiniHack task in words (for LLM-feedback rewards); generic otherwise."""
    family = env_id.removeprefix("MiniHack-")
    for prefix, goal in _GOALS:
        if family.startswith(prefix):
            return goal
    return "explore the dungeon level and reach the staircase down"


def is_minihack(env_id: str) -> bool:
    """Whether a Gymnasium id names a MiniHack task."""
    return env_id.startswith("MiniHack-")


def message_text(message: np.ndarray) -> str:
    """Decode NLE's zero-padded message bytes."""
    return bytes(np.asarray(message, np.uint8)).split(b"\0", 1)[0].decode("latin-1").strip()


def caption_code(text: str) -> int:
    """Stable int code of a caption (0 = no message), the same in every process."""
    return 0 if not text else (zlib.crc32(text.encode("latin-1")) & 0x7FFFFFFF) or 1


class CompactObservation(gymnasium.Wrapper):
    """NLE's ``glyphs_crop``/``message``/``blstats`` as a small Dict, plus captions and success."""

    bonus_key = "glyphs"

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self.observation_space = compact_space(crop=env.observation_space["glyphs_crop"].shape[0])

    @staticmethod
    def _compact(obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {
            "glyphs": np.asarray(obs["glyphs_crop"], np.int16),
            "message": np.asarray(obs["message"], np.uint8),
            "blstats": np.asarray(obs["blstats"], np.float32),
        }

    def _info(
        self, obs: dict[str, np.ndarray], info: dict[str, Any], success: bool
    ) -> dict[str, Any]:
        caption = message_text(obs["message"])
        return {**info, "success": success, "caption": caption, "event": caption_code(caption)}

    def reset(self, **kwargs: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset; ``info`` carries the opening message as caption."""
        obs, info = self.env.reset(**kwargs)
        return self._compact(obs), self._info(obs, info, False)

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Step; NLE's time-limit abort becomes ``truncated``."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        status = int(info.get("end_status", 0))
        if terminated and status == _ABORTED:
            terminated, truncated = False, True
        return (
            self._compact(obs),
            float(reward),
            bool(terminated),
            bool(truncated),
            self._info(obs, info, status == _SUCCESS),
        )


def compact_space(crop: int = CROP) -> spaces.Dict:
    """The compact observation space."""
    return spaces.Dict(
        {
            "glyphs": spaces.Box(0, NUM_GLYPHS, (crop, crop), np.int16),
            "message": spaces.Box(0, 255, (MESSAGE_LEN,), np.uint8),
            "blstats": spaces.Box(-np.inf, np.inf, (NUM_BLSTATS,), np.float32),
        }
    )


def make(task: str, crop: int = CROP, **kwargs: Any) -> CompactObservation:
    """A MiniHack task (study ids accepted) with the compact observation.

    ``kwargs`` go to ``gymnasium.make`` (e.g. ``max_episode_steps``, ``penalty_step``).
    """
    import minihack  # noqa: F401  (registers the MiniHack ids)

    env = gymnasium.make(
        resolve(task),
        observation_keys=("glyphs_crop", "message", "blstats"),
        obs_crop_h=crop,
        obs_crop_w=crop,
        **kwargs,
    )
    return CompactObservation(env)


def bonus_view(obs: dict[str, np.ndarray] | np.ndarray) -> np.ndarray:
    """What intrinsic rewards see of a compact observation ``[..., crop, crop]``: the glyph
    crop with a channel axis, ``[..., crop, crop, 1]`` (works for ``network=mlp`` and ``cnn``)."""
    glyphs = obs["glyphs"] if isinstance(obs, dict) else obs
    return np.asarray(glyphs)[..., None]


try:  # the extractor needs the torch extra; the wrapper does not
    import torch
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
    from torch import nn
except ImportError:  # pragma: no cover - exercised only without the torch extra
    torch = None


if torch is not None:

    class GlyphCNN(BaseFeaturesExtractor):
        """E3B-style encoder of the compact observation, as an SB3 features extractor.

        Glyph ids → ``nn.Embedding`` (``embed`` dims) → two 3×3 convolutions → flatten;
        message bytes → embedding → mean over non-zero bytes; bottom-line stats → symlog →
        linear. The three are concatenated and projected to ``features_dim``.
        """

        def __init__(
            self,
            observation_space: spaces.Dict,
            features_dim: int = 256,
            embed: int = 16,
            channels: int = 32,
            message_dim: int = 32,
            stats_dim: int = 32,
        ) -> None:
            super().__init__(observation_space, features_dim)
            crop = observation_space["glyphs"].shape[-1]
            self.glyph_embed = nn.Embedding(NUM_GLYPHS + 1, embed)
            self.conv = nn.Sequential(
                nn.Conv2d(embed, channels, 3, padding=1),
                nn.ELU(),
                nn.Conv2d(channels, channels, 3, padding=1),
                nn.ELU(),
                nn.Flatten(),
            )
            self.message_embed = nn.Embedding(256, message_dim, padding_idx=0)
            self.stats = nn.Sequential(
                nn.Linear(observation_space["blstats"].shape[-1], stats_dim), nn.ELU()
            )
            self.head = nn.Sequential(
                nn.Linear(channels * crop * crop + message_dim + stats_dim, features_dim), nn.ELU()
            )

        def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
            """Features ``[B, features_dim]`` of a batch of compact observations."""
            glyphs = obs["glyphs"].long().clamp(0, NUM_GLYPHS)
            g = self.conv(self.glyph_embed(glyphs).permute(0, 3, 1, 2))
            msg = obs["message"].long().clamp(0, 255)
            mask = (msg > 0).float().unsqueeze(-1)
            m = (self.message_embed(msg) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            stats = obs["blstats"].float()
            s = self.stats(torch.sign(stats) * torch.log1p(stats.abs()))
            return self.head(torch.cat([g, m, s], dim=-1))
