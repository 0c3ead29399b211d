"""The project leaderboard and recommendation from stored votes, and their cache."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta

import pytest

from backend.auth.permissions import Principal
from backend.db.records import ComparisonRecord
from backend.ranking import Source
from backend.runtime import Runtime
from backend.services.access import NotFound
from backend.services.leaderboard import InvalidLeaderboardQuery, LeaderboardService
from backend.services.votes import VoteService
from tests.backend.runtime_support import owner, wait_until_final

PROMPT = "[[simulate:tokens=3]] Name a prime"
INSTANT, SWIFT = "simulated:instant", "simulated:swift"


async def finished(rt: Runtime, ada: Principal, n: int) -> list[ComparisonRecord]:
    """``n`` finished comparisons of instant (pane 0) against swift (pane 1)."""
    created = [
        await rt.comparisons.create(ada, {"prompt": PROMPT, "panes": [{"model": INSTANT}, {"model": SWIFT}]})
        for _ in range(n)
    ]
    return list(await asyncio.gather(*(wait_until_final(rt.comparisons, c.id) for c in created)))


async def swift_wins(rt: Runtime, n: int) -> tuple[Principal, list[ComparisonRecord]]:
    ada = await owner(rt)
    comparisons = await finished(rt, ada, n)
    votes = VoteService(rt.db)
    for c in comparisons:
        await votes.vote(ada, c.id, 1)
    return ada, comparisons


async def test_a_model_voted_best_every_time_ranks_above(rt: Runtime) -> None:
    ada, comparisons = await swift_wins(rt, 6)
    result = await LeaderboardService(rt.db).leaderboard(ada, comparisons[0].project_id, min_comparisons=3)
    top, bottom = result.board.rows
    assert (top.model, top.wins, top.comparisons) == (SWIFT, 6, 6)
    assert bottom.model == INSTANT and bottom.losses == 6
    assert top.rank == 1 and top.rating is not None and bottom.rating is not None
    assert top.rating > bottom.rating
    swift = result.figures[SWIFT]
    assert swift.cost_per_1k_output_usd == 0.0 and swift.runs == 6
    assert swift.median_ttft_ms is not None and swift.median_ttft_ms > result.figures[INSTANT].median_ttft_ms  # type: ignore[operator]


async def test_below_the_minimum_a_model_needs_n_more(rt: Runtime) -> None:
    ada, comparisons = await swift_wins(rt, 4)
    board = (await LeaderboardService(rt.db).leaderboard(ada, comparisons[0].project_id)).board
    assert board.min_comparisons == 20
    assert [(r.rank, r.needs_more) for r in board.rows] == [(None, 16), (None, 16)]


async def test_the_cache_serves_until_a_vote_or_a_deletion_changes_the_board(rt: Runtime) -> None:
    ada, comparisons = await swift_wins(rt, 4)
    project_id = comparisons[0].project_id
    service = LeaderboardService(rt.db)
    first = await service.leaderboard(ada, project_id, min_comparisons=1)
    assert await service.leaderboard(ada, project_id, min_comparisons=1) is first  # served from the cache

    (extra,) = await finished(rt, ada, 1)
    await VoteService(rt.db).vote(ada, extra.id, 0)  # a new vote: instant wins one
    after_vote = await service.leaderboard(ada, project_id, min_comparisons=1)
    assert after_vote is not first
    assert after_vote.board.n_outcomes == 5 and after_vote.board.row(INSTANT).wins == 1

    await VoteService(rt.db).vote(ada, extra.id, "tie")  # a changed vote
    changed = await service.leaderboard(ada, project_id, min_comparisons=1)
    assert changed.board.row(INSTANT).wins == 0 and changed.board.row(INSTANT).ties == 1

    await rt.comparisons.delete(ada, extra.id)  # its vote goes with it
    after_delete = await service.leaderboard(ada, project_id, min_comparisons=1)
    assert after_delete.board.n_outcomes == 4 and after_delete.board.row(INSTANT).ties == 0


async def test_judge_source_is_empty_and_since_filters(rt: Runtime) -> None:
    ada, comparisons = await swift_wins(rt, 2)
    service = LeaderboardService(rt.db)
    project_id = comparisons[0].project_id
    judge = (await service.leaderboard(ada, project_id, source=Source.JUDGE)).board
    assert judge.n_outcomes == 0 and {r.model for r in judge.rows} == {INSTANT, SWIFT}
    future = datetime.now(UTC) + timedelta(days=1)
    assert (await service.leaderboard(ada, project_id, since=future)).board.n_outcomes == 0
    with pytest.raises(InvalidLeaderboardQuery) as naive:
        await service.leaderboard(ada, project_id, since=datetime(2026, 1, 1))
    assert "time zone" in naive.value.errors["since"]
    with pytest.raises(NotFound):
        await service.leaderboard(await owner(rt, "eve@example.org"), project_id)


async def test_recommendation_finds_the_model_that_clears_the_bar(rt: Runtime) -> None:
    ada, comparisons = await swift_wins(rt, 6)
    service = LeaderboardService(rt.db)
    project_id = comparisons[0].project_id
    advice = await service.recommendation(ada, project_id, baseline=INSTANT, min_win_rate=0.5)
    assert advice.model == SWIFT and advice.evidence is not None and advice.evidence.wins == 6
    strict = await service.recommendation(ada, project_id, baseline=INSTANT, min_win_rate=0.9)
    assert strict.model is None and strict.reason.startswith("not enough evidence")
    for bad in (1.5, -0.1, math.nan):
        with pytest.raises(InvalidLeaderboardQuery) as refused:
            await service.recommendation(ada, project_id, baseline=INSTANT, min_win_rate=bad)
        assert "between 0 and 1" in refused.value.errors["min_win_rate"]


async def _voted(rt: Runtime, who: Principal, project_id: str, models: tuple[str, str], best: int) -> None:
    created = await rt.comparisons.create(
        who, {"prompt": PROMPT, "panes": [{"model": m} for m in models], "project_id": project_id}
    )
    await wait_until_final(rt.comparisons, created.id)
    await VoteService(rt.db).vote(who, created.id, best)


async def test_all_my_projects_pools_mine_and_never_reads_anyone_elses(rt: Runtime) -> None:
    ada, comparisons = await swift_wins(rt, 2)  # Ada's Personal: swift beats instant twice
    bob, eve = await owner(rt, "bob@example.org"), await owner(rt, "eve@example.org")
    team = await rt.projects.create(bob, "Team")
    await rt.projects.set_member(bob, team, ada.email, "viewer")  # Ada reads Team as a viewer
    await _voted(rt, bob, team, ("simulated:coder", "simulated:ponder"), 0)
    eves = (await rt.projects.list_for(eve))[0].id  # Eve's Personal: Ada is not a member
    for _ in range(3):
        await _voted(rt, eve, eves, ("simulated:terse", "simulated:steady"), 0)

    service = LeaderboardService(rt.db)
    mine = await service.leaderboard_all(ada, min_comparisons=1)
    assert mine.project_id is None and mine.board.n_outcomes == 3
    assert {r.model for r in mine.board.rows} == {INSTANT, SWIFT, "simulated:coder", "simulated:ponder"}
    assert set(mine.figures) == {r.model for r in mine.board.rows}
    assert mine.board.row(SWIFT).wins == 2 and mine.board.row("simulated:coder").wins == 1
    eve_board = await service.leaderboard_all(eve, min_comparisons=1)
    assert {r.model for r in eve_board.board.rows} == {"simulated:terse", "simulated:steady"}
    assert eve_board.board.n_outcomes == 3
    # A project's own board is still its own.
    assert (await service.leaderboard(ada, comparisons[0].project_id)).board.n_outcomes == 2

    advice = await service.recommendation_all(ada, baseline=INSTANT, min_win_rate=0.0)
    assert {c.model for c in advice.candidates} == {SWIFT, "simulated:coder", "simulated:ponder"}

    await rt.projects.remove_member(bob, team, ada.email)  # Ada leaves Team: it drops out at once
    after = await service.leaderboard_all(ada, min_comparisons=1)
    assert after is not mine and after.board.n_outcomes == 2
    assert {r.model for r in after.board.rows} == {INSTANT, SWIFT}
    with pytest.raises(InvalidLeaderboardQuery):
        await service.recommendation_all(ada, baseline=INSTANT, min_win_rate=1.01)


async def test_a_vote_in_another_project_keeps_this_board_cached(rt: Runtime) -> None:
    ada, comparisons = await swift_wins(rt, 2)
    service = LeaderboardService(rt.db)
    first = await service.leaderboard(ada, comparisons[0].project_id, min_comparisons=1)
    eve = await owner(rt, "eve@example.org")
    await _voted(rt, eve, (await rt.projects.list_for(eve))[0].id, (INSTANT, SWIFT), 0)
    # The database stamp moved, the project's fingerprint did not: no refit.
    assert await service.leaderboard(ada, comparisons[0].project_id, min_comparisons=1) is first
    await VoteService(rt.db).vote(ada, comparisons[0].id, "all_bad")
    changed = await service.leaderboard(ada, comparisons[0].project_id, min_comparisons=1)
    assert changed is not first and changed.board.row(SWIFT).ties == 1


async def test_style_control_fits_length_and_formatting_as_covariates(rt: Runtime) -> None:
    ada = await owner(rt)
    # Answers of 40 tokens capped by each pane's max_tokens: the longer pane alternates between
    # the two models, and the votes mostly go to the longer answer.
    caps = [(12, 40), (40, 12), (20, 40), (40, 20), (8, 40), (40, 8), (30, 40), (40, 30)]
    created = [
        await rt.comparisons.create(
            ada,
            {
                "prompt": "[[simulate:tokens=40]] Explain caching",
                "panes": [{"model": INSTANT, "max_tokens": a}, {"model": SWIFT, "max_tokens": b}],
            },
        )
        for a, b in caps
    ]
    records = await asyncio.gather(*(wait_until_final(rt.comparisons, c.id) for c in created))
    votes = VoteService(rt.db)
    for i, (record, (a, b)) in enumerate(zip(records, caps, strict=True)):
        longer = 0 if a > b else 1
        await votes.vote(ada, record.id, longer if i % 4 else "tie")
    service = LeaderboardService(rt.db)
    project_id = records[0].project_id
    plain = (await service.leaderboard(ada, project_id, min_comparisons=1)).board
    styled = (await service.leaderboard(ada, project_id, min_comparisons=1, style_control=True)).board
    assert plain.style == ()
    names = [e.name for e in styled.style]  # a feature no answer varies in is left out of the fit
    assert "tokens" in names and set(names) <= {"tokens", "headers", "lists", "bold"}
    assert styled.dropped_without_style == 0 and styled.n_outcomes == plain.n_outcomes == len(caps)
    tokens = styled.style[names.index("tokens")]
    assert math.isfinite(tokens.coefficient) and tokens.coefficient > 0  # longer answers won
    with pytest.raises(InvalidLeaderboardQuery) as refused:
        await service.leaderboard(ada, project_id, source=Source.JUDGE, style_control=True)
    assert "human votes" in refused.value.errors["style_control"]
