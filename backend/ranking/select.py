"""Filtering outcomes by source and time window, always before a fit (never after)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from backend.ranking.types import Outcome, Source


def select_outcomes(
    outcomes: Iterable[Outcome],
    *,
    source: Source | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Outcome]:
    """Outcomes of ``source`` (any when None) with ``since <= at < until`` (open ends when None).

    The window is half-open so consecutive windows never count an outcome twice.
    """
    for name, bound in (("since", since), ("until", until)):
        if bound is not None and (bound.tzinfo is None or bound.utcoffset() is None):
            raise ValueError(f"{name} must be timezone-aware")
    if since is not None and until is not None and until < since:
        raise ValueError("until is before since")
    return [
        o
        for o in outcomes
        if (source is None or o.source is source)
        and (since is None or o.at >= since)
        and (until is None or o.at < until)
    ]
