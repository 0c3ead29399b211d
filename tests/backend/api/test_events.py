"""The SSE route's own encoding: a `delta` event is what json.dumps of its fields writes."""

from __future__ import annotations

import json
import math

import pytest

from backend.api.events import _delta, _sse
from backend.streaming.follower import LiveEntry


def entry(text: str, ttft_ms: float | None, elapsed_ms: float, status: str = "running") -> LiveEntry:
    return LiveEntry(
        run_id="0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        attempt=2,
        key="0193a1b2:2",
        offset=7,
        text=text,
        tokens=41,
        ttft_ms=ttft_ms,
        elapsed_ms=elapsed_ms,
        status=status,
        status_news=False,
    )


@pytest.mark.parametrize(
    "sample",
    [
        entry(" streams", 101.3, 1234.5678),
        entry("", None, 0.0, status="queued"),
        entry('quote " backslash \\ newline \n tab \t nul \x00', 1e-7, 1e22),
        entry("日本語の答え 🎉 \u2028 é", 5.0, 12.0, status="done"),
        entry("x", math.nan, math.inf, status="error"),
    ],
)
def test_a_delta_is_byte_for_byte_what_json_dumps_writes(sample: LiveEntry) -> None:
    fields = {
        "run_id": sample.run_id,
        "attempt": sample.attempt,
        "text": sample.text,
        "output_tokens": sample.tokens,
        "ttft_ms": sample.ttft_ms,
        "elapsed_ms": sample.elapsed_ms,
        "status": sample.status,
    }
    assert _delta(sample) == _sse("delta", fields)
    payload = _delta(sample).decode().removeprefix("event: delta\ndata: ").removesuffix("\n\n")
    assert json.loads(payload)["text"] == sample.text
