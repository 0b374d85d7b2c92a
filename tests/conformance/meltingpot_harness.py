"""Drive Melting Pot's own substrates and ours through the same scripted scenario.

The reference is Melting Pot's substrate code (``dm-meltingpot``'s Python configs and Lua
files, installed by ``scripts/install_meltingpot.py``) run by ``dmlab2d``. A scenario is a
tiny ASCII map in Melting Pot's own symbols (our maps use the same ones), component
parameters forced to 0 or 1 so that rare events become certain, and a list of joint
actions. :class:`Reference` builds the substrate with those settings and reads back, after
every step, what both implementations can report alike (:class:`Snapshot`): positions,
orientations, presence, rewards, and the map as our object codes. :class:`Ours` runs the
same scenario in ``envs.social``, starting from the reference's initial placement (spawn
points and orientations are drawn by each side's own random stream).

How the reference's map is read: ``dmlab2d``'s ``GLOBAL.TEXT`` observation prints, for every
cell, the first letter of the topmost sprite's name. Before building, every sprite name of
the settings is renamed so that its first letter says what it is (``_category``): ``#``
wall, ``a`` apple, ``x`` waste, ``~`` river, ``.`` floor, ``c`` / ``d`` coin of player 0 / 1,
``0``–``9`` avatars. Sprites named in the Lua code (the beams) keep their capitalised
names, so an upper-case letter marks a cell hidden by a beam for that frame.

Nothing here is imported by the package: the reference is loaded at run time only.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from envs.social.base import APPLE, COIN_0, COIN_1, EMPTY, RIVER, WALL, WASTE

HIDDEN = -1  # an avatar stands on the cell (its content is not visible in GLOBAL.TEXT)
BEAM = -2  # a beam is drawn over the cell this frame
REFERENCE_VERSION = "2.4.1"
SUBSTRATES = {
    "Harvest-Open": "commons_harvest__open",
    "Harvest-Closed": "commons_harvest__closed",
    "CleanUp": "clean_up",
    "Coins": "coins",
}
_CHAR_TO_CODE = {
    "#": WALL,
    "a": APPLE,
    "x": WASTE,
    "~": RIVER,
    ".": EMPTY,
    " ": EMPTY,  # no sprite at all (outside the Coins room)
    "c": COIN_0,
    "d": COIN_1,
}


def available() -> str | None:
    """``None`` if the reference can run here, else why not (for the failure message)."""
    for module in ("dmlab2d", "ml_collections", "immutabledict"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -e '.[conformance]')"
    try:
        spec = importlib.util.find_spec("meltingpot.configs.substrates")
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        return "Melting Pot's sources are not installed (python scripts/install_meltingpot.py)"
    return None


def _category(sprite: str, coin_sprites: tuple[str, ...] = ()) -> str:
    """The first letter a sprite is renamed to start with (what the cell holds)."""
    if sprite.startswith("Avatar"):
        digits = sprite[len("Avatar") :]
        return str(int(digits) - 1) if digits else "0"
    if sprite in coin_sprites:
        return "cd"[coin_sprites.index(sprite)]
    if sprite == "Apple":
        return "a"
    if sprite == "Dirt":
        return "x"
    if sprite.startswith("water"):
        return "~"
    if sprite == "Wall":
        return "#"
    return "."  # floor, grass, sand, shadows, the eaten apple's ground: empty for agents


def _walk(node: Any, fn) -> Any:
    """Apply ``fn`` to every dict of a nested settings structure (in place)."""
    if isinstance(node, dict):
        fn(node)
        for value in node.values():
            _walk(value, fn)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _walk(value, fn)
    return node


def _sprite_names(settings: dict) -> set[str]:
    names: set[str] = set()

    def collect(node: dict) -> None:
        if isinstance(node.get("sprite"), str):
            names.add(node["sprite"])
        for key in ("spriteNames", "customSpriteNames"):
            if isinstance(node.get(key), (list, tuple)):
                names.update(n for n in node[key] if isinstance(n, str))

    _walk(settings, collect)
    return names


def _rename(node: Any, mapping: dict[str, str]) -> Any:
    """A copy of ``node`` with every string (value or key) in ``mapping`` renamed."""
    if isinstance(node, str):
        return mapping.get(node, node)
    if isinstance(node, dict):
        return {mapping.get(k, k): _rename(v, mapping) for k, v in node.items()}
    if isinstance(node, list):
        return [_rename(v, mapping) for v in node]
    if isinstance(node, tuple):
        return tuple(_rename(v, mapping) for v in node)
    return node


def set_component_kwargs(settings: dict, component: str, **kwargs: Any) -> int:
    """Set ``kwargs`` of every ``component`` in the settings (prefabs, scene, avatars)."""
    count = 0

    def update(node: dict) -> None:
        nonlocal count
        if node.get("component") == component:
            node.setdefault("kwargs", {}).update(kwargs)
            count += 1

    _walk(settings, update)
    if not count:
        raise KeyError(f"no component {component!r} in the settings")
    return count


@dataclass
class Snapshot:
    """What one step leaves, in our conventions (rows, columns, orientation 0 N .. 3 W)."""

    positions: np.ndarray  # int [N, 2] (row, col); meaningless while absent
    orientations: np.ndarray  # int [N]
    present: np.ndarray  # bool [N]
    rewards: np.ndarray  # float [N]
    grid: np.ndarray  # int [H, W] object codes, HIDDEN under avatars, BEAM under beams
    done: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Reference:
    """One Melting Pot substrate, built on a scenario map with forced parameters.

    ``components`` maps a Lua component name to the kwargs forced on every instance of it
    (e.g. ``{"DensityRegrow": {"regrowthProbabilities": [1, 1, 1, 1]}}``).
    """

    def __init__(
        self,
        substrate: str,
        ascii_map: str,
        num_players: int,
        components: dict[str, dict[str, Any]] | None = None,
        seed: int = 1,
        max_steps: int = 5000,
    ) -> None:
        import dmlab2d  # noqa: F401  (fail early, before any build work)
        from meltingpot.utils.substrates import builder

        module = importlib.import_module(f"meltingpot.configs.substrates.{SUBSTRATES[substrate]}")
        module._ENABLE_DEBUG_OBSERVATIONS = True  # POSITION / ORIENTATION observations
        config = module.get_config()
        if substrate == "Coins":
            config.unlock()
            config.update(dict(min_width=4, max_width=4, min_height=4, max_height=4))
        self.config = config
        settings = copy.deepcopy(dict(module.build(["default"] * num_players, config)))
        settings = _walk_to_plain(settings)
        settings["simulation"]["map"] = ascii_map.strip("\n")
        settings["maxEpisodeLengthFrames"] = max_steps
        for name, kwargs in (components or {}).items():
            set_component_kwargs(settings, name, **kwargs)
        self._check_avatar_observers(settings)
        coin_sprites: tuple[str, ...] = ()
        if substrate == "Coins":
            types = [
                o["components"] for o in settings["simulation"]["gameObjects"] if "components" in o
            ]
            coin_sprites = tuple(
                c["kwargs"]["coinType"]
                for comps in types
                for c in comps
                if c.get("component") == "PlayerCoinType"
            )
        names = sorted(_sprite_names(settings))
        self.renamed = {n: _category(n, coin_sprites) + n for n in names}
        settings = _rename(settings, self.renamed)
        self.num_players = num_players
        self.substrate = substrate
        self.rows = ascii_map.strip("\n").split("\n")
        self.action_set = list(config.action_set)
        self.env = builder.builder(settings, env_seed=seed)
        self.settings = settings

    @staticmethod
    def _check_avatar_observers(settings: dict) -> None:
        found = 0

        def count(node: dict) -> None:
            nonlocal found
            if node.get("component") == "LocationObserver":
                found += 1

        _walk(settings, count)
        if not found:
            raise RuntimeError("the substrate has no LocationObserver (debug observations)")

    # ----- reading ----------------------------------------------------------------------
    def _snapshot(self, timestep) -> Snapshot:
        obs = timestep.observation
        self._last_obs = obs
        text = obs["GLOBAL.TEXT"]
        text = text.item() if hasattr(text, "item") else text
        if isinstance(text, bytes):
            text = text.decode()
        lines = text.rstrip("\n").split("\n")[: len(self.rows)]
        lines = [line[: len(self.rows[0])] for line in lines]
        grid = np.zeros((len(lines), len(lines[0])), np.int64)
        avatar_at: dict[int, tuple[int, int]] = {}
        for r, line in enumerate(lines):
            for c, ch in enumerate(line):
                if ch.isdigit():
                    grid[r, c] = HIDDEN
                    avatar_at[int(ch)] = (r, c)
                elif ch.isupper():
                    grid[r, c] = BEAM
                else:
                    grid[r, c] = _CHAR_TO_CODE[ch]
        n = self.num_players
        positions = np.zeros((n, 2), np.int64)
        orient = np.zeros(n, np.int64)
        rewards = np.zeros(n, np.float64)
        present = np.zeros(n, bool)
        for i in range(n):
            x, y = np.asarray(obs[f"{i + 1}.POSITION"]).astype(int)[:2]
            positions[i] = (y, x)
            orient[i] = int(np.asarray(obs[f"{i + 1}.ORIENTATION"]))
            rewards[i] = float(np.asarray(obs[f"{i + 1}.REWARD"]))
            # Coins' avatars share one sprite name: there every avatar is always present.
            present[i] = i in avatar_at or self.substrate == "Coins"
            if self.substrate != "Coins" and not present[i]:
                # An avatar under a beam this frame: present if a beam covers its cell.
                r, c = positions[i]
                present[i] = grid[r, c] == BEAM and not self._removed_last.get(i, False)
        self._removed_last = {i: not present[i] for i in range(n)}
        extra = {k: np.asarray(obs[k]) for k in obs if k[0].isdigit()}
        return Snapshot(positions, orient, present, rewards, grid, bool(timestep.last()), extra)

    def reset(self) -> Snapshot:
        """Start an episode; the reference places the avatars with its own random stream."""
        self._removed_last: dict[int, bool] = {}
        return self._snapshot(self.env.reset())

    def step(self, actions: list[int]) -> Snapshot:
        """One step with our action ids (the same order as Melting Pot's ``ACTION_SET``)."""
        command: dict[str, Any] = {}
        for i, a in enumerate(actions):
            for name, value in self.action_set[int(a)].items():
                command[f"{i + 1}.{name}"] = np.int32(value)
        return self._snapshot(self.env.step(command))

    def close(self) -> None:
        self.env.close()


def _walk_to_plain(node: Any) -> Any:
    """ConfigDicts and immutable dicts of the settings as plain dicts and lists."""
    if hasattr(node, "to_dict"):
        node = node.to_dict()
    if isinstance(node, dict) or (hasattr(node, "items") and not isinstance(node, str)):
        return {k: _walk_to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_walk_to_plain(v) for v in node]
    if isinstance(node, tuple):
        return [_walk_to_plain(v) for v in node]
    return node


class Ours:
    """The same scenario in ``envs.social``, started from a reference placement.

    ``options`` are ``envs.make`` options (the forced parameters); ``params`` fields of
    :class:`envs.social.base.SocialParams` to replace (the episode ending).
    """

    def __init__(
        self,
        name: str,
        ascii_map: str | None,
        num_agents: int,
        options: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        import jax

        import envs

        options = dict(options or {})
        if ascii_map is not None:
            options["ascii_map"] = ascii_map
        self.env, self.params = envs.make(name, num_agents=num_agents, **options)
        if params:
            self.params = self.params.replace(**params)
        self._step = jax.jit(self.env.step)
        self._key = jax.random.PRNGKey(seed)
        self.t = 0

    def reset(self, start: Snapshot | None = None) -> Snapshot:
        """Reset, then put the agents where ``start`` (a reference snapshot) has them."""
        import jax
        import jax.numpy as jnp

        _, self.state = self.env.reset(jax.random.fold_in(self._key, 10_000), self.params)
        if start is not None:
            self.state = self.state.replace(
                pos=jnp.asarray(start.positions, jnp.int32),
                orient=jnp.asarray(start.orientations, jnp.int32),
            )
        return self._snapshot(np.zeros(self.env.num_agents), False)

    def step(self, actions: list[int]) -> Snapshot:
        import jax
        import jax.numpy as jnp

        key = jax.random.fold_in(self._key, self.t)
        self.t += 1
        obs, state, reward, term, trunc, info = self._step(
            key, self.state, jnp.asarray(actions, jnp.int32), self.params
        )
        done = bool(term | trunc)
        # At an episode end the auto-reset state is the next episode's: report the last one.
        self.state = state
        self.last_obs = np.asarray(obs)
        self.last_info = info
        return self._snapshot(np.asarray(reward), done, info)

    def observe(self) -> np.ndarray:
        """Every agent's observation of the current state, uint8 [N, 11, 11, 4]."""
        return np.asarray(self.env.observe(self.state))

    def _snapshot(self, reward: np.ndarray, done: bool, info: Any = None) -> Snapshot:
        state = self.state
        grid = np.asarray(self.env._map_view(state)).astype(np.int64)
        present = np.asarray(state.removed) == 0
        pos = np.asarray(state.pos).astype(np.int64)
        for i in np.flatnonzero(present):
            grid[pos[i, 0], pos[i, 1]] = HIDDEN
        return Snapshot(pos, np.asarray(state.orient).astype(np.int64), present, reward, grid, done)


def differences(ref: Snapshot, ours: Snapshot, t: int) -> list[str]:
    """Human-readable differences of two snapshots (empty when they agree).

    Positions and orientations are compared for present agents only; map cells hidden in
    either (an avatar or a beam on them) are skipped.
    """
    out = []
    if not np.array_equal(ref.present, ours.present):
        out.append(f"t={t}: present {ref.present.tolist()} vs ours {ours.present.tolist()}")
    both = ref.present & ours.present
    if not np.array_equal(ref.positions[both], ours.positions[both]):
        out.append(f"t={t}: positions {ref.positions.tolist()} vs ours {ours.positions.tolist()}")
    if not np.array_equal(ref.orientations[both], ours.orientations[both]):
        out.append(
            f"t={t}: orientations {ref.orientations.tolist()} vs ours {ours.orientations.tolist()}"
        )
    if not np.allclose(ref.rewards, ours.rewards):
        out.append(f"t={t}: rewards {ref.rewards.tolist()} vs ours {ours.rewards.tolist()}")
    visible = (ref.grid >= 0) & (ours.grid >= 0)
    if not np.array_equal(ref.grid[visible], ours.grid[visible]):
        cells = np.argwhere(visible & (ref.grid != ours.grid)).tolist()
        out.append(f"t={t}: map differs at {cells}\nref\n{ref.grid}\nours\n{ours.grid}")
    return out


_OURS: dict[tuple, Ours] = {}


class Pair:
    """A reference and ours stepped in lockstep; ``diffs`` collects every disagreement."""

    def __init__(
        self,
        name: str,
        ascii_map: str,
        num_agents: int,
        components: dict[str, dict[str, Any]] | None = None,
        options: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        seed: int = 1,
    ) -> None:
        self.ref = Reference(name, ascii_map, num_agents, components, seed=seed)
        # One compiled env per scenario configuration, reused across seeds.
        cache_key = (name, ascii_map, num_agents, repr(options), repr(params))
        if cache_key not in _OURS:
            _OURS[cache_key] = Ours(
                name, None if name == "Coins" else ascii_map, num_agents, options, params
            )
        self.ours = _OURS[cache_key]
        self.ours._key = __import__("jax").random.PRNGKey(seed)
        self.ours.t = 0
        self.n = num_agents
        self.diffs: list[str] = []
        self.t = 0
        self.history: list[tuple[Snapshot, Snapshot]] = []

    def reset(self) -> tuple[Snapshot, Snapshot]:
        ref = self.ref.reset()
        ours = self.ours.reset(ref)
        self.diffs += differences(ref, ours, 0)
        self.last = (ref, ours)
        return ref, ours

    def step(self, actions: list[int]) -> tuple[Snapshot, Snapshot]:
        self.t += 1
        ref, ours = self.ref.step(actions), self.ours.step(actions)
        self.diffs += differences(ref, ours, self.t)
        self.last = (ref, ours)
        self.history.append(self.last)
        return ref, ours

    def run(self, actions: list[list[int]]) -> list[tuple[Snapshot, Snapshot]]:
        return [self.step(a) for a in actions]

    def face(self, directions: dict[int, int]) -> None:
        """Turn agents to absolute orientations (others no-op): at most two steps."""
        for _ in range(2):
            orient = self.last[0].orientations
            actions = [0] * self.n
            for i, d in directions.items():
                delta = (d - orient[i]) % 4
                actions[i] = {0: 0, 1: 6, 2: 6, 3: 5}[int(delta)]
            if not any(actions):
                return
            self.step(actions)

    def who(self, row: int, col: int) -> int:
        """Index of the (reference's) agent standing at (row, col)."""
        ref = self.last[0]
        found = [i for i in range(self.n) if tuple(ref.positions[i]) == (row, col)]
        if not found:
            raise LookupError(f"no agent at {(row, col)}: {ref.positions.tolist()}")
        return found[0]
