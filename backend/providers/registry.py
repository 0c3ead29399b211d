"""Model ids -> providers, through one table of lazily imported factories.

A model id is "family:name".  `_FACTORIES` maps each family to the
"module:function" that builds its provider from Settings (in the style of
LangChain's `init_chat_model` table and simonw/llm's plugin registry), so
adding a provider is one line and no SDK is imported until a model of that
family is actually used.  Availability checks and model discovery live in
`discovery` and import no SDK either.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from functools import cache

from backend.catalog import ModelInfo, load_catalog
from backend.i18n import N_, Message
from backend.net.egress import operator_private_ok
from backend.providers import discovery
from backend.providers.base import ChatProvider, ChatRequest, ProviderError, StreamItem
from backend.providers.credentials import APPLIERS, KEYED_FAMILIES, ProviderCredentials, mask
from backend.providers.discovery import Availability, ServerModels
from backend.settings import Settings

_FACTORIES: dict[str, str] = {
    "simulated": "backend.providers.simulated:from_settings",
    "openai": "backend.providers.openai:from_settings",
    "anthropic": "backend.providers.anthropic:from_settings",
    "vertexai": "backend.providers.vertexai:from_settings",
    "ollama": "backend.providers.ollama:from_settings",
    "openai-compatible": "backend.providers.openai_compatible:from_settings",
}
FAMILIES: tuple[str, ...] = tuple(_FACTORIES)

_SETTINGS_CHECKS: dict[str, Callable[[Settings], Availability]] = {
    "simulated": discovery.simulated_availability,
    "openai": discovery.openai_availability,
    "anthropic": discovery.anthropic_availability,
    "vertexai": discovery.vertexai_availability,
    "openai-compatible": discovery.openai_compatible_availability,
}

__all__ = [
    "FAMILIES",
    "Availability",
    "ModelEntry",
    "UnknownModel",
    "check_availability",
    "endpoint_entries",
    "get_provider",
    "list_models",
    "parse_model_id",
]


# A keyed provider without a key: the person can add one themselves, in Settings (the
# deployment's environment variable the availability check names is for operators). The
# picker's option names the model already; a refused Run or judge names the provider.
NO_KEY_REASON = N_("no key: add one in Settings → Provider keys")
NO_KEY_FOR = N_("No {provider} key: add one in Settings → Provider keys.")


def unavailable_reason(family: str, reason: str) -> str:
    """What a refused Run (or judge, or improvement) says of a family that cannot run for this
    person."""
    if family in KEYED_FAMILIES:
        return Message(NO_KEY_FOR, provider=KEYED_FAMILIES[family])
    return reason or Message("{family} is not available.", family=family)


def picker_reason(family: str, reason: str) -> str:
    """The same, shorter, beside a model's name in a picker."""
    return NO_KEY_REASON if family in KEYED_FAMILIES else unavailable_reason(family, reason)


class UnknownModel(ValueError):
    """The model id is malformed or names a family no provider serves."""


def parse_model_id(model_id: str) -> tuple[str, str]:
    """'family:name' -> (family, name); the name may itself contain ':' or '/'."""
    family, sep, name = model_id.partition(":")
    if not sep:
        raise UnknownModel(
            Message("model id {id!r} must look like 'family:name', e.g. 'openai:gpt-4o-mini'", id=model_id)
        )
    if family not in _FACTORIES:
        raise UnknownModel(
            Message(
                "unknown model family {family!r} in {id!r}; known families: {known}",
                family=family,
                id=model_id,
                known=", ".join(FAMILIES),
            )
        )
    if not name.strip():
        raise UnknownModel(
            Message("model id {id!r} has no model name after '{family}:'", id=model_id, family=family)
        )
    if family == "openai-compatible" and "/" not in name.strip("/"):
        raise UnknownModel(
            Message("model id {id!r} must look like 'openai-compatible:<endpoint>/<model>'", id=model_id)
        )
    return family, name


@cache
def _factory(family: str) -> Callable[[Settings], ChatProvider]:
    module_name, _, attribute = _FACTORIES[family].partition(":")
    factory: Callable[[Settings], ChatProvider] = getattr(importlib.import_module(module_name), attribute)
    return factory


def get_provider(
    model_id: str, settings: Settings, credentials: ProviderCredentials | None = None
) -> ChatProvider:
    """The provider serving `model_id`; stream with ChatRequest(model=<name part>).

    `credentials` (a stored user or deployment key) replace the environment's key for
    this provider only; see `backend.providers.credentials` for where each key may go.
    Providers are small objects holding their connection settings; the HTTP
    clients underneath are cached by the SDKs, so this is cheap per call.
    """
    family, name = parse_model_id(model_id)
    if credentials is not None:
        apply = APPLIERS.get(family)
        if apply is None:
            raise ValueError(f"the {family} family takes no stored key")
        settings = apply(settings, name, credentials)
    provider = _factory(family)(settings)
    secrets = _configured_secrets(settings)
    return _Redacting(provider, secrets) if secrets else provider


def _configured_secrets(settings: Settings) -> tuple[str, ...]:
    """Every provider key these settings hold (environment, stored, endpoints'): a provider may
    echo the one it was given in an error (OpenAI-style "Incorrect API key provided: sk-…")."""
    keys = [
        settings.openai_api_key.get_secret_value(),
        settings.anthropic_api_key.get_secret_value(),
        settings.vertex_access_token.get_secret_value(),
    ]
    keys += [endpoint.get("api_key", "") for endpoint in settings.openai_compatible_endpoints.values()]
    return tuple(sorted({key for key in keys if len(key) >= 8}, key=len, reverse=True))


def redact_secrets(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, mask(secret))
    return text


class _Redacting:
    """A provider whose errors never carry a configured key, whichever key it used: a run's error
    is saved, shown, shared and published on the queue."""

    def __init__(self, inner: ChatProvider, secrets: tuple[str, ...]) -> None:
        self._inner = inner
        self._secrets = secrets

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        try:
            async for item in self._inner.stream(request):
                yield item
        except ProviderError as exc:
            clean = redact_secrets(exc.message, self._secrets)
            if clean != exc.message:
                exc.message, exc.args = clean, (clean,)
            raise
        except Exception as exc:
            text = f"{type(exc).__name__}: {exc}"
            clean = redact_secrets(text, self._secrets)
            if clean == text:
                raise
            raise ProviderError(clean) from None


async def check_availability(family: str, settings: Settings) -> Availability:
    """Whether `family` can be used now, with the reason if not.  Never raises."""
    if family == "ollama":
        return (await discovery.probe_ollama(settings)).availability
    check = _SETTINGS_CHECKS.get(family)
    if check is None:
        return Availability(False, Message("unknown model family {family!r}", family=family))
    return check(settings)


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One row of the model picker."""

    id: str
    family: str
    name: str
    display_name: str
    context_window: int
    input_price_per_mtok: float
    output_price_per_mtok: float
    simulated: bool
    available: bool
    reason: str = ""
    key_failed: str = ""  # the stored key this model would run with failed its last test: why

    @classmethod
    def of(cls, info: ModelInfo, availability: Availability) -> ModelEntry:
        return cls(
            id=info.id,
            family=info.family,
            name=info.name,
            display_name=info.display_name,
            context_window=info.context_window,
            input_price_per_mtok=info.input_price_per_mtok,
            output_price_per_mtok=info.output_price_per_mtok,
            simulated=info.simulated,
            available=availability.available,
            reason=availability.reason,
        )


async def list_models(settings: Settings) -> list[ModelEntry]:
    """Catalog models, plus models found on Ollama and OpenAI-compatible endpoints.

    All network probes run concurrently, each bounded by the probe timeout.
    """
    families = [f for f in FAMILIES if f != "simulated" or settings.simulated_enabled]
    ollama, endpoints = await asyncio.gather(discovery.probe_ollama(settings), _endpoint_models(settings))
    availability = {f: check(settings) for f, check in _SETTINGS_CHECKS.items()}
    availability["ollama"] = ollama.availability

    catalog = load_catalog()
    entries: list[ModelEntry] = []
    for family in families:
        if family == "ollama":
            entries.extend(_ollama_entries(ollama))
        elif family == "openai-compatible":
            for name, server in endpoints:
                entries.extend(endpoint_entries(name, server))
        else:
            entries.extend(ModelEntry.of(info, availability[family]) for info in catalog.by_family(family))
    return entries


def _ollama_entries(probe: ServerModels) -> list[ModelEntry]:
    catalog = load_catalog()
    # Ollama reports "llama3.2:latest"; the catalog says "llama3.2".
    pulled = {name.removesuffix(":latest") for name in probe.models}
    entries = []
    for info in catalog.by_family("ollama"):
        if probe.availability.available and info.name not in pulled:
            status = Availability(
                False, Message("not pulled in Ollama: run `ollama pull {name}`", name=info.name)
            )
        else:
            status = probe.availability
        entries.append(ModelEntry.of(info, status))
    known = {info.name for info in catalog.by_family("ollama")}
    for name in sorted(pulled - known):
        info = replace(catalog.resolve(f"ollama:{name}"), display_name=f"{name} (Ollama)")
        entries.append(ModelEntry.of(info, probe.availability))
    return entries


async def _endpoint_models(settings: Settings) -> list[tuple[str, ServerModels]]:
    """Configured model names, or the endpoint's own /models list when none are set."""

    async def one(raw: dict[str, str]) -> ServerModels:
        if configured := discovery.configured_models(raw):
            return ServerModels(discovery.AVAILABLE, configured)
        return await discovery.probe_openai_compatible(
            str(raw.get("base_url") or ""),
            str(raw.get("api_key") or ""),
            settings.provider_probe_timeout_seconds,
            allow_private=operator_private_ok(str(raw.get("egress") or ""), settings.operator_egress_private),
        )

    names = list(settings.openai_compatible_endpoints)
    results = await asyncio.gather(*(one(settings.openai_compatible_endpoints[n]) for n in names))
    return list(zip(names, results, strict=True))


def endpoint_entries(endpoint: str, server: ServerModels) -> list[ModelEntry]:
    catalog = load_catalog()
    if not server.models:
        # Keep the endpoint visible so the user sees why it offers nothing.
        placeholder = catalog.resolve(f"openai-compatible:{endpoint}")
        return [ModelEntry.of(placeholder, server.availability)]
    entries = []
    for model in server.models:
        info = catalog.resolve(f"openai-compatible:{endpoint}/{model}")
        entries.append(ModelEntry.of(info, server.availability))
    return entries
