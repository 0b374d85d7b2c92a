"""Conformance against MO-Gymnasium (the reference implementation, run here, not read).

For every multi-objective env with an MO-Gymnasium twin:

* **steps** — scripted and random episodes through both front doors
  (``mo_gymnasium.make``), step for step: observation, reward vector (values and dtype),
  ``terminated``, ``truncated``; Resource Gathering's kill draw is handed to the reference so
  both take the same branch;
* **time limits** — an episode that ends on the limit's last step returns
  ``terminated=True, truncated=True`` through our doors, as Gymnasium's ``TimeLimit`` (which
  MO-Gymnasium's registrations use) does;
* **fronts** — ``pareto_front(γ)`` (Pareto value iteration over our own tabular model) against
  an independent solver: a forward search over every deterministic action sequence up to
  the reference's time limit whose transitions are read from the reference itself (its
  ``step`` from every reachable state, both sides of every random draw);
* **wrappers** — MO-Gymnasium's ``LinearReward`` and ``MORecordEpisodeStatistics`` on our door
  give the reference's episode statistics.

``docs/conformance/mo_gymnasium.md`` holds a table generated from these checks;
``test_the_conformance_page_is_generated_from_these_checks`` fails when it drifts (rewrite it
with ``EXPLORE_WRITE_CONFORMANCE_DOCS=1``).
"""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path

import jax
import numpy as np
import pytest
from conformance_pages import check_generated_section
from twins import MO_GYMNASIUM_TWINS

import envs
from analysis.multiobjective import hypervolume
from envs.multiobjective.tasks import TASKS

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pygame's pkg_resources deprecation warning
    import mo_gymnasium as mo_gym
    from mo_gymnasium.wrappers import LinearReward, MORecordEpisodeStatistics
    from mo_gymnasium.wrappers.vector import MOSyncVectorEnv

# our registry name -> (MO-Gymnasium id, its kwargs)
TWINS = MO_GYMNASIUM_TWINS
# Envs without a twin, and why (listed on the conformance page).
NO_TWIN = {
    "FourRooms-TwoGoals": "ours (MiniGrid's FourRooms plus a ball); its front is checked "
    "by tests/envs/test_mo_envs.py",
    "FourRooms-TwoGoals-S11": "ours, as above",
}
GAMMAS = (1.0, 0.9, 0.5)
UP, DOWN, LEFT, RIGHT = range(4)
# Resource Gathering: gem, then the gold entered from its left, then home; no enemy cell.
GEM_GOLD_HOME = [RIGHT, RIGHT, UP, UP, UP, LEFT, DOWN, LEFT, LEFT, UP, UP, RIGHT]
GEM_GOLD_HOME += [LEFT, DOWN, DOWN, RIGHT, DOWN, DOWN]
PAGE = Path(__file__).resolve().parents[2] / "docs" / "conformance" / "mo_gymnasium.md"


def ours_id(name: str) -> str:
    return f"explore/{name}-v{envs.env_version(name)}"


def make_pair(name: str):
    """Our env and the reference through their MO-Gymnasium front doors."""
    env_id, kwargs = TWINS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mo_gym.make(ours_id(name)), mo_gym.make(env_id, **kwargs)


class _Draws:
    """Stands in for the reference's ``np_random``: returns ``value``, counts the calls."""

    def __init__(self, value: float = 0.99) -> None:
        self.value, self.calls = value, 0

    def random(self) -> float:
        self.calls += 1
        return float(self.value)


# --- the independent solver ----------------------------------------------------------------
def _set_state(ref, obs: tuple) -> None:
    """Put the reference in the state whose observation is ``obs``."""
    if hasattr(ref, "has_gold"):  # Resource Gathering: (row, col, gold, gem)
        ref.current_pos = np.array(obs[:2], np.int32)
        ref.has_gold, ref.has_gem = int(obs[2]), int(obs[3])
    else:  # Deep Sea Treasure (row, col), Fruit Tree (row, index)
        ref.current_state = np.array(obs, np.int32)
        ref.terminal = False


def _step_from(ref, obs: tuple, action: int, draw: float):
    _set_state(ref, obs)
    draws = _Draws(draw)
    ref._np_random = draws
    o, r, term, _, _ = ref.step(action)
    return tuple(int(x) for x in o), np.asarray(r, np.float64), bool(term), draws.calls


def _kill_threshold(ref, obs: tuple, action: int) -> float:
    """The probability of the random branch: the draw below which it happens (bisection)."""
    lo, hi = 0.0, 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _step_from(ref, obs, action, mid)[2] else (lo, mid)
    return hi


@cache
def reference_table(name: str):
    """Transitions read from the reference: every reachable state, every action.

    Returns ``next [S, A]`` (-1 where the episode ends), ``p [S, A]`` (the probability of
    the random branch, which must end the episode), ``r [S, A, m]`` (reward when it does not
    happen), ``r_random [S, A, m]``, the start index and the reference's time limit.
    """
    env_id, kwargs = TWINS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrapped = mo_gym.make(env_id, **kwargs)
    ref = wrapped.unwrapped
    start, _ = ref.reset(seed=0)
    start = tuple(int(x) for x in start)
    n_actions = ref.action_space.n
    index, order = {start: 0}, [start]
    rows = []
    threshold = None
    for obs in order:
        row = []
        for a in range(n_actions):
            nxt, r, term, calls = _step_from(ref, obs, a, 0.999999)
            p, r_random = 0.0, np.zeros_like(r)
            if calls:  # a random draw: read the other branch and its probability
                if threshold is None:
                    threshold = _kill_threshold(ref, obs, a)
                p = threshold
                _, r_random, term_random, _ = _step_from(ref, obs, a, 0.0)
                assert term_random, "the random branch must end the episode"
                assert _step_from(ref, obs, a, p * (1 - 1e-9))[2]
                assert not _step_from(ref, obs, a, p)[2]
            if not term and nxt not in index:
                index[nxt] = len(order)
                order.append(nxt)
            row.append((None if term else nxt, p, r, r_random))
        rows.append(row)
    m = ref.reward_dim
    S = len(order)
    nxt = np.full((S, n_actions), -1)
    p = np.zeros((S, n_actions))
    r = np.zeros((S, n_actions, m))
    r_random = np.zeros((S, n_actions, m))
    for s, row in enumerate(rows):
        for a, (n, pa, ra, rra) in enumerate(row):
            nxt[s, a] = -1 if n is None else index[n]
            p[s, a], r[s, a], r_random[s, a] = pa, ra, rra
    limit = wrapped.spec.max_episode_steps
    return nxt, p, r, r_random, limit


def _non_dominated(points: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Distinct non-dominated rows, written here again so the check shares no code.

    The row of largest sum is non-dominated; keep it, drop every row it weakly dominates
    (within ``tol``, itself included), repeat.
    """
    p = np.asarray(points, np.float64)
    kept = []
    while len(p):
        best = p[np.argmax(p.sum(axis=1))]
        kept.append(best)
        p = p[~np.all(best >= p - tol, axis=1)]
    kept = np.array(kept).reshape(-1, np.shape(points)[-1])
    return kept[np.lexsort(kept.T[::-1])]


@cache
def forward_front(name: str, gamma: float) -> np.ndarray:
    """Non-dominated expected returns of every deterministic action sequence (forward search).

    A label is a state, the number ``k`` of random branches survived so far (survival
    probability ``(1 − p)^k``) and the expected return collected so far. Two sequences with
    the same label have the same future, so only the best return per label is kept (they
    differ only in the kill penalty before the episode ends; the search asserts that the
    kept one is one of the candidates, i.e. that the candidates are ordered).
    """
    nxt, p, r, r_random, limit = reference_table(name)
    S, _, m = r.shape
    horizon = limit if limit is not None else S + 1  # no limit: episodes end by themselves
    K = horizon + 1
    acc = np.full((S, K, m), -np.inf)
    acc[0, 0] = 0.0
    valid = np.zeros((S, K), bool)
    valid[0, 0] = True
    risky = p > 0
    ps = np.unique(p[risky])
    assert len(ps) <= 1, "one probability for every random branch"
    survive = 1.0 - (ps[0] if len(ps) else 0.0)
    finals = []
    for t in range(1, horizon + 1):
        disc = gamma ** (t - 1)
        s_idx, k_idx = np.nonzero(valid)
        if not len(s_idx):
            break
        q = survive**k_idx  # [L]
        base = acc[s_idx, k_idx]  # [L, m]
        cand = (
            base[:, None, :]
            + (q[:, None] * p[s_idx] * disc)[..., None] * r_random[s_idx]
            + (q[:, None] * (1 - p[s_idx]) * disc)[..., None] * r[s_idx]
        )  # [L, A, m]
        to = nxt[s_idx]  # [L, A]
        k_to = k_idx[:, None] + risky[s_idx]
        ends = to < 0
        go = ~ends
        if t == horizon:
            ends = ends | go  # truncated: what was collected so far
        if ends.any():
            finals.append(_non_dominated(cand[ends]))
        if t == horizon or not go.any():
            break
        # The best return per label: group the candidates by label (a sort, then reduceat).
        flat = (to * K + k_to)[go]
        vals = cand[go]
        order = np.argsort(flat, kind="stable")
        flat, vals = flat[order], vals[order]
        starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
        best = np.maximum.reduceat(vals, starts, axis=0)  # [G, m]
        group = np.cumsum(np.r_[False, flat[1:] != flat[:-1]])
        same = np.all(np.abs(vals - best[group]) <= 1e-12, axis=-1)
        assert np.logical_or.reduceat(same, starts).all(), "labels with one future are ordered"
        new = np.full((S, K, m), -np.inf)
        valid = np.zeros((S, K), bool)
        keys_s, keys_k = np.divmod(flat[starts], K)
        new[keys_s, keys_k] = best
        valid[keys_s, keys_k] = True
        acc = new
    return _non_dominated(np.concatenate(finals))


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("name", list(TWINS))
def test_front_equals_the_independent_solver_on_the_reference(name, gamma):
    env, _ = envs.make(name)
    ours = env.pareto_front(gamma)
    theirs = forward_front(name, gamma)
    assert ours.shape == theirs.shape, (ours, theirs)
    # The reference hands out float32 rewards (0.7 is 0.699999988...).
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9)


def _door_returns(name: str, actions: list[int], gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """Discounted returns of one scripted episode through both doors (no random branch)."""
    out = []
    for env in make_pair(name):
        env.reset(seed=0)
        ret, disc = np.zeros(env.unwrapped.reward_dim), 1.0
        for t, a in enumerate(actions):
            _, reward, term, trunc, _ = env.step(a)
            ret, disc = ret + disc * reward, disc * gamma
            assert term == (t == len(actions) - 1) and not trunc
        out.append(ret)
    return out[0], out[1]


def test_resource_gathering_front_sizes_and_the_gem_gold_home_route():
    env, _ = envs.make("ResourceGathering")
    assert [len(env.pareto_front(g)) for g in GAMMAS] == [1, 9, 13]
    for gamma in GAMMAS:
        ours, theirs = _door_returns("ResourceGathering", GEM_GOLD_HOME, gamma)
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
        front = env.pareto_front(gamma)
        on_front = np.all(np.isclose(front, ours, rtol=1e-6, atol=1e-9), axis=1)
        if gamma == 1.0:
            np.testing.assert_array_equal(front, [[0.0, 1.0, 1.0]])
        assert on_front.any(), (gamma, ours, front)


def test_an_optimal_policy_scores_a_hypervolume_fraction_of_at_most_one():
    """MO-PPO logs ``pareto_front(gamma_ext)`` as the true front (``front/true/...``)."""
    env, _ = envs.make("ResourceGathering")
    ref = np.array([-1.0, 0.0, 0.0])
    for gamma in GAMMAS:
        front = env.pareto_front(gamma)
        route, _ = _door_returns("ResourceGathering", GEM_GOLD_HOME, gamma)
        _, theirs = make_pair("ResourceGathering")
        candidates = np.asarray(theirs.unwrapped.pareto_front(gamma)) / gamma  # γ^k → γ^(k-1)
        true_hv = hypervolume(front, ref)
        for points in (route[None], candidates, front):
            assert hypervolume(points, ref, strict=False) <= true_hv * (1 + 1e-9)


# --- steps -----------------------------------------------------------------------------------
def _scripted(name: str) -> list[int]:
    if name.startswith("FruitTree"):
        depth = TWINS[name][1]["depth"]
        return [(leaf >> (depth - 1 - i)) & 1 for leaf in range(2**depth) for i in range(depth)]
    if name == "ResourceGathering":
        # The gem-gold-home route, the gold through an enemy, pacing on an enemy until killed.
        return GEM_GOLD_HOME + [UP] * 4 + [DOWN] * 4 + [UP, UP, UP] + [UP, DOWN] * 60
    # Each treasure by its shortest path (right along the surface, then down; the mirrored
    # map starts above its first treasure too), then pushing against the surface until the limit.
    rows = (1, 2, 3, 4, 4, 4, 7, 7, 9, 10)
    return [a for i in range(10) for a in [RIGHT] * i + [DOWN] * rows[i]] + [UP] * 100


def _run_both(name: str, actions, draws: bool) -> dict[str, int]:
    """Step ``actions`` through both doors; the reference gets our kill draw when ``draws``."""
    ours, theirs = make_pair(name)
    obs, _ = ours.reset(seed=0)
    t_obs, _ = theirs.reset(seed=0)
    stub = _Draws()
    theirs.unwrapped._np_random = stub
    attack = jax.jit(ours.unwrapped.env.attack_draw) if draws else None
    counts = {"terminated": 0, "truncated": 0, "steps": 0}
    for t, action in enumerate(actions):
        if draws:  # the door's next key is split from its key as here
            stub.value = float(attack(jax.random.split(ours.unwrapped._key)[1]))
        obs, reward, term, trunc, _ = ours.step(int(action))
        t_obs, t_reward, t_term, t_trunc, _ = theirs.step(int(action))
        where = f"{name} step {t}"
        assert obs.dtype == t_obs.dtype and np.array_equal(obs, t_obs), where
        assert reward.dtype == t_reward.dtype == np.float32, where
        assert np.array_equal(reward, t_reward), (where, reward, t_reward)
        assert (term, trunc) == (t_term, t_trunc), where
        counts["steps"] += 1
        if term or trunc:
            counts["terminated"] += term
            counts["truncated"] += trunc
            obs, _ = ours.reset()
            t_obs, _ = theirs.reset()
            theirs.unwrapped._np_random = stub
            assert np.array_equal(obs, t_obs), where
    return counts


@pytest.mark.parametrize("name", list(TWINS))
def test_steps_equal_the_reference_on_scripted_and_random_episodes(name):
    draws = name == "ResourceGathering"
    counts = _run_both(name, _scripted(name), draws)
    assert counts["terminated"] >= 2
    n_actions = 2 if name.startswith("FruitTree") else 4
    rng = np.random.default_rng(len(name))
    p = None if n_actions == 2 else [0.15, 0.35, 0.15, 0.35]  # DST: deeper treasures too
    counts = _run_both(name, rng.choice(n_actions, 400, p=p), draws)
    assert counts["terminated"] >= 3


# --- time limits -----------------------------------------------------------------------------
LAST_STEP = {
    # 99 steps at the surface, the 100th onto the first treasure
    "DeepSeaTreasure": [UP] * 99 + [DOWN],
    # out of home, 98 steps pacing, home on the 100th
    "ResourceGathering": [UP] + [LEFT, RIGHT] * 49 + [DOWN],
}


@pytest.mark.parametrize("name", list(LAST_STEP))
def test_an_episode_ending_on_the_limits_last_step_is_terminated_and_truncated(name):
    actions = LAST_STEP[name]
    for env in make_pair(name):
        env.reset(seed=0)
        for t, a in enumerate(actions):
            _, _, term, trunc, _ = env.step(a)
            assert (term, trunc) == (t == 99, t == 99), (env, t)
    # The vector doors: ours (NEXT_STEP, as MO-Gymnasium's) and MOSyncVectorEnv.
    env_id, kwargs = TWINS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import gymnasium

        ours = gymnasium.make_vec(ours_id(name), num_envs=2)
        theirs = MOSyncVectorEnv([lambda: mo_gym.make(env_id, **kwargs) for _ in range(2)])
    for venv in (ours, theirs):
        venv.reset(seed=0)
        # NEXT_STEP: step 100 resets (its action is ignored), the second episode ends at 200.
        for t, a in enumerate([*actions, UP, *actions]):
            _, _, term, trunc, _ = venv.step(np.array([a, UP]))
            ended = t in (99, 200)  # the second episode starts with a reset step
            assert (bool(term[0]), bool(trunc[0])) == (ended, ended), (venv, t)


def test_the_core_reports_truncated_only_where_the_limit_cut_an_episode():
    """The contract (envs.core): a step that terminates is never truncated in the core."""
    env, params = envs.make("DeepSeaTreasure")
    _, state = env.reset(jax.random.PRNGKey(0), params)
    step = jax.jit(env.step_env)
    for a in LAST_STEP["DeepSeaTreasure"]:
        _, state, _, term, trunc, _ = step(jax.random.PRNGKey(0), state, a, params)
    assert (bool(term), bool(trunc)) == (True, False)


# --- wrappers --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["DeepSeaTreasure-Concave", "ResourceGathering", "FruitTree-7"])
def test_linear_reward_and_episode_statistics_wrappers_match(name):
    ours, theirs = make_pair(name)
    m = ours.unwrapped.reward_dim
    w = np.arange(1, m + 1, dtype=np.float64) / np.arange(1, m + 1).sum()
    wrapped = [
        MORecordEpisodeStatistics(LinearReward(e, weight=w), gamma=0.9) for e in (ours, theirs)
    ]
    for env in wrapped:
        env.reset(seed=0)
    # Resource Gathering without a random branch: gem-gold-home, a round trip, the gem alone.
    if name == "ResourceGathering":
        gem = [RIGHT, RIGHT, UP, UP, UP, DOWN, DOWN, DOWN, LEFT, LEFT]
        actions = [*GEM_GOLD_HOME, UP, DOWN, *gem] * 2
    else:
        n = ours.action_space.n
        actions = np.random.default_rng(1).choice(
            n, 300, p=None if n == 2 else [0.15, 0.35, 0.15, 0.35]
        )
    finished = 0
    for action in actions:
        (_, r, term, trunc, info), (_, t_r, *_, t_info) = (env.step(action) for env in wrapped)
        assert r == pytest.approx(t_r) and r == pytest.approx(w @ info["vector_reward"])
        if term or trunc:
            finished += 1
            for k in ("r", "dr", "l"):
                np.testing.assert_allclose(info["episode"][k], t_info["episode"][k], rtol=1e-6)
            for env in wrapped:
                env.reset()
    assert finished >= 3


# --- the page --------------------------------------------------------------------------------
def render_page() -> str:
    """The generated part of docs/conformance/mo_gymnasium.md (the fronts' sizes)."""
    version = mo_gym.__version__
    lines = [
        f"Reference: MO-Gymnasium {version} (`mo_gymnasium`), run by "
        "`tests/conformance/test_mo_gymnasium.py`.",
        "",
        "| env (ours) | MO-Gymnasium id | its time limit | front size at γ = "
        + ", ".join(f"{g:g}" for g in GAMMAS)
        + " | MO-Gymnasium's `pareto_front` sizes | steps, fronts, wrappers |",
        "|---|---|---|---|---|---|",
    ]
    for name, (env_id, kwargs) in TWINS.items():
        env, _ = envs.make(name)
        sizes = ", ".join(str(len(env.pareto_front(g))) for g in GAMMAS)
        _, theirs = make_pair(name)
        their_sizes = ", ".join(str(len(theirs.unwrapped.pareto_front(g))) for g in GAMMAS)
        limit = reference_table(name)[-1]
        args = "".join(f", {k}={v}" for k, v in kwargs.items())
        lines.append(
            f"| {name} | `{env_id}`{args} | {limit or 'none'} | {sizes} | {their_sizes} | equal |"
        )
    for name, why in NO_TWIN.items():
        assert name in TASKS
        lines.append(f"| {name} | — | — | — | — | no twin: {why} |")
    return "\n".join(lines) + "\n"


def test_every_multiobjective_env_is_listed():
    assert set(TASKS) == set(TWINS) | set(NO_TWIN)


def test_the_conformance_page_is_generated_from_these_checks():
    check_generated_section(PAGE, render_page())
