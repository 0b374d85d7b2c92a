"""The run configuration: a typed schema validated before anything runs.

``explore train env=DoorKey-8x8 bonus=rnd ppo.lr=3e-4 env.contexts=0`` becomes a
:class:`RunConfig`. Dotted keys address nested fields: the chosen agent's settings section
(``ppo.*``; ``ippo.*`` for ``agent=ippo``, ...) and free-form keyword groups (``env.*`` →
``env_kwargs``, ``bonus.*`` → ``bonus_kwargs``); a bare agent field (``lr=3e-4``) is shorthand
for the chosen agent's section. Unknown names list the close matches; wrong types or ranges
name the field and what it accepts.

The agents' settings are not declared here: each section is the agent's own settings class
from :mod:`agents.configs` (one place per default), so ``--help``, validation and the resolved
``config.yaml`` follow the agent's code.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_serializer,
    model_validator,
)

from agents.configs import AGENTS, RUN_LEVEL_FIELDS, PPOConfig, SameAs, agent_entry, sections

DEFAULT_AGENT = "ppo"


class _RunFields(BaseModel):
    """The run-level fields of :class:`RunConfig` (the agent sections are added from the registry)."""

    model_config = ConfigDict(extra="forbid")

    env: str = Field("DoorKey-8x8", description="environment name (`explore envs` lists them)")
    env_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="env overrides, e.g. env.contexts=0"
    )
    agent: str = Field(DEFAULT_AGENT, description="agent (`explore train --help` lists them)")
    bonus: str = Field("none", description="intrinsic reward spec, e.g. rnd, product(rnd,e3b)")
    bonus_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="bonus fields, e.g. bonus.lr=1e-4"
    )
    seed: int = Field(0, ge=0, description="seed of this run")
    total_steps: int = Field(
        PPOConfig.model_fields["total_steps"].default,
        ge=1,
        description="environment steps per seed",
    )
    log_every: int = Field(10, ge=1, description="updates between log lines (one compiled chunk)")
    checkpoint_every: int = Field(1, ge=1, description="chunks between checkpoints")
    tensorboard: bool = Field(False, description="also write TensorBoard event files")
    wandb: bool = Field(
        False, description="also log to Weights & Biases (offline unless WANDB_MODE)"
    )
    vec_env: Literal["dummy", "subproc"] = Field(
        "dummy", description="sb3 agents: DummyVecEnv (one process) or SubprocVecEnv (one per env)"
    )
    imports: list[str] = Field(
        default_factory=list,
        description="plugin modules (or .py files) that register envs/bonuses/agents, imported first",
    )
    # Recorded, not set: see explore.plugins. The run fingerprint hashes these sources.
    plugins: dict[str, str] = Field(
        default_factory=dict,
        description="recorded: every plugin module loaded for the run → its source file",
    )
    # Recorded, not set: filled from envs.env_version when a run starts (explore.runs), so
    # runs of different env versions are never pooled; hashed into the run fingerprint.
    env_version: int | None = Field(
        None, description="recorded: the env's registered version when the run started"
    )

    @field_validator("imports", mode="before")
    @classmethod
    def _imports_list(cls, value: Any) -> Any:
        # imports=my_pkg.envs or imports=a,b on the command line: a list of one or more.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("imports", mode="after")
    @classmethod
    def _load_imports(cls, value: list[str]) -> list[str]:
        # Imported while validating, so every process that reads the config (sweep pool and
        # Ray workers, report) has the plugin's envs and bonuses before it uses them.
        from explore.plugins import load_all

        load_all(value)
        return value

    @model_validator(mode="after")
    def _record_plugins(self) -> Any:
        if not self.plugins:
            from explore.plugins import loaded

            self.plugins = loaded()
        return self

    @field_validator("agent")
    @classmethod
    def _known_agent(cls, value: str) -> str:
        try:
            agent_entry(value)
        except KeyError as err:
            raise ValueError(err.args[0]) from None
        return value

    @field_validator("total_steps", mode="before")
    @classmethod
    def _float_steps(cls, value: Any) -> Any:
        # Accept 5e6 as a count.
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                return value
            if number.is_integer():
                return int(number)
        return value

    @model_validator(mode="before")
    @classmethod
    def _fill_agent_section(cls, data: Any) -> Any:
        # The chosen agent's section is filled with its defaults; another agent's section is
        # a mistake (settings that would silently do nothing).
        if not isinstance(data, dict):
            return data
        data = dict(data)
        agent = data.get("agent", DEFAULT_AGENT)
        if not isinstance(agent, str) or agent not in AGENTS:
            return data  # the field validator reports it
        section = AGENTS[agent].section
        for name in sections():
            if name != section and data.get(name) is not None:
                raise ValueError(
                    f"{name}.* settings given, but agent={agent} reads {section}.* "
                    f"(agents with {name}.*: "
                    f"{', '.join(a for a, e in AGENTS.items() if e.section == name)})"
                )
        values = data.get(section) or {}
        if isinstance(values, BaseModel):
            values = values.model_dump()
        if isinstance(values, dict):
            for key in RUN_LEVEL_FIELDS:
                if key in values:
                    raise ValueError(f"{section}.{key}: set the run's {key} instead")
            # The chosen agent's own class: an agent sharing a section may read fewer fields
            # (SB3's agents), and a field it does not read is refused rather than ignored.
            config = AGENTS[agent].config
            wide = sections()[section].model_fields
            # At its default such a field changes nothing (config.yaml files written before
            # the agent had its own class list it): dropped, not refused.
            values = {
                k: v
                for k, v in values.items()
                if k in config.model_fields or k not in wide or v != wide[k].default
            }
            unread = [k for k in values if k not in config.model_fields]
            if unread and all(k in wide for k in unread):
                users = [a for a, e in AGENTS.items() if unread[0] in e.config.model_fields]
                raise ValueError(
                    f"{section}.{unread[0]}: agent={agent} does not use it "
                    f"(agents that do: {', '.join(users)})"
                )
            values = {**bonus_settings(data.get("bonus"), config, values), **values}
        data[section] = values
        return data

    @model_serializer(mode="wrap")
    def _dump(self, handler: Any) -> dict[str, Any]:
        # Only the chosen agent's section, without the run-level fields it mirrors.
        data = handler(self)
        for key in ("imports", "plugins"):  # written only when used
            if not data.get(key):
                data.pop(key, None)
        if data.get("env_version") is None:  # recorded once the run starts
            data.pop("env_version", None)
        # The chosen agent's section holds only the fields that agent reads (SB3's agents read
        # part of ppo.*).
        read = AGENTS[self.agent].config.model_fields if self.agent in AGENTS else {}
        for name in sections():
            if data.get(name) is None:
                data.pop(name, None)
            else:
                for key in RUN_LEVEL_FIELDS:
                    data[name].pop(key, None)
                if name == self.section:
                    data[name] = {k: v for k, v in data[name].items() if k in read}
        return data

    @property
    def section(self) -> str:
        """Name of the chosen agent's settings section (``ppo``, ``ippo``, ...)."""
        return AGENTS[self.agent].section

    @property
    def agent_settings(self) -> BaseModel:
        """The chosen agent's settings (its own class), with the run's ``total_steps``."""
        settings = getattr(self, self.section)
        config = AGENTS[self.agent].config
        if type(settings) is not config:  # an agent reading part of a shared section (SB3)
            settings = config(**settings.model_dump(include=set(config.model_fields)))
        return settings.model_copy(update={k: getattr(self, k) for k in RUN_LEVEL_FIELDS})

    def identity(self) -> dict[str, Any]:
        """The fields that make runs differ, apart from the seed."""
        data = self.model_dump(mode="json")
        data.pop("seed")
        for key in ("log_every", "checkpoint_every", "tensorboard", "wandb", "vec_env"):
            data.pop(key)
        # How plugins were loaded (--import, $EXPLORE_PLUGINS, imports:) does not change the
        # run; what they contain is hashed into the run fingerprint from ``plugins``.
        data.pop("imports", None)
        data.pop("plugins", None)
        data.pop("env_version", None)  # in the run fingerprint, not the config hash
        return data

    def config_hash(self) -> str:
        """Short stable hash of :meth:`identity` (same config and any seed → same hash)."""
        text = json.dumps(self.identity(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:8]


def _section_doc(section: str) -> str:
    return f"settings of {', '.join(a for a, e in AGENTS.items() if e.section == section)}"


RunConfig = create_model(
    "RunConfig",
    __base__=_RunFields,
    __doc__="Everything that defines a run (one seed); the resolved form is saved as config.yaml.",
    **{
        name: (config | None, Field(None, description=_section_doc(name)))
        for name, config in sections().items()
    },
)


def in_jax_loop(agent: str) -> bool:
    """Whether ``agent`` trains in :mod:`explore.train`'s JAX loop (all seeds in one compiled
    program), else one seed per process through :mod:`explore.train_sb3` (the SB3 agents,
    registered without a JAX runner). The one place where the driver is chosen by agent:
    :func:`explore.train.train` dispatches on it and the sweep launchers read it."""
    return agent_entry(agent).runner is not None


def bonus_settings(
    bonus: Any, config: type[PPOConfig], given: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The agent settings that ``bonus`` recommends (``Bonus.agent_defaults``), resolved for
    an agent with settings class ``config`` whose section sets ``given``.

    Only fields the section has are returned; ``SameAs(field)`` takes that field's given
    value (or its default). The run's own values win: the caller merges these under them.
    """
    if not isinstance(bonus, str) or bonus.strip() in ("", "none"):
        return {}
    from agents.bonuses import agent_defaults  # imports the bonus modules (JAX)

    given = given or {}
    fields = config.model_fields
    resolved = {}
    for key, value in agent_defaults(bonus).items():
        if key not in fields or key in RUN_LEVEL_FIELDS:
            continue
        if isinstance(value, SameAs):
            value = given.get(value.field, fields[value.field].default)
        resolved[key] = value
    return resolved


def bonus_settings_help() -> list[tuple[str, str]]:
    """(bonus, "field=value, ...") for every bonus that brings agent settings, for ``--help``."""
    from agents.bonuses import agent_defaults, registered

    rows = []
    for name in registered():
        settings = agent_defaults(name)
        if settings:
            shown = (f"{k}={v.field if isinstance(v, SameAs) else v}" for k, v in settings.items())
            rows.append((name, ", ".join(shown)))
    return rows


def _section_fields(config: type[PPOConfig]) -> dict[str, Any]:
    return {k: v for k, v in config.model_fields.items() if k not in RUN_LEVEL_FIELDS}


def field_help(agent: str | None = None) -> list[tuple[str, str, str]]:
    """(name, default, description) of every field, for ``--help``.

    With ``agent``, the run fields and that agent's section; without, the run fields, every
    field of the default agent's section, and each other section's own additions.
    """
    rows = []
    for name, info in _RunFields.model_fields.items():
        default = info.default_factory() if info.default_factory else info.default
        doc = info.description or ""
        if name == "agent":  # read from the live registry: plugin agents too
            doc = "agent: " + ", ".join(AGENTS) + " (settings: <section>.*)"
        rows.append((name, repr(default), doc))
    chosen = {AGENTS[agent].section: AGENTS[agent].config} if agent else sections()
    base = _section_fields(PPOConfig)
    for section, config in chosen.items():
        fields = _section_fields(config)
        shown = (
            fields
            if agent or section == AGENTS[DEFAULT_AGENT].section
            else {k: v for k, v in fields.items() if k not in base or v.default != base[k].default}
        )
        for sub, info in shown.items():
            rows.append((f"{section}.{sub}", repr(info.default), info.description or ""))
    return rows


def _parse_value(text: str) -> Any:
    # YAML scalars: 3e-4 → float, true → bool, [0, 1] → list; strings stay strings.
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            return float(value) if any(c in value for c in ".eE") else value
        except ValueError:
            return value
    return value


def _chosen_agent(data: dict[str, Any], overrides: list[str]) -> str:
    agent = data.get("agent", DEFAULT_AGENT)
    for item in overrides:
        key, sep, text = item.partition("=")
        if sep and key.strip() == "agent":
            agent = text.strip()
    return agent if agent in AGENTS else DEFAULT_AGENT


def _load_imports(data: Any, overrides: list[str] = ()) -> None:
    # A config's own plugins (``imports:``, ``imports=`` overrides) register their agents,
    # and so the agents' settings sections, before the config is read against the schema.
    if not isinstance(data, dict):
        return
    given = [data.get("imports")]
    for item in overrides:
        key, sep, text = item.partition("=")
        if sep and key.strip() == "imports":
            given.append(_parse_value(text.strip()))  # a, b or [a, b]
    targets = [t for value in given for t in ([value] if isinstance(value, str) else value or [])]
    names = [p.strip() for t in targets for p in str(t).split(",") if p.strip()]
    if names:
        from explore.plugins import load_all

        load_all(names)


_EXTENDED: dict[tuple, type] = {}


def run_config_class() -> type[RunConfig]:
    """:class:`RunConfig`, extended with the settings sections of agents registered after
    this module was imported (plugins): a subclass, so every run config is a RunConfig."""
    extra = {k: v for k, v in sections().items() if k not in RunConfig.model_fields}
    if not extra:
        return RunConfig
    key = tuple(extra.items())
    if key not in _EXTENDED:
        _EXTENDED[key] = create_model(
            "RunConfig",
            __base__=RunConfig,
            __doc__=RunConfig.__doc__,
            **{k: (v | None, Field(None, description=_section_doc(k))) for k, v in extra.items()},
        )
    return _EXTENDED[key]


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key=value`` strings to a config dict (returns a new dict)."""
    # Imported here: ``import envs`` loads JAX, which the parser and ``--help`` never need.
    from envs.names import did_you_mean

    _load_imports(data, overrides)
    data = json.loads(json.dumps(data))
    top = set(_RunFields.model_fields)
    section = AGENTS[_chosen_agent(data, overrides)].section
    agent_fields = set(_section_fields(sections()[section]))
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"override {item!r} is not key=value")
        value = _parse_value(text.strip())
        head, _, rest = key.partition(".")
        if rest:
            if head == "env":
                data.setdefault("env_kwargs", {})[rest] = value
            elif head == "bonus":
                data.setdefault("bonus_kwargs", {})[rest] = value
            elif head in sections():
                known = set(_section_fields(sections()[head]))
                if rest in RUN_LEVEL_FIELDS:
                    raise ValueError(f"{key}: set the run's {rest} instead ({rest}=...)")
                if rest not in known:
                    raise ValueError(
                        f"unknown field '{head}.{rest}'.{did_you_mean(rest, sorted(known))}"
                    )
                data.setdefault(head, {})[rest] = value
            else:
                groups = ", ".join(f"{g}.*" for g in ["env", "bonus", *sections()])
                raise ValueError(f"unknown field group {head!r} in {key!r}; use {groups}")
        elif key in top:
            data[key] = value
        elif key in agent_fields:
            data.setdefault(section, {})[key] = value
        else:
            choices = sorted(top | agent_fields | {"seeds", "out"})
            raise ValueError(f"unknown field {key!r}.{did_you_mean(key, choices)}")
    return data


def build_config(data: dict[str, Any]) -> RunConfig:
    """Validate ``data`` into a RunConfig; errors name each offending field."""
    from envs.names import did_you_mean  # see apply_overrides

    _load_imports(data)
    schema = run_config_class()
    try:
        return schema.model_validate(data)
    except ValidationError as err:
        lines = []
        for e in err.errors():
            field = ".".join(str(p) for p in e["loc"])
            if e["type"] == "extra_forbidden":
                head = str(e["loc"][0])
                group = sections()[head] if head in sections() and len(e["loc"]) > 1 else schema
                lines.append(
                    f"unknown field {field!r}.{did_you_mean(str(e['loc'][-1]), list(group.model_fields))}"
                )
            elif not e["loc"]:
                lines.append(str(e.get("ctx", {}).get("error", e["msg"])))
            else:
                message = str(e.get("ctx", {}).get("error", "")) or e["msg"]
                lines.append(f"field {field!r}: {message} (got {e.get('input')!r})")
        raise ValueError("invalid config: " + "; ".join(lines)) from None


def yaml_error_line(path: str | Path, err: yaml.YAMLError) -> str:
    """One line for a YAML file that cannot be read: file, line, column and the problem."""
    problem = getattr(err, "problem", None) or getattr(err, "context", None) or str(err)
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    problem = " ".join(str(problem).split())
    if isinstance(err, yaml.constructor.ConstructorError) and "tag" in problem:
        # safe_load refuses python/... tags on purpose: they would run code.
        problem += "; only plain YAML is read (tags such as !!python/... are refused)"
    return f"{path}: not valid YAML{where}: {problem}"


def read_yaml_file(path: str | Path, what: str = "config file") -> Any:
    """``yaml.safe_load`` of a file; a missing or malformed file raises a one-line error.

    Shared by ``explore train --config`` and ``explore sweep`` so both say the same thing.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such {what}")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(yaml_error_line(path, err)) from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a text file ({err.reason})") from None


def load_config(path: str | Path | None, overrides: list[str]) -> RunConfig:
    """Config from an optional YAML file (``yaml.safe_load``) plus overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        data = read_yaml_file(path, "config file")
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ValueError(
                f"{path}: a config file must be a YAML mapping, got {type(data).__name__}"
            )
    return build_config(apply_overrides(data, overrides))


def parse_seeds(text: str | int | list) -> list[int]:
    """``"0-4"`` → [0..4], ``"1,3,5"`` → [1, 3, 5], ``3`` → [3]."""
    if isinstance(text, int):
        return [text]
    if isinstance(text, list):
        return [int(s) for s in text]
    seeds: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        lo, dash, hi = part.partition("-")
        try:
            if dash:
                if int(hi) < int(lo):
                    raise ValueError
                seeds.extend(range(int(lo), int(hi) + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise ValueError(f"seeds: cannot parse {text!r}; use e.g. 0-4 or 1,3,5") from None
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct non-negative integers, got {text!r}")
    return seeds
