"""Which stored key a run uses: the user's own, else the deployment's, else (None) the
environment's.  Used by the worker, which reads keys from the database so that no
key ever travels on the queue, lands in Redis or appears in an event.

Decrypted keys are kept in this process's memory for a few seconds, so a burst
of runs does not query and decrypt once per run; saving or deleting a key in
this process forgets it at once, other processes within `ttl_s`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from backend.auth.crypto import SecretBox, UndecryptableSecret
from backend.db import credentials as repo
from backend.db.engine import Database
from backend.db.models import DEPLOYMENT_SCOPE
from backend.providers.base import AuthenticationFailed
from backend.providers.credentials import ProviderCredentials, key_provider, provider_label
from backend.providers.model_cache import forget_models
from backend.queue.messages import RunTask

CACHE_TTL_S = 5.0


@dataclass(frozen=True, slots=True)
class _Cached:
    value: ProviderCredentials | None
    at: float


class CredentialLookup:
    def __init__(self, db: Database, box: SecretBox, ttl_s: float = CACHE_TTL_S) -> None:
        self._db = db
        self._box = box
        self._ttl_s = ttl_s
        self._cache: dict[tuple[str, str], _Cached] = {}

    async def for_task(self, task: RunTask) -> ProviderCredentials | None:
        return await self.for_model(task.user_id, task.model)

    async def for_model(self, user_id: str, model_id: str) -> ProviderCredentials | None:
        """The stored credentials `user_id`'s run of `model_id` uses (None: the environment's)."""
        provider = key_provider(model_id)
        if provider is None:  # simulated, Ollama, Vertex AI: nothing stored, no query
            return None
        key = (user_id, provider)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and now - cached.at <= self._ttl_s:
            return cached.value
        value = await self._resolve(user_id, provider)
        self._cache[key] = _Cached(value, now)
        return value

    def forget(self, provider: str) -> None:
        """Drop every cached key of `provider` (a key of it was saved or deleted), and the chat
        models kept for runs (built with keys: the one replaced may be among them)."""
        for key in [k for k in self._cache if k[1] == provider]:
            del self._cache[key]
        forget_models()

    async def _resolve(self, user_id: str, provider: str) -> ProviderCredentials | None:
        scopes = [user_id, DEPLOYMENT_SCOPE] if user_id else [DEPLOYMENT_SCOPE]
        async with self._db.session() as session:
            rows = {row.scope: row for row in await repo.keys_for(session, scopes, provider)}
        row = rows.get(user_id) if user_id else None
        row = row or rows.get(DEPLOYMENT_SCOPE)
        if row is None:
            return None
        return ProviderCredentials(
            api_key=self.decrypt(row.encrypted_key, provider), base_url=row.base_url, scope=row.scope
        )

    def decrypt(self, encrypted_key: str, provider: str) -> str:
        if not encrypted_key:
            return ""  # an endpoint saved without a key (a local server)
        try:
            return self._box.decrypt(encrypted_key)
        except UndecryptableSecret as exc:
            # An auth failure: the run fails with this message, never retried.
            raise AuthenticationFailed(f"{provider_label(provider)}: {exc}") from None
