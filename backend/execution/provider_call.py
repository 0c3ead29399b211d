"""Calling a run's provider: credentials, retries, the idle watchdog, and errors as final events.

Everything here happens once the worker has decided the attempt runs here (claimed,
not stopped, not answered from the cache).  Provider errors end the attempt as an
`error` final event whose message never shows a stored key; a cancellation (Stop, or
shutdown) is left to the worker, which turns it into a `cancelled` final.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from backend.execution.recorder import RunRecorder
from backend.files.images import InvalidImage, load_images
from backend.files.store import FileStore
from backend.i18n import Message
from backend.providers.base import (
    AuthenticationFailed,
    BadRequest,
    ChatProvider,
    ChatRequest,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    StreamEnd,
    TextChunk,
    Usage,
)
from backend.providers.credentials import ProviderCredentials, key_provider, provider_label
from backend.queue.messages import ChunkEvent, FinalEvent, RunTask
from backend.run_errors import INTERNAL, NO_OUTPUT, SERVER_KEY_REFUSED, YOUR_KEY_REFUSED
from backend.run_options import ImageData
from backend.time_slice import TimeSlice

log = logging.getLogger(__name__)

IDLE_CHECK_S = 1.0  # at most how often a stream's idle-output watchdog is pushed back


class ProviderResolver(Protocol):
    """Model id (plus stored credentials, when the task's user or the deployment has them) ->
    provider.  Called with the model id alone when there are none."""

    def __call__(self, model_id: str, credentials: ProviderCredentials | None = None, /) -> ChatProvider: ...


# The stored key a task runs with (the user's, else the deployment's), or None: the environment's.
# Read from the database by the worker, so keys never travel on the queue.
CredentialHook = Callable[[RunTask], Awaitable[ProviderCredentials | None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry transient failures, but only before any text reached the user:
    a retry after partial output would show the same words twice."""

    max_retries: int = 2
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def delay(self, attempt: int, error: ProviderError) -> float:
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return min(error.retry_after, self.max_delay_s)
        return min(self.base_delay_s * (2**attempt), self.max_delay_s)


class ProviderCall:
    """An `Execution` that streams the task's provider, publishing each chunk as it comes."""

    def __init__(
        self,
        resolve: ProviderResolver,
        publish_chunk: Callable[[ChunkEvent], Awaitable[None]],
        *,
        idle_timeout_s: float,
        retry: RetryPolicy,
        credentials: CredentialHook | None = None,
        files: FileStore | None = None,
    ) -> None:
        self._resolve = resolve
        self._publish_chunk = publish_chunk
        self._idle_timeout_s = idle_timeout_s
        self._retry = retry
        self._credentials = credentials
        self._files = files  # where the prompts' images are (backend/files)

    async def __call__(self, task: RunTask, recorder: RunRecorder) -> FinalEvent:
        credentials: ProviderCredentials | None = None
        try:
            if self._credentials is not None:
                credentials = await self._credentials(task)
            provider = (
                self._resolve(task.model) if credentials is None else self._resolve(task.model, credentials)
            )
            usage, finish_reason = await self._stream_with_retries(provider, task, recorder)
        except ProviderError as exc:
            error = _error_message(exc, task, credentials)
            return recorder.final("error", Usage(), "", error=error, error_kind=exc.kind)
        except Exception as exc:  # a bug in an adapter must not kill the worker
            log.exception("run %s failed unexpectedly", task.run_id)
            error = Message(INTERNAL, detail=str(exc))
            if credentials is not None:
                error = credentials.redact(error)
            return recorder.final("error", Usage(), "", error=error, error_kind="internal")
        return recorder.final("done", usage, finish_reason)

    async def _stream_with_retries(
        self, provider: ChatProvider, task: RunTask, recorder: RunRecorder
    ) -> tuple[Usage, str]:
        request = ChatRequest(
            model=task.model.split(":", 1)[1],
            prompt=task.prompt,
            system_prompt=task.system_prompt,
            temperature=task.temperature,
            max_tokens=task.max_tokens,
            seed=task.seed,
            options=task.options,
            images=await self._images(task),
            history=task.history,
        )
        tries = 0
        while True:
            try:
                return await self._stream_once(provider, request, recorder)
            except ProviderError as exc:
                if not exc.retryable or recorder.chunks > 0 or tries >= self._retry.max_retries:
                    raise
                await asyncio.sleep(self._retry.delay(tries, exc))
                tries += 1

    async def _images(self, task: RunTask) -> tuple[ImageData, ...]:
        if not task.images:
            return ()
        if self._files is None:
            raise BadRequest("This worker has no file store to read the prompt's images from.")
        try:
            return await load_images(self._files, task.images)
        except InvalidImage as exc:
            raise BadRequest(exc.message) from exc

    async def _stream_once(
        self, provider: ChatProvider, request: ChatRequest, recorder: RunRecorder
    ) -> tuple[Usage, str]:
        stream = provider.stream(request).__aiter__()
        loop = asyncio.get_running_loop()
        idle = self._idle_timeout_s
        check_every = min(IDLE_CHECK_S, idle / 4)
        # A stream whose next chunk is always ready (an instant model, a fast server's buffered
        # bytes) would never suspend here: the slice hands the loop over every few ms of chunks.
        budget = TimeSlice()
        try:
            # One asyncio.timeout for the whole stream, pushed back as chunks come (asyncio.timeout,
            # not wait_for: on 3.11 wait_for swallows a cancellation that lands just as the next
            # chunk arrives, and Stop would then be ignored).  A fresh timer per chunk cost a tenth
            # of the event loop at 16,000 chunks/s, so it moves at most every `check_every`: the
            # stream is given up after between `idle - check_every` and `idle` seconds of silence.
            async with asyncio.timeout(idle) as watchdog:
                armed_at = loop.time()
                while True:
                    try:
                        item = await anext(stream)
                    except StopAsyncIteration:
                        return Usage(output_tokens=recorder.chunks), "stop"
                    now = loop.time()
                    if now - armed_at >= check_every:
                        watchdog.reschedule(now + idle)
                        armed_at = now
                    if isinstance(item, StreamEnd):
                        return item.usage, item.finish_reason
                    if isinstance(item, TextChunk) and item.text:
                        await self._publish_chunk(recorder.chunk(item.text))
                        if recorder.chunks == 1:
                            await _first_words_out()
                        if budget.spent():
                            await budget.pause()
        except TimeoutError as exc:
            raise ProviderTimeout(Message(NO_OUTPUT, seconds=round(idle))) from exc


async def _first_words_out() -> None:
    """Let the first words reach the people watching before the rest of a buffered answer is
    parsed (a fast server sends several chunks in one read, and parsing them holds the loop):
    one turn for the in-process event pump to apply the chunk, one for the streams it woke to
    send it. With a remote broker the chunk has left already; two turns cost nothing."""
    for _ in range(2):
        await asyncio.sleep(0)


def _error_message(error: ProviderError, task: RunTask, credentials: ProviderCredentials | None) -> str:
    """What the run shows (and shares): never a stored key, not even the provider's echo of it."""
    if credentials is None:
        return error.message
    if isinstance(error, AuthenticationFailed):
        refused = YOUR_KEY_REFUSED if credentials.scope == task.user_id else SERVER_KEY_REFUSED
        return Message(
            refused, provider=provider_label(key_provider(task.model) or task.model.partition(":")[0])
        )
    return credentials.redact(error.message)
