"""Topic names and creation for the Kafka broker (idempotent: existing topics are fine)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from backend.queue.kafka_auth import client_options
from backend.settings import Settings

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True, slots=True)
class Topics:
    requests: str
    events: str
    cancellations: str
    dead_letter: str
    heartbeats: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Topics:
        prefix = settings.kafka_topic_prefix
        return cls(
            requests=f"{prefix}requests",
            events=f"{prefix}events",
            cancellations=f"{prefix}cancellations",
            dead_letter=f"{prefix}dead-letter",
            heartbeats=f"{prefix}heartbeats",
        )

    def partitions(self, settings: Settings) -> dict[str, int]:
        return {
            self.requests: settings.kafka_request_partitions,
            self.events: settings.kafka_event_partitions,
            self.cancellations: 1,
            self.dead_letter: 1,
            self.heartbeats: 1,
        }


async def ensure_topics(settings: Settings, topics: Topics, timeout_s: float = 10.0) -> None:
    """Create every topic that does not exist yet (raises if the broker cannot be reached), each
    with KAFKA_REPLICATION_FACTOR replicas.  Topics that exist are left as they are."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        **client_options(settings),
        request_timeout_ms=int(timeout_s * 1000),
        client_id="llmdash-admin",
    )
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name, num_partitions=n, replication_factor=settings.kafka_replication_factor)
            for name, n in topics.partitions(settings).items()
            if name not in existing
        ]
        if wanted:
            response = await admin.create_topics(wanted)
            for name, code, *_ in response.topic_errors:
                if code not in (0, TOPIC_ALREADY_EXISTS):
                    raise RuntimeError(f"could not create Kafka topic {name!r} (error code {code})")
            log.info("created Kafka topics %s", [t.name for t in wanted])
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
