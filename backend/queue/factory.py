"""Which queue the web backend runs on, chosen by the settings.

Kafka's module is imported only when KAFKA_BOOTSTRAP_SERVERS is set, so the
embedded default never loads aiokafka.
"""

from __future__ import annotations

from backend.queue.base import RunQueue
from backend.queue.embedded import EmbeddedBroker
from backend.settings import Settings


def web_run_queue(settings: Settings) -> RunQueue:
    """Kafka with KAFKA_BOOTSTRAP_SERVERS (workers are other processes), else the in-process queue."""
    if settings.kafka_bootstrap_servers:
        from backend.queue.kafka import KafkaBroker

        return KafkaBroker(settings, role="web")
    return EmbeddedBroker()
