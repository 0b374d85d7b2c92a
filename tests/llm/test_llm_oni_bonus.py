"""The jittable ONI reward: jit, vmap over seeds, episodic count division, reward models."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents.bonuses import make, registered
from agents.bonuses.base import Transitions
from agents.bonuses.oni import OniBonus
from agents.llm.embeddings import hashed_bow
from agents.llm.reward_models import Classification, Ranking, Retrieval, fit_bradley_terry

CAPTIONS = (
    "",
    "You pick up the yellow key.",
    "You bump into an obstacle.",
    "The yellow door opens.",
    "You pick up the red ball.",
)
TASK = "pick up the key and open the door"


def transitions(event, done=None) -> Transitions:
    event = np.asarray(event, np.int32)
    done = np.zeros(event.shape, bool) if done is None else np.asarray(done, bool)
    obs = np.zeros((*event.shape, 1), np.float32)
    return Transitions.from_arrays(obs, np.zeros(event.shape, np.int32), obs, done, event)


def bonus_with_table(table, **options) -> tuple[OniBonus, object]:
    bonus = OniBonus("retrieval", "rules", captions=CAPTIONS, task=TASK, store="none", **options)
    state = bonus.init(jax.random.key(0), None, None, num_envs=2)
    return bonus, state.replace(
        reward_table=jnp.asarray(table, jnp.float32), known=jnp.asarray(np.asarray(table) > 0)
    )


def test_registered_and_built_from_a_spec():
    assert "oni" in registered()
    bonus = make(
        "oni(ranking,annotator=rules,beta=0.5)", captions=CAPTIONS, task=TASK, store="none"
    )
    assert isinstance(bonus, OniBonus) and bonus.reward_model_name == "ranking" and bonus.episodic
    with pytest.raises(ValueError, match="unknown reward model"):
        make("oni(lookup)", captions=CAPTIONS)
    with pytest.raises(ValueError, match=r"captions=env\.captions"):
        make("oni(retrieval)").init(jax.random.key(0), None, None, 2)
    with pytest.raises(ValueError, match="unknown field"):
        make("oni(retrieval,temperature_of_llm=3)")


def test_reward_is_a_table_lookup_under_jit():
    bonus, state = bonus_with_table([0.7, 1.0, 0.0, 0.5, 0.25], scale=2.0)
    batch = transitions([[0, 1], [2, 3], [4, 99]])  # 99: outside the table
    r = jax.jit(bonus.reward)(state, batch)
    assert r.shape == (3, 2) and r.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(r), [[0.0, 2.0], [0.0, 1.0], [0.5, 0.0]])  # code 0 → 0
    state2, metrics = jax.jit(bonus.update)(state, batch)
    assert int(state2.step) == 1
    np.testing.assert_allclose(float(metrics["oni/event_fraction"]), 4 / 6, rtol=1e-6)
    np.testing.assert_allclose(float(metrics["oni/known_event_fraction"]), 3 / 4, rtol=1e-6)


def test_vmap_over_a_leading_seed_axis():
    bonus, state = bonus_with_table([0.0, 1.0, 0.0, 0.5, 0.25])
    seeds = jax.tree.map(lambda x: jnp.stack([x, x, x]), state)
    seeds = seeds.replace(reward_table=seeds.reward_table * jnp.array([1.0, 2.0, 3.0])[:, None])
    batches = jax.tree.map(lambda x: jnp.stack([x] * 3), transitions([[1, 3], [4, 0]]))
    r = jax.jit(jax.vmap(bonus.reward))(seeds, batches)
    for s in range(3):
        np.testing.assert_allclose(np.asarray(r[s]), (s + 1) * np.array([[1.0, 0.5], [0.25, 0.0]]))
    new_states, metrics = jax.jit(jax.vmap(bonus.update))(seeds, batches)
    assert new_states.step.shape == (3,) and metrics["oni/reward_mean"].shape == (3,)
    # sync writes the one host table into every seed's state, with unchanged shapes.
    bonus.observe_events(np.array([1, 2]))
    assert bonus.service.wait_idle(10)
    synced = bonus.sync(seeds)
    assert synced.reward_table.shape == (3, len(CAPTIONS))
    np.testing.assert_array_equal(np.asarray(synced.reward_table), [[0, 1, 0, 0, 0]] * 3)
    bonus.close()


def test_episodic_count_division_resets_on_done():
    bonus, state = bonus_with_table([0.0, 1.0, 1.0, 0.0, 0.0], beta=1.0)
    assert state.episodic_count.shape == (2, len(CAPTIONS))
    # env 0: the key caption four times, episode ends after the third; env 1: alternating.
    event = [[1, 1], [1, 2], [1, 1], [1, 2]]
    done = [[False, False], [False, False], [True, False], [False, False]]
    batch = transitions(event, done)
    r, new_state, _ = jax.jit(bonus.reward_and_update)(state, batch)
    np.testing.assert_allclose(np.asarray(r), [[1, 1], [1 / 2, 1], [1 / 3, 1 / 2], [1, 1 / 2]])
    np.testing.assert_allclose(np.asarray(jax.jit(bonus.reward)(state, batch)), np.asarray(r))
    # Counts carry over into the next batch: env 0 has seen caption 1 once this episode.
    assert np.asarray(new_state.episodic_count)[:, 1].tolist() == [1, 2]
    r2 = jax.jit(bonus.reward)(new_state, transitions([[1, 2]]))
    np.testing.assert_allclose(np.asarray(r2), [[1 / 2, 1 / 3]])
    # ... and under vmap over seeds, each seed keeps its own counts.
    seeds = jax.tree.map(lambda a, b: jnp.stack([a, b]), state, new_state)
    batches = jax.tree.map(lambda x: jnp.stack([x, x]), transitions([[1, 2]]))
    rv = jax.vmap(bonus.reward)(seeds, batches)
    np.testing.assert_allclose(np.asarray(rv), [[[1, 1]], [[1 / 2, 1 / 3]]])


def test_sqrt_count_division():
    bonus, state = bonus_with_table([0.0, 1.0, 0.0, 0.0, 0.0], beta=0.5)
    r = bonus.reward(state, transitions([[1, 0]] * 4))
    np.testing.assert_allclose(np.asarray(r)[:, 0], 1 / np.sqrt([1, 2, 3, 4]), rtol=1e-6)


def test_retrieval_table():
    values, known = Retrieval(CAPTIONS).table({CAPTIONS[1]: 1.0, CAPTIONS[2]: 0.0, "not ours": 1.0})
    assert values.tolist() == [0, 1, 0, 0, 0] and known.tolist() == [
        False,
        True,
        True,
        False,
        False,
    ]


def test_classification_generalises_to_unlabelled_captions():
    captions = (
        "",
        "You pick up the yellow key.",
        "You pick up the red key.",
        "You pick up the blue key.",
        "You drop the red ball.",
        "You drop the blue ball.",
        "You pick up the green key.",  # never labelled
        "You drop the green ball.",  # never labelled
    )
    model = Classification(captions, hashed_bow, l2=1e-3)
    labels = {
        captions[1]: 1.0,
        captions[2]: 1.0,
        captions[3]: 1.0,
        captions[4]: 0.0,
        captions[5]: 0.0,
    }
    values, known = model.table(labels)
    assert known.tolist() == [False] + [True] * 7 and values[0] == 0.0
    assert values[6] > 0.6 and values[7] < 0.4
    assert np.all((values >= 0) & (values <= 1))
    assert model.table({})[1].sum() == 0  # no labels yet: no opinion


def test_bradley_terry_recovers_an_order():
    # a > b > c, with c also losing to a; soft and hard preferences mixed.
    first, second = np.array([0, 1, 0, 2]), np.array([1, 2, 2, 1])
    scores = fit_bradley_terry(first, second, np.array([1.0, 0.9, 1.0, 0.0]), 3)
    assert scores[0] > scores[1] > scores[2]
    model = Ranking(CAPTIONS)
    prefs = [
        (CAPTIONS[3], CAPTIONS[1], 1.0),
        (CAPTIONS[1], CAPTIONS[2], 1.0),
        (CAPTIONS[3], CAPTIONS[2], 1.0),
    ]
    values, known = model.table({}, prefs)
    assert values[3] == 1.0 and values[2] == 0.0 and 0 < values[1] < 1
    assert known.tolist() == [False, True, True, True, False]


def test_ranking_bonus_end_to_end_with_rules_preferences(tmp_path):
    bonus = make(
        "oni(ranking,annotator=rules,pairs_per_caption=4)",
        captions=CAPTIONS,
        task=TASK,
        store=str(tmp_path / "labels.sqlite"),
    )
    state = bonus.init(jax.random.key(0), None, None, 2)
    for codes in ([1, 2], [3, 4], [1, 3]):
        bonus.observe_events(np.array(codes))
    assert bonus.service.wait_idle(10)
    state = bonus.sync(state)
    table = np.asarray(state.reward_table)
    # "yellow key" (pick, key) and "door opens" (door) beat "bump" and "red ball" (pick).
    assert table[1] == 1.0 and table[2] == 0.0 and bool(state.known[1:].all())
    assert len(bonus.service.preferences()) >= 3
    bonus.close()


def test_classification_bonus_with_prefetch(tmp_path):
    bonus = make(
        "oni(classification,annotator=rules,prefetch=true,features=hash)",
        captions=CAPTIONS,
        task=TASK,
        store="none",
    )
    state = bonus.init(jax.random.key(0), None, None, 2)
    bonus.start()  # starts the service, which queues the whole caption table
    assert bonus.service.wait_idle(10)
    state = bonus.sync(state)
    table = np.asarray(state.reward_table)
    assert table[0] == 0.0 and table[1] > 0.5 and table[2] < 0.5
    bonus.close()


def test_host_callback_inside_one_jitted_vmapped_loop():
    bonus = make(
        "oni(retrieval,annotator=rules,host_callback=true)",
        captions=CAPTIONS,
        task=TASK,
        store="none",
    )
    state = bonus.init(jax.random.key(0), None, None, 2)
    seeds = jax.tree.map(lambda x: jnp.stack([x, x]), state)
    batch = jax.tree.map(lambda x: jnp.stack([x, x]), transitions([[1, 2], [3, 0]]))

    @jax.jit
    def train(states):
        def body(states, _):
            r, states, _ = jax.vmap(bonus.reward_and_update)(states, batch)
            return states, r.sum()

        return jax.lax.scan(body, states, None, length=3)

    states, _ = train(seeds)  # the first exchanges queue the captions
    assert bonus.service.wait_idle(10)
    states, totals = train(states)  # now the labels come back through the callback
    np.testing.assert_array_equal(np.asarray(states.reward_table), [[0, 1, 0, 1, 0]] * 2)
    assert float(totals[-1]) == 4.0  # key and door, in both seeds
    assert bonus.host_metrics()["oni/callback_errors"] == 0.0
    bonus.close()
