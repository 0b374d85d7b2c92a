"""The run configuration: a typed schema validated before anything runs.

``explore train env=DoorKey-8x8 bonus=rnd ppo.lr=3e-4 env.contexts=0`` becomes a
:class:`RunConfig`. Dotted keys address nested fields (``ppo.*``) and free-form keyword
groups (``env.*`` → ``env_kwargs``, ``bonus.*`` → ``bonus_kwargs``); a bare PPO field
(``lr=3e-4``) is shorthand for ``ppo.lr``. Unknown names list the close matches; wrong types
or ranges name the field and what it accepts.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class PPOSettings(BaseModel):
    """PPO hyper-parameters (mirrors :class:`agents.ppo.PPOConfig`)."""

    model_config = ConfigDict(extra="forbid")

    num_envs: int = Field(16, ge=1, description="parallel environments per seed")
    num_steps: int = Field(128, ge=1, description="rollout length per update")
    lr: float = Field(2.5e-4, gt=0, description="Adam learning rate")
    anneal_lr: bool = Field(True, description="linearly anneal the learning rate to 0")
    update_epochs: int = Field(4, ge=1, description="epochs per update")
    num_minibatches: int = Field(4, ge=1, description="minibatches per epoch")
    gamma_ext: float = Field(0.99, gt=0, le=1, description="discount of extrinsic rewards")
    gamma_int: float = Field(0.99, gt=0, le=1, description="discount of intrinsic rewards")
    gae_lambda: float = Field(0.95, ge=0, le=1, description="GAE λ")
    clip_eps: float = Field(0.2, gt=0, description="PPO clip range")
    clip_value: bool = Field(True, description="clip value updates as the policy")
    ent_coef: float = Field(0.01, ge=0, description="entropy bonus coefficient")
    vf_coef: float = Field(0.5, ge=0, description="value loss coefficient")
    max_grad_norm: float = Field(0.5, gt=0, description="global gradient-norm clip")
    ext_coef: float = Field(1.0, ge=0, description="weight of extrinsic advantages")
    int_coef: float = Field(1.0, ge=0, description="weight of intrinsic advantages")
    int_episodic: bool = Field(False, description="cut intrinsic returns at episode ends")
    normalize_int_reward: bool = Field(
        True, description="divide r_int by the std of intrinsic returns"
    )
    network: Literal["auto", "mlp", "cnn"] = Field(
        "auto", description="auto: cnn for grids, else mlp"
    )
    hidden: int = Field(64, ge=1, description="width of hidden layers")
    activation: Literal["tanh", "relu"] = Field("tanh", description="MLP activation")
    gru: int = Field(0, ge=0, description="GRU memory width (0 = none)")


class RunConfig(BaseModel):
    """Everything that defines a run (one seed); the resolved form is saved as config.yaml."""

    model_config = ConfigDict(extra="forbid")

    env: str = Field("DoorKey-8x8", description="environment name (`explore envs` lists them)")
    env_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="env overrides, e.g. env.contexts=0"
    )
    agent: Literal["ppo", "sb3_ppo", "sb3_a2c"] = Field("ppo", description="agent")
    bonus: str = Field("none", description="intrinsic reward spec, e.g. rnd, product(rnd,e3b)")
    bonus_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="bonus fields, e.g. bonus.lr=1e-4"
    )
    seed: int = Field(0, ge=0, description="seed of this run")
    total_steps: int = Field(1_000_000, ge=1, description="environment steps per seed")
    log_every: int = Field(10, ge=1, description="updates between log lines (one compiled chunk)")
    checkpoint_every: int = Field(1, ge=1, description="chunks between checkpoints")
    ppo: PPOSettings = Field(default_factory=PPOSettings)
    tensorboard: bool = Field(False, description="also write TensorBoard event files")
    wandb: bool = Field(
        False, description="also log to Weights & Biases (offline unless WANDB_MODE)"
    )
    vec_env: Literal["dummy", "subproc"] = Field(
        "dummy", description="sb3 agents: DummyVecEnv (one process) or SubprocVecEnv (one per env)"
    )

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

    def identity(self) -> dict[str, Any]:
        """The fields that make runs differ, apart from the seed."""
        data = self.model_dump(mode="json")
        data.pop("seed")
        for key in ("log_every", "checkpoint_every", "tensorboard", "wandb", "vec_env"):
            data.pop(key)
        return data

    def config_hash(self) -> str:
        """Short stable hash of :meth:`identity` (same config and any seed → same hash)."""
        text = json.dumps(self.identity(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:8]


def field_help() -> list[tuple[str, str, str]]:
    """(name, default, description) of every field, for ``--help``."""
    rows = []
    for name, info in RunConfig.model_fields.items():
        if name == "ppo":
            for sub, sub_info in PPOSettings.model_fields.items():
                rows.append((f"ppo.{sub}", repr(sub_info.default), sub_info.description or ""))
        else:
            default = info.default_factory() if info.default_factory else info.default
            rows.append((name, repr(default), info.description or ""))
    return rows


def _close(name: str, candidates: list[str]) -> str:
    matches = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    return f" Did you mean: {', '.join(matches)}?" if matches else ""


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


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key=value`` strings to a config dict (returns a new dict)."""
    data = json.loads(json.dumps(data))
    top = set(RunConfig.model_fields)
    ppo_fields = set(PPOSettings.model_fields)
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
            elif head == "ppo":
                if rest not in ppo_fields:
                    raise ValueError(
                        f"unknown field 'ppo.{rest}'.{_close(rest, sorted(ppo_fields))}"
                    )
                data.setdefault("ppo", {})[rest] = value
            else:
                raise ValueError(
                    f"unknown field group {head!r} in {key!r}; use env.*, bonus.* or ppo.*"
                )
        elif key in top:
            data[key] = value
        elif key in ppo_fields:
            data.setdefault("ppo", {})[key] = value
        else:
            choices = sorted(top | ppo_fields | {"seeds", "out"})
            raise ValueError(f"unknown field {key!r}.{_close(key, choices)}")
    return data


def build_config(data: dict[str, Any]) -> RunConfig:
    """Validate ``data`` into a RunConfig; errors name each offending field."""
    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        lines = []
        for e in err.errors():
            field = ".".join(str(p) for p in e["loc"])
            if e["type"] == "extra_forbidden":
                group = PPOSettings if e["loc"][0] == "ppo" else RunConfig
                lines.append(
                    f"unknown field {field!r}.{_close(str(e['loc'][-1]), list(group.model_fields))}"
                )
            else:
                lines.append(f"field {field!r}: {e['msg']} (got {e.get('input')!r})")
        raise ValueError("invalid config: " + "; ".join(lines)) from None


def load_config(path: str | Path | None, overrides: list[str]) -> RunConfig:
    """Config from an optional YAML file (``yaml.safe_load``) plus overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        text = Path(path).read_text()
        data = yaml.safe_load(text) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a config file must be a YAML mapping")
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
