"""The one small async interface every LLM provider implements.

`stream(request)` yields `TextChunk`s and finishes with exactly one `StreamEnd`
carrying usage and the finish reason.  Failures are raised as `ProviderError`
subclasses so the worker, the UI and the API can tell an auth problem from a
rate limit without knowing which SDK raised it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from backend.run_options import NO_OPTIONS, ImageData, RunOptions
from backend.runs_model import DEFAULT_MAX_TOKENS, DEFAULT_TEMPERATURE


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str  # provider-local name, e.g. "gpt-4o-mini" (no "openai:" prefix)
    prompt: str
    system_prompt: str = ""
    temperature: float = DEFAULT_TEMPERATURE
    max_tokens: int = DEFAULT_MAX_TOKENS
    seed: int | None = None
    options: RunOptions = NO_OPTIONS  # each set field goes out in the provider's wire format
    images: tuple[ImageData, ...] = ()  # sent with the prompt as multimodal content
    history: tuple[tuple[str, str], ...] = ()
    """Earlier turns of this conversation, oldest first: (user message, this model's answer);
    `prompt` is the newest user message."""

    @property
    def input_text(self) -> str:
        """Everything the model reads (system prompt, history, prompt), for token estimates."""
        if not self.history:
            return self.system_prompt + self.prompt
        earlier = "\n".join(text for pair in self.history for text in pair)
        return f"{self.system_prompt}\n{earlier}\n{self.prompt}"


@dataclass(frozen=True, slots=True)
class TextChunk:
    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True, slots=True)
class StreamEnd:
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"


StreamItem = TextChunk | StreamEnd


@runtime_checkable
class ChatProvider(Protocol):
    def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:  # pragma: no cover
        ...


class ProviderError(Exception):
    """Base of every provider failure; `kind` is a stable, user-facing tag."""

    kind = "provider_error"
    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AuthenticationFailed(ProviderError):
    kind = "auth"


class RateLimited(ProviderError):
    kind = "rate_limit"
    retryable = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BadRequest(ProviderError):
    kind = "bad_request"


class ContentBlocked(ProviderError):
    """The provider withheld the answer (a safety filter, a blocked prompt): shown as such, not
    as an empty answer, and not retried (the same prompt would be blocked again)."""

    kind = "blocked"


class ProviderTimeout(ProviderError):
    kind = "timeout"
    retryable = True


class ProviderUnavailable(ProviderError):
    kind = "unavailable"
    retryable = True
