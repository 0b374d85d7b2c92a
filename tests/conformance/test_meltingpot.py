"""Conformance of ``envs.social`` against Melting Pot's own substrates (run by dmlab2d).

Every scenario is a tiny ASCII map with parameters forced to 0 or 1, driven by scripted
actions through both implementations in lockstep (``meltingpot_harness.Pair``); after each
step positions, orientations, presence, rewards and the visible map must agree exactly.
Where only random streams decide (which of two agents wins a cell, a growth probability
strictly between 0 and 1) the test compares outcome frequencies with a stated tolerance.

Needs the reference: ``pip install -e '.[conformance]'`` and
``python scripts/install_meltingpot.py`` (both run by ``make install``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from meltingpot_harness import REFERENCE_VERSION, Pair, Reference, available

_MISSING = available()


@pytest.fixture(autouse=True)
def _reference_installed() -> None:
    # Fail, not skip: a suite that passes without running the reference proves nothing.
    if _MISSING is not None:
        pytest.fail(f"Melting Pot reference missing: {_MISSING}; `make install` sets it up")


NOOP, FORWARD, BACKWARD, LEFT, RIGHT, TURN_L, TURN_R, ZAP, CLEAN = range(9)
N, E, S, W = range(4)
SEEDS = (1, 2, 3)
NO_HARVEST_REGROWTH = {"DensityRegrow": {"regrowthProbabilities": [0.0] * 4}}
HARVEST_ALWAYS = {"DensityRegrow": {"regrowthProbabilities": [1.0] * 4}}
NO_END = {"end_probability": 0.0}
CLEANUP_STILL = {  # no apple growth, no pollution
    "AppleGrow": {"maxAppleGrowthRate": 0.0},
    "DirtSpawner": {"dirtSpawnProbability": 0.0},
}
OURS_CLEANUP_STILL = {"max_apple_growth_rate": 0.0, "dirt_spawn_probability": 0.0}

# Which finding each test guards (docs/conformance/meltingpot.md is checked against this).
COMPARED = {
    "test_clean_up_agents_walk_onto_waste": "movement onto waste (Clean Up)",
    "test_moves_into_agents": "movement into other agents",
    "test_following_into_a_vacated_cell_is_the_known_difference": "following into a vacated cell",
    "test_standing_agent_collects_what_appears": "collection, incl. under a standing agent",
    "test_harvest_regrowth_by_neighbour_count": "regrowth by neighbour count (0-1 tables)",
    "test_harvest_regrowth_rate_under_a_standing_agent": "regrowth rate by neighbour count",
    "test_pollution_delay_and_under_a_standing_agent": "pollution, incl. under a standing agent",
    "test_apple_growth_against_waste_share": "apple growth against waste share",
    "test_zap_beam_reach_and_walls": "beam reach and walls",
    "test_mutual_zaps_in_one_step": "simultaneous zaps",
    "test_cooldowns": "zap and cleaning cooldowns",
    "test_absence_after_a_zap": "absence after a zap",
    "test_episode_end_steps": "episode-end steps",
    "test_observation_window": "the observation window",
}


def assert_same(pair: Pair) -> None:
    assert not pair.diffs, "\n".join(pair.diffs[:4])


# ----- movement ----------------------------------------------------------------------------
CLEANUP_WASTE_MAP = """
WWWWWWW
WPFFH W
W    PW
WBBBBBW
WWWWWWW
"""


@pytest.mark.parametrize("seed", SEEDS)
def test_clean_up_agents_walk_onto_waste(seed):
    pair = Pair("CleanUp", CLEANUP_WASTE_MAP, 2, CLEANUP_STILL, OURS_CLEANUP_STILL, NO_END, seed)
    pair.reset()
    a = pair.who(1, 1)
    pair.face({a: E})
    actions = [NOOP, NOOP]
    actions[a] = FORWARD
    pair.run([actions] * 3)
    assert_same(pair)
    assert tuple(pair.last[0].positions[a]) == (1, 4)  # over both waste cells


MOVES_MAP = """
WWWWWWW
WQ Q  W
W  P  W
WWWWWWW
"""


@pytest.mark.parametrize("seed", SEEDS)
def test_moves_into_agents(seed):
    """Into a standing agent fails; two agents into one free cell: exactly one wins."""
    pair = Pair("Harvest-Open", MOVES_MAP, 3, NO_HARVEST_REGROWTH, None, NO_END, seed)
    pair.reset()
    left, right, below = pair.who(1, 1), pair.who(1, 3), pair.who(2, 3)
    pair.face({left: E, right: W, below: N})
    actions = [NOOP] * 3
    actions[below] = FORWARD
    pair.step(actions)  # into the standing agent at (1, 3): fails
    assert_same(pair)
    assert tuple(pair.last[0].positions[below]) == (2, 3)
    actions = [NOOP] * 3
    actions[left] = actions[right] = FORWARD
    ref, ours = pair.ref.step(actions), pair.ours.step(actions)
    for snap in (ref, ours):
        at = [tuple(snap.positions[i]) for i in (left, right)]
        assert at.count((1, 2)) == 1, at


FOLLOW_MAP = """
WWWWWWW
WQQ  PW
W     W
WWWWWWW
"""


def test_following_into_a_vacated_cell_is_the_known_difference():
    """Two agents in a row step forward together: the one behind follows in Melting Pot
    about half the time (avatars move one by one in random order), never here (moves are
    simultaneous). Pinned so that the documented difference cannot drift: 40 episodes, the
    reference's share must lie in [0.25, 0.75] (≈ 3.2 sd of a fair coin)."""
    pair = Pair("Harvest-Open", FOLLOW_MAP, 2, NO_HARVEST_REGROWTH, None, NO_END, 5)
    followed = {"ref": 0, "ours": 0}
    episodes = 40
    for _ in range(episodes):
        pair.reset()
        pair.face({0: E, 1: E})
        back = pair.who(1, 1)
        ref, ours = pair.step([FORWARD, FORWARD])
        followed["ref"] += tuple(ref.positions[back]) == (1, 2)
        followed["ours"] += tuple(ours.positions[back]) == (1, 2)
    assert 0.25 <= followed["ref"] / episodes <= 0.75, followed
    assert followed["ours"] == 0


# ----- collection --------------------------------------------------------------------------
HARVEST_STAND_MAP = """
WWWWWWW
WQA QPW
W    PW
WWWWWWW
"""
CLEANUP_STAND_MAP = """
WWWWWWW
WPBBB W
WHHH PW
WWWWWWW
"""


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", ["Harvest-Open", "CleanUp", "Coins"])
def test_standing_agent_collects_what_appears(name, seed):
    """Growth forced to 1: paid 1, 0, 1, 0, ... in Harvest, 1 every step elsewhere."""
    if name == "Harvest-Open":
        pair = Pair(name, HARVEST_STAND_MAP, 2, HARVEST_ALWAYS,
                    {"regrowth_probabilities": (1.0,) * 4}, NO_END, seed)  # fmt: skip
        start, facing = (1, 1), E
    elif name == "CleanUp":
        pair = Pair(name, CLEANUP_STAND_MAP, 2,
                    {"AppleGrow": {"maxAppleGrowthRate": 1.0},
                     "DirtSpawner": {"dirtSpawnProbability": 0.0}},
                    {"max_apple_growth_rate": 1.0, "dirt_spawn_probability": 0.0},
                    NO_END, seed)  # fmt: skip
        start, facing = (1, 1), E
    else:
        from meltingpot.configs.substrates import coins

        pair = Pair(name, coins.get_ascii_map(4, 4, 4, 4), 2,
                    {"ChoiceCoinRegrow": {"regrowRate": 1.0}},
                    {"regrow_rate": 1.0, "min_width": 4, "max_width": 4,
                     "min_height": 4, "max_height": 4}, NO_END, seed)  # fmt: skip
        start, facing = (2, 3), W
    pair.reset()
    a = pair.who(*start)
    pair.face({a: facing})
    actions = [NOOP, NOOP]
    actions[a] = FORWARD
    steps = pair.run([actions] + [[NOOP, NOOP]] * 6)
    paid = [[float(s.rewards[a]) for s, _ in steps], [float(o.rewards[a]) for _, o in steps]]
    expected = [1.0, 0.0] * 3 + [1.0] if name == "Harvest-Open" else [1.0] * 7
    assert paid[0] == expected, paid  # the reference's finding, as stated in the docs
    assert paid[1] == paid[0]
    if name != "Coins":  # a coin's colour is drawn by each side's own random stream
        assert_same(pair)


# ----- regrowth, pollution, apple growth ---------------------------------------------------
REGROWTH_MAP = """
WWWWWWWWW
WQAAAAA W
W  A A QW
W   A  PW
WWWWWWWWW
"""


@pytest.mark.parametrize("count", [0, 1, 2, 3])
def test_harvest_regrowth_by_neighbour_count(count):
    """Only eaten apples with exactly ``count`` live neighbours (min 3) may regrow."""
    table = [0.0] * 4
    table[count] = 1.0
    pair = Pair("Harvest-Open", REGROWTH_MAP, 2, {"DensityRegrow": {"regrowthProbabilities": table}},
                {"regrowth_probabilities": tuple(table)}, NO_END, 1)  # fmt: skip
    pair.reset()
    a = pair.who(1, 1)
    pair.face({a: E})
    actions = [NOOP, NOOP]
    actions[a] = FORWARD
    pair.run([actions] * 6 + [[NOOP, NOOP]] * 4)
    assert_same(pair)


RATE_MAPS = {  # the standing agent's cell (1, 2) has 1 or 2 live neighbours within radius 2
    1: "WWWWWWW\nWQAA PW\nW    QW\nWWWWWWW",
    2: "WWWWWWW\nWQAA PW\nW A  QW\nWWWWWWW",
}
RATE_TABLE = (0.0, 0.5, 0.2, 0.2)


@pytest.mark.parametrize("count", [1, 2])
def test_harvest_regrowth_rate_under_a_standing_agent(count):
    """Regrowth probabilities strictly between 0 and 1: the rates must match the table.

    An agent eats the apple at (1, 2) and stands there; each regrowth is eaten at once, and
    the next may come two steps later at the earliest, then with probability p a step: the
    rewards form a renewal process of mean gap 1 + 1/p, so the reward rate is p / (1 + p).
    Each side's rate over 3 × 200 steps must lie within 4 sd of it (sd from the renewal
    variance, (1 − p)/p² / (1 + 1/p)³ per step).
    """
    p = RATE_TABLE[count]
    steps, rates = 200, {"ref": [], "ours": []}
    for seed in SEEDS:
        pair = Pair("Harvest-Open", RATE_MAPS[count], 2,
                    {"DensityRegrow": {"regrowthProbabilities": list(RATE_TABLE)}},
                    {"regrowth_probabilities": RATE_TABLE}, NO_END, seed)  # fmt: skip
        pair.reset()
        a = pair.who(1, 1)
        pair.face({a: E})
        actions = [NOOP, NOOP]
        actions[a] = FORWARD
        pair.step(actions)
        out = pair.run([[NOOP, NOOP]] * steps)
        rates["ref"].append(sum(float(r.rewards[a]) for r, _ in out))
        rates["ours"].append(sum(float(o.rewards[a]) for _, o in out))
    mean_gap = 1 + 1 / p
    sd = np.sqrt(len(SEEDS) * steps * ((1 - p) / p**2) / mean_gap**3) / (len(SEEDS) * steps)
    for side, paid in rates.items():
        rate = sum(paid) / (len(SEEDS) * steps)
        assert abs(rate - p / (1 + p)) < 4 * sd, (side, rate, p / (1 + p), sd)


CLEANUP_POLLUTION_MAP = """
WWWWWW
WPH  W
W   PW
WWWWWW
"""


@pytest.mark.parametrize("stand", [True, False])
@pytest.mark.parametrize("seed", SEEDS[:2])
def test_pollution_delay_and_under_a_standing_agent(seed, stand):
    """One clean river cell, pollution forced to 1 after the delay, an agent on it or not."""
    delay = 3
    forced = {
        "AppleGrow": {"maxAppleGrowthRate": 0.0},
        "DirtSpawner": {"dirtSpawnProbability": 1.0, "delayStartOfDirtSpawning": delay},
    }
    ours = {"max_apple_growth_rate": 0.0, "dirt_spawn_probability": 1.0,
            "dirt_spawn_delay": delay}  # fmt: skip
    pair = Pair("CleanUp", CLEANUP_POLLUTION_MAP, 2, forced, ours, NO_END, seed)
    pair.reset()
    a = pair.who(1, 1)
    pair.face({a: E})
    actions = [NOOP, NOOP]
    actions[a] = FORWARD if stand else NOOP
    pair.run([actions] + [[NOOP, NOOP]] * (delay + 1))  # onto (1, 2), then stand
    back = [NOOP, NOOP]
    back[a] = BACKWARD if stand else NOOP
    pair.step(back)
    assert_same(pair)
    from envs.social.base import WASTE

    assert pair.last[0].grid[1, 2] == WASTE
    if not stand:  # visible: polluted at the first step past the delay
        polluted = [bool(s.grid[1, 2] == WASTE) for s, _ in pair.history]
        assert polluted == [False] * delay + [True] * (len(pair.history) - delay)


CLEANUP_GROWTH_MAP = """
WWWWWWWWWW
WPBBBBBBBW
WBBBBBBBBW
WHHHH   PW
WWWWWWWWWW
"""


def test_apple_growth_against_waste_share():
    """p = 1 · min(1, (f − 0.5)/(0 − 0.5)): f = 0 → 1, f = ½ → 0 exactly; f = ¼ → ½."""
    growth = {"maxAppleGrowthRate": 1.0, "thresholdDepletion": 0.5}
    ours_growth = {"max_apple_growth_rate": 1.0, "threshold_depletion": 0.5,
                   "dirt_spawn_probability": 0.0}  # fmt: skip
    grown = {}
    for dirty in (0, 1, 2):
        river = "F" * dirty + "H" * (4 - dirty)
        ascii_map = CLEANUP_GROWTH_MAP.replace("HHHH", river)
        counts = []
        for seed in SEEDS:
            pair = Pair("CleanUp", ascii_map, 2,
                        {"AppleGrow": growth, "DirtSpawner": {"dirtSpawnProbability": 0.0}},
                        ours_growth, NO_END, seed)  # fmt: skip
            pair.reset()
            ref, ours = pair.step([NOOP, NOOP])
            from envs.social.base import APPLE

            counts.append(((ref.grid == APPLE).sum(), (ours.grid == APPLE).sum()))
            if dirty != 1:
                assert_same(pair)
        grown[dirty] = np.array(counts)
    cells = 15  # orchard cells not under an agent
    assert (grown[0] == cells).all() and (grown[2] == 0).all()
    # f = 1/4: each cell grows with probability 1/2; 45 draws a side, 4 sd ≈ 0.30.
    for side in (0, 1):
        share = grown[1][:, side].sum() / (cells * len(SEEDS))
        assert abs(share - 0.5) < 4 * np.sqrt(0.25 / (cells * len(SEEDS))), (side, share)


# ----- beams -------------------------------------------------------------------------------
def beam_map(target: tuple[int, int], walls: tuple[tuple[int, int], ...] = ()) -> str:
    """7×8 room; the shooter at (5, 3) faces north; ``target`` = (ahead, right) of it."""
    rows = [list("W      W") for _ in range(7)]
    rows[0] = rows[-1] = list("WWWWWWWW")
    rows[5][3] = "Q"
    rows[5 - target[0]][3 + target[1]] = "Q"
    rows[1][6] = "P"  # where a zapped agent respawns
    for ahead, right in walls:
        rows[5 - ahead][3 + right] = "W"
    return "\n".join("".join(r) for r in rows)


BEAM_CASES = {  # (target ahead, right), walls, hit? — Harvest-Open: length 3, radius 1
    "3 ahead": ((3, 0), (), True),
    "4 ahead": ((4, 0), (), False),
    "right 1, ahead 2": ((2, 1), (), True),
    "right 1, ahead 3": ((3, 1), (), False),
    "beside": ((0, 1), (), True),
    "behind": ((-1, 0), (), False),
    "wall beside, target ahead of it": ((1, 1), ((0, 1),), False),
    "wall ahead, target behind it": ((3, 0), ((2, 0),), False),
}


@pytest.mark.parametrize("case", list(BEAM_CASES))
def test_zap_beam_reach_and_walls(case):
    target, walls, hit = BEAM_CASES[case]
    pair = Pair("Harvest-Open", beam_map(target, walls), 2, NO_HARVEST_REGROWTH, None, NO_END)
    pair.reset()
    shooter = pair.who(5, 3)
    other = 1 - shooter
    pair.face({shooter: N})
    actions = [NOOP, NOOP]
    actions[shooter] = ZAP
    ref, _ = pair.step(actions)
    assert_same(pair)
    assert bool(ref.present[other]) == (not hit)


def test_mutual_zaps_in_one_step():
    pair = Pair("Harvest-Open", beam_map((2, 0)), 2, NO_HARVEST_REGROWTH, None, NO_END)
    pair.reset()
    low, high = pair.who(5, 3), pair.who(3, 3)
    pair.face({low: N, high: S})
    ref, _ = pair.step([ZAP, ZAP])
    assert_same(pair)
    assert not ref.present.any()  # both zapped in the same step


@pytest.mark.parametrize("name", ["Harvest-Open", "Harvest-Closed", "CleanUp"])
def test_cooldowns(name):
    """Fire every step: shots (READY_TO_SHOOT == 1 before one) and cleaning agree."""
    if name == "CleanUp":
        ascii_map = "WWWWWWW\nWPFFFFW\nW    PW\nWWWWWWW"
        pair = Pair(name, ascii_map, 2, CLEANUP_STILL, OURS_CLEANUP_STILL, NO_END)
        start, facing, fire = (1, 1), E, [ZAP, CLEAN]
    else:
        ascii_map = "WWWWWWW\nWQ   QW\nW    PW\nWWWWWWW"
        pair = Pair(name, ascii_map, 2, NO_HARVEST_REGROWTH, None, NO_END)
        start, facing, fire = (1, 1), N, [ZAP]
    pair.reset()
    a = pair.who(*start)
    pair.face({a: facing})
    ready_ref, ready_ours = [], []
    for t in range(12):
        actions = [NOOP, NOOP]
        actions[a] = fire[t % len(fire)] if name == "CleanUp" else ZAP
        ref, _ = pair.step(actions)
        ready_ref.append(float(ref.extra[f"{a + 1}.READY_TO_SHOOT"]) == 1.0)
        ready_ours.append(int(pair.ours.state.zap_cooldown[a]) == 0)
    assert_same(pair)
    assert ready_ref == ready_ours


@pytest.mark.parametrize(("name", "timeout"), [("Harvest-Open", 4), ("Harvest-Closed", 100),
                                               ("CleanUp", 50)])  # fmt: skip
def test_absence_after_a_zap(name, timeout):
    ascii_map = beam_map((1, 0))
    if name == "CleanUp":
        ascii_map = ascii_map.replace("Q", "P") + "\nWHHHHHHW\nWWWWWWWW"
        ascii_map = ascii_map.replace("WWWWWWWW\nWHHH", "W      W\nWHHH", 1)
        pair = Pair(name, ascii_map, 2, CLEANUP_STILL, OURS_CLEANUP_STILL, NO_END)
    else:
        pair = Pair(name, ascii_map, 2, NO_HARVEST_REGROWTH, None, NO_END)
    pair.reset()
    shooter = pair.who(5, 3)
    pair.face({shooter: N})
    actions = [NOOP, NOOP]
    actions[shooter] = ZAP
    steps = pair.run([actions] + [[NOOP, NOOP]] * (timeout + 2))
    # Respawn orientations are uniformly random in both: each side draws its own.
    assert not [d for d in pair.diffs if "orientations" not in d], pair.diffs[:4]
    absent = [not s.present[1 - shooter] for s, _ in steps]
    assert absent == [True] * (timeout + 1) + [False, False]


# ----- episode ends ------------------------------------------------------------------------
@pytest.mark.parametrize(("minimum", "interval", "cap"), [(10, 5, 100), (12, 5, 100),
                                                          (3, 4, 100), (8, 4, 6)])  # fmt: skip
def test_episode_end_steps(minimum, interval, cap):
    ending = {"minimumFramesPerEpisode": minimum, "intervalLength": interval,
              "probabilityTerminationPerInterval": 1.0}  # fmt: skip
    ref = Reference("Harvest-Open", HARVEST_STAND_MAP, 2,
                    {"StochasticIntervalEpisodeEnding": ending, **NO_HARVEST_REGROWTH},
                    max_steps=cap)  # fmt: skip
    from meltingpot_harness import Ours

    ours = Ours("Harvest-Open", HARVEST_STAND_MAP, 2,
                params={"min_steps": minimum, "interval": interval, "end_probability": 1.0,
                        "max_steps_in_episode": cap})  # fmt: skip
    ref.reset()
    ours.reset()
    ends = []
    for side in (ref, ours):
        for t in range(1, 40):
            if side.step([NOOP, NOOP]).done:
                ends.append(t)
                break
    assert len(ends) == 2 and ends[0] == ends[1], ends


# ----- observations ------------------------------------------------------------------------
WINDOW_MAP = """
WWWWWWWWWWWWWW
WAA   A  W   W
W  Q   A   AAW
W A  W    A  W
WW    A Q  W W
W  A     A  PW
W    W  A    W
WWWWWWWWWWWWWW
"""


def test_observation_window():
    """Each agent's 11×11 window shows the same cells as Melting Pot's rotated RGB view.

    The reference's view is 88×88 RGB (8×8 pixels a cell); ours is object codes. They agree
    if every distinct 8×8 patch the reference shows stands for one code of ours, over every
    window of both agents in every orientation (a shifted, flipped or unrotated window
    would pair a patch with several codes). Outside the map Melting Pot shows black, ours
    walls (the maps are walled, so agents cannot tell the two apart anyway).
    """
    pair = Pair("Harvest-Open", WINDOW_MAP, 2, NO_HARVEST_REGROWTH, None, NO_END)
    pair.reset()
    patch_to_ours: dict[bytes, set] = {}
    for turn in range(8):
        obs = pair.ours.observe()
        for i in range(2):
            rgb = np.asarray(pair.ref._last_obs[f"{i + 1}.RGB"])
            for r in range(11):
                for c in range(11):
                    patch = rgb[8 * r : 8 * r + 8, 8 * c : 8 * c + 8].tobytes()
                    agent = int(obs[i, r, c, 1])
                    ours = ("agent", agent == i + 1) if agent else ("object", int(obs[i, r, c, 0]))
                    patch_to_ours.setdefault(patch, set()).add(ours)
        pair.step([TURN_R, FORWARD] if turn % 2 else [FORWARD, TURN_L])
    assert_same(pair)
    clash = {k[:12]: v for k, v in patch_to_ours.items() if len(v) > 1}
    assert not clash, clash
    seen = set().union(*patch_to_ours.values())
    assert {("object", 0), ("object", 1), ("object", 2), ("agent", True)} <= seen, seen


def test_reference_version():
    from importlib.metadata import version

    assert version("dmlab2d") >= "1.0"
    assert REFERENCE_VERSION == "2.4.1"
