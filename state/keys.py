"""Settings page, provider keys: the user's own keys and endpoints and, for admins, the
deployment's.

A key typed here travels once, in the form's submit event, to the service that
encrypts it; it is never a state variable, so it is neither kept with the
session (nor in Redis) nor sent back to the browser: rows carry only "…abcd".
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator

import reflex as rx
from reflex.event import EventSpec

from backend import runtime
from backend.auth import AccessDenied, Principal
from backend.i18n import N_, Message, in_every_language
from backend.providers.credentials import ENDPOINT_PREFIX, KEYED_FAMILIES
from backend.providers.discovery import Availability, google_credentials_status
from backend.services.credentials import CredentialError, SavedKey, endpoint_name, saved_test_message
from state.account import when
from state.current_user import with_user
from state.events import Followup, event
from state.language import localized

NOT_SET = N_("not set")
NEVER_TESTED, TEST_FAILED, TEST_OK = "never", "failed", "ok"
USER, DEPLOYMENT = "user", "deployment"
GOOGLE_READY = N_("Ready: project {project}, region {location}, credentials found{how}.")
GOOGLE_MISSING = N_("Vertex AI models cannot run: {reason}.")
GOOGLE_MISSING_ASK_ADMIN = N_(
    "Vertex AI models cannot run: this server has no Google credentials (ask an admin)."
)


@dataclasses.dataclass
class KeyRow:
    provider: str  # "openai" | "anthropic" | "openai-compatible:<name>"
    label: str
    hint: str  # "…abcd", "not set", or "no key" for an endpoint without one
    is_set: bool
    deployment: bool
    base_url: str = ""
    updated: str = ""
    error: str = ""  # why the last save of this row was refused
    # The stored key's last test: "never" (not since it was saved), "failed" or "ok"; its
    # message (why it failed) and when.
    test_state: str = NEVER_TESTED
    test_message: str = ""
    tested: str = ""


def test_fields(key: SavedKey | None) -> dict[str, str]:
    """A row's test columns from the stored key's last test (its message in every language)."""
    if key is None or key.tested_at is None:
        return {"test_state": NEVER_TESTED, "test_message": "", "tested": ""}
    return {
        "test_state": TEST_OK if key.test_ok else TEST_FAILED,
        "test_message": in_every_language(saved_test_message(key.test_message)),
        "tested": when(key.tested_at, ""),
    }


def family_rows(saved: list[SavedKey], deployment: bool) -> list[KeyRow]:
    """One row per family that takes a key, set or not."""
    by_provider = {key.provider: key for key in saved}
    rows = []
    for family, label in KEYED_FAMILIES.items():
        key = by_provider.get(family)
        rows.append(
            KeyRow(
                provider=family,
                label=label,
                hint=key.key_hint if key else NOT_SET,
                is_set=key is not None,
                deployment=deployment,
                updated=when(key.updated_at if key else None, ""),
                **test_fields(key),
            )
        )
    return rows


def google_status_text(status: Availability, project: str, location: str, token: bool, admin: bool) -> str:
    """The Settings page's Vertex AI line; the reason (paths, project set-up) only for admins."""
    if status.available:
        how = " (VERTEX_ACCESS_TOKEN)" if token else " (Application Default Credentials)"
        return Message(GOOGLE_READY, project=project, location=location, how=how)
    if not admin and project:
        return GOOGLE_MISSING_ASK_ADMIN
    # A reason marked with N_ is a plain str: made a Message, it is said in the page's language too.
    reason = status.reason if isinstance(status.reason, Message) else Message(status.reason)
    return Message(GOOGLE_MISSING, reason=reason)


def endpoint_rows(saved: list[SavedKey], deployment: bool) -> list[KeyRow]:
    return [
        KeyRow(
            provider=key.provider,
            label=endpoint_name(key.provider),
            hint=key.key_hint or N_("no key"),
            is_set=True,
            deployment=deployment,
            base_url=key.base_url,
            updated=when(key.updated_at, ""),
            **test_fields(key),
        )
        for key in saved
        if key.provider.startswith(ENDPOINT_PREFIX)
    ]


class KeysState(rx.State):
    keys: rx.Field[list[KeyRow]] = rx.field(default_factory=list)
    endpoints: rx.Field[list[KeyRow]] = rx.field(default_factory=list)
    deployment_keys: rx.Field[list[KeyRow]] = rx.field(default_factory=list)
    deployment_endpoints: rx.Field[list[KeyRow]] = rx.field(default_factory=list)
    is_admin: rx.Field[bool] = rx.field(False)
    endpoint_errors: rx.Field[dict[str, str]] = rx.field(
        default_factory=dict
    )  # "user" | "deployment" -> why the endpoint was refused
    message: rx.Field[str] = rx.field("")
    google_status: rx.Field[str] = rx.field("")
    google_ok: rx.Field[bool] = rx.field(False)
    google_checked: rx.Field[bool] = rx.field(False)

    @rx.var(cache=True)
    def endpoint_error(self) -> str:
        return self.endpoint_errors.get(USER, "")

    @rx.var(cache=True)
    def deployment_endpoint_error(self) -> str:
        return self.endpoint_errors.get(DEPLOYMENT, "")

    @event
    @with_user
    async def load(self, user: Principal) -> Followup:
        self.message, self.endpoint_errors = "", {}
        await self._refresh(user)
        return None

    @event(background=True)
    @with_user
    async def check_google(self, user: Principal) -> AsyncGenerator[EventSpec, None]:
        """Look for Vertex AI's credentials (google.auth.default() in a thread, may take seconds
        outside Google Cloud): in the background, the page is usable meanwhile."""
        settings = runtime.current().settings
        status = await google_credentials_status(settings)
        text = google_status_text(
            status,
            settings.google_cloud_project,
            settings.vertex_location,
            bool(settings.vertex_access_token.get_secret_value()),
            user.is_admin,
        )
        async with self:
            text = await localized(self, text)
            self.google_status, self.google_ok, self.google_checked = text, status.available, True
        return
        yield  # an async generator: what @with_user runs as a background event

    async def _refresh(self, user: Principal) -> None:
        service = runtime.current().credentials
        own = await service.list_keys(user)
        self.keys, self.endpoints = family_rows(own, False), endpoint_rows(own, False)
        self.is_admin = user.is_admin
        if user.is_admin:
            shared = await service.list_deployment_keys(user)
            self.deployment_keys = family_rows(shared, True)
            self.deployment_endpoints = endpoint_rows(shared, True)
        else:
            self.deployment_keys, self.deployment_endpoints = [], []

    def _rows(self, deployment: bool) -> list[KeyRow]:
        if deployment:
            return [*self.deployment_keys, *self.deployment_endpoints]
        return [*self.keys, *self.endpoints]

    def _mark(self, provider: str, deployment: bool, **changes: object) -> None:
        for row in self._rows(deployment):
            if row.provider == provider:
                for name, value in changes.items():
                    setattr(row, name, value)
        # Reassign so Reflex sees the change inside the list.
        self.keys, self.endpoints = list(self.keys), list(self.endpoints)
        self.deployment_keys, self.deployment_endpoints = (
            list(self.deployment_keys),
            list(self.deployment_endpoints),
        )

    # --- events ----------------------------------------------------------------------
    @event
    @with_user
    async def save_key(self, user: Principal, form: dict[str, str]) -> Followup:
        """A family's key: form fields provider, scope ("user" | "deployment") and api_key."""
        provider, deployment = str(form.get("provider", "")), form.get("scope") == DEPLOYMENT
        try:
            saved = await runtime.current().credentials.save(
                user, provider, str(form.get("api_key", "")), deployment=deployment
            )
        except (CredentialError, AccessDenied) as exc:
            message = exc.message if isinstance(exc, CredentialError) else str(exc)
            self._mark(provider, deployment, error=await localized(self, message))
            return None
        await self._refresh(user)
        self.message = await localized(
            self, Message("{provider} key saved ({hint}).", provider=saved.label, hint=saved.key_hint)
        )
        return None

    @event
    @with_user
    async def save_endpoint(self, user: Principal, form: dict[str, str]) -> Followup:
        """An OpenAI-compatible endpoint: name, base_url and an optional api_key."""
        scope = DEPLOYMENT if form.get("scope") == DEPLOYMENT else USER
        name = str(form.get("name", "")).strip()
        try:
            saved = await runtime.current().credentials.save(
                user,
                ENDPOINT_PREFIX + name,
                str(form.get("api_key", "")),
                str(form.get("base_url", "")),
                deployment=scope == DEPLOYMENT,
            )
        except CredentialError as exc:
            self.endpoint_errors = {scope: await localized(self, exc.message)}
            return None
        except AccessDenied as exc:
            self.endpoint_errors = {scope: await localized(self, str(exc))}
            return None
        self.endpoint_errors = {}
        await self._refresh(user)
        self.message = await localized(
            self, Message("Endpoint {name} saved.", name=endpoint_name(saved.provider))
        )
        return None

    @event
    @with_user
    async def delete_key(self, user: Principal, provider: str, deployment: bool) -> Followup:
        try:
            await runtime.current().credentials.delete(user, provider, deployment=deployment)
        except AccessDenied as exc:
            self.message = await localized(self, str(exc))
            return None
        await self._refresh(user)
        self.message = N_("Key deleted.")
        return None

    @event
    @with_user
    async def test_key(self, user: Principal, provider: str, deployment: bool) -> Followup:
        try:
            await runtime.current().credentials.test(user, provider, deployment=deployment)
        except AccessDenied as exc:
            self.message = await localized(self, str(exc))
            return None
        await self._refresh(user)  # the rows show the test as it was stored
        return None
