"""RGB rendering of gridworld states with MiniGrid-like tiles (NumPy, outside jit)."""

from __future__ import annotations

import numpy as np

from envs.gridworld import objects as O

# MiniGrid's COLORS palette.
PALETTE = np.array(
    [(255, 0, 0), (0, 255, 0), (0, 0, 255), (112, 39, 195), (255, 255, 0), (100, 100, 100)],
    np.uint8,
)
_cache: dict[tuple[int, int, int], np.ndarray] = {}


def _disc(size: int, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    return (yy - size / 2) ** 2 + (xx - size / 2) ** 2 <= (radius * size) ** 2


def _tile(code: int, size: int) -> np.ndarray:
    """The picture of one cell code (cached)."""
    key = (code, size, 0)
    if key in _cache:
        return _cache[key]
    obj, colour, state = (int(v) for v in O.TABLES["obs"][code])
    name = O.OBJECTS[obj]
    rgb = PALETTE[colour]
    img = np.zeros((size, size, 3), np.uint8)
    b = max(1, size // 16)  # border width
    yy, xx = np.mgrid[0:size, 0:size]
    if name == "wall":
        img[:] = PALETTE[5]
    elif name == "goal":
        img[:] = PALETTE[1]
    elif name == "lava":
        img[:] = (255, 128, 0)
        wave = (np.abs(((xx / size * 6) % 2) - 1) * size * 0.1 + yy % (size // 3 + 1)) < 2
        img[wave] = 0
    elif name == "floor":
        img[:] = rgb // 2
    elif name == "door":
        if state == O.DOOR_OPEN:
            img[:, :b] = rgb
            img[:, -b:] = rgb
        else:
            img[:] = rgb
            img[b:-b, b:-b] = 0 if state == O.DOOR_CLOSED else rgb // 2
            img[size // 2 - b : size // 2 + b, int(size * 0.7) : int(size * 0.8)] = rgb
    elif name == "key":
        shaft = (xx > size * 0.45) & (xx < size * 0.6) & (yy > size * 0.3) & (yy < size * 0.85)
        teeth = (yy > size * 0.65) & (yy < size * 0.75) & (xx >= size * 0.6) & (xx < size * 0.75)
        ring = _disc(size, 0.2) & ~_disc(size, 0.1)
        ring = np.roll(ring, -int(size * 0.22), axis=0)
        img[shaft | teeth | ring] = rgb
    elif name == "ball":
        img[_disc(size, 0.3)] = rgb
    elif name == "box":
        inner = (yy > size * 0.15) & (yy < size * 0.85) & (xx > size * 0.15) & (xx < size * 0.85)
        hollow = (yy > size * 0.22) & (yy < size * 0.78) & (xx > size * 0.22) & (xx < size * 0.78)
        img[inner & ~hollow] = rgb
        img[(np.abs(yy - size / 2) < b) & inner] = rgb
    # Grid lines, as MiniGrid draws them.
    img[:b, :] = np.maximum(img[:b, :], 25)
    img[:, :b] = np.maximum(img[:, :b], 25)
    _cache[key] = img
    return img


def _agent(size: int, direction: int) -> np.ndarray:
    """Mask of the agent's triangle pointing in ``direction`` (0 right, 1 down, 2 left, 3 up)."""
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size
    # Triangle pointing right, then rotated.
    mask = (xx > 0.12) & (xx < 0.88) & (np.abs(yy - 0.5) < (0.88 - xx) * 0.5 * 0.9)
    return np.rot90(mask, k=-direction)


def render_grid(
    grid: np.ndarray,
    agent_pos: np.ndarray,
    agent_dir: int,
    tile_size: int = 16,
    view: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Picture of an unpadded ``[H, W]`` grid of codes with the agent and its view."""
    h, w = grid.shape
    img = np.zeros((h * tile_size, w * tile_size, 3), np.uint8)
    for r in range(h):
        for c in range(w):
            img[r * tile_size : (r + 1) * tile_size, c * tile_size : (c + 1) * tile_size] = _tile(
                int(grid[r, c]), tile_size
            )
    if view is not None:
        rows, cols = view
        inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        highlight = np.zeros((h, w), bool)
        highlight[rows[inside], cols[inside]] = True
        up = np.kron(highlight, np.ones((tile_size, tile_size), bool))
        img[up] = (img[up].astype(np.int32) * 0.7 + 255 * 0.3).astype(np.uint8)
    r, c = int(agent_pos[0]), int(agent_pos[1])
    tile = img[r * tile_size : (r + 1) * tile_size, c * tile_size : (c + 1) * tile_size]
    tile[_agent(tile_size, agent_dir)] = (255, 0, 0)
    return img
