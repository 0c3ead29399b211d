"""Setting up OpenTelemetry tracing at a process's start: exporter, instrumentations, shutdown.

Called explicitly, once a process knows its settings: the web app's runtime (``runtime.running``,
role "web") and ``python -m workers`` (role "worker"); never on import.  With
OTEL_TRACES_EXPORTER=none (the default) it sets up nothing and returns None: the SDK is not
even imported, no library is patched, and the app's own spans (``backend.tracing``) stay off.

Otherwise spans go through a batch processor (off the event loop's path: a background thread
exports them) to the console or to an OTLP/HTTP collector.  The maintained instrumentations
cover what the app's own spans do not: the HTTP API (OpenTelemetry's ASGI middleware, through
``TracedRequests``), SQLAlchemy engines created from then on, Redis commands, and httpx
requests (the providers' SDKs call through httpx, which passes the trace on as traceparent).
The service name is OTEL_SERVICE_NAME plus the role (``llmdash-web``, ``llmdash-worker``), so a
trace's spans say which process made them.
"""

from __future__ import annotations

import logging
import random
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from backend import tracing
from backend.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler

log = logging.getLogger(__name__)

ASGIApp = Callable[..., Any]
_provider: TracerProvider | None = None  # the running process's, while tracing is on
_ratio = 1.0  # OTEL_TRACES_SAMPLE_RATIO of the running process: TracedRequests' share of requests


@dataclass
class Tracing:
    """Tracing as set up in this process; ``shutdown`` exports what is left and turns it off."""

    provider: TracerProvider
    _undo: list[Callable[[], None]] = field(default_factory=list)

    def shutdown(self) -> None:
        global _provider
        tracing.use_tracer(None)
        _provider = None
        for undo in reversed(self._undo):
            try:
                undo()
            except Exception:  # an instrumentation that cannot undo itself must not stop the rest
                log.warning("undoing a tracing instrumentation failed", exc_info=True)
        self.provider.shutdown()  # flushes the batch processor


def setup_tracing(settings: Settings, role: str, exporter: SpanExporter | None = None) -> Tracing | None:
    """Tracing for this process as the settings ask (``exporter``: one given by a test instead)."""
    global _provider, _ratio
    if exporter is None and settings.otel_traces_exporter == "none":
        return None
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    service = f"{settings.otel_service_name}-{role}"
    provider = TracerProvider(
        resource=_resource(service),
        sampler=_sampler(settings.otel_traces_sample_ratio),
    )
    provider.add_span_processor(BatchSpanProcessor(exporter or _exporter(settings)))
    setup = Tracing(provider)
    for instrument in (_sqlalchemy, _redis, _httpx):
        setup._undo.append(instrument(provider))
    _provider, _ratio = provider, settings.otel_traces_sample_ratio
    tracing.use_tracer(provider.get_tracer("llmdash"))
    log.info("tracing on: service %s, exporter %s", service, settings.otel_traces_exporter)
    return setup


def _resource(service: str) -> Any:
    """The process's resource (its service name), hashed once.  The OTLP encoder groups each
    export's spans by resource, hashing it once per span, and the SDK's ``Resource.__hash__``
    JSON-encodes its attributes every time: 20 of the 48 us a span's encoding took (min of 7
    runs of 2,000 spans, bench/RESULTS.md).  A resource never changes once made."""
    from opentelemetry.sdk.resources import Resource

    class HashedOnce(Resource):
        def __init__(self, attributes: Any, schema_url: str | None = None) -> None:
            super().__init__(attributes, schema_url)
            self._hash = super().__hash__()

        def __hash__(self) -> int:
            return self._hash

    made = Resource.create({"service.name": service})
    return HashedOnce(made.attributes, made.schema_url)


def _sampler(ratio: float) -> Sampler:
    """Which spans are kept.  A trace starts at OTEL_TRACES_SAMPLE_RATIO of the Runs and batch
    rows (the ratio, on a span with no parent) and of the API requests (``TracedRequests``
    chooses them before OpenTelemetry's middleware is entered: a request's server span with no
    parent is one it chose, kept here); everything else follows its parent.  Never a trace at a
    lone client call (a SQL statement, a Redis command or an HTTP call no request, run or save
    asked for: the search indexer's and the leases' polls), which would fill the collector with
    one-span traces.  Inside a kept trace every span is kept but SQLAlchemy's ``connect`` (a
    connection taken from the pool; not even started since ``_sqlalchemy`` unwraps it, kept here
    in case a release wraps it again): the statements that follow it are spans of their own."""
    from opentelemetry.sdk.trace.sampling import (
        Decision,
        ParentBased,
        Sampler,
        SamplingResult,
        TraceIdRatioBased,
    )
    from opentelemetry.trace import SpanKind, get_current_span

    parent_based = ParentBased(TraceIdRatioBased(ratio))
    dropped = SamplingResult(Decision.DROP)
    chosen = SamplingResult(Decision.RECORD_AND_SAMPLE)

    class Kept(Sampler):
        def should_sample(
            self,
            parent_context: Any,
            trace_id: int,
            name: str,
            kind: SpanKind | None = None,
            attributes: Any = None,
            links: Any = None,
            trace_state: Any = None,
        ) -> SamplingResult:
            if kind == SpanKind.CLIENT or kind == SpanKind.SERVER:
                has_parent = get_current_span(parent_context).get_span_context().is_valid
                if kind == SpanKind.SERVER and not has_parent:
                    return chosen  # a request TracedRequests chose (at the ratio)
                if kind == SpanKind.CLIENT and (name == "connect" or not has_parent):
                    return dropped
            return parent_based.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )

        def get_description(self) -> str:
            return (
                "Kept{requests chosen by TracedRequests, no lone client calls, no connects, "
                f"{parent_based.get_description()}}}"
            )

    return Kept()


def _exporter(settings: Settings) -> SpanExporter:
    if settings.otel_traces_exporter == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=sys.stdout)  # today's stdout, not the one at its import
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces")


def _sqlalchemy(provider: TracerProvider) -> Callable[[], None]:
    """Engines created from now on (backend.db.engine creates them through sqlalchemy's module
    functions, which this patches) trace their statements."""
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.instrumentation.utils import unwrap
    from opentelemetry.metrics import NoOpMeterProvider
    from sqlalchemy.engine.base import Engine

    instrumentor = SQLAlchemyInstrumentor()
    # Its release declares SQLAlchemy < 2.1 and would otherwise do nothing on the 2.1 installed
    # here; the engine events it listens to are unchanged in 2.1, and the tests check that
    # statements show up as spans (tests/backend/test_tracing.py).
    instrumentor.instrument(
        tracer_provider=provider,
        # Its pool gauge (connections idle and used) would go to no meter anyway: this app's
        # metrics are Prometheus's.  Four updates per checkout, for nothing.
        meter_provider=NoOpMeterProvider(),
        enable_commenter=False,
        skip_dep_check=True,
    )
    # Its span around Engine.connect (a connection taken from the pool) is dropped by the
    # sampler; not starting it at all saves a span's worth of work per transaction.
    unwrap(Engine, "connect")
    return instrumentor.uninstrument


def _redis(provider: TracerProvider) -> Callable[[], None]:
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    instrumentor = RedisInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    return instrumentor.uninstrument


def _httpx(provider: TracerProvider) -> Callable[[], None]:
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    instrumentor = HTTPXClientInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    return instrumentor.uninstrument


# A share link's token is a password in the path (/api/v1/shares/{token}); a query string may
# carry anything.  Neither goes to a collector.
_SECRET_SEGMENT = re.compile(r"(/shares/)[^/]+")


def _without_secrets(span: Any, scope: dict[str, Any]) -> None:
    """The request span's name and URL attributes without share tokens or the query string (the
    name becomes the route template once the route is known: backend/observability.py)."""
    if not span.is_recording():
        return
    path = _SECRET_SEGMENT.sub(r"\1{token}", scope.get("path", ""))
    span.update_name(f"{scope.get('method', '')} {path}")
    present = getattr(span, "attributes", None) or {}
    for key in ("http.target", "url.path", "http.url", "url.full"):
        if key in present:
            span.set_attribute(key, path)
    if "url.query" in present:
        span.set_attribute("url.query", "")


class TracedRequests:
    """ASGI middleware: OTEL_TRACES_SAMPLE_RATIO of the API requests get a server span
    (OpenTelemetry's ASGI middleware) while tracing is on; the others, chosen here before that
    middleware is entered (its attribute collection, its span and its wrapped ``send`` cost the
    same whether the span is kept or not), run under ``tracing.unsampled``: no span, and no
    instrumentation at work on their statements.  A request that carries a ``traceparent`` goes
    to the middleware, which follows the caller's choice.  Only spans of the request itself: the
    middleware's spans of each body message sent or received are left out (an SSE stream sends
    one per batch of chunks).

    A run's event stream (``.../events``, the API's SSE follow) is never traced: it reads the run,
    it is not on its path (the run's trace is the same without it), its span lasts as long as the
    run streams and says nothing the run's spans do not, and its statements (the same reads of
    the comparison at its start and end) were a quarter of a comparison's spans."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix
        self._traced: tuple[TracerProvider, ASGIApp] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        provider = _provider
        path = scope.get("path", "")
        if provider is None or scope["type"] != "http" or not path.startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        if path.endswith(_FOLLOW_SUFFIX) or not (_carries_trace(scope) or _chosen(_ratio)):
            with tracing.unsampled():
                await self.app(scope, receive, send)
            return
        if self._traced is None or self._traced[0] is not provider:
            from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

            middleware = OpenTelemetryMiddleware(
                self.app,
                tracer_provider=provider,
                exclude_spans=["receive", "send"],
                server_request_hook=_without_secrets,
            )
            self._traced = (provider, middleware)
        await self._traced[1](scope, receive, send)


_FOLLOW_SUFFIX = "/events"


def _chosen(ratio: float) -> bool:
    return ratio >= 1.0 or random.random() < ratio


def _carries_trace(scope: dict[str, Any]) -> bool:
    return any(name == b"traceparent" for name, _ in scope.get("headers", ()))
