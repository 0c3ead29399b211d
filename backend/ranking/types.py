"""The typed inputs of the ranking engine: pairwise outcomes, style features, multi-pane votes.

Everything here is a frozen dataclass validated on construction, so the fitting code can trust
its inputs (no naive datetimes, no model compared with itself, no negative counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Result(StrEnum):
    """How one pairwise comparison between model A and model B ended."""

    A_WINS = "a_wins"
    B_WINS = "b_wins"
    TIE = "tie"
    BOTH_BAD = "both_bad"  # counted exactly like a tie (half a win each side), as LMArena does


class Source(StrEnum):
    """Who produced an outcome; leaderboards are fitted separately per source."""

    HUMAN = "human"
    JUDGE = "judge"


class VoteChoice(StrEnum):
    """A vote that names no single best pane."""

    TIE = "tie"
    ALL_BAD = "all_bad"


def _require_aware(name: str, when: datetime) -> None:
    # Naive and aware datetimes cannot be compared; refusing naive ones here means a time
    # window filter can never raise half way through a leaderboard.
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got naive {when.isoformat()})")


@dataclass(frozen=True, slots=True)
class StyleFeatures:
    """Markdown style of one answer, the covariates of LMArena's style control."""

    tokens: int
    headers: int = 0
    lists: int = 0
    bold: int = 0

    def __post_init__(self) -> None:
        for name in STYLE_FEATURE_NAMES:
            if getattr(self, name) < 0:
                raise ValueError(f"style feature {name} must be >= 0")

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.tokens, self.headers, self.lists, self.bold)


STYLE_FEATURE_NAMES: tuple[str, ...] = ("tokens", "headers", "lists", "bold")


@dataclass(frozen=True, slots=True)
class Outcome:
    """One pairwise comparison: model_a against model_b, its result, source and time.

    ``cluster`` groups outcomes that are not independent (the pairs one multi-pane vote expands
    to, or a judge's two orders of one pair): the interval estimator sums their scores before
    squaring them, so one vote counted as several pairs does not shrink the intervals.
    ``None`` means the outcome is its own cluster.
    """

    model_a: str
    model_b: str
    result: Result
    source: Source
    at: datetime
    style_a: StyleFeatures | None = None
    style_b: StyleFeatures | None = None
    cluster: str | None = None

    def __post_init__(self) -> None:
        if not self.model_a or not self.model_b:
            raise ValueError("an outcome needs two model ids")
        if self.model_a == self.model_b:
            raise ValueError(f"an outcome compares two different models (got {self.model_a!r} twice)")
        _require_aware("Outcome.at", self.at)

    @property
    def score_a(self) -> float:
        """Model A's share of the point: 1 for a win, 0.5 for a tie or both bad, 0 for a loss."""
        if self.result is Result.A_WINS:
            return 1.0
        if self.result is Result.B_WINS:
            return 0.0
        return 0.5

    @property
    def has_style(self) -> bool:
        return self.style_a is not None and self.style_b is not None


@dataclass(frozen=True, slots=True)
class Vote:
    """One person's vote on a comparison of several panes.

    ``best`` is the index into ``pane_models`` of the best pane, or a VoteChoice for "tie" or
    "all bad". ``pane_styles``, when given, has one entry per pane (for style control).
    """

    voter: str
    comparison_id: str
    pane_models: tuple[str, ...]
    best: int | VoteChoice
    at: datetime
    pane_styles: tuple[StyleFeatures, ...] | None = None

    def __post_init__(self) -> None:
        if len(self.pane_models) < 2:
            raise ValueError("a vote needs at least two panes")
        if isinstance(self.best, int) and not 0 <= self.best < len(self.pane_models):
            raise ValueError(f"best pane index {self.best} is outside 0..{len(self.pane_models) - 1}")
        if self.pane_styles is not None and len(self.pane_styles) != len(self.pane_models):
            raise ValueError("pane_styles needs one entry per pane")
        _require_aware("Vote.at", self.at)
