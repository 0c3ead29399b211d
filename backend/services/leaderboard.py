"""A project's leaderboard and recommendation, from its members' votes.

Votes become pairwise outcomes (``backend.ranking.reduce_votes``: a pane's model comes from
the comparison's run at that position) and are fitted with Bradley–Terry; beside each model
go its list price per 1k output tokens (the catalog's, as run costs are computed; None for a
model the catalog does not price) and its median TTFT and tokens/s over the project's
successful runs.

``source="judge"`` fits LLM-as-judge verdicts instead (backend/judging/pairs.py: one outcome
per pair of panes, from both orders); the two sources are never mixed.

"All my projects" (``leaderboard_all``, ``recommendation_all``) pools the evidence of every
project the person is a member of, read project by project: nobody else's project is ever
read, and a project the person leaves drops out of the next board.

Results are cached in-process, keyed by a fingerprint of the project's votes, verdicts and
finished runs, recomputed only when a cheap database-wide stamp moves: a new or changed vote
or verdict, or a comparison deleted with its votes and judgements, changes it, in this process
or any other sharing the database.
"""

from __future__ import annotations

import asyncio
import math
import statistics
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.permissions import Action, Principal
from backend.catalog import load_catalog
from backend.db import judgements as judgements_repo
from backend.db import projects as projects_repo
from backend.db import votes as repo
from backend.db.engine import Database
from backend.db.votes import Ballot, RunSample
from backend.i18n import Message
from backend.judging.pairs import judge_outcomes
from backend.judging.settle import settle
from backend.ranking import (
    DEFAULT_MIN_COMPARISONS,
    Leaderboard,
    Outcome,
    Recommendation,
    Source,
    StyleFeatures,
    Vote,
    VoteChoice,
    build_leaderboard,
    recommend,
    reduce_votes,
    style_of,
)
from backend.services.access import Access
from backend.services.metrics import RunFigures
from backend.services.validation import InvalidComparison

CACHE_ENTRIES = 256  # boards and evidence kept per process, least recently used dropped first


class InvalidLeaderboardQuery(InvalidComparison):
    """A leaderboard or recommendation asked for with a bad parameter (the API answers 422)."""


@dataclass(frozen=True, slots=True)
class ModelFigures:
    cost_per_1k_output_usd: float | None  # list price; None when the catalog does not price it
    median_ttft_ms: float | None
    median_tokens_per_second: float | None
    runs: int  # successful runs the medians are taken over


@dataclass(frozen=True, slots=True)
class ProjectLeaderboard:
    project_id: str | None  # None: every project the person can read
    source: Source
    since: datetime | None
    board: Leaderboard
    figures: dict[str, ModelFigures]  # every model on the board


@dataclass(frozen=True, slots=True)
class _Evidence:
    """What a project's boards are computed from, read once per fingerprint."""

    outcomes: dict[Source, tuple[Outcome, ...]]
    samples: tuple[RunSample, ...]
    styled: tuple[Outcome, ...] = ()  # the human outcomes with each pane's style (when asked)


@dataclass(frozen=True, slots=True)
class _Query:
    source: Source
    since: datetime | None
    min_comparisons: int
    style_control: bool


class LeaderboardService:
    def __init__(self, db: Database, cache_entries: int = CACHE_ENTRIES) -> None:
        self._db = db
        self._access = Access(db)
        self._cache: OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] = OrderedDict()
        self._cache_entries = cache_entries

    async def leaderboard(
        self,
        principal: Principal,
        project_id: str,
        *,
        source: Source = Source.HUMAN,
        since: datetime | None = None,
        min_comparisons: int = DEFAULT_MIN_COMPARISONS,
        style_control: bool = False,
    ) -> ProjectLeaderboard:
        """NotFound for a non-member; InvalidLeaderboardQuery for a naive ``since``, a negative
        ``min_comparisons`` or style control over judge verdicts. ``style_control`` fits length,
        headers, lists and bold as covariates, so a model is not ranked up for its formatting."""
        _check_board_query(since, min_comparisons, source, style_control)
        await self._access.require_project(principal, Action.READ, project_id)
        fingerprint, evidence = await self._evidence(project_id, styled=style_control)
        key = ("board", project_id, source, since, min_comparisons, style_control)
        query = _Query(source, since, min_comparisons, style_control)
        return await self._board(key, fingerprint, evidence, project_id, query)

    async def leaderboard_all(
        self,
        principal: Principal,
        *,
        source: Source = Source.HUMAN,
        since: datetime | None = None,
        min_comparisons: int = DEFAULT_MIN_COMPARISONS,
        style_control: bool = False,
    ) -> ProjectLeaderboard:
        """One board over every project the principal is a member of (any role), and no other."""
        _check_board_query(since, min_comparisons, source, style_control)
        fingerprint, evidence = await self._evidence_of_mine(principal, styled=style_control)
        key = ("board-all", principal.user_id, source, since, min_comparisons, style_control)
        query = _Query(source, since, min_comparisons, style_control)
        return await self._board(key, fingerprint, evidence, None, query)

    async def recommendation(
        self,
        principal: Principal,
        project_id: str,
        *,
        baseline: str,
        min_win_rate: float,
        source: Source = Source.HUMAN,
        since: datetime | None = None,
    ) -> Recommendation:
        """The cheapest priced model that wins or ties at least ``min_win_rate`` of its
        comparisons against ``baseline`` (lower end of its 95% interval), or not enough evidence."""
        _check_recommendation_query(min_win_rate, since)
        await self._access.require_project(principal, Action.READ, project_id)
        _, evidence = await self._evidence(project_id)
        return _recommend(evidence, baseline, min_win_rate, source, since)

    async def recommendation_all(
        self,
        principal: Principal,
        *,
        baseline: str,
        min_win_rate: float,
        source: Source = Source.HUMAN,
        since: datetime | None = None,
    ) -> Recommendation:
        """The recommendation over every project the principal is a member of."""
        _check_recommendation_query(min_win_rate, since)
        _, evidence = await self._evidence_of_mine(principal)
        return _recommend(evidence, baseline, min_win_rate, source, since)

    async def _board(
        self,
        key: tuple[Any, ...],
        fingerprint: tuple[Any, ...],
        evidence: _Evidence,
        project_id: str | None,
        query: _Query,
    ) -> ProjectLeaderboard:
        cached = self._cached(key, fingerprint)
        if cached is not None:
            return cached
        source, since, min_comparisons = query.source, query.since, query.min_comparisons
        outcomes = evidence.styled if query.style_control else evidence.outcomes[source]
        samples = [s for s in evidence.samples if since is None or (s.finished_at and s.finished_at >= since)]
        board = await asyncio.to_thread(  # a fit of 10,000 votes takes tens of ms: off the event loop
            build_leaderboard,
            outcomes,
            source=source,
            since=since,
            min_comparisons=min_comparisons,
            style_control=query.style_control,
            models={s.model for s in samples},
        )
        figures = _figures([r.model for r in board.rows], samples)
        result = ProjectLeaderboard(project_id, source, since, board, figures)
        self._store(key, fingerprint, result)
        return result

    async def _evidence_of_mine(
        self, principal: Principal, *, styled: bool = False
    ) -> tuple[tuple[Any, ...], _Evidence]:
        """The pooled evidence of the principal's projects; the fingerprint names each project,
        so joining or leaving one changes it as a vote does."""
        async with self._db.session() as session:
            found = await session.execute(projects_repo.member_projects(principal.user_id))
            mine = sorted({str(project_id) for project_id in found.scalars()})
        parts = [(project_id, *await self._evidence(project_id, styled=styled)) for project_id in mine]
        fingerprint = tuple((project_id, fp) for project_id, fp, _ in parts)
        pooled = _Evidence(
            {source: tuple(o for _, _, e in parts for o in e.outcomes[source]) for source in Source},
            tuple(s for _, _, e in parts for s in e.samples),
            tuple(o for _, _, e in parts for o in e.styled),
        )
        return fingerprint, pooled

    async def _evidence(self, project_id: str, *, styled: bool = False) -> tuple[tuple[Any, ...], _Evidence]:
        fingerprint, evidence = await self._plain_evidence(project_id)
        if not styled:
            return fingerprint, evidence
        key = ("styled", project_id)
        outcomes = self._cached(key, fingerprint)
        if outcomes is None:
            async with self._db.session() as session:
                votes = await repo.project_votes(session, project_id)
                answers = await repo.voted_pane_answers(session, project_id)
            styles = {
                cid: tuple(style_of(text, tokens) for tokens, text in panes) for cid, panes in answers.items()
            }
            outcomes = tuple(reduce_votes(_ranking_votes(votes, styles), Source.HUMAN))
            self._store(key, fingerprint, outcomes)
        return fingerprint, replace(evidence, styled=outcomes)

    async def _plain_evidence(self, project_id: str) -> tuple[tuple[Any, ...], _Evidence]:
        await settle(self._db, project_id=project_id)  # verdicts of judge runs finished meanwhile
        async with self._db.session() as session:
            fingerprint = await self._fingerprint(session, project_id)
            key = ("evidence", project_id)
            cached = self._cached(key, fingerprint)
            if cached is not None:
                return fingerprint, cached
            votes = await repo.project_votes(session, project_id)
            judgements = await judgements_repo.project_judgements(session, project_id)
            samples = await repo.project_run_samples(session, project_id)
        outcomes = {
            Source.HUMAN: tuple(reduce_votes(_ranking_votes(votes), Source.HUMAN)),
            Source.JUDGE: tuple(judge_outcomes(judgements)),
        }
        evidence = _Evidence(outcomes, tuple(samples))
        self._store(key, fingerprint, evidence)
        return fingerprint, evidence

    async def _fingerprint(self, session: AsyncSession, project_id: str) -> tuple[Any, ...]:
        """The project's fingerprint; recomputed only when the database stamp has moved.

        The stamp is read first: a change committed between the two reads is in the
        fingerprint kept, or moves the stamp again, so it is never missed."""
        stamp = (*await repo.database_stamp(session), *await judgements_repo.verdicts_stamp(session))
        key = ("fingerprint", project_id)
        known = self._cached(key, stamp)
        if known is not None:
            return known
        fingerprint = (
            *await repo.project_fingerprint(session, project_id),
            *await judgements_repo.verdicts_fingerprint(session, project_id),
        )
        self._store(key, stamp, fingerprint)
        return fingerprint

    def _cached(self, key: tuple[Any, ...], fingerprint: tuple[Any, ...]) -> Any:
        entry = self._cache.get(key)
        if entry is None or entry[0] != fingerprint:
            return None
        self._cache.move_to_end(key)
        return entry[1]

    def _store(self, key: tuple[Any, ...], fingerprint: tuple[Any, ...], value: Any) -> None:
        self._cache[key] = (fingerprint, value)
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_entries:
            self._cache.popitem(last=False)


def _check_board_query(
    since: datetime | None, min_comparisons: int, source: Source = Source.HUMAN, style_control: bool = False
) -> None:
    _check_since(since)
    if min_comparisons < 0:
        raise InvalidLeaderboardQuery({"min_comparisons": "min_comparisons must be 0 or more."})
    if style_control and source is not Source.HUMAN:
        raise InvalidLeaderboardQuery(
            {"style_control": "Style control applies to human votes; a judge is told to ignore style."}
        )


def _check_recommendation_query(min_win_rate: float, since: datetime | None) -> None:
    if not isinstance(min_win_rate, int | float) or not 0.0 <= min_win_rate <= 1.0:
        raise InvalidLeaderboardQuery(
            {
                "min_win_rate": Message(
                    "min_win_rate must be a number between 0 and 1 (got {value!r}).", value=min_win_rate
                )
            }
        )
    _check_since(since)


def _recommend(
    evidence: _Evidence, baseline: str, min_win_rate: float, source: Source, since: datetime | None
) -> Recommendation:
    outcomes = evidence.outcomes[source]
    models = {m for o in outcomes for m in (o.model_a, o.model_b)} | {s.model for s in evidence.samples}
    costs = {m: c for m in models if (c := _cost_per_1k_output(m)) is not None}
    return recommend(
        outcomes, baseline=baseline, costs=costs, min_win_rate=min_win_rate, source=source, since=since
    )


def _check_since(since: datetime | None) -> None:
    if since is not None and (since.tzinfo is None or since.utcoffset() is None):
        raise InvalidLeaderboardQuery({"since": "since needs a time zone, e.g. 2026-12-01T00:00:00Z."})


def _ranking_votes(
    rows: Iterable[tuple[Ballot, tuple[str, ...]]], styles: dict[str, tuple[StyleFeatures, ...]] | None = None
) -> list[Vote]:
    """The ranking engine's votes (with each pane's style when `styles` has its comparison's);
    a comparison of one pane says nothing about strengths."""
    votes: list[Vote] = []
    for record, models in rows:
        if len(models) < 2:
            continue
        if record.best_pane is not None:
            if record.best_pane >= len(models):
                continue  # cannot happen through the service; never let one row break the board
            best: int | VoteChoice = record.best_pane
        else:
            assert record.no_winner is not None  # the votes table's check constraint
            best = VoteChoice(record.no_winner)
        pane_styles = (styles or {}).get(record.comparison_id)
        if pane_styles is not None and len(pane_styles) != len(models):
            pane_styles = None  # never a board broken by one odd row
        votes.append(Vote(record.user_id, record.comparison_id, models, best, record.updated_at, pane_styles))
    return votes


def _cost_per_1k_output(model: str) -> float | None:
    info = load_catalog().get(model)
    return None if info is None else info.output_price_per_mtok / 1000.0


def _median(values: Sequence[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.median(finite) if finite else None


def _figures(models: Iterable[str], samples: Sequence[RunSample]) -> dict[str, ModelFigures]:
    by_model: dict[str, list[RunSample]] = {}
    for s in samples:
        by_model.setdefault(s.model, []).append(s)
    figures: dict[str, ModelFigures] = {}
    for model in models:
        runs = by_model.get(model, [])
        speeds = [
            rate
            for s in runs
            if (rate := RunFigures(s.ttft_ms, s.total_ms, 0, s.output_tokens, 0.0).tokens_per_second)
            is not None
        ]
        figures[model] = ModelFigures(
            cost_per_1k_output_usd=_cost_per_1k_output(model),
            median_ttft_ms=_median([s.ttft_ms for s in runs if s.ttft_ms is not None]),
            median_tokens_per_second=_median(speeds),
            runs=len(runs),
        )
    return figures
