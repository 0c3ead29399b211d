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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import ColumnElement, Interval, Table, Update, and_, bindparam, func, or_, select, update
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


_runs = cast(Table, Run.__table__)  # Core: an ORM statement also pays the ORM's DML set-up per call
_ACTIVE = or_(*(_runs.c.status == status for status in sorted(ACTIVE_STATUSES)))
# This attempt of the run, not final yet: plain comparisons (an IN list is expanded on every
# execution).
_THIS_ACTIVE_ATTEMPT = and_(
    _runs.c.id == bindparam("run_id"), _runs.c.attempt == bindparam("run_attempt"), _ACTIVE
)


def _lease_clock(dialect: str) -> tuple[ColumnElement[datetime], ColumnElement[datetime]]:
    """(now, the end of a lease taken now) as SQL: the database's clock on PostgreSQL, this
    process's on SQLite (bound as `now` and `expires`)."""
    if dialect == "postgresql":
        now: ColumnElement[datetime] = func.now()
        return now, now + bindparam("lease", type_=Interval())
    stored = _runs.c.lease_expires_at.type  # aware UTC datetimes, as the column keeps them
    return bindparam("now", type_=stored), bindparam("expires", type_=stored)


def _claim_statement(dialect: str) -> Update:
    now, expires = _lease_clock(dialect)
    return (
        update(_runs)
        .where(
            _THIS_ACTIVE_ATTEMPT,
            or_(
                _runs.c.claimed_by.is_(None),
                _runs.c.claimed_by == bindparam("holder"),
                _runs.c.lease_expires_at <= now,
            ),
        )
        # Claimed is started: the status moves to running in the same statement, so no
        # second write per run marks it (the web process used to, on the started event).
        .values(claimed_by=bindparam("holder"), lease_expires_at=expires, status=RunStatus.RUNNING.value)
    )


def _renew_statement(dialect: str) -> Update:
    _, expires = _lease_clock(dialect)
    return (
        update(_runs)
        .where(_THIS_ACTIVE_ATTEMPT, _runs.c.claimed_by == bindparam("holder"))
        .values(lease_expires_at=expires)
    )


# Built once per dialect, not per call: a claim is made for every run, and building the
# statement (its clauses, values and cache key) cost several times what SQLite took to run it
# (bench/RESULTS.md, 2026-12-05 burst22i).
_CLAIM = {dialect: _claim_statement(dialect) for dialect in ("sqlite", "postgresql")}
_RENEW = {dialect: _renew_statement(dialect) for dialect in ("sqlite", "postgresql")}
_RUN_ATTEMPT = select(_runs.c.attempt, _runs.c.status).where(_runs.c.id == bindparam("run_id"))
_RELEASE = (
    update(_runs)
    .where(
        _runs.c.id == bindparam("run_id"),
        _runs.c.attempt == bindparam("run_attempt"),
        _runs.c.claimed_by == bindparam("holder"),
    )
    .values(**NO_LEASE, status=RunStatus.QUEUED.value)  # waiting for a worker again
)


def _lease_params(connection: Connection, lease_s: float, **params: Any) -> dict[str, Any]:
    if connection.dialect.name == "postgresql":
        return {**params, "lease": timedelta(seconds=lease_s)}
    now = utcnow()
    return {**params, "now": now, "expires": now + timedelta(seconds=lease_s)}


@dataclass(frozen=True, slots=True)
class Claim:
    run_id: str
    attempt: int
    holder: str


def _claim(connection: Connection, claim: Claim, lease_s: float) -> ClaimOutcome:
    params = _lease_params(
        connection, lease_s, run_id=claim.run_id, run_attempt=claim.attempt, holder=claim.holder
    )
    if connection.execute(_CLAIM[connection.dialect.name], params).rowcount == 1:
        return ClaimOutcome.CLAIMED
    row = connection.execute(_RUN_ATTEMPT, {"run_id": claim.run_id}).one_or_none()
    if row is None:
        return ClaimOutcome.MISSING
    if row.attempt != claim.attempt:
        return ClaimOutcome.SUPERSEDED
    if row.status in FINAL_STATUSES:
        return ClaimOutcome.FINAL
    return ClaimOutcome.HELD


async def claim_run(db: Database, run_id: str, attempt: int, holder: str, lease_s: float) -> ClaimOutcome:
    """Claim attempt `attempt` of the run for `holder` for `lease_s` seconds, if no one else
    holds a live lease on it.  Claiming again with the same holder renews (a claim retried
    after its connection dropped must not lock its own holder out)."""
    return (await claim_runs(db, [Claim(run_id, attempt, holder)], lease_s))[0]


async def claim_runs(db: Database, claims: Sequence[Claim], lease_s: float) -> list[ClaimOutcome]:
    """`claim_run` for each claim, in one transaction (in run id order: two workers' groups lock
    their rows in the same order on PostgreSQL, never each waiting for the other). Each claim's
    outcome is its own; the transaction fails or commits as a whole."""
    order = sorted(range(len(claims)), key=lambda i: claims[i].run_id)

    def claim_all(connection: Connection) -> list[ClaimOutcome]:
        outcomes: dict[int, ClaimOutcome] = {i: _claim(connection, claims[i], lease_s) for i in order}
        return [outcomes[i] for i in range(len(claims))]

    return await db.write(claim_all)


async def renew_run_lease(db: Database, run_id: str, attempt: int, holder: str, lease_s: float) -> bool:
    """Push the holder's lease `lease_s` seconds past now.  False when the claim is gone: the
    run ended or was retried, or the lease lapsed and another worker claimed the run."""

    def renew(connection: Connection) -> bool:
        params = _lease_params(connection, lease_s, run_id=run_id, run_attempt=attempt, holder=holder)
        return connection.execute(_RENEW[connection.dialect.name], params).rowcount == 1

    return await db.write(renew)


async def release_run_lease(db: Database, run_id: str, attempt: int, holder: str) -> bool:
    """Give the claim up (the run ended here without a final event): another worker may claim
    it at once instead of waiting for the lease to end.  False if the holder had no claim."""

    def release(connection: Connection) -> bool:
        params = {"run_id": run_id, "run_attempt": attempt, "holder": holder}
        return connection.execute(_RELEASE, params).rowcount == 1

    return await db.write(release)
