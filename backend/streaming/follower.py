"""What one browser session still needs to be sent about the runs it shows.

A follower remembers, per run, how much text it already sent; each `collect`
returns only the new text (plus the live figures), so the bytes sent per pane
stay linear in the answer's length however often we flush.  Offsets sent to
the browser are in UTF-16 code units because that is how JavaScript strings
count, and an emoji would otherwise shift every later chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from backend.streaming.hub import LiveRun, RunHub


def utf16_len(text: str) -> int:
    if text.isascii():  # most chunks: one code unit a character, without encoding the text
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def short_key(run_key: str) -> str:
    """The browser's key for a run: 8 hex digits of its id are unique within a page."""
    run_id, attempt = run_key.rsplit(":", 1)
    return f"{run_id[:8]}:{attempt}"


def _ms(value: float | None) -> int | None:
    return None if value is None else round(value)


@dataclass(slots=True)
class _Sent:
    run_key: str
    key: str  # the client's key for the run, made once
    chars: int = 0
    utf16: int = 0
    status: str = ""
    tokens: int = -1
    ttft_sent: bool = False
    resets: int = 0


class LiveEntry(NamedTuple):
    """One run's news since the last flush: its new text from `offset` on (UTF-16 units) and its
    live figures. `status_news` says whether its status changed or its first token arrived.

    A NamedTuple (immutable like the frozen dataclass it was, a sixth of its cost to build):
    four are made per page flush, a thousand flushes a second at fifty pages."""

    run_id: str
    attempt: int
    key: str  # the client's key for the run (see `short_key`)
    offset: int
    text: str
    tokens: int
    ttft_ms: float | None
    elapsed_ms: float
    status: str
    status_news: bool

    def encode(self) -> list[Any]:
        """The wire form the browser's live store applies (assets/live_store.jsx):
        [key, utf16_offset, new_text, tokens], followed by [ttft_ms, elapsed_ms, status] only
        with status news. Every byte here is paid on every flush of every pane, so the common
        entry stays short."""
        entry: list[Any] = [self.key, self.offset, self.text, self.tokens]
        if self.status_news:
            entry += [_ms(self.ttft_ms), _ms(self.elapsed_ms), self.status]
        return entry


@dataclass(slots=True)
class FollowUpdate:
    live: list[LiveEntry] = field(default_factory=list)
    status_changed: dict[str, LiveRun] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)

    @property
    def entries(self) -> list[list[Any]]:
        """The entries in their wire form."""
        return [entry.encode() for entry in self.live]


class Follower:
    def __init__(self, hub: RunHub, client_key: Callable[[str], str] = str) -> None:
        self._hub = hub
        self._client_key = client_key
        self._sent: dict[str, _Sent] = {}

    def collect(self, runs: dict[str, str]) -> FollowUpdate:
        """`runs` maps run id -> run key ("<run id>:<attempt>") for the panes on screen."""
        update = FollowUpdate()
        for run_id, run_key in runs.items():
            live = self._hub.get(run_id)
            if live is None or f"{live.run_id}:{live.attempt}" != run_key:
                update.unknown.add(run_id)
                continue
            if live.gapped:  # joined mid-stream: nothing true to show until the final text
                continue
            sent = self._sent.get(run_id)
            if sent is None or sent.run_key != run_key or sent.resets != live.resets:
                # a new run, or its text restarted: send it again from offset 0 (the browser replaces it)
                sent = self._sent[run_id] = _Sent(run_key, self._client_key(run_key), resets=live.resets)
            new_text = live.text_after(sent.chars)
            status_changed = live.status != sent.status
            first_token = live.ttft_ms is not None and not sent.ttft_sent
            if new_text or status_changed or first_token or live.output_tokens != sent.tokens:
                status_news = status_changed or first_token
                if status_news:
                    sent.ttft_sent = live.ttft_ms is not None
                update.live.append(
                    LiveEntry(
                        run_id=live.run_id,
                        attempt=live.attempt,
                        key=sent.key,
                        offset=sent.utf16,
                        text=new_text,
                        tokens=live.output_tokens,
                        ttft_ms=live.ttft_ms,
                        elapsed_ms=live.elapsed_ms,
                        status=live.status,
                        status_news=status_news,
                    )
                )
                sent.chars += len(new_text)
                sent.utf16 += utf16_len(new_text)
                sent.tokens = live.output_tokens
            if live.status != sent.status:
                update.status_changed[run_id] = live
                sent.status = live.status
        return update
