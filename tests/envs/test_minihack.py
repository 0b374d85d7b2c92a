"""MiniHack tasks with the compact observation, captions and the glyph CNN."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

pytest.importorskip("minihack")

from envs import minihack


@pytest.fixture(scope="module")
def room():
    env = minihack.make("MiniHack-Room-5x5-v0")
    yield env
    env.close()


def test_study_tasks_exist_in_stock_minihack():
    import minihack as _  # noqa: F401  (registers the ids)

    assert len(minihack.STUDY_TASKS) == 22
    for study_id, stock_id in minihack.STUDY_TASKS.items():
        assert stock_id in gymnasium.registry, study_id
        assert minihack.resolve(study_id) == stock_id
    for task in minihack.EXTRA_TASKS:
        assert task in gymnasium.registry, task


def test_compact_observation_and_captions(room):
    obs, info = room.reset(seed=0)
    assert room.observation_space.contains(obs)
    assert obs["glyphs"].shape == (minihack.CROP, minihack.CROP)
    # NetHack's opening line depends on the calendar ("welcome to NetHack" on most days,
    # "New moon tonight." or "Friday the 13th" on others), so the test checks that the
    # caption is the decoded opening message, whatever it says today.
    assert info["caption"] and info["caption"] == minihack.message_text(obs["message"])
    assert info["event"] == minihack.caption_code(info["caption"]) != 0
    assert info["success"] is False
    rng = np.random.default_rng(0)
    solved = False
    for _ in range(3000):
        obs, reward, terminated, truncated, info = room.step(int(rng.integers(8)))
        assert room.observation_space.contains(obs)
        assert isinstance(info["caption"], str) and isinstance(info["event"], int)
        assert info["event"] == minihack.caption_code(info["caption"])
        if terminated or truncated:
            solved |= bool(info["success"])
            assert info["success"] == (terminated and reward > 0.5)
            obs, info = room.reset()
    assert solved  # random walks reach the stairs of a 5×5 room


def test_time_limit_is_a_truncation():
    env = minihack.make("MiniHack-Room-5x5-v0", max_episode_steps=3)
    env.reset(seed=1)
    ends = []
    for _ in range(3):
        # Search in place ("s" is not in the navigation set; move into the wall instead).
        _, _, terminated, truncated, info = env.step(7)
        ends.append((terminated, truncated, info["success"]))
    env.close()
    assert ends[-1] == (False, True, False)


def test_caption_codes_are_stable():
    assert minihack.caption_code("") == 0
    assert minihack.caption_code("You see here a key.") == minihack.caption_code(
        "You see here a key."
    )
    assert minihack.caption_code("a") != minihack.caption_code("b")
    assert minihack.message_text(np.frombuffer(b"It's a wall.\0\0\0", np.uint8)) == "It's a wall."


def test_bonus_view_and_glyph_cnn(room):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    obs, _ = room.reset(seed=0)
    batch = {k: np.stack([v, v]) for k, v in obs.items()}
    assert minihack.bonus_view(batch).shape == (2, minihack.CROP, minihack.CROP, 1)
    net = minihack.GlyphCNN(room.observation_space, features_dim=32)
    features = net({k: torch.as_tensor(v) for k, v in batch.items()})
    assert features.shape == (2, 32) and torch.isfinite(features).all()
    features.sum().backward()
    assert net.glyph_embed.weight.grad is not None
