from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.catalog import load_catalog
from backend.db.attempts import earlier_attempts
from backend.db.comparisons import (
    MAX_PAGE_SIZE,
    TooManyActive,
    create_comparison,
    get_comparison,
    list_comparisons,
)
from backend.db.engine import Database
from backend.db.models import Comparison, Project, Run, User
from backend.db.records import INTERRUPTED, ComparisonRecord, NewRun, RunRecord, UserRecord, prompt_first_line
from backend.db.runs import (
    cancel_runs,
    fail_unfinished_runs,
    get_runs,
    mark_run_running,
    reset_run_for_retry,
    save_final_event,
    save_run_result,
)
from backend.db.users import NotFoundError, default_project_id, ensure_user
from backend.queue.messages import FinalEvent
from backend.runs_model import RunParams
from tests.backend.conftest import DoneResult
from tests.support.db_race import meanwhile_after_first_statement

MODELS = ("simulated:fast", "openai:gpt-4o-mini", "anthropic:claude-3-5-haiku")


def _new_runs(models: tuple[str, ...] = MODELS) -> list[NewRun]:
    return [
        NewRun(
            model=m, provider=m.split(":")[0], params=RunParams(temperature=0.1 * i, max_tokens=256, seed=i)
        )
        for i, m in enumerate(models)
    ]


async def _user(session: AsyncSession, email: str = "ada@example.com") -> UserRecord:
    return await ensure_user(session, email, "Ada")


async def _comparison(
    database: Database, user: UserRecord, prompt: str = "Hello", models: tuple[str, ...] = MODELS
) -> ComparisonRecord:
    return await create_comparison(
        database,
        user_id=user.id,
        project_id=user.default_project_id,
        prompt=prompt,
        system_prompt="Be brief.",
        settings={"sync_settings": True},
        runs=_new_runs(models),
    )


async def _save_done(session: AsyncSession, run: RunRecord, text_: str = "answer", **kw: Any) -> bool:
    args: dict[str, Any] = {
        "run_id": run.id,
        "attempt": run.attempt,
        "status": "done",
        "output_text": text_,
        "ttft_ms": 12.5,
        "total_ms": 340.0,
        "input_tokens": 11,
        "output_tokens": 42,
        "cost_usd": 0.0021,
        "cache_hit": True,
    }
    args.update(kw)
    return await save_run_result(session, **args)


# --- users and projects -----------------------------------------------------


async def test_ensure_user_creates_user_and_personal_project(session: AsyncSession) -> None:
    user = await ensure_user(session, "  Ada@Example.COM ", "Ada Lovelace")
    assert user.email == "ada@example.com"
    assert user.display_name == "Ada Lovelace"
    assert len(user.id) == 32 and int(user.id, 16) >= 0
    assert user.created_at.tzinfo is not None and user.created_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - user.created_at) < timedelta(minutes=1)
    project = (await session.execute(select(Project).where(Project.owner_id == user.id))).scalar_one()
    assert (project.id, project.name) == (user.default_project_id, "Personal")
    assert await default_project_id(session, user.id) == project.id


async def test_ensure_user_is_idempotent(session: AsyncSession) -> None:
    first = await ensure_user(session, "ada@example.com", "Ada")
    again = await ensure_user(session, "ADA@example.com", "Someone else")
    assert again == first
    assert (await session.execute(select(func.count()).select_from(User))).scalar_one() == 1
    assert (await session.execute(select(func.count()).select_from(Project))).scalar_one() == 1


async def test_ensure_user_concurrent_callers_agree(database: Database) -> None:
    async def one() -> UserRecord:
        async with database.session() as s:
            return await ensure_user(s, "race@example.com", "Racer")

    users = await asyncio.gather(*(one() for _ in range(6)))
    assert len({u.id for u in users}) == 1
    assert len({u.default_project_id for u in users}) == 1
    async with database.session() as s:
        assert (await s.execute(select(func.count()).select_from(User))).scalar_one() == 1
        assert (await s.execute(select(func.count()).select_from(Project))).scalar_one() == 1


async def test_ensure_user_losing_the_race_rereads(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with database.session() as winner, database.session() as loser:
        # The look-up misses; another request creates the user right then.
        meanwhile_after_first_statement(
            loser, monkeypatch, lambda: ensure_user(winner, "race@example.com", "Winner")
        )
        user = await ensure_user(loser, "race@example.com", "Loser")
        first = await ensure_user(winner, "race@example.com")
    assert user == first
    assert user.display_name == "Winner"


async def test_ensure_user_requires_email(session: AsyncSession) -> None:
    with pytest.raises(ValueError):
        await ensure_user(session, "   ", "x")


async def test_default_project_created_when_missing(session: AsyncSession) -> None:
    session.add(User(id="a" * 32, email="legacy@example.com", display_name="L"))
    await session.commit()
    project_id = await default_project_id(session, "a" * 32)
    assert len(project_id) == 32
    assert await default_project_id(session, "a" * 32) == project_id
    user = await ensure_user(session, "legacy@example.com")
    assert (user.id, user.display_name, user.default_project_id) == ("a" * 32, "L", project_id)


async def test_default_project_unknown_user(session: AsyncSession) -> None:
    with pytest.raises(NotFoundError):
        await default_project_id(session, "f" * 32)
    assert (await session.execute(select(func.count()).select_from(Project))).scalar_one() == 0


# --- comparisons --------------------------------------------------------------


async def test_create_and_get_comparison(session: AsyncSession, database: Database) -> None:
    user = await _user(session)
    created = await _comparison(database, user, prompt="Explain WAL.\nIn detail.")
    assert created.user_id == user.id and created.project_id == user.default_project_id
    assert created.prompt == "Explain WAL.\nIn detail."
    assert created.system_prompt == "Be brief."
    assert created.settings == {"sync_settings": True}
    assert created.created_at.utcoffset() == timedelta(0)
    assert [r.position for r in created.runs] == [0, 1, 2]
    assert [r.model for r in created.runs] == list(MODELS)
    assert [r.provider for r in created.runs] == ["simulated", "openai", "anthropic"]
    assert created.runs[2].params == {"temperature": pytest.approx(0.2), "max_tokens": 256, "seed": 2}
    for run in created.runs:
        assert (run.status, run.attempt, run.output_text, run.error, run.error_kind) == (
            "queued",
            0,
            "",
            "",
            "",
        )
        assert (run.ttft_ms, run.total_ms, run.finished_at) == (None, None, None)
        assert (run.input_tokens, run.output_tokens, run.cost_usd, run.cache_hit) == (0, 0, 0.0, False)
        assert run.comparison_id == created.id and not run.is_final

    session.expunge_all()
    loaded = await get_comparison(session, created.id)
    assert loaded == created
    assert await get_comparison(session, "0" * 32) is None


async def test_get_comparison_orders_runs_by_position(database: Database) -> None:
    async with database.session() as s:
        user = await _user(s)
        created = await _comparison(database, user)
    # Reverse the panes behind the ORM's back; the record must follow position.
    async with database.session() as s:
        ids = [r.id for r in created.runs]
        await s.execute(text("UPDATE runs SET position = position + 10"))
        for pos, run_id in enumerate(reversed(ids)):
            await s.execute(text("UPDATE runs SET position = :p WHERE id = :i"), {"p": pos, "i": run_id})
        await s.commit()
    async with database.session() as s:
        loaded = await get_comparison(s, created.id)
    assert loaded is not None
    assert [r.model for r in loaded.runs] == list(reversed(MODELS))


async def test_create_comparison_is_one_transaction(session: AsyncSession, database: Database) -> None:
    user = await _user(session)
    with pytest.raises(ValueError):
        await create_comparison(
            database, user_id=user.id, project_id=user.default_project_id, prompt="p", settings={}, runs=[]
        )
    with pytest.raises(IntegrityError):
        await create_comparison(
            database, user_id=user.id, project_id="9" * 32, prompt="p", settings={}, runs=_new_runs()
        )
    assert (await session.execute(select(func.count()).select_from(Comparison))).scalar_one() == 0
    assert (await session.execute(select(func.count()).select_from(Run))).scalar_one() == 0


async def test_create_comparison_refuses_past_the_active_limit_writing_nothing(
    session: AsyncSession, database: Database
) -> None:
    user = await _user(session)

    async def create(limit: int) -> ComparisonRecord:
        return await create_comparison(
            database,
            user_id=user.id,
            project_id=user.default_project_id,
            prompt="p",
            runs=_new_runs(),
            active_limit=limit,
        )

    await create(2)
    await create(2)
    with pytest.raises(TooManyActive) as refused:
        await create(2)  # two with queued runs already
    assert refused.value.limit == 2
    assert (await session.execute(select(func.count()).select_from(Comparison))).scalar_one() == 2
    await create(3)  # under a higher limit it goes through
    assert (await session.execute(select(func.count()).select_from(Comparison))).scalar_one() == 3


async def test_delete_comparison_cascades_to_runs(session: AsyncSession, database: Database) -> None:
    user = await _user(session)
    doomed = await _comparison(database, user)
    kept = await _comparison(database, user)
    await session.execute(text("DELETE FROM comparisons WHERE id = :i"), {"i": doomed.id})
    await session.commit()
    remaining = (await session.execute(select(Run.comparison_id))).scalars().all()
    assert sorted(remaining) == [kept.id] * 3
    assert await get_runs(session, [r.id for r in doomed.runs]) == []


# --- history ----------------------------------------------------------------


async def test_list_comparisons_pages_newest_first(database: Database) -> None:
    async with database.session() as s:
        ada = await _user(s, "ada@example.com")
        bob = await _user(s, "bob@example.com")
        created = [
            await _comparison(database, ada, prompt=f"prompt {i}", models=MODELS[: 1 + i % 3])
            for i in range(5)
        ]
        await _comparison(database, bob, prompt="bob's")

    newest_first = list(reversed(created))
    async with database.session() as s:
        p1 = await list_comparisons(s, project_id=ada.default_project_id, page=1, page_size=2)
        p2 = await list_comparisons(s, project_id=ada.default_project_id, page=2, page_size=2)
        p3 = await list_comparisons(s, project_id=ada.default_project_id, page=3, page_size=2)
        p4 = await list_comparisons(s, project_id=ada.default_project_id, page=4, page_size=2)
        by_user = await list_comparisons(s, user_id=bob.id)
        everything = await list_comparisons(s, page=0, page_size=1000)

    assert [i.id for i in p1.items + p2.items + p3.items] == [c.id for c in newest_first]
    assert [len(p.items) for p in (p1, p2, p3, p4)] == [2, 2, 1, 0]
    assert (p1.total, p1.page, p1.page_size, p1.n_pages, p1.has_next) == (5, 1, 2, 3, True)
    assert (p3.page, p3.has_next) == (3, False)
    assert [i.prompt_first_line for i in p1.items] == ["prompt 4", "prompt 3"]
    assert [i.models for i in p1.items] == [MODELS[:2], MODELS[:1]]
    assert p2.items[0].models == MODELS
    assert p1.items[0].created_at == created[4].created_at
    assert all(i.project_id == ada.default_project_id for i in p1.items)
    assert [i.prompt_first_line for i in by_user.items] == ["bob's"]
    assert by_user.total == 1
    assert (everything.total, everything.page, everything.page_size) == (6, 1, MAX_PAGE_SIZE)
    assert everything.items[0].prompt_first_line == "bob's"


async def test_list_comparisons_summary_fields(session: AsyncSession, database: Database) -> None:
    user = await _user(session)
    long_line = "x" * 300
    c = await _comparison(database, user, prompt=f"\n   \n  {long_line}  \nsecond line")
    r0, r1, r2 = c.runs
    assert await _save_done(session, r0)
    assert await _save_done(
        session, r1, "", status="error", error="429", error_kind="rate_limit", ttft_ms=None, cache_hit=False
    )
    assert await mark_run_running(session, r2.id, 0)
    item = (await list_comparisons(session, user_id=user.id)).items[0]
    assert item.prompt_first_line == "x" * 119 + "…"
    assert len(item.prompt_first_line) == 120
    assert (item.n_runs, item.n_done, item.n_error, item.n_cancelled, item.n_active) == (3, 1, 1, 0, 1)
    assert prompt_first_line("short\nrest") == "short"
    assert prompt_first_line("") == ""


async def test_list_comparisons_makes_no_n_plus_one(database: Database) -> None:
    async with database.session() as s:
        user = await _user(s)
        for i in range(8):
            await _comparison(database, user, prompt=f"p{i}")
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with database.session() as s:
            page = await list_comparisons(s, user_id=user.id, page_size=8)
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", count)
    assert len(page.items) == 8 and all(i.models == MODELS for i in page.items)
    assert len([st for st in statements if st.lstrip().upper().startswith("SELECT")]) == 3


# --- runs ---------------------------------------------------------------------


async def test_mark_run_running(session: AsyncSession, database: Database) -> None:
    run = (await _comparison(database, await _user(session))).runs[0]
    assert not await mark_run_running(session, run.id, attempt=1)
    assert await mark_run_running(session, run.id, attempt=0)
    assert not await mark_run_running(session, run.id, attempt=0)
    assert not await mark_run_running(session, "0" * 32, attempt=0)
    [loaded] = await get_runs(session, [run.id])
    assert (loaded.status, loaded.attempt) == ("running", 0)


async def test_save_run_result_stores_everything_once(session: AsyncSession, database: Database) -> None:
    run = (await _comparison(database, await _user(session))).runs[1]
    assert await mark_run_running(session, run.id, 0)
    assert await _save_done(session, run, "first answer")
    [saved] = await get_runs(session, [run.id])
    assert (saved.status, saved.output_text, saved.error, saved.error_kind) == (
        "done",
        "first answer",
        "",
        "",
    )
    assert (saved.ttft_ms, saved.total_ms) == (12.5, 340.0)
    assert (saved.input_tokens, saved.output_tokens, saved.cache_hit) == (11, 42, True)
    assert saved.cost_usd == pytest.approx(0.0021)
    assert saved.finished_at is not None and saved.finished_at.utcoffset() == timedelta(0)
    assert saved.finished_at >= saved.created_at and saved.is_final

    # A duplicate delivery, and a late error for the same attempt, change nothing.
    assert not await _save_done(session, run, "second answer", output_tokens=99)
    assert not await _save_done(session, run, "", status="error", error="late")
    assert await get_runs(session, [run.id]) == [saved]
    assert not await mark_run_running(session, run.id, 0)


async def test_a_final_event_is_saved_priced_for_its_runs_model_once(
    session: AsyncSession, database: Database, done_result: DoneResult
) -> None:
    run = (await _comparison(database, await _user(session), models=("openai:gpt-4o-mini",))).runs[0]
    million = 1_000_000
    final = FinalEvent(
        **done_result(run.id, output_text="the answer", input_tokens=million, output_tokens=million), chunks=2
    )
    assert await save_final_event(database, final)
    [saved] = await get_runs(session, [run.id])
    assert (saved.status, saved.output_text, saved.output_tokens) == ("done", "the answer", 1_000_000)
    model = load_catalog().get("openai:gpt-4o-mini")
    assert model is not None and model.input_price_per_mtok > 0
    assert saved.cost_usd == pytest.approx(model.input_price_per_mtok + model.output_price_per_mtok)
    assert saved.finished_at is not None
    assert not await save_final_event(database, final.model_copy(update={"output_text": "again"}))
    assert not await save_final_event(database, final.model_copy(update={"run_id": "0" * 32}))


async def test_save_run_result_validates_status(session: AsyncSession, database: Database) -> None:
    run = (await _comparison(database, await _user(session))).runs[0]
    with pytest.raises(ValueError):
        await _save_done(session, run, status="running")
    assert not await _save_done(session, run, run_id="0" * 32)
    assert (await get_runs(session, [run.id]))[0].status == "queued"


async def test_retry_bumps_attempt_and_ignores_stale_events(
    session: AsyncSession, database: Database
) -> None:
    run = (await _comparison(database, await _user(session))).runs[0]
    assert await mark_run_running(session, run.id, 0)
    assert await _save_done(session, run, "partial", status="error", error="timeout", error_kind="timeout")

    retried = await reset_run_for_retry(session, run.id)
    assert (retried.id, retried.attempt, retried.status) == (run.id, 1, "queued")
    assert (retried.output_text, retried.error, retried.error_kind) == ("", "", "")
    assert (retried.ttft_ms, retried.total_ms, retried.finished_at) == (None, None, None)
    assert (retried.input_tokens, retried.output_tokens, retried.cost_usd, retried.cache_hit) == (
        0,
        0,
        0.0,
        False,
    )
    assert (retried.model, retried.params, retried.position) == (run.model, run.params, run.position)

    # Events from the old attempt are stale now.
    assert not await mark_run_running(session, run.id, 0)
    assert not await _save_done(session, run, "old worker")
    assert await get_runs(session, [run.id]) == [retried]

    assert await mark_run_running(session, run.id, 1)
    assert await _save_done(session, retried, "new answer")
    [final] = await get_runs(session, [run.id])
    assert (final.attempt, final.status, final.output_text) == (1, "done", "new answer")

    # Retrying a running run makes its in-flight worker stale too.
    again = await reset_run_for_retry(session, run.id)
    assert (again.attempt, again.status) == (2, "queued")
    with pytest.raises(NotFoundError):
        await reset_run_for_retry(session, "0" * 32)

    # Every attempt a retry replaced is kept, as it ended.
    kept = (await earlier_attempts(session, run.comparison_id))[run.id]
    assert [(a.attempt, a.status, a.output_text, a.error) for a in kept] == [
        (0, "error", "partial", "timeout"),
        (1, "done", "new answer", ""),
    ]


async def test_cancel_runs(session: AsyncSession, database: Database) -> None:
    user = await _user(session)
    a, b, c = (await _comparison(database, user)).runs
    other = (await _comparison(database, user)).runs[0]
    assert await mark_run_running(session, b.id, 0)
    assert await _save_done(session, c)

    changed = await cancel_runs(session, [c.id, b.id, a.id, "0" * 32])
    assert changed == [b.id, a.id]
    runs = {r.id: r for r in await get_runs(session, [a.id, b.id, c.id, other.id])}
    assert [runs[i].status for i in (a.id, b.id, c.id, other.id)] == [
        "cancelled",
        "cancelled",
        "done",
        "queued",
    ]
    assert runs[a.id].finished_at is not None and runs[a.id].is_final
    assert runs[c.id].output_text == "answer"
    assert await cancel_runs(session, [a.id, b.id]) == []
    assert await cancel_runs(session, []) == []
    assert not await _save_done(session, a)  # a late result for a cancelled run is ignored


async def test_fail_unfinished_runs(session: AsyncSession, database: Database) -> None:
    user = await _user(session)
    a, b, c = (await _comparison(database, user)).runs
    d = (await _comparison(database, user, models=MODELS[:1])).runs[0]
    assert await mark_run_running(session, b.id, 0)
    assert await _save_done(session, c)
    assert await cancel_runs(session, [d.id]) == [d.id]

    assert await fail_unfinished_runs(session, "server restarted") == 2
    runs = {r.id: r for r in await get_runs(session, [a.id, b.id, c.id, d.id])}
    for run_id in (a.id, b.id):
        assert (runs[run_id].status, runs[run_id].error, runs[run_id].error_kind) == (
            "error",
            "server restarted",
            INTERRUPTED,
        )
        assert runs[run_id].finished_at is not None
    assert (runs[c.id].status, runs[c.id].error) == ("done", "")
    assert runs[d.id].status == "cancelled"
    assert await fail_unfinished_runs(session, "again") == 0


async def test_get_runs_keeps_requested_order(session: AsyncSession, database: Database) -> None:
    a, b, c = (await _comparison(database, await _user(session))).runs
    got = await get_runs(session, [c.id, "0" * 32, a.id, c.id])
    assert [r.id for r in got] == [c.id, a.id]
    assert [r.model for r in got] == [MODELS[2], MODELS[0]]
    assert await get_runs(session, []) == []
    assert b.comparison_id == got[0].comparison_id
