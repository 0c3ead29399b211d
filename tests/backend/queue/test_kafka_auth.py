"""backend/queue/kafka_auth.py: plaintext by default; KAFKA_AUTH=google gives every Kafka client TLS
and SASL/OAUTHBEARER with the token shape Managed Service for Apache Kafka accepts.  (Google's
brokers cannot be reached here: the token's format and the clients' configuration are checked.)"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from backend.queue.kafka_auth import GoogleTokenProvider, client_options, google_kafka_token
from tests.backend.runtime_support import make_settings


def _decode(part: str) -> str:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode("utf-8")


def test_the_token_is_a_google_oauth2_jwt_carrying_the_access_token() -> None:
    now = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
    email = "web@proj.iam.gserviceaccount.com"
    token = google_kafka_token(email, "ya29.access", now + timedelta(hours=1), now)
    header, claims, signature = token.split(".")
    assert "=" not in token
    assert json.loads(_decode(header)) == {"typ": "JWT", "alg": "GOOG_OAUTH2_TOKEN"}
    assert json.loads(_decode(claims)) == {
        "exp": now.timestamp() + 3600,
        "iat": now.timestamp(),
        "iss": "Google",
        "scope": "kafka",
        "sub": "web@proj.iam.gserviceaccount.com",
    }
    assert _decode(signature) == "ya29.access"


def test_a_naive_expiry_counts_as_utc() -> None:
    # google-auth keeps `expiry` as a naive UTC datetime
    now = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
    token = google_kafka_token("a@b", "t", datetime(2026, 12, 4, 21, 0), now)
    assert json.loads(_decode(token.split(".")[1]))["exp"] == now.timestamp() + 3600


def test_without_auth_the_clients_get_no_security_options(tmp_path: Path) -> None:
    assert client_options(make_settings("", tmp_path)) == {}


async def test_google_auth_configures_every_client_for_sasl_ssl(tmp_path: Path) -> None:
    settings = make_settings("", tmp_path, kafka_auth="google", kafka_bootstrap_servers="broker:9092")
    options = client_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "OAUTHBEARER"
    assert isinstance(options["sasl_oauth_token_provider"], GoogleTokenProvider)
    # aiokafka validates the combination when a client is built (no connection is made here)
    producer = AIOKafkaProducer(bootstrap_servers="broker:9092", **client_options(settings))
    consumer = AIOKafkaConsumer(bootstrap_servers="broker:9092", **client_options(settings))
    admin = AIOKafkaAdminClient(bootstrap_servers="broker:9092", **client_options(settings))
    for client in (producer.client, consumer._client, admin._client):
        assert client._security_protocol == "SASL_SSL"
        assert client._sasl_mechanism == "OAUTHBEARER"
