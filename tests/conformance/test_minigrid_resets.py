"""Conformance against MiniGrid: the distribution of layouts our generators draw.

The step-for-step checks (observations, moves, rewards) live in
``tests/envs/test_gridworld_env.py``; here, for every gridworld task with a MiniGrid twin,
``N`` layouts from our generator (one jitted ``vmap`` of ``Task.generate``) are compared with
``N`` resets of MiniGrid's own environment (``env.reset(seed=i)``, i = 0 … N−1), feature by
feature: the agent's start row, column and direction; for each kind of object (door, key,
ball, box, goal, lava) how many there are, the row and column of the first one (raster
order), their colours, and the doors' states and the boxes' contents; and, for room sizes,
the number of wall cells and of free cells (values, and deciles).

Each feature is a chi-square test of homogeneity on the 2 × C table of counts (categories
seen fewer than 10 times in both samples together pooled into one, so every expected count
is at least 5). The family-wise significance level is ``ALPHA = 0.01`` over every feature of
every task, Bonferroni-corrected; seeds are fixed, so the suite is deterministic.

``docs/conformance/minigrid.md`` holds a table generated from these checks;
``test_the_conformance_page_is_generated_from_these_checks`` fails when it drifts (rewrite it
with ``EXPLORE_WRITE_CONFORMANCE_DOCS=1``).
"""

from __future__ import annotations

import warnings
from collections import Counter
from functools import cache
from pathlib import Path

import gymnasium
import jax
import numpy as np
import pytest
from conformance_pages import check_generated_section
from scipy.stats import chi2_contingency
from twins import MINIGRID_TWINS

import envs
from envs.gridworld import objects as O
from envs.gridworld.tasks import TASKS

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import minigrid
    from minigrid.core.constants import COLOR_TO_IDX

# our task -> MiniGrid's environment for it (an id, or a constructor where no id exists)
TWINS = MINIGRID_TWINS
BATCH = 300  # one compiled generator call; the shape tests/envs/test_gridworld_tasks.py compiles
N = 3 * BATCH  # layouts per side
# MiniGrid's MultiRoom-N12-S10 takes ~0.4 s per reset (rejection sampling of 12 rooms):
# fewer layouts, and only in the slow suite.
SLOW = {"MultiRoom-N12-S10": BATCH}
ALPHA = 0.01  # family-wise, over every feature test of the file
MAX_FEATURES = 48  # per task, an upper bound used for the Bonferroni correction
PER_TEST_ALPHA = ALPHA / (len(TWINS) * MAX_FEATURES)
MIN_CATEGORY = 10  # categories rarer than this in both samples together are pooled
KINDS = ("door", "key", "ball", "box", "goal", "lava")
PAGE = Path(__file__).resolve().parents[2] / "docs" / "conformance" / "minigrid.md"


def minigrid_env(name: str):
    spec = TWINS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gymnasium.make(spec).unwrapped if isinstance(spec, str) else spec()


def _features(
    enc: np.ndarray, contents: np.ndarray, agent_pos: np.ndarray, agent_dir: np.ndarray
) -> dict[str, list]:
    """Per-layout features of ``enc [N, H, W, 3]`` (MiniGrid's encoding) and the agent."""
    out: dict[str, list] = {
        "agent row": list(agent_pos[:, 0]),
        "agent column": list(agent_pos[:, 1]),
        "agent direction": list(agent_dir),
        "agent cell": [tuple(p) for p in agent_pos.tolist()],
        "wall cells": list((enc[..., 0] == O.OBJ["wall"]).sum(axis=(1, 2))),
        "free cells": list((enc[..., 0] == O.OBJ["empty"]).sum(axis=(1, 2))),
    }
    for kind in KINDS:
        mask = enc[..., 0] == O.OBJ[kind]
        if not mask.any():
            continue
        out[f"{kind} count"] = list(mask.sum(axis=(1, 2)))
        rows, cols, colours, states, inside = [], [], [], [], []
        for i in range(len(enc)):
            where = np.argwhere(mask[i])
            r, c = where[0] if len(where) else (-1, -1)
            rows.append(int(r))
            cols.append(int(c))
            colours.append(tuple(sorted(enc[i][mask[i]][:, 1].tolist())))
            states.append(tuple(sorted(enc[i][mask[i]][:, 2].tolist())))
            inside.append(tuple(sorted(contents[i][mask[i]].tolist())))
        out[f"{kind} row"], out[f"{kind} column"] = rows, cols
        out[f"{kind} cell"] = list(zip(rows, cols, strict=True))
        out[f"{kind} colours"] = colours
        # In raster order: MultiRoom's consecutive doors differ in colour, for instance.
        out[f"{kind} colours in order"] = [
            tuple(e[m][:, 1].tolist()) for e, m in zip(enc, mask, strict=True)
        ]
        if kind == "door":
            out["door states"] = states
        if kind == "box":
            out["box contents"] = inside
    return out


@cache
def ours(name: str, n: int) -> dict[str, list]:
    cls, kwargs = TASKS[name]
    task = cls(**kwargs)
    generate = jax.jit(jax.vmap(task.generate))
    keys = jax.random.split(jax.random.PRNGKey(0), n).reshape(-1, BATCH, 2)
    lay = jax.tree.map(lambda *x: np.concatenate(x), *[generate(k) for k in keys])
    enc = O.TABLES["obs"][lay.grid]
    # A box's code holds the colour of a key inside (O.box): 0 empty, colour + 1 otherwise.
    is_box = enc[..., 0] == O.OBJ["box"]
    contents = np.where(is_box, (lay.grid.astype(np.int64) - 48) % 7, 0)
    return _features(enc, contents, lay.agent_pos, lay.agent_dir)


@cache
def theirs(name: str, n: int) -> dict[str, list]:
    env = minigrid_env(name)
    encs, contents, pos, dirs = [], [], [], []
    for seed in range(n):
        env.reset(seed=seed)
        encs.append(env.grid.encode().transpose(1, 0, 2))  # MiniGrid indexes (col, row)
        inside = np.zeros(env.height * env.width, np.int64)  # MiniGrid's flat list is row-major
        for i, cell in enumerate(env.grid.grid):
            if cell is not None and cell.type == "box" and cell.contains is not None:
                inside[i] = COLOR_TO_IDX[cell.contains.color] + 1
        contents.append(inside.reshape(env.height, env.width))
        pos.append((env.agent_pos[1], env.agent_pos[0]))
        dirs.append(env.agent_dir)
    return _features(np.stack(encs), np.stack(contents), np.asarray(pos), np.asarray(dirs))


def chi_square(a: list, b: list) -> tuple[float, int]:
    """p-value of the homogeneity test of two samples of one categorical feature, and the
    number of categories after pooling the rare ones (1: nothing to test, p = 1)."""
    ca, cb = Counter(map(str, a)), Counter(map(str, b))
    cats = sorted(set(ca) | set(cb), key=lambda k: ca[k] + cb[k], reverse=True)
    common = [k for k in cats if ca[k] + cb[k] >= MIN_CATEGORY]
    rare = [k for k in cats if ca[k] + cb[k] < MIN_CATEGORY]
    table = [[ca[k] for k in common], [cb[k] for k in common]]
    if rare:
        pooled = [sum(ca[k] for k in rare), sum(cb[k] for k in rare)]
        if sum(pooled) >= MIN_CATEGORY or not common:
            table[0].append(pooled[0])
            table[1].append(pooled[1])
        else:  # too rare even pooled: into the least common category kept
            table[0][-1] += pooled[0]
            table[1][-1] += pooled[1]
    if len(table[0]) < 2:
        return 1.0, len(table[0])
    return float(chi2_contingency(np.asarray(table)).pvalue), len(table[0])


@cache
def compare(name: str) -> dict[str, tuple[float, int]]:
    """``feature -> (p-value, categories)`` for one task."""
    n = SLOW.get(name, N)
    a, b = ours(name, n), theirs(name, n)
    assert set(a) == set(b), f"{name}: features only one side has: {set(a) ^ set(b)}"
    result = {f: chi_square(a[f], b[f]) for f in a}
    # Room sizes take many values, each seen a few times: a shift of the whole distribution
    # hides in a test per value. Their deciles (of both samples pooled) show it.
    for f in ("wall cells", "free cells"):
        edges = np.quantile(np.concatenate([a[f], b[f]]), np.linspace(0.1, 0.9, 9))
        result[f"{f} (deciles)"] = chi_square(
            np.searchsorted(edges, a[f]).tolist(), np.searchsorted(edges, b[f]).tolist()
        )
    assert len(result) <= MAX_FEATURES
    return result


def _describe(name: str, feature: str) -> str:
    n = SLOW.get(name, N)
    ca, cb = Counter(map(str, ours(name, n)[feature])), Counter(map(str, theirs(name, n)[feature]))
    rows = [f"{k}: ours {ca[k]}, MiniGrid {cb[k]}" for k in sorted(set(ca) | set(cb))]
    return "\n".join(rows[:40])


def _check(name: str) -> None:
    failed = {f: p for f, (p, _) in compare(name).items() if p < PER_TEST_ALPHA}
    assert not failed, "\n".join(
        f"{name}: {f} differs from MiniGrid's (p = {p:.2e} < {PER_TEST_ALPHA:.1e})\n"
        + _describe(name, f)
        for f, p in failed.items()
    )


@pytest.mark.parametrize("name", [n for n in TWINS if n not in SLOW])
def test_reset_distribution_equals_minigrids(name):
    _check(name)


# Known and documented (envs/gridworld/multiroom.py): N12-S10 draws room sides with weights
# 0.8^(side-4) to keep its generator's loop short, so its rooms are smaller than MiniGrid's.
ROOM_SIZES = {"wall cells", "free cells", "wall cells (deciles)", "free cells (deciles)"}


@pytest.mark.slow
def test_multiroom_n12_differs_from_minigrid_only_in_room_sizes():
    name = "MultiRoom-N12-S10"
    failed = {f for f, (p, _) in compare(name).items() if p < PER_TEST_ALPHA}
    assert failed <= ROOM_SIZES, "\n".join(_describe(name, f) for f in failed - ROOM_SIZES)
    n = SLOW[name]
    ours_walls, their_walls = ours(name, n)["wall cells"], theirs(name, n)["wall cells"]
    assert np.mean(ours_walls) < np.mean(their_walls)  # smaller rooms, as documented


def test_every_gridworld_task_has_a_twin():
    assert set(TASKS) == set(TWINS)
    assert set(SLOW) <= set(TWINS)


def test_the_test_finds_a_planted_difference():
    """The check is not blind: a generator that starts the agent one cell off is caught."""
    a = ours("DoorKey-8x8", N)
    shifted = [min(c + 1, 5) for c in a["agent column"]]
    assert chi_square(shifted, theirs("DoorKey-8x8", N)["agent column"])[0] < PER_TEST_ALPHA
    # ... and a sample against itself passes.
    assert chi_square(a["agent column"], a["agent column"])[0] == 1.0


# --- the gridworld door's time limit (Gymnasium's TimeLimit, MiniGrid's own step) ------------
def test_reaching_the_goal_on_the_last_step_is_terminated_and_truncated():
    """MiniGrid sets ``truncated`` whenever ``step_count >= max_steps``, also on a success."""
    ours_env = gymnasium.make(f"explore/Empty-5x5-v{envs.env_version('Empty-5x5')}")
    ref = minigrid_env("Empty-5x5")
    # The agent starts at (1, 1) facing right, the goal is at (3, 3): 95 left turns leave it
    # facing down, then forward, forward, left, forward, forward reach the goal on step 100.
    actions = [0] * 95 + [2, 2, 0, 2, 2]
    for env in (ours_env, ref):
        env.reset(seed=0)
        for t, a in enumerate(actions):
            _, reward, term, trunc, _ = env.step(a)
            assert (term, trunc) == (t == 99, t == 99), (env, t)
        assert reward > 0
    # The vector door (SAME_STEP auto-reset) says the same.
    venv = gymnasium.make_vec(f"explore/Empty-5x5-v{envs.env_version('Empty-5x5')}", num_envs=2)
    venv.reset(seed=0)
    for a in actions:
        _, _, term, trunc, _ = venv.step(np.array([a, 0]))
    assert term.tolist() == [True, False] and trunc.tolist() == [True, True]


# --- the page --------------------------------------------------------------------------------
def render_page() -> str:
    """The generated part of docs/conformance/minigrid.md."""
    lines = [
        f"Reference: MiniGrid {minigrid.__version__} (`minigrid`), run by "
        "`tests/conformance/test_minigrid_resets.py`; "
        f"family-wise α = {ALPHA} (Bonferroni: each feature at {PER_TEST_ALPHA:.1e}).",
        "",
        "| task (ours) | MiniGrid | layouts per side | features (fixed on both sides) "
        "| smallest p | result |",
        "|---|---|---|---|---|---|",
    ]
    for name, spec in TWINS.items():
        ref = spec if isinstance(spec, str) else "`MultiRoomEnv(...)`"
        n = SLOW.get(name, N)
        if name in SLOW:
            lines.append(f"| {name} | {ref} | {n} | slow suite | — | room sizes differ (below) |")
            continue
        res = compare(name)
        varied = {f: p for f, (p, k) in res.items() if k >= 2}
        worst = min(varied, key=varied.get) if varied else None
        smallest = f"{varied[worst]:.3g} ({worst})" if worst else "—"
        verdict = "same" if all(p >= PER_TEST_ALPHA for p in varied.values()) else "DIFFERS"
        fixed = len(res) - len(varied)
        lines.append(f"| {name} | {ref} | {n} | {len(res)} ({fixed}) | {smallest} | {verdict} |")
    return "\n".join(lines) + "\n"


def test_the_conformance_page_is_generated_from_these_checks():
    check_generated_section(PAGE, render_page())
