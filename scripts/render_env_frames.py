"""Render one frame of every environment that has ``render()`` into ``docs/envs/frames/``.

The documentation's environment pages show these PNGs. Each frame is the state after a
reset and a few random steps with a fixed key, so re-running the script gives the same
pictures. Run it after adding or changing an environment:

    .venv/bin/python scripts/render_env_frames.py            # every env
    .venv/bin/python scripts/render_env_frames.py DoorKey-8x8
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "docs" / "envs" / "frames"


def frame(name: str, steps: int = 3) -> np.ndarray | None:
    """RGB uint8 image of ``name`` after a reset and ``steps`` random actions (key 0), or
    None for an env without ``render()`` (the vector-reward tasks that are not tile grids)."""
    import envs

    env, params = envs.make(name)
    if not hasattr(env, "render"):
        return None
    key = jax.random.PRNGKey(0)
    key, reset_key = jax.random.split(key)
    _, state = env.reset(reset_key, params)
    space = env.action_space(params)
    for _ in range(steps):
        key, action_key, step_key = jax.random.split(key, 3)
        action = space.sample(action_key)
        _, state, *_ = env.step(step_key, state, action, params)
    # The gym-style wrapper state keeps the env's own state inside.
    inner = getattr(state, "env_state", state)
    return np.asarray(env.render(inner))


def main(argv: list[str] | None = None) -> int:
    """Write ``docs/envs/frames/<Name>.png`` for the named envs (default: all of them)."""
    import imageio.v3 as iio

    import envs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="env names (default: every registered env)")
    args = parser.parse_args(argv)
    names = args.names or [n for n in envs.registered() if ":" not in n]
    OUT.mkdir(parents=True, exist_ok=True)
    for name in names:
        image = frame(name)
        if image is None:
            continue
        iio.imwrite(OUT / f"{name}.png", image)
        print(f"{name}: {image.shape[1]}x{image.shape[0]} -> {OUT / (name + '.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
