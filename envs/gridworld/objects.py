"""Cell codes of the gridworld: one uint8 per cell that encodes MiniGrid's
(object, colour, state) triple, plus lookup tables of what each code can do.

One byte per cell keeps grids small (a batch of 4096 DoorKey-16x16 grids is 4 MB) and makes
every rule a table lookup instead of a branch. The observation decodes codes back to
MiniGrid's three channels (``OBS_TABLE``), so agents see the standard encoding.
"""

from __future__ import annotations

import numpy as np

# MiniGrid's OBJECT_TO_IDX, COLOR_TO_IDX and STATE_TO_IDX (minigrid/core/constants.py),
# plus TV for the noisy-TV axis.
OBJECTS = (
    "unseen",
    "empty",
    "wall",
    "floor",
    "door",
    "key",
    "ball",
    "box",
    "goal",
    "lava",
    "agent",
    "tv",
)
OBJ = {name: i for i, name in enumerate(OBJECTS)}
COLOURS = ("red", "green", "blue", "purple", "yellow", "grey")
COLOUR = {name: i for i, name in enumerate(COLOURS)}
DOOR_OPEN, DOOR_CLOSED, DOOR_LOCKED = 0, 1, 2
NUM_OBJECTS, NUM_COLOURS, NUM_STATES = len(OBJECTS), len(COLOURS), 3

UNSEEN = 0
EMPTY = 1
WALL = 2
FLOOR = 3
GOAL = 4
LAVA = 5
NUM_CODES = 96


def key(colour: int) -> int:
    """Code of a key of ``colour``."""
    return 8 + colour


def ball(colour: int) -> int:
    """Code of a ball of ``colour``."""
    return 16 + colour


def door(colour: int, state: int) -> int:
    """Code of a door of ``colour`` in ``state`` (open 0, closed 1, locked 2)."""
    return 24 + 3 * colour + state


def box(colour: int, contains_key: int = -1) -> int:
    """Code of a box of ``colour``; ``contains_key`` is the colour of a key inside (-1: empty)."""
    return 48 + 7 * colour + (contains_key + 1)


def _tables() -> dict[str, np.ndarray]:
    obs = np.zeros((NUM_CODES, 3), np.uint8)
    can_overlap = np.zeros(NUM_CODES, bool)
    can_pickup = np.zeros(NUM_CODES, bool)
    see_behind = np.ones(NUM_CODES, bool)
    toggled = np.arange(NUM_CODES, dtype=np.uint8)  # what toggling turns a cell into
    valid = np.zeros(NUM_CODES, bool)

    def define(code, obj, colour=0, state=0):
        obs[code] = (OBJ[obj], colour, state)
        valid[code] = True

    define(UNSEEN, "unseen")
    define(EMPTY, "empty")
    define(WALL, "wall", COLOUR["grey"])
    define(FLOOR, "floor", COLOUR["blue"])
    define(GOAL, "goal", COLOUR["green"])
    define(LAVA, "lava", COLOUR["red"])
    can_overlap[[EMPTY, FLOOR, GOAL, LAVA]] = True
    see_behind[WALL] = False
    for c in range(NUM_COLOURS):
        define(key(c), "key", c)
        define(ball(c), "ball", c)
        can_pickup[[key(c), ball(c)]] = True
        for s in (DOOR_OPEN, DOOR_CLOSED, DOOR_LOCKED):
            define(door(c, s), "door", c, s)
        can_overlap[door(c, DOOR_OPEN)] = True
        see_behind[[door(c, DOOR_CLOSED), door(c, DOOR_LOCKED)]] = False
        toggled[door(c, DOOR_OPEN)] = door(c, DOOR_CLOSED)
        toggled[door(c, DOOR_CLOSED)] = door(c, DOOR_OPEN)
        # Locked doors open only with the matching key: handled in the step, not here.
        for inside in range(-1, NUM_COLOURS):
            define(box(c, inside), "box", c)
            can_pickup[box(c, inside)] = True
            toggled[box(c, inside)] = EMPTY if inside < 0 else key(inside)
    return {
        "obs": obs,
        "can_overlap": can_overlap,
        "can_pickup": can_pickup,
        "see_behind": see_behind,
        "toggled": toggled,
        "valid": valid,
    }


TABLES = _tables()


def describe(code: int) -> str:
    """Human-readable name of a cell code, e.g. 'locked yellow door'."""
    obj, colour, state = (int(v) for v in TABLES["obs"][code])
    name = OBJECTS[obj]
    if name in ("key", "ball", "box", "door"):
        name = f"{COLOURS[colour]} {name}"
    if OBJECTS[obj] == "door":
        name = f"{('open', 'closed', 'locked')[state]} {name}"
    return name


# ---------------------------------------------------------------------------------------
# Events: int codes in info["event"] with a caption table (read by LLM-feedback rewards).
PICKABLE_KINDS = ("key", "ball", "box")


def _captions() -> tuple[str, ...]:
    captions = ["", "You reach the goal.", "You step into the lava.", "You bump into an obstacle."]
    for verb in ("pick up", "drop"):
        for kind in PICKABLE_KINDS:
            captions += [f"You {verb} the {c} {kind}." for c in COLOURS]
    captions += [f"You unlock the {c} door." for c in COLOURS]
    captions += [f"The {c} door opens." for c in COLOURS]
    captions += [f"You close the {c} door." for c in COLOURS]
    captions += [f"You open the {c} box." for c in COLOURS]
    captions += ["The locked door does not open.", "You turn on the TV. It shows static."]
    return tuple(captions)


CAPTIONS = _captions()
EVENT_GOAL, EVENT_LAVA, EVENT_BUMP = 1, 2, 3
EVENT_PICKUP = 4  # + 6 * kind + colour
EVENT_DROP = EVENT_PICKUP + 18
EVENT_UNLOCK = EVENT_DROP + 18
EVENT_OPEN = EVENT_UNLOCK + 6
EVENT_CLOSE = EVENT_OPEN + 6
EVENT_OPEN_BOX = EVENT_CLOSE + 6
EVENT_LOCKED = EVENT_OPEN_BOX + 6
EVENT_TV = EVENT_LOCKED + 1
assert len(CAPTIONS) == EVENT_TV + 1


def _event_tables() -> tuple[np.ndarray, np.ndarray]:
    # Event when a code is picked up / dropped (0 for codes that cannot be carried).
    pickup = np.zeros(NUM_CODES, np.int32)
    drop = np.zeros(NUM_CODES, np.int32)
    for code in range(NUM_CODES):
        if TABLES["can_pickup"][code]:
            obj, colour, _ = TABLES["obs"][code]
            kind = PICKABLE_KINDS.index(OBJECTS[obj])
            pickup[code] = EVENT_PICKUP + 6 * kind + colour
            drop[code] = EVENT_DROP + 6 * kind + colour
    return pickup, drop


PICKUP_EVENT, DROP_EVENT = _event_tables()
