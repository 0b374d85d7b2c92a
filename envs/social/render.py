"""RGB frames of a social env's whole map (numpy, outside JAX), for pictures and GIFs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from envs.social.base import APPLE, COIN_0, COIN_1, EMPTY, RIVER, WALL, WASTE

if TYPE_CHECKING:
    from envs.social.base import GridSocialEnv, SocialState

# Colours follow Melting Pot's palettes where it has one (sand floor, grey walls, red apples).
OBJECT_RGB = {
    EMPTY: (220, 205, 185),
    WALL: (100, 100, 100),
    APPLE: (214, 88, 88),
    RIVER: (34, 129, 163),
    WASTE: (60, 150, 60),
    COIN_0: (238, 102, 119),
    COIN_1: (68, 119, 170),
}
# Melting Pot's human_readable avatar colours (first seven).
AGENT_RGB = np.array(
    [
        (45, 110, 220),
        (125, 50, 200),
        (205, 5, 165),
        (245, 65, 65),
        (245, 130, 0),
        (195, 180, 0),
        (125, 185, 65),
    ],
    np.uint8,
)


def render_frame(env: GridSocialEnv, state: SocialState, cell: int = 8) -> np.ndarray:
    """uint8 [H·cell, W·cell, 3]: objects as filled cells, agents as discs with a nose."""
    grid = np.asarray(env._map_view(state))
    palette = np.zeros((256, 3), np.uint8)
    for code, rgb in OBJECT_RGB.items():
        palette[code] = rgb
    frame = np.repeat(np.repeat(palette[grid], cell, 0), cell, 1)
    # Apples and coins as smaller squares on the floor colour.
    small = (grid == APPLE) | (grid == COIN_0) | (grid == COIN_1)
    margin = max(cell // 4, 1)
    for r, c in zip(*np.nonzero(small), strict=True):
        block = frame[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell]
        inner = block[margin:-margin, margin:-margin].copy()
        block[:] = OBJECT_RGB[EMPTY]
        block[margin:-margin, margin:-margin] = inner
    yy, xx = np.mgrid[:cell, :cell] + 0.5
    disc = (yy - cell / 2) ** 2 + (xx - cell / 2) ** 2 <= (cell / 2.2) ** 2
    noses = {0: (slice(0, 2), slice(cell // 2 - 1, cell // 2 + 1))}
    pos, orient, removed = (np.asarray(x) for x in (state.pos, state.orient, state.removed))
    for i in range(env.num_agents):
        if removed[i] > 0:
            continue
        r, c = pos[i]
        block = frame[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell]
        block[disc] = AGENT_RGB[i % len(AGENT_RGB)]
        nose = np.zeros((cell, cell), bool)
        nose[noses[0]] = True
        block[np.rot90(nose, -int(orient[i]))] = (255, 255, 255)
    return frame
