"""With the Kafka queue, a run that a provider refuses (echoing the key) leaves no provider
key and no ENCRYPTION_KEY on any topic (requests, events, cancellations, dead letters,
heartbeats) nor in the worker process's debug log. Workers read stored keys from the
database; the queue carries only ids, the prompt and the (scrubbed) outcome.

Nor does any credential of the person who asked: one comparison is made over the HTTP API
with an API token and a signed-in session's cookie on the same request, and neither token is
on a topic or in the worker's log; and no tab token (a dashed UUID, what Reflex's client
tokens are) is in the worker's log whatever its source (issue 15: every log the app and
workers write). The app's own log is scanned for all three by test_secrets_never_leak.py.

Field class: secrets in message queues and worker logs (LiteLLM advisories on keys in
logs and spend/queue payloads; Langfuse and Dify worker payloads carrying credentials).
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from cryptography.fernet import Fernet

from backend.auth.session_cookie import SESSION_COOKIE
from backend.auth.tokens import new_token, token_hash
from backend.db import accounts as accounts_repo
from backend.db.models import utcnow
from backend.log_redaction import UUID
from backend.queue.kafka_topics import Topics
from backend.runtime import running
from backend.settings import Settings
from devstack.kafka_server import KafkaCluster
from devstack.kafka_workers import SESSION_TIMEOUT_MS, WorkerProcess, worker_env
from devstack.postgres import make_database_url
from tests.backend.runtime_support import api_client, make_settings, owner, wait_until_final
from tests.security.echo_provider import echoing_provider
from tests.security.live_app import LOGGING_SETUP

pytestmark = pytest.mark.postgres


async def _every_record(settings: Settings, topics: list[str], timeout_s: float = 15.0) -> list[bytes]:
    """Keys, values and headers of every record on the topics, from the beginning."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    found: list[bytes] = []
    try:
        deadline, idle_since = time.monotonic() + timeout_s, time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - idle_since < 3.0:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                idle_since = time.monotonic()
                for r in records:
                    found.append(
                        (r.key or b"") + (r.value or b"") + b"".join(k.encode() + v for k, v in r.headers)
                    )
    finally:
        await consumer.stop()
    return found


async def test_no_key_on_any_topic_or_in_the_worker_log(kafka: KafkaCluster, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:10]
    env_key, user_key = f"sk-env-kafka-{tag}-SECRET", f"sk-user-kafka-{tag}-SECRET"
    encryption_key = Fernet.generate_key().decode()
    prefix, group = f"sec{tag}.", f"sec-workers-{tag}"
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(LOGGING_SETUP)
    with echoing_provider() as (echo_url, presented), make_database_url("postgresql", tmp_path) as url:
        provider_settings = {"openai_base_url": f"{echo_url}/v1", "openai_api_key": env_key}
        settings = make_settings(
            url,
            tmp_path,
            kafka_bootstrap_servers=kafka.bootstrap,
            kafka_topic_prefix=prefix,
            kafka_worker_group=group,
            kafka_session_timeout_ms=SESSION_TIMEOUT_MS,
            kafka_heartbeat_interval_ms=500,
            encryption_key=encryption_key,
            rate_limit_requests_per_minute=0,
            rate_limit_tokens_per_day=0,
            **provider_settings,
        )
        env = worker_env(
            kafka.bootstrap,
            url,
            prefix,
            group,
            ENCRYPTION_KEY=encryption_key,
            OPENAI_BASE_URL=f"{echo_url}/v1",
            OPENAI_API_KEY=env_key,
            LOG_LEVEL="DEBUG",
            PYTHONPATH=str(site),
        )
        worker = WorkerProcess(env, tmp_path / "worker.log")
        try:
            async with running(settings) as rt:
                ada, eve = await owner(rt, "ada@example.org"), await owner(rt, "eve@example.org")
                await rt.credentials.save(ada, "openai", user_key)
                session_token = new_token()  # a signed-in session of Ada's, as sign-in makes one
                async with rt.db.session() as session:
                    await accounts_repo.create_session(
                        session, ada.user_id, token_hash(session_token), utcnow() + timedelta(hours=1)
                    )
                assert await rt.accounts.principal_for_session(session_token) is not None
                body = {"prompt": "hello", "panes": [{"model": "openai:gpt-4o-mini"}]}
                async with api_client(rt, "ada@example.org") as api:  # a new API token of Ada's
                    api_token = api.headers["Authorization"].removeprefix("Bearer ")
                    api.cookies.set(SESSION_COOKIE, session_token)
                    created = await api.post("/api/v1/comparisons", json=body)
                    assert created.status_code == 201, created.text
                ids = [created.json()["id"], (await rt.comparisons.create(eve, body)).id]
                for comparison_id in ids:
                    final = await wait_until_final(rt.comparisons, comparison_id, timeout=90)
                    assert [r.status for r in final.runs] == ["error"]
                    assert env_key not in final.runs[0].error and user_key not in final.runs[0].error
                topics = list(Topics.from_settings(settings).partitions(settings))  # every topic the app has
                assert len(topics) == 5 and all(t.startswith(prefix) for t in topics)
                records = await _every_record(settings, topics)
        finally:
            assert worker.terminate() == 0
        assert {env_key, user_key} <= set(presented), "the provider never saw the keys: nothing was tested"
    assert len(records) >= 6  # two requests, started and final events, heartbeats
    everything = b"\n".join(records)
    assert b"hello" in everything  # the scan reads the real payloads
    credentials = (env_key, user_key, encryption_key, session_token, api_token)
    for secret in credentials:
        assert secret.encode() not in everything
    log = worker.log()
    assert "DEBUG" in log and len(log) > 1_000
    for secret in credentials:
        assert secret not in log
    assert UUID.findall(log) == []  # no tab token, nor anything shaped like one
