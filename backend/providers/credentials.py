"""Stored provider keys as the providers see them: which models take one, and how a key
(and, for an OpenAI-compatible endpoint, its address) replaces the environment's.

A stored key is named by its *provider*: a model family ("openai", "anthropic")
or one OpenAI-compatible endpoint ("openai-compatible:<endpoint>").  A key only
ever goes where its owner said: an OpenAI or Anthropic key to the address the
deployment configured for that family, an endpoint's key to that endpoint's
saved base URL.  Nothing here imports an SDK.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import SecretStr

from backend.settings import Settings

ENDPOINT_PREFIX = "openai-compatible:"

# Families whose key a user (or an admin, for everyone) can store, with their display names.
KEYED_FAMILIES: dict[str, str] = {"openai": "OpenAI", "anthropic": "Anthropic"}


def mask(secret: str) -> str:
    """What anyone may see of a key: "…" and its last four characters (just "…" if it is short)."""
    return "…" + secret[-4:] if len(secret) > 8 else "…"


@dataclass(frozen=True, slots=True)
class ProviderCredentials:
    api_key: str = field(repr=False)
    base_url: str = ""  # OpenAI-compatible endpoints only; the families keep the configured address
    scope: str = ""  # whose key: a user id, or "*" for the deployment's (for messages, never the key)

    def redact(self, text: str) -> str:
        """`text` with this key masked: some providers echo the key in their errors."""
        return text.replace(self.api_key, mask(self.api_key)) if self.api_key else text


def key_provider(model_id: str) -> str | None:
    """The stored-key name serving `model_id`, or None for families that take no stored key."""
    family, _, name = model_id.partition(":")
    if family in KEYED_FAMILIES:
        return family
    if family == "openai-compatible":
        endpoint = name.partition("/")[0]
        return ENDPOINT_PREFIX + endpoint if endpoint else None
    return None


def provider_label(provider: str) -> str:
    if provider.startswith(ENDPOINT_PREFIX):
        return f"Endpoint {provider.removeprefix(ENDPOINT_PREFIX)}"
    return KEYED_FAMILIES.get(provider, provider)


def _openai(settings: Settings, model_name: str, credentials: ProviderCredentials) -> Settings:
    return settings.model_copy(update={"openai_api_key": SecretStr(credentials.api_key)})


def _anthropic(settings: Settings, model_name: str, credentials: ProviderCredentials) -> Settings:
    return settings.model_copy(update={"anthropic_api_key": SecretStr(credentials.api_key)})


def _endpoint(settings: Settings, model_name: str, credentials: ProviderCredentials) -> Settings:
    endpoint = model_name.partition("/")[0]
    # The stored endpoint replaces a configured one of the same name whole: its key goes only
    # to its own base URL, and the configured key never goes to the stored address.
    # A stored address is reached only through the egress guard (backend/net/egress.py):
    # private networks for an admin's deployment endpoint, or where ALLOW_PRIVATE_ENDPOINTS says.
    private_ok = credentials.scope == "*" or settings.allow_private_endpoints
    saved = {
        "base_url": credentials.base_url,
        "api_key": credentials.api_key,
        "egress": "private-ok" if private_ok else "public-only",
    }
    endpoints = {**settings.openai_compatible_endpoints, endpoint: saved}
    return settings.model_copy(update={"openai_compatible_endpoints": endpoints})


# family -> Settings with the stored credentials in place of the environment's.
CredentialApplier = Callable[[Settings, str, ProviderCredentials], Settings]
APPLIERS: dict[str, CredentialApplier] = {
    "openai": _openai,
    "anthropic": _anthropic,
    "openai-compatible": _endpoint,
}
