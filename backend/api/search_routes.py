"""Search over HTTP (issue 17): the same hybrid search as the History page's box.

Only comparisons the person may read come back; a project they are not in answers 404, an empty
or too long query 422. With the vector side down the answer still comes, keyword matches only,
with `note` saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel

from backend.api.auth import User
from backend.api.schemas import ErrorOut
from backend.i18n import gettext, request_language
from backend.runtime import Runtime
from backend.search.service import MAX_LIMIT, SearchFilters, SearchHit, SearchResults

API_PREFIX = "/api/v1"


class SearchHitOut(BaseModel):
    comparison_id: str
    project_id: str
    prompt_first_line: str
    models: list[str]
    winner: str
    created_at: datetime
    snippet: str
    matched_by: str
    masked: bool

    @classmethod
    def of(cls, hit: SearchHit) -> SearchHitOut:
        return cls(
            comparison_id=hit.comparison_id,
            project_id=hit.project_id,
            prompt_first_line=hit.prompt_first_line,
            models=list(hit.models),
            winner=hit.winner,
            created_at=hit.created_at,
            snippet=hit.snippet,
            matched_by=hit.matched_by,
            masked=hit.masked,
        )


class SearchOut(BaseModel):
    results: list[SearchHitOut]
    note: str
    vector_used: bool

    @classmethod
    def of(cls, results: SearchResults, language: str | None = None) -> SearchOut:
        return cls(
            results=[SearchHitOut.of(hit) for hit in results.hits],
            note=gettext(language, results.note) if results.note else "",
            vector_used=results.vector_used,
        )


def search_router(get_runtime: Callable[[], Runtime]) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)

    @router.get(
        "/search",
        response_model=SearchOut,
        tags=["search"],
        responses={404: {"description": "Not a member of project_id"}, 422: {"model": ErrorOut}},
    )
    async def search(
        request: Request,
        user: User,
        q: str = Query(default="", description="Words or a question; matched by keyword and by meaning."),
        project_id: str = "",
        model: str = Query(default="", description="Only comparisons with a pane of this model id."),
        created_from: AwareDatetime | None = None,
        created_to: AwareDatetime | None = None,
        has_votes: bool | None = None,
        limit: int = Query(default=20, ge=1, le=MAX_LIMIT),
    ) -> SearchOut:
        """Hybrid search (keyword + vector, fused by reciprocal rank) over my projects' comparisons."""
        filters = SearchFilters(
            project_id=project_id,
            model=model,
            created_from=created_from,
            created_to=created_to,
            has_votes=has_votes,
        )
        found = await get_runtime().search.search(user, q, filters, limit)
        language = request_language(request.headers.get("cookie"), request.headers.get("accept-language"))
        return SearchOut.of(found, language)

    return router
