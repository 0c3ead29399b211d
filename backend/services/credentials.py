"""Provider keys and endpoints stored on the Settings page: a user's own, and (admins
only) the deployment's, which every user without their own key runs on.

Keys are encrypted before they reach the database and only ever leave this
module masked ("…abcd").  Every message this module produces names the
provider, never the key; provider error text is scrubbed of it too.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

from backend.auth.crypto import SecretBox
from backend.auth.permissions import AccessDenied, Principal
from backend.db import credentials as repo
from backend.db.engine import Database
from backend.db.models import DEPLOYMENT_SCOPE
from backend.i18n import N_, Message
from backend.net import egress
from backend.providers import discovery
from backend.providers.base import AuthenticationFailed, ProviderError
from backend.providers.credentials import (
    ENDPOINT_PREFIX,
    KEYED_FAMILIES,
    ProviderCredentials,
    key_provider,
    mask,
    provider_label,
)
from backend.providers.key_check import check_key
from backend.providers.registry import ModelEntry, endpoint_entries
from backend.services.credential_lookup import CredentialLookup
from backend.settings import Settings

MAX_KEY_CHARS = 1000
MAX_URL_CHARS = 2000
KEY_TEST_TIMEOUT_S = 10.0
ENDPOINT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
KEY_WORKS = "Key works"
KEY_FAILED = "The key failed its test."
# Kept with the key and shown beside it later, so fixed texts (msgids the page translates), not
# sentences with the provider's name in them: the row already names the provider.
KEY_REFUSED = N_("The provider refused this key: it is wrong, revoked or lacks access.")
NO_KEY_SAVED = N_("No key is saved for this provider.")
# The provider's own words (redacted) after it: kept as English text with the key, and said
# again in the reader's language where shown (`saved_test_message`).
COULD_NOT_CHECK = N_("Could not check the key: {detail}")


def saved_test_message(text: str) -> str:
    """A key's stored test message as a Message again when it has figures in it (the stored
    text is English), so that the page can say it in the reader's language."""
    prefix = COULD_NOT_CHECK.partition("{")[0]
    if text.startswith(prefix):
        return Message(COULD_NOT_CHECK, detail=text[len(prefix) :])
    return text


class CredentialError(ValueError):
    """A refused save, with messages per form field ("provider", "api_key", "base_url")."""

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


@dataclass(frozen=True, slots=True)
class SavedKey:
    """What the browser may know of a stored key."""

    provider: str  # "openai" | "anthropic" | "openai-compatible:<endpoint>"
    label: str
    key_hint: str  # "…abcd", or "" for an endpoint saved without a key
    base_url: str
    updated_at: datetime
    deployment: bool  # the admin-set key for everyone
    tested_at: datetime | None = None  # the key's last test; None: never tested since saved
    test_ok: bool | None = None
    test_message: str = ""


@dataclass(frozen=True, slots=True)
class KeyTestResult:
    ok: bool
    message: str


def endpoint_name(provider: str) -> str:
    return provider.removeprefix(ENDPOINT_PREFIX) if provider.startswith(ENDPOINT_PREFIX) else ""


def base_url_problem(base_url: str, allow_private: bool, require_https: bool) -> str:
    """Why the server must not call `base_url` for a user ("" if its form may; the host's
    addresses are checked by `egress.resolve_problem` when saving and at every connect)."""
    if problem := egress.url_problem(base_url, allow_private):
        return problem
    if require_https and urlsplit(base_url).scheme != "https":
        return "On this server, endpoints must use https:// (the key travels with each request)."
    return ""


class CredentialService:
    def __init__(self, db: Database, settings: Settings, box: SecretBox, lookup: CredentialLookup) -> None:
        self._db = db
        self._settings = settings
        self._box = box
        self._lookup = lookup

    # --- list ----------------------------------------------------------------------
    async def list_keys(self, principal: Principal) -> list[SavedKey]:
        """The user's own keys and endpoints, masked."""
        return await self._list(principal.user_id)

    async def list_deployment_keys(self, principal: Principal) -> list[SavedKey]:
        _require_admin(principal)
        return await self._list(DEPLOYMENT_SCOPE)

    async def _list(self, scope: str) -> list[SavedKey]:
        async with self._db.session() as session:
            rows = await repo.keys_in_scope(session, scope)
        return [
            SavedKey(
                provider=row.provider,
                label=provider_label(row.provider),
                key_hint=row.key_hint,
                base_url=row.base_url,
                updated_at=row.updated_at,
                deployment=scope == DEPLOYMENT_SCOPE,
                tested_at=row.tested_at,
                test_ok=row.test_ok,
                test_message=row.test_message,
            )
            for row in rows
        ]

    # --- save and delete -------------------------------------------------------------
    async def save(
        self,
        principal: Principal,
        provider: str,
        api_key: str,
        base_url: str = "",
        *,
        deployment: bool = False,
    ) -> SavedKey:
        """Store (or replace) a key: a family's ("openai"), or an endpoint's
        ("openai-compatible:<name>", with its base URL; the key may be empty)."""
        scope = self._scope(principal, deployment)
        provider, api_key, base_url = provider.strip(), api_key.strip(), base_url.strip().rstrip("/")
        self._check(provider, api_key, base_url, deployment)
        if base_url and (problem := await egress.resolve_problem(base_url, self._private_ok(deployment))):
            raise CredentialError(problem, {"base_url": problem})
        hint = mask(api_key) if api_key else ""
        async with self._db.session() as session:
            await repo.save_key(
                session,
                scope=scope,
                provider=provider,
                base_url=base_url,
                encrypted_key=self._box.encrypt(api_key) if api_key else "",
                key_hint=hint,
            )
        self._lookup.forget(provider)
        saved = await self._list(scope)
        return next(key for key in saved if key.provider == provider)

    def _check(self, provider: str, api_key: str, base_url: str, deployment: bool) -> None:
        errors: dict[str, str] = {}
        if provider in KEYED_FAMILIES:
            if not api_key:
                errors["api_key"] = "Paste the key."
            if base_url:
                # The family's address is the deployment's; a key for another server is an endpoint.
                errors["base_url"] = Message(
                    "{provider} keys go to {provider}; add another server as an OpenAI-compatible endpoint.",
                    provider=KEYED_FAMILIES[provider],
                )
        elif provider.startswith(ENDPOINT_PREFIX):
            if not ENDPOINT_NAME_RE.match(endpoint_name(provider)):
                errors["provider"] = "Name the endpoint with letters, digits, '.', '_' or '-' (up to 64)."
            production = self._settings.environment == "production" and not deployment
            if problem := base_url_problem(base_url, self._private_ok(deployment), production):
                errors["base_url"] = problem
        else:
            errors["provider"] = Message(
                "Keys can be stored for {providers} and endpoints.",
                providers=", ".join(KEYED_FAMILIES.values()),
            )
        if len(api_key) > MAX_KEY_CHARS or any(c.isspace() for c in api_key):
            errors["api_key"] = "That does not look like a key (too long, or it contains spaces)."
        if errors:
            raise CredentialError(next(iter(errors.values())), errors)

    def _private_ok(self, deployment: bool) -> bool:
        """Loopback and private networks: for an admin's deployment endpoint, or if allowed for all."""
        return deployment or self._settings.allow_private_endpoints

    async def delete(self, principal: Principal, provider: str, *, deployment: bool = False) -> bool:
        scope = self._scope(principal, deployment)
        async with self._db.session() as session:
            deleted = await repo.delete_key(session, scope, provider)
        self._lookup.forget(provider)
        return deleted

    def _scope(self, principal: Principal, deployment: bool) -> str:
        if deployment:
            _require_admin(principal)
            return DEPLOYMENT_SCOPE
        return principal.user_id

    # --- test ----------------------------------------------------------------------
    async def test(self, principal: Principal, provider: str, *, deployment: bool = False) -> KeyTestResult:
        """One cheap authenticated call with the stored key; the answer never contains it. The
        outcome is kept with the key (Settings and the model picker show it)."""
        scope = self._scope(principal, deployment)
        async with self._db.session() as session:
            rows = await repo.keys_for(session, [scope], provider)
        if not rows:
            return KeyTestResult(False, NO_KEY_SAVED)
        row = rows[0]
        result = await self._check_stored(row, provider, scope)
        async with self._db.session() as session:
            await repo.record_test(
                session, scope, provider, ok=result.ok, message=result.message, updated_at=row.updated_at
            )
        return result

    async def _check_stored(self, row: repo.StoredKey, provider: str, scope: str) -> KeyTestResult:
        try:
            api_key = self._lookup.decrypt(row.encrypted_key, provider)
        except AuthenticationFailed as exc:  # saved under another ENCRYPTION_KEY
            return KeyTestResult(False, exc.message)
        credentials = ProviderCredentials(api_key=api_key, base_url=row.base_url, scope=scope)
        try:
            await check_key(provider.partition(":")[0], credentials, self._settings, KEY_TEST_TIMEOUT_S)
        except AuthenticationFailed:
            # Providers echo parts of a refused key ("sk-ab…wxyz"): say it in our own words.
            return KeyTestResult(False, KEY_REFUSED)
        except ProviderError as exc:
            return KeyTestResult(False, Message(COULD_NOT_CHECK, detail=credentials.redact(exc.message)))
        return KeyTestResult(True, KEY_WORKS)

    # --- what the user can run ----------------------------------------------------------
    async def usable_providers(self, principal: Principal) -> set[str]:
        """Stored-key names the user's runs can use (their own or the deployment's)."""
        async with self._db.session() as session:
            return await repo.providers_with_keys(session, [principal.user_id, DEPLOYMENT_SCOPE])

    async def failed_keys(self, principal: Principal) -> dict[str, str]:
        """provider -> why: the stored keys this user's runs would use (their own, else the
        deployment's) whose last test failed."""
        scopes = [principal.user_id, DEPLOYMENT_SCOPE]
        async with self._db.session() as session:
            failed = await repo.failed_key_scopes(session, scopes)
            own = await repo.providers_with_keys(session, [principal.user_id]) if failed else set()
        used = {
            provider: by_scope.get(principal.user_id if provider in own else DEPLOYMENT_SCOPE)
            for provider, by_scope in failed.items()
        }
        return {provider: message for provider, message in used.items() if message is not None}

    async def with_stored_keys(self, principal: Principal, entries: list[ModelEntry]) -> list[ModelEntry]:
        """The model picker for this user: families they have a key for are available (marked
        when that key failed its last test), and the models of their (and the deployment's)
        saved endpoints are listed."""
        usable = await self.usable_providers(principal)
        failed = await self.failed_keys(principal)
        marked = [
            replace(entry, available=True, reason="")
            if not entry.available and key_provider(entry.id) in usable
            else entry
            for entry in entries
        ]
        endpoints = sorted(p for p in usable if p.startswith(ENDPOINT_PREFIX))
        if endpoints:
            listed = await asyncio.gather(*(self._endpoint_models(principal, p) for p in endpoints))
            extra = [entry for found in listed for entry in found]
            ids = {entry.id for entry in extra}
            marked = [entry for entry in marked if entry.id not in ids] + extra
        return [
            replace(entry, key_failed=failed[provider] or KEY_FAILED)
            if (provider := key_provider(entry.id)) in failed
            else entry
            for entry in marked
        ]

    async def _endpoint_models(self, principal: Principal, provider: str) -> list[ModelEntry]:
        model_id = f"{provider}/_"
        try:
            credentials = await self._lookup.for_model(principal.user_id, model_id)
        except ProviderError:
            credentials = None
        if credentials is None:
            return []
        # Through the egress guard, checked at this connect (a name may resolve elsewhere now
        # than when it was saved): private networks only as for its runs.
        server = await discovery.probe_openai_compatible(
            credentials.base_url,
            credentials.api_key,
            self._settings.provider_probe_timeout_seconds,
            allow_private=credentials.scope == "*" or self._settings.allow_private_endpoints,
        )
        return endpoint_entries(endpoint_name(provider), server)


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise AccessDenied(N_("Only an admin can change the keys used for everyone."))
