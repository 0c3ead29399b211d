"""FastAPI app for /api/v1: the same service layer as the page, for scripts and CI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy.exc import DataError

from backend.api.auth import User
from backend.api.batch_routes import batch_router
from backend.api.body_limit import BodySizeLimit
from backend.api.docs_routes import add_docs_page
from backend.api.events import comparison_events
from backend.api.image_routes import image_router
from backend.api.judge_routes import judge_router
from backend.api.project_routes import project_router
from backend.api.prompt_routes import prompt_router
from backend.api.schemas import ComparisonOut, ErrorOut, ModelOut, RateLimitOut
from backend.api.search_routes import search_router
from backend.api.share_routes import share_router
from backend.api.turn_routes import turn_router
from backend.api.usage_routes import usage_router
from backend.api.verify_routes import verify_router
from backend.api.vote_routes import vote_router
from backend.auth.permissions import AccessDenied
from backend.catalog import load_catalog
from backend.db.records import ComparisonRecord
from backend.i18n import N_, gettext, request_language
from backend.limits.streams import Slot
from backend.logs import RequestContext
from backend.observability import RequestMetrics, exposition, token_matches
from backend.run_options import VISION
from backend.runtime import Runtime
from backend.services.comparisons import InvalidComparison, NotFound, RateLimitExceeded
from backend.services.validation import ComparisonInput, error_loc, friendly_message
from backend.settings import get_settings
from backend.tracing_setup import TracedRequests

API_PREFIX = "/api/v1"
SSE_MEDIA_TYPE = "text/event-stream"
DOCS_PATH = f"{API_PREFIX}/docs"  # the Swagger page (its script policy: dashboard/script_policy.py)


def language_of(request: Request) -> str:
    """The language a person reading this answer asked for (the page's cookie, else Accept-Language)."""
    return request_language(request.headers.get("cookie"), request.headers.get("accept-language"))


def _errors_response(request: Request, errors: dict[str, str]) -> JSONResponse:
    # Messages for people follow the request's language; the field names (keys) never change.
    language = language_of(request)
    said = {field: gettext(language, message) for field, message in errors.items()}
    detail = gettext(language, "Invalid request: ") + "; ".join(f"{k}: {v}" for k, v in said.items())
    return JSONResponse(status_code=422, content=ErrorOut(detail=detail, errors=said).model_dump())


def create_api(get_runtime: Callable[[], Runtime]) -> FastAPI:
    api = FastAPI(
        title="LLM Dashboard API",
        version="1",
        docs_url=None,  # served by add_docs_page: Swagger UI from the app, not a CDN
        openapi_url=f"{API_PREFIX}/openapi.json",
        redoc_url=None,
    )
    add_docs_page(api, DOCS_PATH, f"{API_PREFIX}/openapi.json")
    api.state.get_runtime = get_runtime

    def max_request_bytes() -> int:
        try:
            return get_runtime().settings.max_request_bytes
        except RuntimeError:  # not started yet: the same setting, read from the environment
            return get_settings().max_request_bytes

    api.add_middleware(BodySizeLimit, limit=max_request_bytes, prefix=API_PREFIX + "/")
    api.add_middleware(RequestMetrics, prefix=API_PREFIX + "/")
    api.add_middleware(RequestContext, prefix=API_PREFIX + "/")  # the id covers the rest
    # Outermost: the request's span (tracing on) covers the rest, and its log lines carry its ids.
    api.add_middleware(TracedRequests, prefix=API_PREFIX + "/")

    def metrics_token() -> str:
        try:
            return get_runtime().settings.metrics_token.get_secret_value()
        except RuntimeError:
            return get_settings().metrics_token.get_secret_value()

    @api.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus metrics of this replica, for a bearer of METRICS_TOKEN (unset: no one)."""
        if not token_matches(request.headers.get("authorization", ""), metrics_token()):
            return JSONResponse(
                status_code=401,
                content={"detail": "Send the metrics token (METRICS_TOKEN) as a bearer token."},
                headers={"WWW-Authenticate": "Bearer"},
            )
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors: dict[str, str] = {}
        for err in exc.errors():
            loc = error_loc(err["type"], tuple(err["loc"][1:]))  # without the leading "body"
            errors.setdefault(
                ".".join(str(p) for p in loc) or "body", friendly_message(err["type"], err["msg"], loc)
            )
        return _errors_response(request, errors)

    @api.exception_handler(InvalidComparison)
    async def _invalid_comparison(request: Request, exc: InvalidComparison) -> JSONResponse:
        return _errors_response(request, exc.errors)

    @api.exception_handler(RateLimitExceeded)
    async def _rate_limited(request: Request, exc: RateLimitExceeded) -> JSONResponse:
        detail = gettext(language_of(request), exc.message)
        body = RateLimitOut(detail=detail, limit=exc.limit, retry_after_s=exc.retry_after_s)
        return JSONResponse(
            status_code=429,
            content=body.model_dump(),
            headers={"Retry-After": exc.retry_after_header},
        )

    @api.exception_handler(AccessDenied)
    async def _denied(request: Request, exc: AccessDenied) -> JSONResponse:
        return JSONResponse(status_code=403, content={"detail": gettext(language_of(request), str(exc))})

    @api.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": gettext(language_of(request), str(exc))})

    @api.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> JSONResponse:
        # A value the database refuses (PostgreSQL: NUL in text) is bad input, not a server fault;
        # the database's own message (with the SQL) stays out of the answer.
        detail = N_(
            "A value in the request cannot be stored or looked up (e.g. it contains a NUL character)."
        )
        return JSONResponse(status_code=422, content={"detail": gettext(language_of(request), detail)})

    @api.get(f"{API_PREFIX}/models", response_model=list[ModelOut], tags=["models"])
    async def list_models(request: Request, user: User) -> list[ModelOut]:
        entries = await get_runtime().comparisons.models(user)
        language = language_of(request)
        capabilities = {e.id: load_catalog().resolve(e.id).capabilities for e in entries}
        return [
            ModelOut(
                id=e.id,
                display_name=e.display_name,
                family=e.family,
                simulated=e.simulated,
                available=e.available,
                reason=gettext(language, e.reason) if e.reason else "",
                context_window=e.context_window,
                input_price_per_mtok=e.input_price_per_mtok,
                output_price_per_mtok=e.output_price_per_mtok,
                vision=VISION in capabilities[e.id],
                params=sorted(capabilities[e.id] - {VISION}),
            )
            for e in entries
        ]

    @api.post(
        f"{API_PREFIX}/comparisons",
        response_model=ComparisonOut,
        status_code=201,
        responses={
            201: {"content": {SSE_MEDIA_TYPE: {"schema": {"type": "string"}}}},
            422: {"model": ErrorOut},
            429: {"model": RateLimitOut},
        },
        tags=["comparisons"],
    )
    async def create_comparison(user: User, payload: ComparisonInput, request: Request) -> Response:
        """Start a comparison. With `Accept: text/event-stream` the answer is its event stream
        (a `comparison` event with this body, then `delta`s and `done`, as from `/events`): one
        request from the prompt to the first token, as OpenAI's `stream: true`."""
        runtime = get_runtime()
        if SSE_MEDIA_TYPE in request.headers.get("accept", ""):
            # The stream's slot first: past MAX_STREAMS_PER_USER the answer is 429, nothing created.
            slot = await runtime.stream_slots.take(user.user_id)
            try:
                record = await runtime.comparisons.create(user, payload)
            except BaseException:
                slot.release()
                raise
            return _event_stream(user, record.id, request, slot, status_code=201, created=record)
        record = await runtime.comparisons.create(user, payload)
        # Serialized here, once: returned as a model, FastAPI would validate it again against
        # response_model, on the path to the run's first token (the docs still show the model).
        body = ComparisonOut.of(record).model_dump_json()
        return Response(content=body, status_code=201, media_type="application/json")

    @api.get(
        f"{API_PREFIX}/comparisons/{{comparison_id}}", response_model=ComparisonOut, tags=["comparisons"]
    )
    async def get_comparison(user: User, comparison_id: str) -> ComparisonOut:
        service = get_runtime().comparisons
        return ComparisonOut.of(service.with_live_output(await service.get(user, comparison_id)))

    @api.get(
        f"{API_PREFIX}/comparisons/{{comparison_id}}/events",
        responses={429: {"model": RateLimitOut}},
        tags=["comparisons"],
    )
    async def follow_comparison(user: User, comparison_id: str, request: Request) -> StreamingResponse:
        record = await get_runtime().comparisons.get(user, comparison_id)  # 404 before the stream starts
        slot = await get_runtime().stream_slots.take(user.user_id)  # 429 past MAX_STREAMS_PER_USER
        return _event_stream(user, comparison_id, request, slot, known=record)

    def _event_stream(
        user: User,
        comparison_id: str,
        request: Request,
        slot: Slot,
        status_code: int = 200,
        created: ComparisonRecord | None = None,
        known: ComparisonRecord | None = None,
    ) -> StreamingResponse:
        runtime = get_runtime()
        token: str = request.state.api_token

        async def token_still_valid() -> bool:
            return await runtime.accounts.principal_for_api_token(token) is not None

        held = slot

        async def events() -> AsyncIterator[bytes]:
            try:
                async for chunk in comparison_events(
                    runtime.comparisons,
                    runtime.hub,
                    comparison_id,
                    user,
                    signed_in=token_still_valid,
                    created=created,
                    known=known,
                    flushes=runtime.sse_flushes,
                ):
                    yield chunk
            finally:
                held.release()  # however the stream ends: done, lost access, the client gone

        return StreamingResponse(
            events(),
            status_code=status_code,
            media_type=SSE_MEDIA_TYPE,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @api.post(
        f"{API_PREFIX}/comparisons/{{comparison_id}}/reveal",
        response_model=ComparisonOut,
        tags=["comparisons"],
    )
    async def reveal_comparison(user: User, comparison_id: str) -> ComparisonOut:
        """Show me the models of a blind comparison (voting reveals them too)."""
        service = get_runtime().comparisons
        return ComparisonOut.of(service.with_live_output(await service.reveal(user, comparison_id)))

    @api.post(f"{API_PREFIX}/comparisons/{{comparison_id}}/cancel", tags=["comparisons"])
    async def cancel_comparison(user: User, comparison_id: str) -> dict[str, list[str]]:
        return {"cancelled": await get_runtime().comparisons.cancel(user, comparison_id)}

    @api.delete(f"{API_PREFIX}/comparisons/{{comparison_id}}", status_code=204, tags=["comparisons"])
    async def delete_comparison(user: User, comparison_id: str) -> None:
        await get_runtime().comparisons.delete(user, comparison_id)

    @api.get(f"{API_PREFIX}/health", tags=["ops"])
    async def health() -> JSONResponse:
        """Each dependency: database, queue (embedded or Kafka) and workers (fresh heartbeats), as
        checked at most a few seconds ago (`checked_ms_ago`): the checks run beside the probes."""
        report = await get_runtime().health_watch.report()
        ok = report.pop("ok")
        return JSONResponse(
            status_code=200 if ok else 503, content={"status": "ok" if ok else "error", **report}
        )

    api.include_router(share_router(get_runtime))
    api.include_router(project_router(get_runtime))
    api.include_router(vote_router(get_runtime))
    api.include_router(judge_router(get_runtime))
    api.include_router(prompt_router(get_runtime))
    api.include_router(search_router(get_runtime))
    api.include_router(usage_router(get_runtime))
    api.include_router(batch_router(get_runtime))
    api.include_router(image_router(get_runtime))
    api.include_router(turn_router(get_runtime))
    api.include_router(verify_router(get_runtime))
    return api
