"""Prompt templates for LLM annotators and the parsers of their answers.

Two questions are asked, following ONI (Zheng et al. 2024, "Online Intrinsic Rewards for
Decision Making Agents from Large Language Model Feedback") and Motif (Klissarov et al.
2023, "Motif: Intrinsic Motivation from Artificial Intelligence Feedback"):

* a **label**: given the task description and one caption of an event, is the event
  helpful or interesting for the task? → ``yes`` / ``no``;
* a **preference**: given two captions, which one is more helpful? → ``1`` / ``2``
  (``0`` for "equally").

Templates are chosen per task family (``PROMPTS``); a template with the task filled in
is hashed into :attr:`Prompt.hash`, which keys the label store, so labels from different
prompts or different tasks never mix, and editing a template starts a fresh label set.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

#: Placeholder of the caption(s) in user templates.
CAPTION = "{caption}"


@dataclass(frozen=True)
class PromptTemplate:
    """System message and user templates for labels and pairwise preferences.

    ``label_user`` contains ``{task}`` and ``{caption}``; ``pair_user`` contains
    ``{task}``, ``{caption_1}`` and ``{caption_2}``.
    """

    system: str
    label_user: str
    pair_user: str


_SYSTEM = (
    "You are helping a reinforcement-learning agent explore. You judge short descriptions "
    "of events that happened to the agent and answer in exactly the format requested."
)

_LABEL_USER = (
    "The agent's task: {task}\n"
    'Event: "{caption}"\n'
    "Is this event helpful for the task, or interesting progress that a curious agent "
    "should seek out? Answer with one word: yes or no."
)

_PAIR_USER = (
    "The agent's task: {task}\n"
    'Event 1: "{caption_1}"\n'
    'Event 2: "{caption_2}"\n'
    "Which event is more helpful for the task, or more interesting progress? "
    "Answer with one character: 1 or 2 (0 if they are equally helpful)."
)

PROMPTS: dict[str, PromptTemplate] = {
    "default": PromptTemplate(_SYSTEM, _LABEL_USER, _PAIR_USER),
    # Gridworlds (MiniGrid-like): objects, keys and doors; the agent sees a short caption.
    "gridworld": PromptTemplate(
        _SYSTEM + " The agent lives in a small grid world with keys, doors, boxes and balls.",
        _LABEL_USER,
        _PAIR_USER,
    ),
    # NetHack / MiniHack messages, as in ONI and Motif.
    "nethack": PromptTemplate(
        _SYSTEM + " The agent plays NetHack; events are messages shown by the game.",
        _LABEL_USER.replace("Event:", "Message:"),
        _PAIR_USER.replace("Event 1:", "Message 1:").replace("Event 2:", "Message 2:"),
    ),
}


@dataclass(frozen=True)
class Prompt:
    """A template bound to one task description."""

    template: PromptTemplate
    task: str
    name: str = "default"
    hash: str = field(init=False)

    def __post_init__(self) -> None:
        text = "\x1f".join(
            (self.template.system, self.template.label_user, self.template.pair_user, self.task)
        )
        object.__setattr__(self, "hash", hashlib.sha256(text.encode()).hexdigest()[:16])

    def label_messages(self, caption: str) -> list[dict[str, str]]:
        """Chat messages asking for a yes/no label of ``caption``."""
        user = self.template.label_user.format(task=self.task, caption=caption)
        return [
            {"role": "system", "content": self.template.system},
            {"role": "user", "content": user},
        ]

    def pair_messages(self, caption_1: str, caption_2: str) -> list[dict[str, str]]:
        """Chat messages asking which of two captions is more helpful."""
        user = self.template.pair_user.format(
            task=self.task, caption_1=caption_1, caption_2=caption_2
        )
        return [
            {"role": "system", "content": self.template.system},
            {"role": "user", "content": user},
        ]

    def describe(self) -> str:
        """The full template text with the task filled in (stored next to the hash)."""
        return (
            f"[system]\n{self.template.system}\n[label]\n"
            + self.template.label_user.replace("{task}", self.task)
            + "\n[pair]\n"
            + self.template.pair_user.replace("{task}", self.task)
        )


def make_prompt(task: str, name: str = "default") -> Prompt:
    """Bind the template family ``name`` to a task description."""
    if name not in PROMPTS:
        raise ValueError(f"prompt: unknown template {name!r}; known: {', '.join(sorted(PROMPTS))}")
    return Prompt(PROMPTS[name], task, name)


# ---------------------------------------------------------------------------------------
# Parsing answers. ``None`` means malformed or refused; callers count and skip those.

_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_REFUSAL = re.compile(
    r"\b(i can(?:no|')t|i cannot|i'm sorry|i am sorry|i won't|as an ai|unable to (?:help|answer))",
    re.I,
)
_WORD = re.compile(r"[a-z0-9]+")


def is_refusal(text: str) -> bool:
    """Whether an answer reads as a refusal."""
    return bool(_REFUSAL.search(text))


def _answer_words(text: str) -> list[str]:
    text = _THINK.sub(" ", text)
    # "Answer: yes" — look after the last "answer" marker when there is one.
    lowered = text.lower()
    marker = lowered.rfind("answer")
    if marker >= 0 and _WORD.findall(lowered[marker + 6 :]):
        lowered = lowered[marker + 6 :]
    return _WORD.findall(lowered)


def parse_label(text: str) -> float | None:
    """``yes`` → 1.0, ``no`` → 0.0, anything else (or both) → ``None``."""
    if not isinstance(text, str) or is_refusal(text):
        return None
    words = _answer_words(text)
    if not words:
        return None
    if words[0] in ("yes", "no") and words[1:2] != ["or"]:  # not "yes or no? ..."
        return 1.0 if words[0] == "yes" else 0.0
    found = {w for w in words if w in ("yes", "no")}
    if len(found) == 1 and len(words) <= 12:  # short, unambiguous ("I'd say yes.")
        return 1.0 if found == {"yes"} else 0.0
    return None


def parse_preference(text: str) -> float | None:
    """Probability that caption 1 is preferred: ``1`` → 1.0, ``2`` → 0.0, ``0``/tie → 0.5."""
    if not isinstance(text, str) or is_refusal(text):
        return None
    words = _answer_words(text)
    if not words:
        return None
    table = {"1": 1.0, "2": 0.0, "0": 0.5, "one": 1.0, "two": 0.0, "tie": 0.5, "equal": 0.5}
    first = words[1] if words[0] in ("event", "message", "caption") and len(words) > 1 else words[0]
    if first in table:
        return table[first]
    found = {table[w] for w in words if w in ("1", "2")}
    if len(found) == 1 and len(words) <= 12:
        return found.pop()
    return None
