"""The ranking engine of issue 14: pure functions from outcomes to leaderboards and advice.

Votes reduce to pairwise outcomes (``reduce_votes``); outcomes are filtered by source and time
window and fitted with a Bradley–Terry model with sandwich confidence intervals
(``build_leaderboard``); ``recommend`` finds the cheapest model that holds its own against a
baseline. Nothing here touches storage, the network or the UI.
"""

from backend.ranking.bt import BASE_RATING, ELO_PER_LOGIT, BradleyTerryFit, Interval, fit_bradley_terry
from backend.ranking.leaderboard import (
    DEFAULT_MIN_COMPARISONS,
    Leaderboard,
    LeaderboardRow,
    StyleEffect,
    WinRates,
    build_leaderboard,
)
from backend.ranking.recommend import Evidence, Recommendation, recommend, wilson_interval
from backend.ranking.select import select_outcomes
from backend.ranking.style import style_of
from backend.ranking.types import Outcome, Result, Source, StyleFeatures, Vote, VoteChoice
from backend.ranking.votes import latest_votes, reduce_votes, vote_to_outcomes

__all__ = [
    "BASE_RATING",
    "DEFAULT_MIN_COMPARISONS",
    "ELO_PER_LOGIT",
    "BradleyTerryFit",
    "Evidence",
    "Interval",
    "Leaderboard",
    "LeaderboardRow",
    "Outcome",
    "Recommendation",
    "Result",
    "Source",
    "StyleEffect",
    "StyleFeatures",
    "Vote",
    "VoteChoice",
    "WinRates",
    "build_leaderboard",
    "fit_bradley_terry",
    "latest_votes",
    "recommend",
    "reduce_votes",
    "select_outcomes",
    "style_of",
    "vote_to_outcomes",
    "wilson_interval",
]
