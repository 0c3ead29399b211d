""" "Test key": one cheap authenticated call (the model list, which costs nothing) per family.

Like the registry, a table of lazily imported checks: no SDK is imported until a
key of that family is tested.  Each check raises the provider module's own
typed `ProviderError`s (through its error rules) or returns normally.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable

import httpx2

from backend.net.egress import guarded_client
from backend.providers.credentials import ProviderCredentials
from backend.providers.langchain_adapter import map_exception
from backend.settings import Settings

# As in openai_compatible (not imported: it imports the SDK): local servers ignore the key,
# but the OpenAI SDK refuses an empty one.
PLACEHOLDER_KEY = "not-needed"

KeyCheck = Callable[[str, ProviderCredentials, Settings, float], Awaitable[None]]

_CHECKS: dict[str, str] = {
    "openai": "backend.providers.key_check:check_openai",
    "anthropic": "backend.providers.key_check:check_anthropic",
    "openai-compatible": "backend.providers.key_check:check_endpoint",
}


async def check_key(
    family: str, credentials: ProviderCredentials, settings: Settings, timeout: float
) -> None:
    """Raise a ProviderError if the provider does not accept `credentials`."""
    module_name, _, attribute = _CHECKS[family].partition(":")
    check: KeyCheck = getattr(importlib.import_module(module_name), attribute)
    await check(family, credentials, settings, timeout)


async def _list_openai_models(
    api_key: str, base_url: str | None, timeout: float, http_client: httpx2.AsyncClient
) -> None:
    import openai

    from backend.providers.openai import ERROR_RULES

    try:
        async with openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0, http_client=http_client
        ) as client:
            await client.models.list()
    except Exception as exc:
        raise map_exception(exc, ERROR_RULES) from None


async def check_openai(
    family: str, credentials: ProviderCredentials, settings: Settings, timeout: float
) -> None:
    # The configured address (OPENAI_BASE_URL or the SDK's), never one the user typed; through
    # the egress guard like every outbound call (OPERATOR_EGRESS_PRIVATE for the operator's).
    client = guarded_client(allow_private=settings.operator_egress_private, timeout=timeout)
    await _list_openai_models(credentials.api_key, settings.openai_base_url or None, timeout, client)


async def check_endpoint(
    family: str, credentials: ProviderCredentials, settings: Settings, timeout: float
) -> None:
    # A stored address: through the egress guard, as runs are (backend/net/egress.py).
    private_ok = credentials.scope == "*" or settings.allow_private_endpoints
    client = guarded_client(allow_private=private_ok, timeout=timeout)
    await _list_openai_models(credentials.api_key or PLACEHOLDER_KEY, credentials.base_url, timeout, client)


async def check_anthropic(
    family: str, credentials: ProviderCredentials, settings: Settings, timeout: float
) -> None:
    import anthropic

    from backend.providers.anthropic import ERROR_RULES

    try:
        async with anthropic.AsyncAnthropic(
            api_key=credentials.api_key,
            base_url=settings.anthropic_base_url or None,
            timeout=timeout,
            max_retries=0,
            http_client=guarded_client(allow_private=settings.operator_egress_private, timeout=timeout),
        ) as client:
            await client.models.list(limit=1)
    except Exception as exc:
        raise map_exception(exc, ERROR_RULES) from None
