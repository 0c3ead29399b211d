"""How the Kafka clients authenticate: nothing (a broker on a private network or loopback), or
Google Cloud Managed Service for Apache Kafka, which takes only TLS connections authenticated with
SASL/OAUTHBEARER carrying the runtime's Google credentials (a Cloud Run service account).

Google's brokers expect a token shaped like a JWT whose header names the algorithm
GOOG_OAUTH2_TOKEN, whose claims name the principal (the service account's email) and whose
"signature" is the OAuth access token itself, each part base64url-encoded without padding.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import UTC, datetime
from typing import Any

from aiokafka.abc import AbstractTokenProvider
from aiokafka.helpers import create_ssl_context

from backend.settings import Settings

GOOGLE_TOKEN_HEADER = {"typ": "JWT", "alg": "GOOG_OAUTH2_TOKEN"}


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def google_kafka_token(email: str, access_token: str, expiry: datetime, now: datetime) -> str:
    """The OAUTHBEARER token Managed Service for Apache Kafka accepts for this principal."""
    claims = {
        "exp": expiry.replace(tzinfo=expiry.tzinfo or UTC).timestamp(),
        "iat": now.timestamp(),
        "iss": "Google",
        "scope": "kafka",
        "sub": email,
    }
    return ".".join((_b64(json.dumps(GOOGLE_TOKEN_HEADER)), _b64(json.dumps(claims)), _b64(access_token)))


class GoogleTokenProvider(AbstractTokenProvider):
    """Tokens from Application Default Credentials (on Cloud Run: the service's own account),
    refreshed in a thread (google-auth is synchronous) a minute before they expire."""

    def __init__(self) -> None:
        self._credentials: Any = None
        self._lock = asyncio.Lock()

    def _fresh(self) -> Any:
        import google.auth
        from google.auth.transport.requests import Request

        if self._credentials is None:
            self._credentials, _ = google.auth.default(
                scopes=["https://www.googleapis.com/auth/cloud-platform"]
            )
        creds = self._credentials
        if not creds.valid or creds.expiry is None or creds.expiry.timestamp() - time.time() < 60:
            creds.refresh(Request())
        return creds

    async def token(self) -> str:
        async with self._lock:
            creds = await asyncio.to_thread(self._fresh)
        email = getattr(creds, "service_account_email", "") or ""
        return google_kafka_token(email, creds.token, creds.expiry, datetime.now(UTC))


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments every aiokafka client (producer, consumers, admin) is built with."""
    if settings.kafka_auth == "none":
        return {}
    return {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "OAUTHBEARER",
        "sasl_oauth_token_provider": GoogleTokenProvider(),
        "ssl_context": create_ssl_context(),  # the system's CAs: Google's brokers have public certificates
    }
