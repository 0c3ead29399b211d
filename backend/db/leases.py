"""Run leases: a worker claims a run in the database before it calls the provider.

A claim is one compare-and-set UPDATE (which also marks the run running): it takes the
run only if the task's attempt is the run's current one, the run is not final, and no
other claim holds a live lease on it.  Both engines make that atomic: PostgreSQL locks the row and re-checks
the WHERE clause once a concurrent writer commits; SQLite has one writer at a time.
So of any number of workers racing for a run, exactly one wins; a replayed or
rebalanced request finds the run claimed and does not call a paid provider again.

Each claim names its own holder (the worker's id plus a suffix), so the same task
delivered twice to one worker is two claimers as well.  The holder renews its lease
while the run streams; the final save, a retry or a release clear it; a worker that
dies leaves it to expire, and then another worker may claim the run.

Lease times are the database's clock on PostgreSQL, so workers on several machines
agree on when a lease ends; on SQLite (one machine) the process clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.engine import Connection

from backend.db.engine import Database
from backend.db.models import Run, utcnow
from backend.db.records import ACTIVE_STATUSES, FINAL_STATUSES, RunStatus

# What ends a claim: the final save, a retry, a cancel, the start-up clean-up (see runs.py).
NO_LEASE: dict[str, Any] = {"claimed_by": None, "lease_expires_at": None}


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"  # this holder has the lease: call the provider
    HELD = "held"  # another holder's lease is live: wait for it to end or for the run to finish
    FINAL = "final"  # this attempt already ended
    SUPERSEDED = "superseded"  # a retry made a newer attempt
    MISSING = "missing"  # no such run (its comparison was deleted)


def _now(connection: Connection) -> datetime | ColumnElement[datetime]:
    if connection.dialect.name == "postgresql":
        return func.now()
    return utcnow()


def _active(run_id: str, attempt: int) -> tuple[ColumnElement[bool], ...]:
    return (Run.id == run_id, Run.attempt == attempt, Run.status.in_(sorted(ACTIVE_STATUSES)))


async def claim_run(db: Database, run_id: str, attempt: int, holder: str, lease_s: float) -> ClaimOutcome:
    """Claim attempt `attempt` of the run for `holder` for `lease_s` seconds, if no one else
    holds a live lease on it.  Claiming again with the same holder renews (a claim retried
    after its connection dropped must not lock its own holder out)."""

    def claim(connection: Connection) -> ClaimOutcome:
        now = _now(connection)
        taken = connection.execute(
            update(Run)
            .where(
                *_active(run_id, attempt),
                or_(Run.claimed_by.is_(None), Run.claimed_by == holder, Run.lease_expires_at <= now),
            )
            # Claimed is started: the status moves to running in the same statement, so no
            # second write per run marks it (the web process used to, on the started event).
            .values(
                claimed_by=holder,
                lease_expires_at=now + timedelta(seconds=lease_s),
                status=RunStatus.RUNNING.value,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken == 1:
            return ClaimOutcome.CLAIMED
        row = connection.execute(select(Run.attempt, Run.status).where(Run.id == run_id)).one_or_none()
        if row is None:
            return ClaimOutcome.MISSING
        if row.attempt != attempt:
            return ClaimOutcome.SUPERSEDED
        if row.status in FINAL_STATUSES:
            return ClaimOutcome.FINAL
        return ClaimOutcome.HELD

    return await db.write(claim)


async def renew_run_lease(db: Database, run_id: str, attempt: int, holder: str, lease_s: float) -> bool:
    """Push the holder's lease `lease_s` seconds past now.  False when the claim is gone: the
    run ended or was retried, or the lease lapsed and another worker claimed the run."""

    def renew(connection: Connection) -> bool:
        now = _now(connection)
        return (
            connection.execute(
                update(Run)
                .where(*_active(run_id, attempt), Run.claimed_by == holder)
                .values(lease_expires_at=now + timedelta(seconds=lease_s))
                .execution_options(synchronize_session=False)
            ).rowcount
            == 1
        )

    return await db.write(renew)


async def release_run_lease(db: Database, run_id: str, attempt: int, holder: str) -> bool:
    """Give the claim up (the run ended here without a final event): another worker may claim
    it at once instead of waiting for the lease to end.  False if the holder had no claim."""

    def release(connection: Connection) -> bool:
        return (
            connection.execute(
                update(Run)
                .where(Run.id == run_id, Run.attempt == attempt, Run.claimed_by == holder)
                .values(**NO_LEASE, status=RunStatus.QUEUED.value)  # waiting for a worker again
                .execution_options(synchronize_session=False)
            ).rowcount
            == 1
        )

    return await db.write(release)
