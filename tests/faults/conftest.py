"""Fixtures of the fault tests (see tests/faults/support.py for what they measure)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.kafka_server import KafkaCluster
from devstack.postgres import make_migrated_database_url
from tests.faults.support import KafkaFaultSetup


@pytest.fixture
def kafka_setup(kafka: KafkaCluster, tmp_path: Path) -> Iterator[KafkaFaultSetup]:
    """The session's Kafka broker under a topic prefix and worker group of this test's own,
    and a fresh PostgreSQL database."""
    tag = uuid.uuid4().hex[:8]
    with make_migrated_database_url("postgresql", tmp_path) as url:
        yield KafkaFaultSetup(kafka.bootstrap, url, f"f{tag}.", f"workers-{tag}", tmp_path)
