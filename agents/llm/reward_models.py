"""Host-side reward models: labels and preferences → a per-caption reward table.

The three reward models of ONI (Zheng et al. 2024), fitted in NumPy between jitted
training chunks and handed to the JAX bonus as ``f32[num_captions]`` plus a ``known`` mask:

* :class:`Retrieval` — the label itself; unknown captions get 0;
* :class:`Classification` — logistic regression on caption embeddings (a sentence model,
  or hashed bag of words), trained online on the labels; every caption of the table gets
  ``p(helpful)``, so the reward generalises to captions never labelled;
* :class:`Ranking` — Bradley–Terry scores fitted to pairwise preferences, as Motif
  (Klissarov et al. 2023) distils its LLM preferences; min–max normalised to [0, 1].

A model is refitted only when the labels changed (``fit`` is cheap to call every chunk).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Features = Callable[[Sequence[str]], np.ndarray]


class RewardModel:
    """Base class: :meth:`table` maps the current labels/preferences to rewards per caption."""

    #: name in ``oni(<name>, ...)``
    name = "model"
    #: whether the model learns from pairwise preferences rather than labels
    uses_preferences = False

    def __init__(self, captions: Sequence[str]) -> None:
        self.captions = tuple(captions)
        self.index = {c: i for i, c in enumerate(self.captions) if c}

    def table(
        self, labels: dict[str, float], preferences: Sequence[tuple[str, str, float]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(reward f32[C], known bool[C])``; entry 0 (no event) is always 0 and unknown."""
        raise NotImplementedError


class Retrieval(RewardModel):
    """r(c) = label(c) when labelled, else 0."""

    name = "retrieval"

    def table(self, labels, preferences=()):
        """Look the labels up."""
        values = np.zeros(len(self.captions), np.float32)
        known = np.zeros(len(self.captions), bool)
        for caption, label in labels.items():
            i = self.index.get(caption)
            if i is not None:
                values[i], known[i] = label, True
        return values, known


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None = None,
    l2: float = 1e-2,
    steps: int = 300,
    lr: float = 2.0,
) -> np.ndarray:
    """L2-regularised logistic regression by gradient descent; returns ``[D + 1]`` (bias last).

    ``y`` may be soft targets in [0, 1]; ``w`` warm-starts the fit.
    """
    xb = np.concatenate([x, np.ones((len(x), 1), x.dtype)], axis=1).astype(np.float64)
    w = np.zeros(xb.shape[1]) if w is None else np.asarray(w, np.float64).copy()
    y = np.asarray(y, np.float64)
    reg = np.full(xb.shape[1], l2)
    reg[-1] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (p - y) / len(y) + reg * w
        w -= lr * grad
    return w


class Classification(RewardModel):
    """r(c) = p(helpful | embedding(c)) from a logistic classifier trained on the labels."""

    name = "classification"

    def __init__(
        self, captions: Sequence[str], features: Features, l2: float = 1e-2, steps: int = 300
    ) -> None:
        super().__init__(captions)
        self.features = np.asarray(features(list(self.captions)), np.float32)
        self.l2, self.steps = l2, steps
        self.weights: np.ndarray | None = None

    def table(self, labels, preferences=()):
        """Fit on the labelled captions of the table, predict every caption."""
        rows = [(self.index[c], v) for c, v in labels.items() if c in self.index]
        values = np.zeros(len(self.captions), np.float32)
        known = np.zeros(len(self.captions), bool)
        if not rows:
            return values, known
        idx = np.array([i for i, _ in rows])
        y = np.array([v for _, v in rows], np.float64)
        self.weights = fit_logistic(self.features[idx], y, self.weights, self.l2, self.steps)
        logits = self.features.astype(np.float64) @ self.weights[:-1] + self.weights[-1]
        values[:] = 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))
        known[:] = True
        empty = np.array([not c for c in self.captions])  # code 0: nothing happened
        values[empty], known[empty] = 0.0, False
        return values, known


def fit_bradley_terry(
    first: np.ndarray,
    second: np.ndarray,
    preference: np.ndarray,
    n: int,
    l2: float = 1e-2,
    iterations: int = 50,
) -> np.ndarray:
    """Bradley–Terry scores ``s[n]`` with P(i ≻ j) = σ(s_i − s_j), by damped Newton steps.

    ``preference[k]`` is the (possibly soft) probability that ``first[k]`` beat
    ``second[k]``; the L2 term makes the problem strictly convex and fixes the offset.
    """
    s = np.zeros(n)
    diff = np.zeros((len(first), n))
    diff[np.arange(len(first)), first] += 1.0
    diff[np.arange(len(first)), second] -= 1.0
    pref = np.asarray(preference, np.float64)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(diff @ s, -30, 30)))
        grad = diff.T @ (p - pref) + l2 * s
        hess = (diff * (p * (1 - p))[:, None]).T @ diff + l2 * np.eye(n)
        step = np.linalg.solve(hess, grad)
        s -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return s


class Ranking(RewardModel):
    """r(c) = min–max normalised Bradley–Terry score of c; captions never compared get 0."""

    name = "ranking"
    uses_preferences = True

    def __init__(self, captions: Sequence[str], l2: float = 1e-2) -> None:
        super().__init__(captions)
        self.l2 = l2

    def table(self, labels, preferences=()):
        """Fit Bradley–Terry on the preferences between captions of the table."""
        values = np.zeros(len(self.captions), np.float32)
        known = np.zeros(len(self.captions), bool)
        rows = [
            (self.index[a], self.index[b], p)
            for a, b, p in preferences
            if a in self.index and b in self.index and a != b
        ]
        if not rows:
            return values, known
        seen = sorted({i for a, b, _ in rows for i in (a, b)})
        local = {c: k for k, c in enumerate(seen)}
        first = np.array([local[a] for a, _, _ in rows])
        second = np.array([local[b] for _, b, _ in rows])
        scores = fit_bradley_terry(
            first, second, np.array([p for *_, p in rows]), len(seen), self.l2
        )
        span = scores.max() - scores.min()
        normalised = (scores - scores.min()) / span if span > 1e-6 else np.zeros_like(scores)
        values[seen] = normalised
        known[seen] = True
        return values, known


REWARD_MODELS = {"retrieval": Retrieval, "classification": Classification, "ranking": Ranking}
