"""UsageService on SQLite and PostgreSQL: the aggregates, nearest-rank percentiles (checked
against a reference and, on PostgreSQL, against percentile_disc), day and week buckets, who may
see which runs, blind runs, and the budget burn-down."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text, update

from backend.auth.permissions import AccessDenied
from backend.db.models import User
from backend.db.usage import BLIND_MODEL
from backend.runtime import Runtime
from backend.services.access import NotFound
from backend.services.usage import InvalidUsageQuery
from backend.services.votes import VoteService
from tests.backend.runtime_support import owner
from tests.backend.usage_support import T0, R, nearest_rank, personal_project, save_runs

A, B = "simulated:instant", "simulated:swift"
SINCE, UNTIL = T0 - timedelta(days=10), T0 + timedelta(days=10)


async def test_figures_by_model_match_a_reference(rt: Runtime) -> None:
    ada = await owner(rt)
    project = await personal_project(rt, ada)
    rng = random.Random(7)
    ttfts = [float(rng.randint(50, 900)) for _ in range(37)] + [300.0] * 5  # ties too
    runs = [R(model=A, ttft_ms=t, total_ms=t + 1000.0, output_tokens=rng.randint(2, 60)) for t in ttfts]
    runs += [R(model=A, status="error", ttft_ms=None, total_ms=None, output_tokens=0) for _ in range(3)]
    runs += [R(model=A, status="cancelled", ttft_ms=40.0, total_ms=50.0, output_tokens=1)]
    runs += [R(model=B, ttft_ms=10.0, total_ms=20.0, output_tokens=1, cost_usd=0.25, input_tokens=7)]
    await save_runs(rt, ada, project, runs, per_comparison=16)

    usage = await rt.usage.usage(ada, project, group_by="model", since=SINCE, until=UNTIL)
    rows = {r.model: r for r in usage.rows}
    assert set(rows) == {A, B} and usage.runs == len(runs)
    a = rows[A]
    assert (a.runs, a.errors, a.cancelled) == (46, 3, 1)
    assert a.error_rate == pytest.approx(3 / 45)  # stopped runs are not errors, nor successes
    done = [r for r in runs if r.model == A and r.status == "done"]
    assert a.output_tokens == sum(r.output_tokens for r in runs if r.model == A)
    assert a.ttft_p50_ms == nearest_rank([r.ttft_ms for r in done], 50)  # type: ignore[misc]
    assert a.ttft_p95_ms == nearest_rank([r.ttft_ms for r in done], 95)  # type: ignore[misc]
    speeds = [(r.output_tokens - 1) / 1.0 for r in done]  # 1000 ms after the first token
    assert a.tokens_per_s_p50 == pytest.approx(nearest_rank(speeds, 50))
    assert a.tokens_per_s_p95 == pytest.approx(nearest_rank(speeds, 95))
    b = rows[B]
    assert (b.cost_usd, b.input_tokens, b.ttft_p50_ms) == (0.25, 7, 10.0)
    assert b.tokens_per_s_p50 is None  # one output token: no speed after the first
    assert usage.cost_usd == 0.25

    if rt.db.backend == "postgresql":  # the same definition as PostgreSQL's own percentile_disc
        async with rt.db.session() as session:
            disc = (
                await session.execute(
                    text(
                        "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY ttft_ms), "
                        "percentile_disc(0.95) WITHIN GROUP (ORDER BY ttft_ms) FROM runs "
                        "WHERE model = :m AND status = 'done'"
                    ),
                    {"m": A},
                )
            ).one()
        assert (a.ttft_p50_ms, a.ttft_p95_ms) == tuple(disc)


async def test_a_cache_replay_counts_with_the_timings_it_replays(rt: Runtime) -> None:
    ada = await owner(rt)
    project = await personal_project(rt, ada)
    replay = {"cache_hit": True, "original_ttft_ms": 500.0, "original_total_ms": 1500.0}
    await save_runs(rt, ada, project, [R(ttft_ms=1.0, total_ms=2.0, output_tokens=21, extra=replay)])
    (row,) = (await rt.usage.usage(ada, project, since=SINCE, until=UNTIL)).rows
    assert (row.ttft_p50_ms, row.tokens_per_s_p50) == (500.0, 20.0)


async def test_day_and_week_buckets_are_utc(rt: Runtime) -> None:
    ada = await owner(rt)
    project = await personal_project(rt, ada)
    sunday_late = datetime(2026, 11, 8, 23, 59, 59, tzinfo=UTC)
    monday_early = datetime(2026, 11, 9, 0, 0, 1, tzinfo=UTC)
    runs = [R(at=T0, cost_usd=1.0), R(at=sunday_late, cost_usd=2.0), R(at=monday_early, cost_usd=4.0)]
    runs.append(R(model=B, at=monday_early, cost_usd=8.0))
    await save_runs(rt, ada, project, runs, per_comparison=1)

    by_day = await rt.usage.usage(ada, project, group_by="day", since=SINCE, until=UNTIL)
    assert [(r.bucket, r.model, r.cost_usd) for r in by_day.rows] == [
        ("2026-11-02", A, 1.0),
        ("2026-11-08", A, 2.0),
        ("2026-11-09", A, 4.0),
        ("2026-11-09", B, 8.0),
    ]
    by_week = await rt.usage.usage(ada, project, group_by="week", since=SINCE, until=UNTIL)
    assert [(r.bucket, r.model, r.runs, r.cost_usd) for r in by_week.rows] == [
        ("2026-11-02", A, 2, 3.0),  # Monday 2nd to Sunday 8th
        ("2026-11-09", A, 1, 4.0),
        ("2026-11-09", B, 1, 8.0),
    ]
    narrow = await rt.usage.usage(ada, project, since=sunday_late, until=monday_early)  # half-open
    assert [(r.model, r.cost_usd) for r in narrow.rows] == [(A, 2.0)]


async def test_who_sees_which_runs(rt: Runtime) -> None:
    ada, eve = await owner(rt), await owner(rt, "eve@example.org")
    ada_project, eve_project = await personal_project(rt, ada), await personal_project(rt, eve)
    await save_runs(rt, ada, ada_project, [R(cost_usd=1.0)])
    await save_runs(rt, eve, eve_project, [R(cost_usd=2.0), R(cost_usd=2.0)])

    assert (
        await rt.usage.usage(ada, since=SINCE, until=UNTIL)
    ).cost_usd == 1.0  # every project of mine: only mine
    with pytest.raises(NotFound):
        await rt.usage.usage(ada, eve_project, since=SINCE, until=UNTIL)
    with pytest.raises(AccessDenied):
        await rt.usage.usage(ada, everyone=True, since=SINCE, until=UNTIL)
    admin = dataclasses.replace(ada, is_admin=True)
    assert (await rt.usage.usage(admin, everyone=True, since=SINCE, until=UNTIL)).cost_usd == 5.0
    assert (await rt.usage.usage(admin, eve_project, everyone=True, since=SINCE, until=UNTIL)).cost_usd == 4.0

    await rt.projects.set_member(eve, eve_project, "ada@example.org", "viewer")  # a viewer reads usage
    assert (await rt.usage.usage(ada, eve_project, since=SINCE, until=UNTIL)).runs == 2
    assert (await rt.usage.usage(ada, since=SINCE, until=UNTIL)).cost_usd == 5.0


async def test_blind_runs_are_not_counted_under_their_model_until_revealed(rt: Runtime) -> None:
    ada = await owner(rt)
    project = await personal_project(rt, ada)
    (cid,) = await save_runs(rt, ada, project, [R(model=A), R(model=B)], blind=True)
    rows = (await rt.usage.usage(ada, project, since=SINCE, until=UNTIL)).rows
    assert [(r.model, r.runs) for r in rows] == [(BLIND_MODEL, 2)]
    await VoteService(rt.db).vote(ada, cid, 0)  # a vote reveals, as Reveal does
    assert [r.model for r in (await rt.usage.usage(ada, project, since=SINCE, until=UNTIL)).rows] == [A, B]


async def test_bad_queries_are_refused(rt: Runtime) -> None:
    ada = await owner(rt)
    for kwargs, field in (
        ({"group_by": "hour"}, "group_by"),
        ({"since": datetime(2026, 11, 1)}, "since"),  # no time zone
        ({"since": T0, "until": T0}, "since"),
        ({"since": T0 - timedelta(days=400), "until": T0}, "since"),
    ):
        with pytest.raises(InvalidUsageQuery) as raised:
            await rt.usage.usage(ada, **kwargs)
        assert field in raised.value.errors, kwargs


async def test_the_burn_down_of_my_month(rt: Runtime) -> None:
    ada, eve = await owner(rt), await owner(rt, "eve@example.org")
    project = await personal_project(rt, ada)
    now = datetime(2026, 11, 4, 15, 0, tzinfo=UTC)
    runs = [
        R(at=datetime(2026, 10, 31, 23, 0, tzinfo=UTC), cost_usd=50.0),  # last month
        R(at=datetime(2026, 11, 1, 0, 0, tzinfo=UTC), cost_usd=1.0),
        R(at=datetime(2026, 11, 1, 9, 0, tzinfo=UTC), cost_usd=2.0),
        R(at=datetime(2026, 11, 3, 9, 0, tzinfo=UTC), cost_usd=4.0),
    ]
    await save_runs(rt, ada, project, runs, per_comparison=1)
    await save_runs(rt, eve, await personal_project(rt, eve), [R(at=now, cost_usd=9.0)])

    unlimited = await rt.usage.burn_down(ada, now)
    assert (unlimited.month, unlimited.budget_usd, unlimited.spent_usd) == ("2026-11", None, 7.0)
    assert [d.remaining_usd for d in unlimited.days] == [None] * 4

    async with rt.db.session() as session:
        await session.execute(update(User).where(User.id == ada.user_id).values(monthly_budget_usd=30.0))
        await session.commit()
    burn = await rt.usage.burn_down(ada, now)
    assert [(d.day, d.spent_usd, d.cumulative_usd, d.remaining_usd) for d in burn.days] == [
        ("2026-11-01", 3.0, 3.0, 27.0),
        ("2026-11-02", 0.0, 3.0, 27.0),
        ("2026-11-03", 4.0, 7.0, 23.0),
        ("2026-11-04", 0.0, 7.0, 23.0),
    ]
    assert burn.remaining_usd == 23.0
    assert burn.days[-1].ideal_remaining_usd == pytest.approx(30.0 * (1 - 4 / 30))
    assert (await rt.budgets.spend(ada.user_id, now)).spent_usd == burn.spent_usd  # the guard's figure
