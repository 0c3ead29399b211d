"""Outcomes drawn from a known Bradley–Terry model (optionally with a length effect), seeded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from backend.ranking import Outcome, Result, Source, StyleFeatures

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def centred(strengths: Sequence[float]) -> np.ndarray:
    values = np.asarray(strengths, dtype=np.float64)
    return values - values.mean()


def draw_outcomes(
    rng: np.random.Generator,
    models: Sequence[str],
    strengths: Sequence[float],
    n: int,
    *,
    source: Source = Source.HUMAN,
    length_effect: float = 0.0,
    mean_tokens: Sequence[float] | None = None,
) -> list[Outcome]:
    """``n`` outcomes between uniformly drawn distinct pairs, P(A wins) = sigmoid(dA - dB + effect*d).

    With ``mean_tokens``, each answer's length is lognormal around its model's mean and ``d`` is
    the normalized length difference (a-b)/(a+b) that style control uses.
    """
    k = len(models)
    theta = np.asarray(strengths, dtype=np.float64)
    a = rng.integers(k, size=n)
    b = (a + rng.integers(1, k, size=n)) % k  # uniform over the other models
    logit = theta[a] - theta[b]
    tokens_a = tokens_b = None
    if mean_tokens is not None:
        means = np.asarray(mean_tokens, dtype=np.float64)
        tokens_a = np.maximum(1, np.round(means[a] * rng.lognormal(0.0, 0.5, n))).astype(int)
        tokens_b = np.maximum(1, np.round(means[b] * rng.lognormal(0.0, 0.5, n))).astype(int)
        logit = logit + length_effect * (tokens_a - tokens_b) / (tokens_a + tokens_b)
    a_wins = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    outcomes = []
    for i in range(n):
        style_a = StyleFeatures(tokens=int(tokens_a[i])) if tokens_a is not None else None
        style_b = StyleFeatures(tokens=int(tokens_b[i])) if tokens_b is not None else None
        outcomes.append(
            Outcome(
                models[a[i]],
                models[b[i]],
                Result.A_WINS if a_wins[i] else Result.B_WINS,
                source,
                T0 + timedelta(minutes=i),
                style_a,
                style_b,
            )
        )
    return outcomes


def repeat(
    model_a: str, model_b: str, result: Result, times: int, source: Source = Source.HUMAN
) -> list[Outcome]:
    return [Outcome(model_a, model_b, result, source, T0 + timedelta(seconds=i)) for i in range(times)]
