"""Messages that cross the queue, as JSON bytes.

A run is identified by (run_id, attempt): retrying a pane bumps the attempt so
events of the abandoned attempt are recognised as stale and dropped.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from backend.run_options import NO_OPTIONS, ImageRef, RunOptions
from backend.runs_model import DEFAULT_MAX_TOKENS, DEFAULT_TEMPERATURE


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class RunTask(_Message):
    run_id: str
    comparison_id: str
    attempt: int = 0
    model: str  # full id, e.g. "openai:gpt-4o-mini"
    prompt: str
    system_prompt: str = ""
    temperature: float = DEFAULT_TEMPERATURE
    max_tokens: int = DEFAULT_MAX_TOKENS
    seed: int | None = None
    options: RunOptions = NO_OPTIONS
    # The prompt's images by file-store key: the worker reads the bytes, the queue carries none.
    images: tuple[ImageRef, ...] = ()
    use_cache: bool = False  # the user asked for the response cache even at temperature > 0
    # Whose provider keys to use: the worker reads them from the database, so no key ever
    # travels on the queue. Empty (tasks from older versions): the deployment's keys.
    user_id: str = ""
    # Earlier turns of the conversation, oldest first: (user message, this pane's answer);
    # `prompt` is the newest message. Empty for a comparison's first turn.
    history: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_bytes(cls, data: bytes) -> RunTask:
        return cls.model_validate_json(data)


class CancelRequest(_Message):
    run_id: str
    attempt: int

    @classmethod
    def from_bytes(cls, data: bytes) -> CancelRequest:
        return cls.model_validate_json(data)


class StartedEvent(_Message):
    kind: Literal["started"] = "started"
    run_id: str
    attempt: int


class ChunkEvent(_Message):
    kind: Literal["chunk"] = "chunk"
    run_id: str
    attempt: int
    seq: int  # 0, 1, 2 ... per (run, attempt); lets consumers drop duplicates
    text: str
    elapsed_ms: float  # since the worker started the provider call
    output_tokens: int  # chunks so far, a live estimate until the final usage


class FinalEvent(_Message):
    kind: Literal["final"] = "final"
    run_id: str
    attempt: int
    status: Literal["done", "error", "cancelled"]
    output_text: str  # the whole answer, so a consumer that missed chunks still saves it exactly
    chunks: int
    error: str = ""
    error_kind: str = ""
    finish_reason: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    ttft_ms: float | None = None
    total_ms: float = 0.0
    # A replay from the response cache: ttft_ms/total_ms are the replay's, these the original call's.
    cache_hit: bool = False
    original_ttft_ms: float | None = None
    original_total_ms: float | None = None


class ChunkBatch(_Message):
    """Chunks of several runs (and several of one run, in order) as one Kafka record: a worker
    sends the chunks that fall due in one linger window to a partition this way
    (backend/queue/kafka_chunks.py).  Built from the chunks' own JSON (`chunk_batch_bytes`)."""

    kind: Literal["chunks"] = "chunks"
    chunks: tuple[ChunkEvent, ...]


RunEvent = Annotated[StartedEvent | ChunkEvent | FinalEvent, Field(discriminator="kind")]
_run_event_adapter: TypeAdapter[StartedEvent | ChunkEvent | FinalEvent] = TypeAdapter(RunEvent)
_record_adapter: TypeAdapter[StartedEvent | ChunkEvent | FinalEvent | ChunkBatch] = TypeAdapter(
    Annotated[StartedEvent | ChunkEvent | FinalEvent | ChunkBatch, Field(discriminator="kind")]
)


def decode_event(data: bytes) -> StartedEvent | ChunkEvent | FinalEvent:
    return _run_event_adapter.validate_json(data)


def chunk_batch_bytes(chunks: list[bytes]) -> bytes:
    """A `ChunkBatch` of chunks already encoded by `to_bytes` (no second serialization)."""
    return b'{"kind":"chunks","chunks":[' + b",".join(chunks) + b"]}"


def decode_record(data: bytes) -> tuple[StartedEvent | ChunkEvent | FinalEvent, ...]:
    """The events of one events-topic record: one event, or a `ChunkBatch`'s chunks in order."""
    decoded = _record_adapter.validate_json(data)
    return decoded.chunks if isinstance(decoded, ChunkBatch) else (decoded,)
