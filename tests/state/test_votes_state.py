"""VoteState driven through its handlers: my vote, changing it, the tally, who may vote."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backend.db.models import VOTE_COMMENT_MAX_CHARS
from backend.i18n import said_in
from backend.runtime import Runtime, running
from backend.services.votes import VoteService
from devstack.postgres import migrated_sqlite_url
from state.compare import CompareState
from state.votes import PICK_FIRST, VoteState
from tests.backend.runtime_support import make_settings, owner, wait_until_final
from tests.state.support import in_tree, sign_in

V = VoteState
PANES = [{"model": "simulated:instant"}, {"model": "simulated:swift"}]


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(make_settings(migrated_sqlite_url(tmp_path), tmp_path)) as rt:
        yield rt


async def _finished(rt: Runtime, prompt: str = "[[simulate:tokens=4]] Which river?") -> tuple[str, str]:
    """(comparison id, project id) of a finished two-pane comparison of Ada's."""
    record = await rt.comparisons.create(await owner(rt), {"prompt": prompt, "panes": PANES})
    await wait_until_final(rt.comparisons, record.id)
    return record.id, record.project_id


async def _tab(rt: Runtime, comparison_id: str, email: str = "ada@example.org") -> VoteState:
    """A signed-in tab whose compare page shows `comparison_id`, with its vote panel loaded."""
    tab = in_tree(VoteState)
    await sign_in(tab, rt, email)
    (await tab.get_state(CompareState)).comparison_id = comparison_id
    await V.load.fn(tab)
    return tab


async def test_vote_then_change_it_and_the_form_shows_my_vote(runtime: Runtime) -> None:
    comparison_id, _ = await _finished(runtime)
    tab = await _tab(runtime, comparison_id)
    labels = [said_in("en", p.label) for p in tab.panes]
    assert labels == ["Pane 1: simulated:instant", "Pane 2: simulated:swift"]
    assert (tab.best, tab.votes, tab.voted, tab.save_label) == ("", 0, False, "Save vote")

    V.set_best.fn(tab, "1")
    V.toggle_thumb.fn(tab, 0, "down")
    V.toggle_thumb.fn(tab, 1, "up")
    V.set_comment.fn(tab, "Swift names the river.")
    await V.submit.fn(tab)
    assert tab.error == "" and tab.notice.startswith("Your vote is saved")
    assert (tab.votes, tab.votes_label, tab.voted, tab.save_label) == (1, "1 vote", True, "Change my vote")
    assert [(p.best_count, p.thumbs_up, p.thumbs_down) for p in tab.panes] == [(0, 0, 1), (1, 1, 0)]
    saved = (await VoteService(runtime.db).tally(await owner(runtime), comparison_id)).mine
    assert saved is not None and saved.best_pane == 1 and saved.thumbs == ("down", "up")
    assert saved.comment == "Swift names the river."

    again = await _tab(runtime, comparison_id)  # a reload: the form shows what I voted
    assert again.best == "1" and [p.thumb for p in again.panes] == ["down", "up"]
    assert again.comment == "Swift names the river." and again.save_label == "Change my vote"

    V.set_best.fn(again, "tie")
    V.toggle_thumb.fn(again, 1, "up")  # pressing a pressed thumb takes it back
    await V.submit.fn(again)
    assert (again.votes, again.tie, again.all_bad) == (1, 1, 0)
    assert [(p.best_count, p.thumb, p.thumbs_up) for p in again.panes] == [(0, "down", 0), (0, "", 0)]


async def test_a_viewer_votes_and_a_stranger_gets_not_found(runtime: Runtime) -> None:
    comparison_id, project_id = await _finished(runtime)
    await runtime.projects.set_member(await owner(runtime), project_id, "vic@example.org", "viewer")
    vic = await _tab(runtime, comparison_id, "vic@example.org")
    V.set_best.fn(vic, "all_bad")
    await V.submit.fn(vic)
    assert vic.error == "" and (vic.votes, vic.all_bad) == (1, 1)

    eve = await _tab(runtime, comparison_id, "eve@example.org")
    assert said_in("en", eve.error) == f"No comparison {comparison_id}." and eve.panes == []
    eve._comparison_id = comparison_id  # as if a crafted event got past the page
    V.set_best.fn(eve, "0")
    await V.submit.fn(eve)
    assert said_in("en", eve.error) == f"No comparison {comparison_id}."
    assert (await VoteService(runtime.db).tally(await owner(runtime), comparison_id)).votes == 1


async def test_bad_votes_show_a_clear_message_and_save_nothing(runtime: Runtime) -> None:
    comparison_id, _ = await _finished(runtime)
    tab = await _tab(runtime, comparison_id)
    await V.submit.fn(tab)
    assert tab.error == PICK_FIRST
    V.set_best.fn(tab, "0")
    V.set_comment.fn(tab, "x" * (VOTE_COMMENT_MAX_CHARS + 1))
    await V.submit.fn(tab)
    assert f"longer than {VOTE_COMMENT_MAX_CHARS:,} characters" in tab.error and tab.notice == ""
    V.set_best.fn(tab, "7")  # a pane it does not have
    V.set_comment.fn(tab, "")
    await V.submit.fn(tab)
    assert "Name the best pane by its index, 0 to 1" in tab.error

    stalled = await runtime.comparisons.create(
        await owner(runtime), {"prompt": "[[simulate:stall@1:30]] slow", "panes": PANES}
    )
    running_tab = await _tab(runtime, stalled.id)
    V.set_best.fn(running_tab, "0")
    await V.submit.fn(running_tab)
    assert "still running" in running_tab.error and running_tab.votes == 0
    await runtime.comparisons.cancel(await owner(runtime), stalled.id, None)
    assert (await VoteService(runtime.db).tally(await owner(runtime), comparison_id)).votes == 0


async def test_signed_out_the_panel_sends_to_login(runtime: Runtime) -> None:
    comparison_id, _ = await _finished(runtime)
    tab = in_tree(VoteState)
    (await tab.get_state(CompareState)).comparison_id = comparison_id
    tab._comparison_id = comparison_id
    V.set_best.fn(tab, "0")
    for event in (V.load.fn(tab), V.submit.fn(tab)):
        assert "/login?next=" in str(await event)
    assert (await VoteService(runtime.db).tally(await owner(runtime), comparison_id)).votes == 0


async def test_in_a_conversation_the_panel_votes_on_the_turn_picked(runtime: Runtime) -> None:
    comparison_id, _ = await _finished(runtime)
    await runtime.turns.send(await owner(runtime), comparison_id, {"message": "[[simulate:tokens=3]] And?"})
    await wait_until_final(runtime.comparisons, comparison_id)
    tab = await _tab(runtime, comparison_id)
    assert (tab.turn, tab.turn_options) == ("2", ["1", "2"])  # the latest turn by default

    V.set_best.fn(tab, "1")
    await V.submit.fn(tab)
    assert tab.error == "" and tab.voted

    await V.set_turn.fn(tab, "1")  # the first turn: no vote of mine on it yet
    assert (tab.turn, tab.voted, tab.best, tab.votes) == ("1", False, "", 0)
    V.set_best.fn(tab, "tie")
    await V.submit.fn(tab)
    assert (tab.turn, tab.voted, tab.tie) == ("1", True, 1)

    service = VoteService(runtime.db)
    ada = await owner(runtime)
    first = (await service.tally(ada, comparison_id, 1)).mine
    second = (await service.tally(ada, comparison_id)).mine
    assert first is not None and (first.turn, first.no_winner) == (1, "tie")
    assert second is not None and (second.turn, second.best_pane) == (2, 1)

    await V.set_turn.fn(tab, "2")
    assert (tab.turn, tab.best, tab.voted) == ("2", "1", True)
    await V.set_turn.fn(tab, "7")  # not a turn of this comparison: a clear message, the form stays
    assert "no turn 7" in tab.error and tab.turn == "2"
