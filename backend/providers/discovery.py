"""Is a provider usable right now, and which models does a local server offer?

Only cheap checks: settings lookups, `find_spec` (which does not import the
package) and short HTTP probes bounded by PROVIDER_PROBE_TIMEOUT_SECONDS.
Nothing here raises; every problem becomes an `Availability` with a reason
the UI can show.  No SDK is imported, so listing models stays fast.
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass, field
from typing import Any

import httpx

from backend.i18n import N_, Duration, Message
from backend.net.egress import guarded_httpx_client
from backend.settings import Settings


@dataclass(frozen=True, slots=True)
class Availability:
    available: bool
    reason: str = ""


AVAILABLE = Availability(True)


@dataclass(frozen=True, slots=True)
class ServerModels:
    """Result of asking a server for its models: availability plus the names found."""

    availability: Availability
    models: tuple[str, ...] = field(default_factory=tuple)


def simulated_availability(settings: Settings) -> Availability:
    if settings.simulated_enabled:
        return AVAILABLE
    return Availability(False, N_("simulated models are disabled (SIMULATED_ENABLED=false)"))


def openai_availability(settings: Settings) -> Availability:
    if settings.openai_api_key.get_secret_value():
        return AVAILABLE
    return Availability(False, N_("OPENAI_API_KEY is not set"))


def anthropic_availability(settings: Settings) -> Availability:
    if settings.anthropic_api_key.get_secret_value():
        return AVAILABLE
    return Availability(False, N_("ANTHROPIC_API_KEY is not set"))


def vertexai_availability(settings: Settings) -> Availability:
    # Whether Application Default Credentials exist is checked on the Settings page
    # (`google_credentials_status`), not here: finding them may ask the metadata server.
    if not settings.google_cloud_project:
        return Availability(False, GOOGLE_PROJECT_UNSET)
    return AVAILABLE


GOOGLE_CHECK_SECONDS = 10.0  # outside Google Cloud, google.auth.default() may wait on the metadata server
ADC_HELP = N_(
    "run `gcloud auth application-default login` where the server runs, set "
    "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or run on Cloud Run with a "
    "service account that has the Vertex AI User role"
)
GOOGLE_PROJECT_UNSET = N_("GOOGLE_CLOUD_PROJECT is not set")


async def google_credentials_status(settings: Settings) -> Availability:
    """Whether Vertex AI calls will find credentials: VERTEX_ACCESS_TOKEN, or Application
    Default Credentials.  google.auth.default() reads files and may probe the metadata server,
    so it runs in a worker thread, bounded by GOOGLE_CHECK_SECONDS; the event loop never waits."""
    if not settings.google_cloud_project:
        return Availability(False, GOOGLE_PROJECT_UNSET)
    if settings.vertex_access_token.get_secret_value():
        return AVAILABLE
    try:
        async with asyncio.timeout(GOOGLE_CHECK_SECONDS):
            await asyncio.to_thread(_find_application_default_credentials)
    except TimeoutError:
        return Availability(
            False,
            Message(
                "looking for Application Default Credentials took over {wait}",
                wait=Duration(GOOGLE_CHECK_SECONDS),
            ),
        )
    except Exception as exc:  # DefaultCredentialsError, an unreadable key file, ...
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Availability(
            False,
            Message(
                "no Application Default Credentials ({error}): {help}",
                error=first_line,
                help=Message(ADC_HELP),
            ),
        )
    return AVAILABLE


def _find_application_default_credentials() -> None:
    google_auth = importlib.import_module("google.auth")
    google_auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])


def openai_compatible_availability(settings: Settings) -> Availability:
    if settings.openai_compatible_endpoints:
        return AVAILABLE
    return Availability(
        False, N_("no OpenAI-compatible endpoint is configured (OPENAI_COMPATIBLE_ENDPOINTS)")
    )


def configured_models(endpoint: dict[str, str]) -> tuple[str, ...]:
    """The "models" field of a saved endpoint: "a, b" -> ("a", "b")."""
    return tuple(m.strip() for m in str(endpoint.get("models") or "").split(",") if m.strip())


async def probe_ollama(settings: Settings) -> ServerModels:
    """GET /api/tags: Ollama counts as available only if it answers."""
    base_url = settings.ollama_base_url.rstrip("/")
    try:
        body = await _get_json(
            f"{base_url}/api/tags",
            settings.provider_probe_timeout_seconds,
            allow_private=settings.operator_egress_private,
        )
    except (httpx.HTTPError, ValueError):
        return ServerModels(Availability(False, Message("Ollama is not running at {url}", url=base_url)))
    names = tuple(str(m.get("name") or m.get("model")) for m in _items(body, "models"))
    return ServerModels(AVAILABLE, names)


async def probe_openai_compatible(
    base_url: str, api_key: str, probe_seconds: float, allow_private: bool = False
) -> ServerModels:
    """GET {base_url}/models, the OpenAI model list, through the egress guard: the address is
    resolved and checked at this connect, not only when the endpoint was saved (DNS rebinding)."""
    base_url = base_url.rstrip("/")
    if not base_url:
        return ServerModels(Availability(False, N_("endpoint has no base_url")))
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        body = await _get_json(f"{base_url}/models", probe_seconds, headers, allow_private=allow_private)
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        return ServerModels(
            Availability(False, Message("{url}/models answered HTTP {status}", url=base_url, status=status))
        )
    except (httpx.HTTPError, ValueError):
        return ServerModels(
            Availability(False, Message("no OpenAI-compatible server answers at {url}", url=base_url))
        )
    names = tuple(str(m["id"]) for m in _items(body, "data") if m.get("id"))
    if not names:
        return ServerModels(Availability(False, Message("{url}/models lists no models", url=base_url)))
    return ServerModels(AVAILABLE, names)


async def _get_json(
    url: str, probe_seconds: float, headers: dict[str, str] | None = None, *, allow_private: bool
) -> Any:
    async with guarded_httpx_client(allow_private, probe_seconds) as client:
        response = await client.get(url, headers=headers)
        response.raise_for_status()
        return response.json()


def _items(body: Any, key: str) -> list[dict[str, Any]]:
    items = body.get(key) if isinstance(body, dict) else None
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []
