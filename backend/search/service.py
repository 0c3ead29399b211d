"""Hybrid search over comparisons: keyword matches and nearest vectors, fused by reciprocal rank.

Only what the person may read: the vector query names their projects (a filter inside the index),
and every hit, from either side, is read back from the database with a membership check before
anything of it is shown (backend/search/keyword.py `recheck`); blind comparisons are masked as in
History. With the vector side down (embedder or index unreachable, or a model change awaiting a
rebuild) search answers keyword matches with a note saying so.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from backend.auth.permissions import Action, Principal
from backend.db.engine import Database
from backend.db.projects import member_projects
from backend.db.records import ComparisonSummary, HistoryPage, prompt_first_line
from backend.db.search_jobs import pending_count
from backend.i18n import N_, Message
from backend.search.embedding import Embedder, make_embedder
from backend.search.indexer import SearchIndexer
from backend.search.keyword import Candidate, keyword_ids, recheck, terms_of
from backend.search.vectors import VectorFilter, VectorIndex, make_vector_index
from backend.services.access import Access
from backend.services.blind import BlindView, pane_label
from backend.services.validation import InvalidComparison
from backend.settings import Settings

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 500
MAX_LIMIT = 50
RRF_K = 60  # the usual reciprocal-rank-fusion constant
VECTOR_TIMEOUT_S = 5.0
SNIPPET_CHARS = 160

MESSAGES = {
    "empty": N_("Type a few words to search for."),
    "too_long": "The search is too long ({n:,} characters); use at most {max:,}.",
    "limit": "limit must be between 1 and {max}.",
    "dates": N_("The 'from' date must be before the 'to' date."),
    "off": N_("Search by meaning is turned off here (SEARCH_EMBEDDER=none): showing keyword matches only."),
    "down": N_("Search by meaning is unavailable right now: showing keyword matches only."),
    # Indexing runs behind the saves (backend/search/indexer.py): a comparison that has just
    # finished is found by its words at once and by meaning a moment later. Say so, or a search
    # by meaning right after a run looks like it found nothing.
    "indexing": N_(
        "Recent comparisons still being indexed: {n}. Until then they are found by their words only."
    ),
    "tie": "Tie",
    "all_bad": "All bad",
}


class InvalidSearch(InvalidComparison):
    """Bad search input: answered 422 (API) or shown next to the box (page)."""


@dataclass(frozen=True, slots=True)
class SearchFilters:
    project_id: str = ""
    model: str = ""
    created_from: datetime | None = None
    created_to: datetime | None = None
    has_votes: bool | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    comparison_id: str
    project_id: str
    prompt_first_line: str
    models: tuple[str, ...]  # pane labels while the comparison is blind for this person
    winner: str  # the most voted pane's model (or label), "Tie", "All bad", or "" without votes
    created_at: datetime
    snippet: str
    matched_by: str  # "keyword", "meaning" or "both"
    masked: bool = False


@dataclass(frozen=True, slots=True)
class SearchResults:
    hits: tuple[SearchHit, ...]
    note: str = ""  # e.g. keyword matches only, and why
    vector_used: bool = False


@dataclass(frozen=True, slots=True)
class Similar:
    """Past comparisons with a prompt like the one being typed, and the models that won them."""

    hits: tuple[SearchHit, ...]
    winning_models: tuple[str, ...]  # most wins first; only models the person may see


SIMILAR_MIN_CHARS = 12  # shorter drafts match everything and nothing
SIMILAR_POOL = 10


class SearchService:
    def __init__(
        self,
        db: Database,
        blind: BlindView,
        embedder: Embedder | None,
        index: VectorIndex | None,
        indexer: SearchIndexer | None,
    ) -> None:
        self._db = db
        self._blind = blind
        self._access = Access(db)
        self._embedder = embedder
        self._index = index
        self.indexer = indexer

    async def close(self) -> None:
        if self._index is not None:
            await self._index.close()

    async def search(
        self, principal: Principal, query: str, filters: SearchFilters | None = None, limit: int = 20
    ) -> SearchResults:
        filters = filters or SearchFilters()
        query = _checked(query, filters, limit)
        project_ids = await self._project_ids(principal, filters.project_id)
        if not project_ids:
            return SearchResults(hits=())
        pool = limit * 3
        vector_task = asyncio.create_task(self._vector_side(query, project_ids, filters, pool))
        try:
            async with self._db.session() as session:
                by_keyword = await keyword_ids(session, principal.user_id, project_ids, query, pool)
        except BaseException:
            vector_task.cancel()
            raise
        by_meaning, vector_parts, note = await vector_task
        vector_used = not note
        if vector_used:
            note = await self._indexing_note(project_ids)
        scores: dict[str, float] = {}
        for ranking in (by_keyword, by_meaning):
            for rank, comparison_id in enumerate(ranking):
                scores[comparison_id] = scores.get(comparison_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        ordered = sorted(scores, key=lambda cid: scores[cid], reverse=True)
        async with self._db.session() as session:
            found = await recheck(session, principal.user_id, project_ids, ordered)
        keyword_set, meaning_set = set(by_keyword), set(by_meaning)
        candidates = [found[cid] for cid in ordered if cid in found]
        hits = await self._present(principal, candidates, query, vector_parts, keyword_set, meaning_set)
        hits = [hit for hit in hits if _passes(hit, found[hit.comparison_id], filters)]
        return SearchResults(hits=tuple(hits[:limit]), note=note, vector_used=vector_used)

    async def similar(
        self, principal: Principal, prompt: str, project_id: str = "", limit: int = 3
    ) -> Similar:
        """Up to `limit` comparisons whose prompts are nearest by meaning to `prompt` (a draft on the
        Compare page), with their winners, and the models that won the nearest voted ones. Quietly
        empty when the draft is short or the vector side is down: it is a hint, not a search."""
        draft = " ".join(prompt.split())[:MAX_QUERY_CHARS]
        if len(draft) < SIMILAR_MIN_CHARS:
            return Similar((), ())
        project_ids = await self._project_ids(principal, project_id)
        if not project_ids:
            return Similar((), ())
        ranked, parts, note = await self._vector_side(draft, project_ids, SearchFilters(), SIMILAR_POOL)
        if note or not ranked:
            return Similar((), ())
        async with self._db.session() as session:
            found = await recheck(session, principal.user_id, project_ids, ranked)
        candidates = [found[cid] for cid in ranked if cid in found]
        hits = await self._present(principal, candidates, "", parts, set(), set(ranked))
        wins = Counter(
            hit.winner
            for hit in hits
            if hit.winner and not hit.masked and hit.winner not in (MESSAGES["tie"], MESSAGES["all_bad"])
        )
        return Similar(tuple(hits[:limit]), tuple(model for model, _ in wins.most_common(3)))

    async def _project_ids(self, principal: Principal, project_id: str) -> tuple[str, ...]:
        if project_id:
            await self._access.require_project(principal, Action.READ, project_id)  # NotFound otherwise
            return (project_id,)
        async with self._db.session() as session:
            return tuple((await session.execute(member_projects(principal.user_id))).scalars())

    async def _indexing_note(self, project_ids: tuple[str, ...]) -> str:
        async with self._db.session() as session:
            waiting = await pending_count(session, project_ids)
        return Message(MESSAGES["indexing"], n=waiting) if waiting else ""

    async def _vector_side(
        self, query: str, project_ids: tuple[str, ...], filters: SearchFilters, k: int
    ) -> tuple[list[str], dict[str, str], str]:
        """Comparison ids nearest first, the best part of each, and a note if the side is down."""
        if self._embedder is None or self._index is None or self.indexer is None:
            return [], {}, MESSAGES["off"]
        try:
            async with asyncio.timeout(VECTOR_TIMEOUT_S):
                await self.indexer.open()
                [vector] = await self._embedder.embed_queries([query])
                where = VectorFilter(
                    project_ids=project_ids,
                    model=filters.model,
                    created_from=filters.created_from.timestamp() if filters.created_from else None,
                    created_to=filters.created_to.timestamp() if filters.created_to else None,
                    has_votes=filters.has_votes,
                )
                found = await self._index.query(vector, where, k * 3)
        except Exception as exc:
            log.warning("vector search unavailable: %s: %s", type(exc).__name__, exc)
            return [], {}, MESSAGES["down"]
        ranked: list[str] = []
        parts: dict[str, str] = {}
        for hit in found:
            if hit.comparison_id not in parts:
                ranked.append(hit.comparison_id)
                parts[hit.comparison_id] = hit.part
        return ranked, parts, ""

    async def _present(
        self,
        principal: Principal,
        candidates: list[Candidate],
        query: str,
        vector_parts: dict[str, str],
        keyword_set: set[str],
        meaning_set: set[str],
    ) -> list[SearchHit]:
        summaries = tuple(
            ComparisonSummary(
                id=c.id,
                project_id=c.project_id,
                prompt_first_line=prompt_first_line(c.prompt),
                models=tuple(model for _, model, _, _ in c.runs),
                created_at=c.created_at,
                n_runs=len(c.runs),
                n_done=0,
                n_error=0,
                n_cancelled=0,
                n_active=0,
                blind=bool(c.settings.get("blind", False)),
            )
            for c in candidates
        )
        page = await self._blind.page(
            principal, HistoryPage(summaries, len(summaries), 1, max(1, len(summaries)))
        )
        hits = []
        for summary, candidate in zip(page.items, candidates, strict=True):
            in_both = candidate.id in keyword_set and candidate.id in meaning_set
            hits.append(
                SearchHit(
                    comparison_id=candidate.id,
                    project_id=candidate.project_id,
                    prompt_first_line=summary.prompt_first_line,
                    models=summary.models,
                    winner=_winner(candidate, summary.models),
                    created_at=candidate.created_at,
                    snippet=_snippet(candidate, query, vector_parts.get(candidate.id, "")),
                    matched_by="both"
                    if in_both
                    else ("keyword" if candidate.id in keyword_set else "meaning"),
                    masked=summary.masked,
                )
            )
        return hits


def _checked(query: str, filters: SearchFilters, limit: int) -> str:
    query = " ".join(query.split())
    if not query:
        raise InvalidSearch({"q": MESSAGES["empty"]})
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidSearch({"q": MESSAGES["too_long"].format(n=len(query), max=MAX_QUERY_CHARS)})
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidSearch({"limit": MESSAGES["limit"].format(max=MAX_LIMIT)})
    if filters.created_from and filters.created_to and filters.created_from >= filters.created_to:
        raise InvalidSearch({"created_from": MESSAGES["dates"]})
    return query


def _passes(hit: SearchHit, candidate: Candidate, filters: SearchFilters) -> bool:
    """The filters, on what the database says and the person sees (a blind comparison's hidden
    models never match a model filter, so the filter cannot be used to unmask it)."""
    if filters.model and filters.model not in hit.models:
        return False
    if filters.created_from and candidate.created_at < filters.created_from:
        return False
    if filters.created_to and candidate.created_at >= filters.created_to:
        return False
    voted = bool(candidate.choices)
    return filters.has_votes is None or voted == filters.has_votes


def _winner(candidate: Candidate, shown_models: tuple[str, ...]) -> str:
    """The most chosen answer (its model, or label while masked), "Tie" or "All bad"; "Tie" too
    when the top choices are level; "" without votes."""
    ranked = Counter(candidate.choices).most_common()
    if not ranked:
        return ""
    (choice, n), *rest = ranked
    if (rest and rest[0][1] == n) or choice == "tie":
        return MESSAGES["tie"]
    if choice == "all_bad":
        return MESSAGES["all_bad"]
    positions = [position for position, _, _, _ in candidate.runs]
    return shown_models[positions.index(choice)] if choice in positions else ""


def _snippet(candidate: Candidate, query: str, vector_part: str) -> str:
    """Around the first keyword found, else the start of the part the vector search matched."""
    texts = [candidate.prompt, candidate.system_prompt, *(output for _, _, _, output in candidate.runs)]
    for term in terms_of(query):
        for text in texts:
            at = text.lower().find(term.lower())
            if at >= 0:
                start = max(0, at - SNIPPET_CHARS // 3)
                piece = text[start : start + SNIPPET_CHARS].replace("\n", " ").strip()
                return ("…" if start else "") + piece + ("…" if start + SNIPPET_CHARS < len(text) else "")
    source = candidate.prompt
    if vector_part.startswith("o"):
        position = int(vector_part[1:])
        source = next((output for pos, _, _, output in candidate.runs if pos == position), source)
    piece = " ".join(source.split())
    return piece if len(piece) <= SNIPPET_CHARS else piece[: SNIPPET_CHARS - 1] + "…"


def build_search(db: Database, settings: Settings, blind: BlindView) -> SearchService:
    """The configured search: without an embedder, keyword only (no index, no indexer)."""
    embedder = make_embedder(settings)
    if embedder is None:
        return SearchService(db, blind, None, None, None)
    index = make_vector_index(settings)
    indexer = SearchIndexer(db, embedder, index, poll_s=settings.search_index_poll_seconds)
    return SearchService(db, blind, embedder, index, indexer)


__all__ = ["InvalidSearch", "SearchFilters", "SearchHit", "SearchResults", "SearchService", "pane_label"]
