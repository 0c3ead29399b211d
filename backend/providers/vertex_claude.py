"""Claude on Vertex AI: Anthropic's models through the same Google project and credentials.

LangChain's own class for this, ChatAnthropicVertex, lives in langchain-google-vertexai,
whose dependencies (google-cloud-aiplatform, and a google-genai older than
langchain-google-genai needs) do not fit the default install.  The anthropic SDK ships
its own Vertex client (AsyncAnthropicVertex: the model in the URL, `:streamRawPredict`,
a Google access token), so LangChain's ChatAnthropic is given that client instead and
everything else (streaming, usage, stop reasons) is ChatAnthropic's.  Imported only when
a `vertexai:claude-…` model streams.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

import anthropic
from langchain_anthropic import ChatAnthropic
from pydantic import Field

from backend.net.egress import shared_guarded_client
from backend.providers.base import AuthenticationFailed, ChatRequest, ProviderError
from backend.providers.langchain_adapter import ErrorRule, message_of, sdk_error_rules
from backend.providers.wire_options import claude_model_kwargs


class ChatAnthropicOnVertex(ChatAnthropic):
    vertex_project: str
    vertex_location: str
    vertex_base_url: str | None = None  # None: https://{location}-aiplatform.googleapis.com/v1
    vertex_access_token: str | None = Field(default=None, repr=False)  # None: ADC, loaded in a thread
    egress_private: bool = Field(default=True, exclude=True)  # the connection's allow_private

    def _timeout_s(self) -> float:
        return float(self.default_request_timeout or 600)

    @cached_property
    def _async_client(self) -> Any:
        return anthropic.AsyncAnthropicVertex(
            region=self.vertex_location,
            project_id=self.vertex_project,
            access_token=self.vertex_access_token,
            base_url=self.vertex_base_url,
            max_retries=self.max_retries,
            timeout=self.default_request_timeout,
            # Through the egress guard (backend/net/egress.py), like every outbound call.
            http_client=shared_guarded_client(self.egress_private, self._timeout_s()),
        )


def chat_model(request: ChatRequest, connection: Any) -> ChatAnthropicOnVertex:
    """`connection` is the Gemini provider's VertexConnection: one project, one set of credentials."""
    endpoint = connection.api_endpoint.rstrip("/")
    return ChatAnthropicOnVertex(
        vertex_project=connection.project,
        vertex_location=connection.location,
        vertex_base_url=f"{endpoint}/v1" if endpoint else None,
        vertex_access_token=connection.access_token or None,
        egress_private=connection.allow_private,
        **claude_model_kwargs(request, connection.timeout),
    )


def error_rules(not_authorised: Callable[[str, str], AuthenticationFailed]) -> list[ErrorRule]:
    """The anthropic SDK's rules, with a refused token worded like Gemini's."""

    def refused(exc: Any) -> ProviderError:
        return not_authorised(str(exc.status_code), message_of(exc))

    refusals: list[ErrorRule] = [
        (anthropic.PermissionDeniedError, refused),
        (anthropic.AuthenticationError, refused),
    ]
    return [*refusals, *sdk_error_rules(anthropic)]
