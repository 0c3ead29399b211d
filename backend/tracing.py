"""Distributed tracing (OpenTelemetry): one trace follows a comparison from the Run event or the
API request, through the queue and a worker's provider call, to its saved result.

Spans of the app's own, around what no library instrumentation sees:

- ``comparison.create`` (the web process; under the API's request span, or the root of a Run
  pressed on the page: ``compare.run``), and one ``run.enqueue`` (producer) per run queued;
- ``run.execute`` (consumer) in the worker that takes the run, a child of its ``run.enqueue``,
  with ``provider.stream`` (client) under it: model, tokens in and out, time to first token;
- ``run.save`` (consumer) in the web process that saves the final event, a child of the
  worker's ``run.execute``.

The context crosses the queue as W3C trace context (``traceparent``, ``tracestate``): in the
Kafka record headers of run requests and final events, and next to the message in the
embedded queue.  Chunks carry none: thousands a second, and their run's span is known anyway.

A trace starts where the work starts (an API request, a Run pressed on the page, a batch's row)
and is kept or not there, once (OTEL_TRACES_SAMPLE_RATIO); every process it reaches follows that
choice.  A trace not kept costs no OpenTelemetry work past that choice: its work runs under
OpenTelemetry's ``suppress_instrumentation`` (the maintained instrumentations return at once on
its SQL statements, Redis commands and HTTP calls; the request middleware is not entered), the
spans of the app's own are not started, and its messages carry no context.  A message without
one starts no trace where it is received: a consumer only continues a kept trace.

Tracing is off unless OTEL_TRACES_EXPORTER asks for it; it is set up explicitly at process
start (``tracing_setup.setup_tracing``, from the app's runtime and ``python -m workers``),
never on import.  While it is off every helper here returns at once: no tracer, no span
objects, no headers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, suppress_instrumentation
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Tracer, get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

Carrier = Mapping[str, str]  # traceparent (and tracestate) of the span a message was sent from
NO_TRACE: Carrier = MappingProxyType({})
_PROPAGATOR = TraceContextTextMapPropagator()
_FIELDS = frozenset(_PROPAGATOR.fields)

_tracer: Tracer | None = None  # set by tracing_setup while tracing is on


def enabled() -> bool:
    return _tracer is not None


def use_tracer(tracer: Tracer | None) -> None:
    """Turn the app's own spans on (a tracer) or off (None); tracing_setup calls it."""
    global _tracer
    _tracer = tracer


@contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: Carrier | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[Span]:
    """A span of the app's own, current inside the block.  ``parent``: the context a message
    carried (its span becomes the parent; an empty carrier, a message sent from no kept trace,
    starts none); None: the current span (none current: a new trace, kept or not by the ratio).
    Off, or inside a trace not kept: the invalid span, whose setters do nothing."""
    tracer = _tracer
    if tracer is None:
        yield INVALID_SPAN
        return
    if parent is None:
        if not is_instrumentation_enabled():  # inside a trace not kept
            yield INVALID_SPAN
            return
        with (
            tracer.start_as_current_span(name, kind=kind, attributes=attributes) as current,
            _kept_or_not(current),
        ):
            yield current
        return
    if not parent:
        with suppress_instrumentation():
            yield INVALID_SPAN
        return
    # The message's context instead of the one this task carries (which may be a trace not
    # kept, or another message's: a consumer's loop receives many).
    token = otel_context.attach(_PROPAGATOR.extract(parent))
    try:
        with (
            tracer.start_as_current_span(name, kind=kind, attributes=attributes) as current,
            _kept_or_not(current),
        ):
            yield current
    finally:
        otel_context.detach(token)


@contextmanager
def _kept_or_not(current: Span) -> Iterator[None]:
    """Inside a span the sampler did not keep, the instrumentations do nothing."""
    if current.is_recording():
        yield
        return
    with suppress_instrumentation():
        yield


@contextmanager
def unsampled() -> Iterator[None]:
    """The work of a trace not kept: no spans, no instrumentation, no context sent on."""
    with suppress_instrumentation():
        yield


@contextmanager
def outside_traces() -> Iterator[None]:
    """No trace current and nothing suppressed inside the block: for what outlives the work that
    made it.  A SQLAlchemy engine made under ``unsampled`` (lazily, by the first request, a trace
    not kept) would never trace a statement: OpenTelemetry's wrapper instruments an engine only
    if instrumentation is on when the engine is made."""
    token = otel_context.attach(otel_context.Context())
    try:
        yield
    finally:
        otel_context.detach(token)


def outgoing() -> Carrier:
    """The current span's context, to send along with a message: empty while tracing is off or
    the current trace is not kept (the receiver then starts none)."""
    if _tracer is None or not get_current_span().is_recording():
        return NO_TRACE
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier or NO_TRACE


def kafka_headers(carrier: Carrier) -> list[tuple[str, bytes]] | None:
    return [(key, value.encode()) for key, value in carrier.items()] if carrier else None


def from_kafka_headers(headers: Sequence[tuple[str, bytes]] | None) -> Carrier:
    """The trace context among a record's headers (others, like a dead letter's reason, are left)."""
    if not headers:
        return NO_TRACE
    found = {key: value.decode("latin-1") for key, value in headers if key in _FIELDS and value}
    return found or NO_TRACE
