"""What one browser session still needs to be sent about the runs it shows.

A follower remembers, per run, how much text it already sent; each `collect`
returns only the new text (plus the live figures), so the bytes sent per pane
stay linear in the answer's length however often we flush.  Offsets sent to
the browser are in UTF-16 code units because that is how JavaScript strings
count, and an emoji would otherwise shift every later chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backend.streaming.hub import LiveRun, RunHub


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass(slots=True)
class _Sent:
    run_key: str
    chars: int = 0
    utf16: int = 0
    status: str = ""
    tokens: int = -1


@dataclass(slots=True)
class FollowUpdate:
    # one entry per run with news: [run_key, utf16_offset, text, tokens, ttft_ms, elapsed_ms, status]
    entries: list[list[Any]] = field(default_factory=list)
    status_changed: dict[str, LiveRun] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)


class Follower:
    def __init__(self, hub: RunHub) -> None:
        self._hub = hub
        self._sent: dict[str, _Sent] = {}

    def collect(self, runs: dict[str, str]) -> FollowUpdate:
        """`runs` maps run id -> run key ("<run id>:<attempt>") for the panes on screen."""
        update = FollowUpdate()
        for run_id, run_key in runs.items():
            live = self._hub.get(run_id)
            if live is None or f"{live.run_id}:{live.attempt}" != run_key:
                update.unknown.add(run_id)
                continue
            sent = self._sent.get(run_id)
            if sent is None or sent.run_key != run_key:
                sent = self._sent[run_id] = _Sent(run_key)
            new_text = live.text_after(sent.chars)
            if new_text or live.status != sent.status or live.output_tokens != sent.tokens:
                update.entries.append(
                    [
                        run_key,
                        sent.utf16,
                        new_text,
                        live.output_tokens,
                        live.ttft_ms,
                        live.elapsed_ms,
                        live.status,
                    ]
                )
                sent.chars += len(new_text)
                sent.utf16 += utf16_len(new_text)
                sent.tokens = live.output_tokens
            if live.status != sent.status:
                update.status_changed[run_id] = live
                sent.status = live.status
        return update
