"""`python -m workers`: one worker process on the Kafka queue.

Run N of them; they share the requests topic through one consumer group.  Each
one claims a task's run in the database before calling its provider (a lease of
RUN_LEASE_SECONDS, renewed while the run streams; see backend/execution/leases.py), so a
redelivered task whose run is final or streams on another worker is not run again;
a killed worker's runs are retried by another once their leases end.  Each
publishes a heartbeat every WORKER_HEARTBEAT_SECONDS (shown by /api/v1/health),
and on SIGTERM/SIGINT stops taking tasks, lets the runs in flight finish (up to
a grace period) and exits 0; runs cut off are not acknowledged, so another
worker redoes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from backend import log_redaction
from backend.auth.crypto import secret_box
from backend.cache import make_response_cache
from backend.db.engine import Database
from backend.execution.leases import RunLeases, new_worker_id
from backend.execution.token_trace import token_trace_from_env
from backend.execution.worker import Worker
from backend.files.store import file_store
from backend.heap import freeze_startup_heap
from backend.logs import configure_logging
from backend.observability import serve_metrics
from backend.providers import registry
from backend.providers.base import ChatProvider
from backend.providers.credentials import ProviderCredentials
from backend.queue.kafka import KafkaBroker
from backend.services.credential_lookup import CredentialLookup
from backend.settings import Settings, get_settings
from backend.tracing_setup import setup_tracing

log = logging.getLogger("workers")

SHUTDOWN_GRACE_S = 20.0


async def _heartbeat(broker: KafkaBroker, worker_id: str, every_s: float) -> None:
    while True:
        try:
            await broker.publish_heartbeat(worker_id)
        except Exception as exc:
            log.warning("heartbeat failed: %r", exc)
        await asyncio.sleep(every_s)


async def serve(settings: Settings) -> int:
    worker_id = new_worker_id()
    box = secret_box(settings)  # the web app's ENCRYPTION_KEY: stored keys are read from the database
    db = Database(settings.resolved_database_url, pool_size=2, max_overflow=4)
    broker = KafkaBroker(settings, role="worker")
    cache = make_response_cache(settings)
    delay = 0.5
    while True:  # the broker may come up after us
        try:
            await broker.start()
            break
        except Exception as exc:
            log.warning("Kafka at %s not ready (%r); retrying", settings.kafka_bootstrap_servers, exc)
            await broker.stop()
            broker = KafkaBroker(settings, role="worker")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def resolve(model_id: str, credentials: ProviderCredentials | None = None) -> ChatProvider:
        return registry.get_provider(model_id, settings, credentials)

    worker = Worker(
        broker,
        resolve,
        concurrency=settings.worker_concurrency,
        idle_timeout_s=settings.provider_timeout_seconds,
        cache=cache,
        cache_ttl_s=settings.cache_ttl_seconds,
        leases=RunLeases(db, worker_id, settings.run_lease_seconds),
        credentials=CredentialLookup(db, box).for_task,
        observer=token_trace_from_env(),  # the benchmark's token trace, when LLMDASH_TRACE_TOKENS asks
        files=file_store(settings),  # the prompts' images: the web app's store (GCS in production)
    )
    freeze_startup_heap()  # the collector walks only what the worker makes from now on
    metrics = serve_metrics(settings.metrics_port, settings.metrics_host) if settings.metrics_port else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    running = asyncio.create_task(worker.run(), name="worker")
    beating = asyncio.create_task(_heartbeat(broker, worker_id, settings.worker_heartbeat_seconds))
    log.info(
        "worker %s consuming %s (concurrency %d)",
        worker_id,
        broker.topics.requests,
        settings.worker_concurrency,
    )
    stopped = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({running, stopped}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if running in done:
        log.error("the worker loop ended: %r", running.exception())
        code = 1
    else:
        log.info("worker %s stopping: finishing runs in flight", worker_id)
        broker.pause_deliveries()
        await worker.shutdown(SHUTDOWN_GRACE_S)
    beating.cancel()
    await broker.stop()
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await running
    await cache.close()
    await db.dispose()
    if metrics is not None:
        metrics.shutdown()
    log.info("worker %s stopped", worker_id)
    return code


def main() -> int:
    settings = get_settings()
    configure_logging(settings.log_level, json_lines=settings.json_logs)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    log_redaction.install()
    if not settings.kafka_bootstrap_servers:
        log.error(
            "KAFKA_BOOTSTRAP_SERVERS is not set. Worker processes serve the Kafka queue only; "
            "in the embedded mode the app runs its worker in-process."
        )
        return 2
    traces = setup_tracing(settings, "worker")  # before serve() makes its database engine
    try:
        return asyncio.run(serve(settings))
    finally:
        if traces is not None:
            traces.shutdown()  # exports the spans still buffered


if __name__ == "__main__":
    sys.exit(main())
