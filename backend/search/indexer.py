"""Keeps the vector index in step with the database, off the request path.

When a comparison's last run is saved (the event pump's after-save hook), when a retried run
ends, when a vote changes and when a comparison is deleted, a row goes into the outbox table
(backend/db/search_jobs.py). `run()` (a task of the runtime, in every web process; claims keep
two processes off the same row) embeds the comparison's prompt, system prompt and answers and
replaces its vectors, or removes them. A failure (embedder or vector index down) leaves the row,
retried with backoff, so nothing is lost; `reindex` backfills everything (python -m backend.admin).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from backend.cancellation import raise_if_cancelled
from backend.db import search_jobs as jobs
from backend.db.comparisons import batch_row_ids, get_comparison
from backend.db.engine import Database
from backend.db.models import BatchRow, Comparison, JudgeRun, Run, Vote
from backend.db.records import FINAL_STATUSES, ComparisonRecord
from backend.queue.messages import FinalEvent
from backend.search.embedding import Embedder
from backend.search.vectors import VectorIndex, VectorItem

log = logging.getLogger(__name__)

EMBED_CHARS = 2000  # e5 reads 512 tokens; more text only costs time
LEASE_S = 120.0
BATCH = 16
MAX_RETRY_S = 300.0


def documents(record: ComparisonRecord) -> list[tuple[str, str]]:
    """(part, text) pairs: the prompt (after its system prompt) and each answer with text."""
    prompt = f"{record.system_prompt}\n\n{record.prompt}" if record.system_prompt else record.prompt
    parts = [("p", prompt)]
    parts += [(f"o{run.position}", run.output_text) for run in record.runs if run.output_text.strip()]
    return parts


class SearchIndexer:
    def __init__(
        self,
        db: Database,
        embedder: Embedder,
        index: VectorIndex,
        poll_s: float = 2.0,
        retry_base_s: float = 1.0,
    ) -> None:
        self._db = db
        self._embedder = embedder
        self._index = index
        self._poll_s = poll_s
        self._retry_base_s = retry_base_s
        self._holder = f"indexer-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._opened = False
        self.on_error: Callable[[str], None] | None = None  # tests watch failures

    # --- requests (cheap: one row, no embedding) ------------------------------------------
    async def request(self, comparison_id: str, project_id: str, action: str = jobs.INDEX) -> None:
        async with self._db.session() as session:
            await jobs.request_job(session, comparison_id, project_id, action)
        self._wake.set()

    async def comparison_changed(self, comparison_id: str) -> None:
        """A vote changed (or anything else worth re-indexing): index it again if it still exists."""
        async with self._db.session() as session:
            project_id = (
                await session.execute(select(Comparison.project_id).where(Comparison.id == comparison_id))
            ).scalar_one_or_none()
        if project_id is not None:
            await self.request(comparison_id, project_id)

    async def comparison_deleted(self, comparison_id: str, project_id: str) -> None:
        await self.request(comparison_id, project_id, jobs.DELETE)

    async def run_finished(self, event: FinalEvent) -> None:
        """The event pump's after-save hook: once every run of the comparison is final, index it
        (a retried pane ends here again, so a retry re-indexes)."""

        def request_if_ended(connection: Connection) -> bool:
            row = connection.execute(
                select(Run.comparison_id, Comparison.project_id)
                .join(Comparison, Comparison.id == Run.comparison_id)
                .where(Run.id == event.run_id)
            ).one_or_none()
            if row is None:
                return False
            unfinished = connection.execute(
                select(Run.id)
                .where(Run.comparison_id == row.comparison_id, Run.status.not_in(FINAL_STATUSES))
                .limit(1)
            ).first()
            if unfinished is not None:
                return False
            jobs.request_job_in(connection, row.comparison_id, row.project_id, jobs.INDEX)
            return True

        # One transaction in one thread hop (Database.write): through async sessions the two reads
        # and the request were 7% of the backend's samples at 50 streaming pages (a hop per step
        # of each statement, for every run's end).
        try:
            requested = await self._db.write(request_if_ended)
        except IntegrityError:  # another process inserted the job just now: this time it bumps it
            requested = await self._db.write(request_if_ended)
        if requested:
            self._wake.set()

    # --- the work ------------------------------------------------------------------------
    async def open(self) -> None:
        if not self._opened:
            if not self._embedder.dimensions:  # an endpoint's model: its size is known once it answers
                await self._embedder.embed_queries(["dimensions"])
            await self._index.open(self._embedder.model_id, self._embedder.dimensions)
            self._opened = True

    async def run(self) -> None:
        """Forever: do what is due, then sleep until told of new work or the poll interval ends."""
        while True:
            self._wake.clear()
            try:
                done = await self.process_due()
            except Exception as exc:  # the database itself is down: try again later
                raise_if_cancelled()  # unless it was a cancellation turned into an error
                log.warning("search indexing pass failed: %r", exc)
                done = 0
            if done:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)

    async def process_due(self, limit: int = BATCH) -> int:
        """One pass over due jobs; the number handled (succeeded or failed)."""
        async with self._db.session() as session:
            due = await jobs.due_jobs(session, limit)
        handled = 0
        for job in due:
            async with self._db.session() as session:
                if not await jobs.claim_job(session, job, self._holder, LEASE_S):
                    continue
            try:
                await self.open()
                if job.action == jobs.DELETE:
                    await self._index.delete(job.project_id, job.comparison_id)
                else:
                    await self.index_comparisons([job.comparison_id])
            except Exception as exc:
                delay = min(self._retry_base_s * 2**job.attempts, MAX_RETRY_S)
                message = f"{type(exc).__name__}: {exc}"
                log.warning("indexing %s failed (%s); retrying in %.0f s", job.comparison_id, message, delay)
                if self.on_error is not None:
                    self.on_error(message)
                async with self._db.session() as session:
                    await jobs.fail_job(session, job, message, delay)
            else:
                async with self._db.session() as session:
                    await jobs.finish_job(session, job)
            handled += 1
        return handled

    async def index_comparisons(self, comparison_ids: Sequence[str]) -> int:
        """Embed and write these comparisons' vectors (all their parts at once); those that no longer
        exist, judges' comparisons and batches' rows are skipped (browsed with their batch, not
        searched). Idempotent. Answers the number of vectors written."""
        records: list[ComparisonRecord] = []
        async with self._db.session() as session:
            skipped = set(
                (
                    await session.execute(
                        select(JudgeRun.run_comparison_id)
                        .where(JudgeRun.run_comparison_id.in_(list(comparison_ids)))
                        .union(batch_row_ids().where(BatchRow.comparison_id.in_(list(comparison_ids))))
                    )
                ).scalars()
            )
            for comparison_id in comparison_ids:
                record = await get_comparison(session, comparison_id)
                if record is not None and comparison_id not in skipped:
                    records.append(record)
            voted = set(
                (
                    await session.execute(
                        select(Vote.comparison_id)
                        .where(Vote.comparison_id.in_([r.id for r in records]))
                        .group_by(Vote.comparison_id)
                        .having(func.count() > 0)
                    )
                ).scalars()
            )
        texts: list[tuple[ComparisonRecord, str, str]] = [
            (record, part, text) for record in records for part, text in documents(record)
        ]
        vectors = await self._embedder.embed_passages([text[:EMBED_CHARS] for _, _, text in texts])
        batch: list[tuple[str, str, list[VectorItem]]] = []
        for record in records:
            items = [
                VectorItem(
                    comparison_id=record.id,
                    part=part,
                    project_id=record.project_id,
                    vector=vector,
                    text=text,
                    models=tuple(run.model for run in record.runs),
                    created_at=record.created_at.timestamp(),
                    has_votes=record.id in voted,
                )
                for (owner, part, text), vector in zip(texts, vectors, strict=True)
                if owner is record
            ]
            batch.append((record.project_id, record.id, items))
        await self._index.replace_many(batch)
        return len(texts)
