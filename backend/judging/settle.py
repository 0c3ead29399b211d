"""Finished judge runs become stored verdicts.

Called when a judge run's final result is saved (the event pump's hook, in the process that
started the judgement) and again before verdicts are read (the judgements API, the judge
leaderboard), so a verdict whose run finished while another process was saving it, or before
a restart, is never missed. A judge run retried after its verdict was stored is settled again
once its new attempt finishes.
"""

from __future__ import annotations

from collections.abc import Sequence

from backend.db import judgements as repo
from backend.db.engine import Database
from backend.db.records import RunStatus
from backend.judging.verdicts import parse_verdict, run_ended


async def settle(db: Database, *, project_id: str | None = None, run_ids: Sequence[str] | None = None) -> int:
    """Parse and store the verdicts of finished, unsettled judge runs; how many were settled."""
    async with db.session() as session:
        pending = await repo.unsettled(session, project_id=project_id, run_ids=run_ids)
        for row in pending:
            if row.status == RunStatus.DONE:
                parsed = parse_verdict(row.output_text)
                verdict = parsed.verdict
                await repo.save_verdict(
                    session,
                    row.id,
                    winner=None if verdict is None else verdict.winner,
                    rationale="" if verdict is None else verdict.rationale,
                    error=parsed.error,
                )
            else:
                reason = row.error or run_ended(row.status)
                await repo.save_verdict(session, row.id, winner=None, rationale="", error=reason)
    return len(pending)
