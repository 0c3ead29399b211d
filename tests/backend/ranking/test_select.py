"""Filtering outcomes by source and time window."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from backend.ranking import Outcome, Result, Source, select_outcomes
from tests.backend.ranking.draws import T0


def at(minutes: int, source: Source = Source.HUMAN) -> Outcome:
    return Outcome("a", "b", Result.A_WINS, source, T0 + timedelta(minutes=minutes))


def test_source_and_a_half_open_time_window() -> None:
    outcomes = [at(0), at(10), at(20, Source.JUDGE), at(30)]
    assert select_outcomes(outcomes) == outcomes
    assert select_outcomes(outcomes, source=Source.JUDGE) == [outcomes[2]]
    window = select_outcomes(outcomes, since=T0 + timedelta(minutes=10), until=T0 + timedelta(minutes=30))
    assert window == [outcomes[1], outcomes[2]]  # since included, until excluded
    assert select_outcomes(outcomes, source=Source.HUMAN, since=T0 + timedelta(minutes=5)) == [
        outcomes[1],
        outcomes[3],
    ]


def test_bad_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        select_outcomes([at(0)], since=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="before since"):
        select_outcomes([at(0)], since=T0, until=T0 - timedelta(seconds=1))
