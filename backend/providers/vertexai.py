"""Gemini (and Claude) on Google Vertex AI; Gemini through langchain-google-genai's
ChatGoogleGenerativeAI, Claude through `vertex_claude`.

ChatVertexAI (langchain-google-vertexai) is deprecated in favour of ChatGoogleGenerativeAI
with `vertexai=True`, which runs on Google's consolidated google-genai SDK (REST only, no
gRPC); see the README's provider section.  The package is imported on the first request,
so importing the registry stays fast.

Credentials: VERTEX_ACCESS_TOKEN when set (an OAuth access token, e.g. from
`gcloud auth print-access-token`; the tests use one against a local server), otherwise
Application Default Credentials, which google-genai loads in a worker thread on the first
request.  VERTEX_API_ENDPOINT replaces `https://{location}-aiplatform.googleapis.com`.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from backend.net.egress import guarded_transport2
from backend.providers.base import (
    AuthenticationFailed,
    ChatRequest,
    ContentBlocked,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    StreamEnd,
    StreamItem,
)
from backend.providers.langchain_adapter import (
    PROMPT_BLOCKED,
    ErrorRule,
    message_of,
    status_error,
    stream_chat_model,
)
from backend.providers.wire_options import gemini_kwargs
from backend.settings import Settings

API_VERSION = "v1"  # the GA surface; google-genai would use v1beta1 for Vertex AI by default
NO_PROJECT = "GOOGLE_CLOUD_PROJECT is not set"
NOT_AUTHORISED = "Vertex AI: not authorised ({status}). {detail} {hint}"
AUTH_HINT = (
    "Check the Application Default Credentials (`gcloud auth application-default login`, or the "
    "service account on Cloud Run) and that the account has the Vertex AI User role in the project."
)
NO_CREDENTIALS = "Vertex AI: no Google credentials found ({detail}). " + AUTH_HINT
BLOCKED = "Gemini stopped: Vertex AI blocked the {what} ({field} {reason}). {hint}"
BLOCKED_HINT = "Rephrasing the prompt may help; sending it again unchanged will not."
# Gemini finish reasons that mean "withheld", not "finished" (lowercased by the adapter); a
# blocked prompt comes as PROMPT_BLOCKED + its block reason.
BLOCKED_REASONS = frozenset(
    {"safety", "prohibited_content", "blocklist", "spii", "recitation", "image_safety"}
)


@dataclass(frozen=True, slots=True)
class VertexConnection:
    project: str
    location: str = "us-central1"
    api_endpoint: str = ""  # empty: Google's regional endpoint
    access_token: str = field(default="", repr=False)  # empty: Application Default Credentials
    timeout: float = 120.0
    allow_private: bool = True  # OPERATOR_EGRESS_PRIVATE: VERTEX_API_ENDPOINT may be local (tests)

    @classmethod
    def from_settings(cls, settings: Settings) -> VertexConnection:
        return cls(
            project=settings.google_cloud_project,
            location=settings.vertex_location,
            api_endpoint=settings.vertex_api_endpoint,
            access_token=settings.vertex_access_token.get_secret_value(),
            timeout=settings.provider_timeout_seconds,
            allow_private=settings.operator_egress_private,
        )

    def credentials(self) -> Any:
        """google-auth credentials for the access token, or None: google-genai then uses ADC."""
        if not self.access_token:
            return None
        oauth2 = importlib.import_module("google.oauth2.credentials")
        return oauth2.Credentials(token=self.access_token)


def _api_error(exc: BaseException) -> Any:
    """The google-genai APIError behind `exc` (LangChain re-raises it as its own classes)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(getattr(seen, "code", None), int) and hasattr(seen, "details"):
            return seen
        seen = seen.__cause__
    return None


def not_authorised(status: str, detail: str) -> AuthenticationFailed:
    return AuthenticationFailed(NOT_AUTHORISED.format(status=status, detail=detail, hint=AUTH_HINT))


def _from_api_error(exc: BaseException) -> ProviderError:
    error = _api_error(exc)
    if error is None:  # LangChain's own complaint (e.g. a message it cannot convert)
        return ProviderError(f"Vertex AI: {message_of(exc)}")
    status = f"{error.code} {error.status or ''}".strip()
    detail = error.message or message_of(exc)
    if error.code in (401, 403):
        return not_authorised(status, detail)
    headers = getattr(getattr(error, "response", None), "headers", None) or {}
    return status_error(error.code, f"Vertex AI {status}: {detail}", headers)


def _credential_rules() -> list[ErrorRule]:
    """ADC missing or unusable (google-auth raises these before any request is sent)."""
    auth_exceptions = importlib.import_module("google.auth.exceptions")

    def missing(exc: BaseException) -> ProviderError:
        return AuthenticationFailed(NO_CREDENTIALS.format(detail=message_of(exc)))

    return [(auth_exceptions.DefaultCredentialsError, missing), (auth_exceptions.RefreshError, missing)]


def _gemini_error_rules() -> list[ErrorRule]:
    genai_errors = importlib.import_module("google.genai.errors")
    chat_models = importlib.import_module("langchain_google_genai.chat_models")
    rules: list[ErrorRule] = [
        (genai_errors.APIError, _from_api_error),
        (chat_models.ChatGoogleGenerativeAIError, _from_api_error),
        *_credential_rules(),
    ]
    try:  # google-genai streams through aiohttp when it is installed, httpx2 otherwise
        aiohttp = importlib.import_module("aiohttp")
    except ImportError:
        return rules
    return [
        *rules,
        (aiohttp.ServerTimeoutError, lambda exc: ProviderTimeout(message_of(exc))),
        (aiohttp.ClientError, lambda exc: ProviderUnavailable(f"Vertex AI stream broken: {message_of(exc)}")),
    ]


class VertexAIProvider:
    def __init__(self, connection: VertexConnection) -> None:
        self.connection = connection

    def chat_model(self, request: ChatRequest) -> Any:
        conn = self.connection
        module = importlib.import_module("langchain_google_genai")
        kwargs: dict[str, Any] = gemini_kwargs(request.options)
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if conn.api_endpoint:
            kwargs["base_url"] = conn.api_endpoint
        return module.ChatGoogleGenerativeAI(
            model=request.model,
            vertexai=True,
            project=conn.project,
            location=conn.location,
            credentials=conn.credentials(),
            api_version=API_VERSION,
            temperature=request.temperature,
            max_tokens=request.max_tokens,
            # No request timeout: google-genai's would bound the whole stream (a long answer would be
            # cut); `stream` bounds the silence before each chunk instead, like the other providers.
            timeout=None,
            max_retries=0,  # retry policy belongs to the worker
            # Through the egress guard (a transport of google-genai's httpx2 stack; given one,
            # google-genai uses it rather than aiohttp). Google's token refresh (ADC) is
            # google-auth's own call to Google's fixed hosts.
            client_args={"transport": guarded_transport2(conn.allow_private)},
            **kwargs,
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        if not self.connection.project:
            raise AuthenticationFailed(NO_PROJECT)
        if request.model.startswith("claude-"):  # Anthropic's models, same project and credentials
            claude = importlib.import_module("backend.providers.vertex_claude")
            model = claude.chat_model(request, self.connection)
            rules = [*claude.error_rules(not_authorised), *_credential_rules()]
        else:
            model, rules = self.chat_model(request), _gemini_error_rules()
        async for item in _idle_bounded(stream_chat_model(model, request, rules), self.connection.timeout):
            if isinstance(item, StreamEnd):
                _raise_if_blocked(item.finish_reason)
            yield item


async def _idle_bounded(items: AsyncIterator[StreamItem], seconds: float) -> AsyncIterator[StreamItem]:
    """`items`, giving up when the next one takes longer than `seconds` (PROVIDER_TIMEOUT_SECONDS)."""
    try:
        while True:
            try:
                async with asyncio.timeout(seconds):
                    item = await anext(items)
            except StopAsyncIteration:
                return
            except TimeoutError as exc:
                raise ProviderTimeout(f"Vertex AI sent nothing for {seconds:g} s; gave up.") from exc
            yield item
    finally:
        aclose = getattr(items, "aclose", None)  # an async generator: closes the HTTP response
        if aclose is not None:
            await aclose()


def _raise_if_blocked(finish_reason: str) -> None:
    prompt = finish_reason.startswith(PROMPT_BLOCKED)
    if prompt or finish_reason in BLOCKED_REASONS:
        what, field = ("prompt", "block reason") if prompt else ("answer", "finish reason")
        reason = finish_reason.removeprefix(PROMPT_BLOCKED).upper()
        raise ContentBlocked(BLOCKED.format(what=what, field=field, reason=reason, hint=BLOCKED_HINT))


def from_settings(settings: Settings) -> VertexAIProvider:
    return VertexAIProvider(VertexConnection.from_settings(settings))
