"""ConversationState's follow-up box, called directly on a state tree (no browser)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backend.runtime import Runtime, running
from backend.services.projects import ProjectService
from devstack.postgres import migrated_sqlite_url
from state.compare import CompareState
from state.conversation_state import ALL_PANES, ConversationState
from state.rows import ModelOption, PaneRow, panes_from_record
from tests.backend.runtime_support import make_settings, owner, wait_until_final
from tests.state.support import in_tree, sign_in

PROMPT = "[[simulate:tokens=5]] Name a river"


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(make_settings(migrated_sqlite_url(tmp_path), tmp_path)) as rt:
        yield rt


async def _finished_compare(rt: Runtime, email: str = "ada@example.org") -> CompareState:
    """A signed-in tab whose compare page shows a finished two-pane comparison of ``email``'s."""
    state = in_tree(CompareState)
    await sign_in(state, rt, email)
    state.models = [
        ModelOption(id=m, label=m, family="simulated", available=True, reason="", simulated=True)
        for m in ("simulated:swift", "simulated:instant")
    ]
    state.panes = [
        PaneRow(pane_id="p0", model="simulated:instant", label="Instant"),
        PaneRow(pane_id="p1", model="simulated:swift", label="Swift"),
    ]
    state.prompt = PROMPT
    await CompareState.run.fn(state)
    record = await wait_until_final(rt.comparisons, state.comparison_id)
    state.panes = panes_from_record(record)
    return state


async def test_a_follow_up_to_all_panes_shows_each_panes_first_turn_and_streams(runtime: Runtime) -> None:
    compare = await _finished_compare(runtime)
    first_answers = [p.text for p in compare.panes]
    conversation = await compare.get_state(ConversationState)
    ConversationState.set_message.fn(conversation, "[[simulate:tokens=4]] And a lake?")
    result = await ConversationState.send.fn(conversation)

    assert result == CompareState.stream
    assert conversation.message == "" and conversation.error == ""
    assert [p.turn for p in compare.panes] == [2, 2]
    assert [p.status for p in compare.panes] == ["queued", "queued"]
    assert [p.pane_id for p in compare.panes] == [compare.panes[0].pane_id, compare.panes[1].pane_id]
    for pane, answer in zip(compare.panes, first_answers, strict=True):
        assert pane.message == "[[simulate:tokens=4]] And a lake?"
        assert [(e.turn, e.message, e.answer) for e in pane.earlier] == [(1, PROMPT, answer)]
    saved = await wait_until_final(runtime.comparisons, compare.comparison_id)
    assert saved.latest_turn == 2


async def test_a_follow_up_to_one_pane_and_the_refusals(runtime: Runtime) -> None:
    compare = await _finished_compare(runtime)
    conversation = await compare.get_state(ConversationState)

    ConversationState.set_message.fn(conversation, "   ")
    assert await ConversationState.send.fn(conversation) is None
    assert conversation.error == "Enter a message."

    second = compare.panes[1].run_id
    ConversationState.set_message.fn(conversation, "[[simulate:tokens=3]] only you")
    ConversationState.set_target.fn(conversation, second)
    assert await ConversationState.send.fn(conversation) == CompareState.stream
    assert [p.turn for p in compare.panes] == [1, 2]
    assert compare.panes[0].earlier == [] and compare.panes[0].status == "done"
    assert conversation.target == ALL_PANES

    # still running: the page's button is disabled, and the handler does nothing either
    ConversationState.set_message.fn(conversation, "too soon")
    assert await ConversationState.send.fn(conversation) is None
    assert (await runtime.comparisons.get_unchecked(compare.comparison_id)).latest_turn == 2


async def test_a_viewer_is_told_and_nothing_is_sent(runtime: Runtime) -> None:
    ada = await owner(runtime, "ada@example.org")
    projects = ProjectService(runtime.db)
    project_id = await projects.create(ada, "Team")
    await owner(runtime, "vi@example.org")
    await projects.set_member(ada, project_id, "vi@example.org", "viewer")
    created = await runtime.comparisons.create(
        ada, {"prompt": PROMPT, "panes": [{"model": "simulated:instant"}], "project_id": project_id}
    )
    record = await wait_until_final(runtime.comparisons, created.id)

    viewer_tab = in_tree(CompareState)
    await sign_in(viewer_tab, runtime, "vi@example.org")
    viewer_tab.comparison_id = record.id
    viewer_tab.panes = panes_from_record(record)
    conversation = await viewer_tab.get_state(ConversationState)
    ConversationState.set_message.fn(conversation, "let me in")
    assert await ConversationState.send.fn(conversation) is None
    assert "viewer" in conversation.error
    assert (await runtime.comparisons.get_unchecked(record.id)).latest_turn == 1
