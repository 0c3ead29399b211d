"""LeaderboardState driven through its handlers: filters, the board's rows, chart and matrix,
the recommendation and its bad input, and whose projects a board may read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backend.auth.permissions import Principal
from backend.i18n import said_in
from backend.runtime import Runtime, running
from backend.services.votes import VoteService
from devstack.postgres import migrated_sqlite_url
from state.leaderboard import ALL_PROJECTS, BAD_MIN_WIN_RATE, LeaderboardState
from tests.backend.runtime_support import make_settings, owner, wait_until_final
from tests.state.support import in_tree, sign_in

L = LeaderboardState
INSTANT, SWIFT = "simulated:instant", "simulated:swift"


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(make_settings(migrated_sqlite_url(tmp_path), tmp_path)) as rt:
        yield rt


async def _votes(rt: Runtime, who: Principal, models: tuple[str, str], n: int, best: int = 1) -> str:
    """``n`` finished comparisons of ``models`` in who's Personal project, each voted ``best``;
    returns the project id."""
    created = [
        await rt.comparisons.create(
            who, {"prompt": "[[simulate:tokens=3]] Name a prime", "panes": [{"model": m} for m in models]}
        )
        for _ in range(n)
    ]
    await asyncio.gather(*(wait_until_final(rt.comparisons, c.id) for c in created))
    for c in created:
        await VoteService(rt.db).vote(who, c.id, best)
    return created[0].project_id


async def _tab(rt: Runtime, email: str = "ada@example.org") -> LeaderboardState:
    tab = in_tree(LeaderboardState)
    await sign_in(tab, rt, email)
    await L.load.fn(tab)
    return tab


async def test_no_votes_shows_the_empty_state(runtime: Runtime) -> None:
    tab = await _tab(runtime)
    assert tab.loaded and tab.empty and tab.project_id == ALL_PROJECTS
    assert [p.name for p in tab.projects] == ["Personal"]
    assert tab.rows == [] and tab.chart == [] and tab.baseline == ""
    await L.recommend.fn(tab)
    assert tab.recommendation_error == "Pick a baseline model first." and not tab.recommended


async def test_the_board_after_votes_its_chart_and_win_rates(runtime: Runtime) -> None:
    project_id = await _votes(runtime, await owner(runtime), (INSTANT, SWIFT), 3)
    tab = await _tab(runtime)
    assert not tab.empty and tab.n_outcomes == 3 and tab.min_comparisons == 20
    assert said_in("en", tab.summary) == "3 head-to-head results; a model is ranked after 20 comparisons."
    assert [r.model for r in tab.rows] == [SWIFT, INSTANT]
    swift = tab.rows[0]
    assert (said_in("en", swift.rank), swift.ranked, swift.comparisons, swift.cost) == (
        "needs 17 more",
        False,
        3,
        "$0",
    )
    assert said_in("ja", swift.rank) == "あと 17 回必要"  # kept in every language: the page picks
    assert said_in("ja", tab.summary) == "直接対決の結果 3 件。モデルは 20 回の比較でランク付けされます。"
    assert swift.strength.count("(") == 1 and swift.ttft.endswith("ms") and swift.tps.endswith("tok/s")
    strengths = {p["model"]: p for p in tab.chart}
    assert strengths[SWIFT]["strength"] > strengths[INSTANT]["strength"]
    assert all(low > 0 and high > 0 for low, high in (p["error"] for p in tab.chart))
    matrix = {row.model: dict(zip(tab.matrix_models, row.cells, strict=True)) for row in tab.matrix}
    assert matrix[SWIFT][INSTANT] == "100%" and matrix[INSTANT][SWIFT] == "0%" and matrix[SWIFT][SWIFT] == "–"

    assert L.set_project.fn(tab, project_id) == L.load  # the filters reload through a checked load
    await L.load.fn(tab)
    assert tab.project_id == project_id and tab.n_outcomes == 3
    L.set_source.fn(tab, "judge")
    await L.load.fn(tab)
    assert tab.empty and {r.model for r in tab.rows} == {INSTANT, SWIFT}  # no verdicts yet, runs listed
    L.set_source.fn(tab, "human")
    L.set_window.fn(tab, "7d")
    await L.load.fn(tab)
    assert tab.n_outcomes == 3
    L.set_window.fn(tab, "forever")  # not a window: back to all time
    assert tab.window == "all"
    assert L.set_style_control.fn(tab, True) == L.load
    await L.load.fn(tab)
    assert tab.error == "" and tab.n_outcomes == 3  # the same votes, fitted with their answers' style
    L.set_source.fn(tab, "judge")
    await L.load.fn(tab)
    assert tab.error == ""  # style control is for human votes: a judge board ignores the switch


async def test_recommendation_and_its_bad_input(runtime: Runtime) -> None:
    await _votes(runtime, await owner(runtime), (INSTANT, SWIFT), 6)
    tab = await _tab(runtime)
    L.set_baseline.fn(tab, INSTANT)
    L.set_min_win_rate.fn(tab, "50")
    await L.recommend.fn(tab)
    assert tab.recommended and tab.recommendation_error == ""
    assert tab.recommended_model == f"Swift (simulated) ({SWIFT})"
    assert "6 of 6 comparisons" in tab.recommendation_detail and "95% interval" in tab.recommendation_detail

    L.set_min_win_rate.fn(tab, "90")  # 6 of 6: the interval's lower end is about 61%
    await L.recommend.fn(tab)
    assert tab.recommended and tab.recommended_model == ""
    assert "at or above 90%" in tab.recommendation_detail

    for bad in ("150", "-1", "abc", "", "nan"):
        L.set_min_win_rate.fn(tab, bad)
        await L.recommend.fn(tab)
        assert tab.recommendation_error == BAD_MIN_WIN_RATE and not tab.recommended, bad


async def test_all_my_projects_never_shows_someone_elses(runtime: Runtime) -> None:
    await _votes(runtime, await owner(runtime), (INSTANT, SWIFT), 2)
    eve = await owner(runtime, "eve@example.org")
    eves = await _votes(runtime, eve, ("simulated:terse", "simulated:steady"), 2)
    tab = await _tab(runtime)
    assert {r.model for r in tab.rows} == {INSTANT, SWIFT}
    L.set_project.fn(tab, eves)  # a crafted event naming Eve's project
    await L.load.fn(tab)
    assert tab.project_id == ALL_PROJECTS and {r.model for r in tab.rows} == {INSTANT, SWIFT}
    assert "simulated:terse" not in str(tab.dict())
    eve_tab = await _tab(runtime, "eve@example.org")
    assert {r.model for r in eve_tab.rows} == {"simulated:terse", "simulated:steady"}


async def test_signed_out_the_page_sends_to_login(runtime: Runtime) -> None:
    tab = in_tree(LeaderboardState)
    for event in (L.load.fn(tab), L.recommend.fn(tab)):
        assert "/login?next=" in str(await event)
    assert tab.rows == [] and not tab.loaded
