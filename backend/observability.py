"""Prometheus metrics of this process (prometheus-client's default registry): HTTP API requests
and errors by route, runs by model and outcome, provider errors by model and kind, TTFT,
run-duration and tokens/s histograms, active streams, sessions following runs, queue lag (the
worker group's Kafka consumer lag; the embedded queue's waiting runs) and response-cache lookups
by result (the hit ratio is ``rate(..{result="hit"}) / rate(..)`` over all results).

The web app serves them at ``/metrics`` to a bearer of METRICS_TOKEN (none set: 401 to everyone, so nothing
is public by default); a worker process (``python -m workers``) serves them on its own port,
METRICS_PORT on METRICS_HOST (loopback by default). Labels are bounded: a route is its template
(``/api/v1/comparisons/{comparison_id}``), never the path a client typed; a model is one the
worker resolved (an unknown model id never becomes a label).
"""

from __future__ import annotations

import hmac
from typing import Any

from opentelemetry import trace
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

from backend.queue.messages import FinalEvent

HTTP_REQUESTS = Counter(
    "llmdash_http_requests_total",
    "HTTP API requests by route, method and status.",
    ["route", "method", "status"],
)
HTTP_ERRORS = Counter("llmdash_http_errors_total", "HTTP API answers of 5xx by route.", ["route", "method"])
RUNS = Counter("llmdash_runs_total", "Runs this process executed, by model and outcome.", ["model", "status"])
PROVIDER_ERRORS = Counter(
    "llmdash_provider_errors_total", "Failed runs by model and error kind.", ["model", "kind"]
)
TTFT = Histogram(
    "llmdash_run_ttft_seconds",
    "Time to first token of successful runs.",
    ["model"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32),
)
DURATION = Histogram(
    "llmdash_run_duration_seconds",
    "Whole run duration, every outcome.",
    ["model"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
TOKENS_PER_SECOND = Histogram(
    "llmdash_run_tokens_per_second",
    "Output tokens per second after the first token, of successful runs.",
    ["model"],
    buckets=(1, 5, 10, 20, 40, 80, 160, 320, 640, 1280),
)
ACTIVE_STREAMS = Gauge("llmdash_active_streams", "Runs streaming from a provider in this process now.")
FOLLOWING_SESSIONS = Gauge(
    "llmdash_following_sessions",
    "Sessions following live runs from this process now: browser pages and API event streams.",
    ["via"],
)
QUEUE_LAG = Gauge(
    "llmdash_queue_lag",
    "Run requests not finished yet by this worker group's consumer: the partition's end offset less "
    "the first offset not done (Kafka consumer lag); 'embedded': runs waiting in the in-process queue.",
    ["partition"],
)
CACHE_LOOKUPS = Counter(
    "llmdash_cache_lookups_total", "Response-cache lookups by result (hit, miss, error).", ["result"]
)

UNMATCHED = "unmatched"  # a path no API route answers: one label, whatever was typed


def record_run(model: str, final: FinalEvent) -> None:
    RUNS.labels(model, final.status).inc()
    if final.status == "error":
        PROVIDER_ERRORS.labels(model, final.error_kind or "unknown").inc()
    if final.status == "done" and final.ttft_ms is not None:
        TTFT.labels(model).observe(final.ttft_ms / 1000.0)
        streaming_s = (final.total_ms - final.ttft_ms) / 1000.0
        # The provider's pace: not a replay from the cache (all at once), not the first token's wait.
        if not final.cache_hit and final.output_tokens > 1 and streaming_s > 0:
            TOKENS_PER_SECOND.labels(model).observe((final.output_tokens - 1) / streaming_s)
    DURATION.labels(model).observe(final.total_ms / 1000.0)


def exposition() -> tuple[bytes, str]:
    """This process's metrics in the Prometheus text format, and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST


def token_matches(authorization: str, token: str) -> bool:
    """Whether ``Authorization: Bearer <token>`` carries the configured metrics token."""
    scheme, _, given = authorization.partition(" ")
    # Bytes: compare_digest refuses str with non-ASCII characters, which a header may carry.
    presented = given.strip().encode("utf-8", "surrogateescape")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(presented, token.encode())


def serve_metrics(port: int, host: str = "127.0.0.1") -> Any:
    """A worker process's /metrics on its own port; returns the server (``shutdown()`` stops it)."""
    server, _thread = start_http_server(port, addr=host)
    return server


class RequestMetrics:
    """ASGI middleware: counts the API's requests and 5xx answers by route template."""

    def __init__(self, app: Any, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        status = 500  # an exception before the answer started is a server error

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                _name_request_span(scope)
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED  # FastAPI sets the matched route
            method = scope.get("method", "")
            HTTP_REQUESTS.labels(route, method, str(status)).inc()
            if status >= 500:
                HTTP_ERRORS.labels(route, method).inc()


def _name_request_span(scope: dict[str, Any]) -> None:
    """The request's span (while tracing is on) named by its route, as its metrics are, not by the
    path typed.  Before the answer goes: the span ends with the answer's last byte."""
    span = trace.get_current_span()
    route = getattr(scope.get("route"), "path", None)
    if route and span.is_recording():
        span.update_name(f"{scope.get('method', '')} {route}")
        span.set_attribute("http.route", route)
