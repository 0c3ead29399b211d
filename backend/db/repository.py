"""Every query the app makes, as async functions over an ``AsyncSession`` (saving a new
comparison, which is on the path to its first token, goes through ``Database.write``).

Functions that write commit their own single transaction (on failure the
session is rolled back and the error re-raised). They return frozen records
from :mod:`backend.db.records`, never ORM objects.

Run state is guarded by ``attempt``: a retry bumps it, and any event carrying
an older attempt (a worker still streaming the previous try) is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from backend.db.accounts import add_personal_project
from backend.db.engine import Database
from backend.db.leases import NO_LEASE
from backend.db.models import DEFAULT_PROJECT_NAME, Comparison, Project, Run, Share, User, new_id, utcnow
from backend.db.projects import member_projects
from backend.db.records import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    INTERRUPTED,
    ComparisonRecord,
    ComparisonSummary,
    HistoryPage,
    NewRun,
    RunRecord,
    RunStatus,
    UserRecord,
    comparison_record,
    prompt_first_line,
    run_record,
)

MAX_PAGE_SIZE = 100
_PROMPT_HEAD_CHARS = 2000  # enough of each prompt to find its first non-blank line


class NotFoundError(LookupError):
    """The user, project or run asked for does not exist."""


# --- users and projects -----------------------------------------------------


async def _find_default_project(session: AsyncSession, user_id: str) -> str | None:
    stmt = select(Project.id).where(Project.owner_id == user_id, Project.name == DEFAULT_PROJECT_NAME)
    return (await session.execute(stmt)).scalar_one_or_none()


async def ensure_user(session: AsyncSession, email: str, display_name: str = "") -> UserRecord:
    """Get or create the user (email stripped and lower-cased) and its "Personal" project.

    Idempotent; a concurrent creator losing the race re-reads the winner's row.
    An existing user's display name is left unchanged.
    """
    email = email.strip().lower()
    if not email:
        raise ValueError("email is required")
    stmt = select(User.id, User.email, User.display_name, User.created_at).where(User.email == email)
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        user = User(id=new_id(), email=email, display_name=display_name, created_at=utcnow())
        session.add(user)
        try:
            await session.flush()
            add_personal_project(session, user.id, email)
            await session.commit()
        except IntegrityError:
            await session.rollback()  # another request created it first
        row = (await session.execute(stmt)).one()
    user_id, email, name, created_at = row
    project_id = await default_project_id(session, user_id)
    return UserRecord(
        id=user_id, email=email, display_name=name, created_at=created_at, default_project_id=project_id
    )


async def default_project_id(session: AsyncSession, user_id: str) -> str:
    """The user's "Personal" project, created if it is missing."""
    project_id = await _find_default_project(session, user_id)
    if project_id is not None:
        return project_id
    email = (await session.execute(select(User.email).where(User.id == user_id))).scalar_one_or_none()
    if email is None:
        raise NotFoundError(f"user {user_id!r} does not exist")
    add_personal_project(session, user_id, email)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()  # lost a race, or the user does not exist
    project_id = await _find_default_project(session, user_id)
    if project_id is None:
        raise NotFoundError(f"user {user_id!r} does not exist")
    return project_id


# --- comparisons --------------------------------------------------------------


# A run before its attempt starts: how it is created, and how a retry leaves it.
_UNSTARTED: dict[str, Any] = {
    "status": RunStatus.QUEUED.value,
    "output_text": "",
    "error": "",
    "error_kind": "",
    "ttft_ms": None,
    "total_ms": None,
    "input_tokens": 0,
    "output_tokens": 0,
    "cost_usd": 0.0,
    "cache_hit": False,
    "original_ttft_ms": None,
    "original_total_ms": None,
    "finished_at": None,
}


async def create_comparison(
    db: Database,
    *,
    user_id: str,
    project_id: str,
    prompt: str,
    system_prompt: str = "",
    settings: dict[str, Any] | None = None,
    runs: Sequence[NewRun],
) -> ComparisonRecord:
    """Insert a comparison and one queued run per pane (positions 0..n-1), in one transaction."""
    if not runs:
        raise ValueError("a comparison needs at least one run")
    now = utcnow()
    comparison_id = new_id()
    comparison_row: dict[str, Any] = {
        "id": comparison_id,
        "project_id": project_id,
        "user_id": user_id,
        "prompt": prompt,
        "system_prompt": system_prompt,
        "settings": dict(settings or {}),
        "created_at": now,
    }
    run_records = tuple(
        RunRecord(
            id=new_id(),
            comparison_id=comparison_id,
            position=i,
            provider=r.provider,
            model=r.model,
            params=dict(r.params),
            attempt=0,
            created_at=now,
            **_UNSTARTED,
        )
        for i, r in enumerate(runs)
    )
    run_rows = [
        {
            "id": r.id,
            "comparison_id": comparison_id,
            "position": r.position,
            "provider": r.provider,
            "model": r.model,
            "params": r.params,
            "status": r.status,
            "created_at": now,
        }
        for r in run_records
    ]

    # Core inserts through Database.write, not ORM objects in a session: this sits on the path
    # to a run's first token, where the unit of work and aiosqlite's thread hops cost more than
    # the two statements themselves.
    def insert_rows(connection: Connection) -> None:
        connection.execute(insert(Comparison), [comparison_row])
        connection.execute(insert(Run), run_rows)

    await db.write(insert_rows)
    return ComparisonRecord(**comparison_row, runs=run_records)


async def get_comparison(session: AsyncSession, comparison_id: str) -> ComparisonRecord | None:
    stmt = (
        select(Comparison)
        .where(Comparison.id == comparison_id)
        .options(selectinload(Comparison.runs))
        .execution_options(populate_existing=True)
    )
    comparison = (await session.execute(stmt)).scalar_one_or_none()
    return None if comparison is None else comparison_record(comparison)


async def list_comparisons(
    session: AsyncSession,
    *,
    project_id: str | None = None,
    user_id: str | None = None,
    member_id: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> HistoryPage:
    """Newest first; ``page`` is 1-based and clamped, ``page_size`` to 1..100. Three queries.

    ``member_id`` keeps only comparisons in projects that user is a member of.
    """
    page = max(1, page)
    page_size = min(max(1, page_size), MAX_PAGE_SIZE)
    filters = []
    if project_id is not None:
        filters.append(Comparison.project_id == project_id)
    if user_id is not None:
        filters.append(Comparison.user_id == user_id)
    if member_id is not None:
        filters.append(Comparison.project_id.in_(member_projects(member_id)))

    total = (await session.execute(select(func.count(Comparison.id)).where(*filters))).scalar_one()
    rows = (
        await session.execute(
            select(
                Comparison.id,
                Comparison.project_id,
                func.substr(Comparison.prompt, 1, _PROMPT_HEAD_CHARS),
                Comparison.created_at,
            )
            .where(*filters)
            .order_by(Comparison.created_at.desc(), Comparison.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
    ).all()

    runs_by_comparison: dict[str, list[tuple[str, str]]] = {row[0]: [] for row in rows}
    if rows:
        run_rows = await session.execute(
            select(Run.comparison_id, Run.model, Run.status)
            .where(Run.comparison_id.in_(list(runs_by_comparison)))
            .order_by(Run.comparison_id, Run.position)
        )
        for comparison_id, model, status in run_rows:
            runs_by_comparison[comparison_id].append((model, status))

    items = []
    for comparison_id, comparison_project_id, prompt_head, created_at in rows:
        runs = runs_by_comparison[comparison_id]
        statuses = [status for _, status in runs]
        items.append(
            ComparisonSummary(
                id=comparison_id,
                project_id=comparison_project_id,
                prompt_first_line=prompt_first_line(prompt_head or ""),
                models=tuple(model for model, _ in runs),
                created_at=created_at,
                n_runs=len(runs),
                n_done=statuses.count(RunStatus.DONE),
                n_error=statuses.count(RunStatus.ERROR),
                n_cancelled=statuses.count(RunStatus.CANCELLED),
                n_active=sum(1 for s in statuses if s in ACTIVE_STATUSES),
            )
        )
    return HistoryPage(items=tuple(items), total=total, page=page, page_size=page_size)


async def delete_comparison(session: AsyncSession, comparison_id: str) -> None:
    """The comparison; its runs and share links go with it (ON DELETE CASCADE)."""
    await session.execute(delete(Run).where(Run.comparison_id == comparison_id))
    await session.execute(delete(Share).where(Share.comparison_id == comparison_id))
    await session.execute(delete(Comparison).where(Comparison.id == comparison_id))
    await session.commit()


# --- runs ---------------------------------------------------------------------


async def get_runs(session: AsyncSession, run_ids: Sequence[str]) -> list[RunRecord]:
    """The runs that exist, in the order of ``run_ids``."""
    if not run_ids:
        return []
    stmt = select(Run).where(Run.id.in_(list(run_ids))).execution_options(populate_existing=True)
    found = {run.id: run_record(run) for run in (await session.execute(stmt)).scalars()}
    return [found[run_id] for run_id in dict.fromkeys(run_ids) if run_id in found]


async def _get_run(session: AsyncSession, run_id: str) -> RunRecord:
    runs = await get_runs(session, [run_id])
    if not runs:
        raise NotFoundError(f"run {run_id!r} does not exist")
    return runs[0]


async def _update_runs(session: AsyncSession, stmt: Any) -> int:
    """Execute one UPDATE in its own transaction; rows changed."""
    try:
        result = cast(CursorResult[Any], await session.execute(stmt))
        changed = result.rowcount
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    return changed


async def mark_run_running(session: AsyncSession, run_id: str, attempt: int) -> bool:
    """queued -> running, only for the current attempt. False if nothing changed."""
    stmt = (
        update(Run)
        .where(Run.id == run_id, Run.attempt == attempt, Run.status == RunStatus.QUEUED.value)
        .values(status=RunStatus.RUNNING.value)
        .execution_options(synchronize_session=False)
    )
    return await _update_runs(session, stmt) == 1


async def save_run_result(
    session: AsyncSession,
    *,
    run_id: str,
    attempt: int,
    status: str,
    output_text: str,
    error: str = "",
    error_kind: str = "",
    ttft_ms: float | None,
    total_ms: float | None,
    input_tokens: int,
    output_tokens: int,
    cost_usd: float,
    cache_hit: bool = False,
    original_ttft_ms: float | None = None,
    original_total_ms: float | None = None,
) -> bool:
    """Store a run's final result (``status`` done, error or cancelled) in one transaction.

    Idempotent: returns False and changes nothing when ``attempt`` is stale or the
    run is already final (a duplicate or late event).
    """
    if status not in FINAL_STATUSES:
        raise ValueError(f"status must be one of {sorted(FINAL_STATUSES)}, not {status!r}")
    stmt = (
        update(Run)
        .where(Run.id == run_id, Run.attempt == attempt, Run.status.in_(sorted(ACTIVE_STATUSES)))
        .values(
            status=status,
            output_text=output_text,
            error=error,
            error_kind=error_kind,
            ttft_ms=ttft_ms,
            total_ms=total_ms,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost_usd,
            cache_hit=cache_hit,
            original_ttft_ms=original_ttft_ms,
            original_total_ms=original_total_ms,
            finished_at=utcnow(),
            **NO_LEASE,  # the attempt ended: its worker's claim with it
        )
        .execution_options(synchronize_session=False)
    )
    return await _update_runs(session, stmt) == 1


async def reset_run_for_retry(session: AsyncSession, run_id: str) -> RunRecord:
    """Bump ``attempt``, set queued and clear output, error and metrics (any prior status)."""
    stmt = (
        update(Run)
        .where(Run.id == run_id)
        .values(
            attempt=Run.attempt + 1,
            **_UNSTARTED,
            **NO_LEASE,  # the new attempt is claimed afresh, not held up by the old one's worker
        )
        .execution_options(synchronize_session=False)
    )
    if await _update_runs(session, stmt) == 0:
        raise NotFoundError(f"run {run_id!r} does not exist")
    return await _get_run(session, run_id)


async def cancel_runs(session: AsyncSession, run_ids: Sequence[str]) -> list[str]:
    """Cancel those not yet final; returns the ids that changed, in the given order."""
    if not run_ids:
        return []
    stmt = (
        update(Run)
        .where(Run.id.in_(list(run_ids)), Run.status.in_(sorted(ACTIVE_STATUSES)))
        .values(status=RunStatus.CANCELLED.value, finished_at=utcnow(), **NO_LEASE)
        .returning(Run.id)
        .execution_options(synchronize_session=False)
    )
    try:
        changed = set((await session.execute(stmt)).scalars().all())
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    return [run_id for run_id in dict.fromkeys(run_ids) if run_id in changed]


async def unfinished_comparison_ids(session: AsyncSession, since: datetime) -> list[str]:
    """Comparisons with a queued or running run created since ``since``, oldest first."""
    stmt = (
        select(Run.comparison_id)
        .where(Run.status.in_(sorted(ACTIVE_STATUSES)), Run.created_at >= since)
        .group_by(Run.comparison_id)
        .order_by(func.min(Run.created_at))
    )
    return [str(c) for c in (await session.execute(stmt)).scalars()]


async def fail_unfinished_runs(session: AsyncSession, reason: str) -> int:
    """At start-up: queued/running runs left by a dead process become error "interrupted"."""
    stmt = (
        update(Run)
        .where(Run.status.in_(sorted(ACTIVE_STATUSES)))
        .values(
            status=RunStatus.ERROR.value,
            error=reason,
            error_kind=INTERRUPTED,
            finished_at=utcnow(),
            **NO_LEASE,
        )
        .execution_options(synchronize_session=False)
    )
    return await _update_runs(session, stmt)
