"""The reference implementations' twins of our environments, shared by the tests.

Our registry name -> how to build the reference's own environment for the same task.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pygame's pkg_resources deprecation warning
    from minigrid.envs import MultiRoomEnv

# MiniGrid: a registered id, or a constructor where MiniGrid registers none.
MINIGRID_TWINS = {
    "Empty-5x5": "MiniGrid-Empty-5x5-v0",
    "Empty-8x8": "MiniGrid-Empty-8x8-v0",
    "Empty-16x16": "MiniGrid-Empty-16x16-v0",
    "DoorKey-5x5": "MiniGrid-DoorKey-5x5-v0",
    "DoorKey-8x8": "MiniGrid-DoorKey-8x8-v0",
    "DoorKey-16x16": "MiniGrid-DoorKey-16x16-v0",
    "FourRooms": "MiniGrid-FourRooms-v0",
    "MultiRoom-N2-S4": "MiniGrid-MultiRoom-N2-S4-v0",
    "MultiRoom-N4-S5": "MiniGrid-MultiRoom-N4-S5-v1",  # v0 is MiniGrid's legacy 6-room config
    "MultiRoom-N6": "MiniGrid-MultiRoom-N6-v0",
    "MultiRoom-N7-S8": lambda: MultiRoomEnv(7, 7, 8),
    "MultiRoom-N12-S10": lambda: MultiRoomEnv(12, 12, 10),
    "KeyCorridorS3R1": "MiniGrid-KeyCorridorS3R1-v0",
    "KeyCorridorS3R3": "MiniGrid-KeyCorridorS3R3-v0",
    "KeyCorridorS4R3": "MiniGrid-KeyCorridorS4R3-v0",
    "KeyCorridorS5R3": "MiniGrid-KeyCorridorS5R3-v0",
    "KeyCorridorS6R3": "MiniGrid-KeyCorridorS6R3-v0",
    "ObstructedMaze-1Dl": "MiniGrid-ObstructedMaze-1Dl-v0",
    "ObstructedMaze-2Dlh": "MiniGrid-ObstructedMaze-2Dlh-v0",
}

# MO-Gymnasium: (id, keyword arguments of its make).
MO_GYMNASIUM_TWINS = {
    "DeepSeaTreasure": ("deep-sea-treasure-v0", {}),
    "DeepSeaTreasure-Concave": ("deep-sea-treasure-concave-v0", {}),
    "DeepSeaTreasure-Mirrored": ("deep-sea-treasure-mirrored-v0", {}),
    "ResourceGathering": ("resource-gathering-v0", {}),
    "FruitTree-5": ("fruit-tree-v0", {"depth": 5}),
    "FruitTree-6": ("fruit-tree-v0", {"depth": 6}),
    "FruitTree-7": ("fruit-tree-v0", {"depth": 7}),
}
