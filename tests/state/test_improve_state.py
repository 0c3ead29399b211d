"""ImproveState driven through its handlers: propose, discard, accept as the next version (the
new comparison opens), the versions list, who may improve; and History's version badges."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.db.models import Comparison, PromptVersion
from backend.i18n import said_in
from backend.runtime import Runtime, running
from backend.services.access import NotFound
from devstack.postgres import migrated_sqlite_url
from state.compare import CompareState
from state.history import HistoryState
from state.improve import ImproveState
from state.rows import option_from_entry, panes_from_record
from tests.backend.runtime_support import make_settings, owner, wait_until_final
from tests.state.support import in_tree, sign_in

Imp = ImproveState
PANES = [{"model": "simulated:terse"}, {"model": "simulated:coder"}]
PROMPT = "[[simulate:tokens=12]] Explain a bloom filter"


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(make_settings(migrated_sqlite_url(tmp_path), tmp_path)) as rt:
        yield rt


async def _finished(rt: Runtime, blind: bool = False) -> tuple[str, str]:
    payload = {"prompt": PROMPT, "panes": PANES, "blind": blind}
    record = await rt.comparisons.create(await owner(rt), payload)
    await wait_until_final(rt.comparisons, record.id)
    return record.id, record.project_id


async def _tab(rt: Runtime, comparison_id: str, email: str = "ada@example.org") -> ImproveState:
    """A signed-in tab whose compare page shows `comparison_id`, with its panel loaded."""
    tab = in_tree(ImproveState)
    await sign_in(tab, rt, email)
    compare = await tab.get_state(CompareState)
    compare.comparison_id = comparison_id
    compare.models = [option_from_entry(e) for e in await rt.comparisons.models(await owner(rt, email))]
    with contextlib.suppress(NotFound):  # a stranger's page shows no panes
        compare.panes = panes_from_record(await rt.comparisons.get(await owner(rt, email), comparison_id))
    await Imp.load.fn(tab)
    return tab


async def _propose(tab: ImproveState) -> list[object]:
    return [e async for e in Imp.propose.fn(tab)]


async def _count(rt: Runtime, table: type) -> int:
    async with rt.db.session() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


async def test_propose_discard_then_accept_opens_the_next_version(runtime: Runtime) -> None:
    comparison_id, _ = await _finished(runtime)
    tab = await _tab(runtime, comparison_id)
    assert (tab.can_run, tab.model, tab.version, tab.versions) == (True, "simulated:judge", 0, [])
    assert await _propose(tab) == []
    assert tab.error == "" and tab.has_proposal and not tab.proposing
    assert PROMPT in tab.proposed_prompt and tab.proposed_system_prompt and tab.reason
    Imp.discard.fn(tab)
    assert not tab.has_proposal and tab.proposed_prompt == ""
    assert await Imp.accept.fn(tab) is None and await _count(runtime, PromptVersion) == 0  # nothing to accept

    await _propose(tab)
    revised, reason = tab.proposed_prompt, tab.reason
    opened = await Imp.accept.fn(tab)
    comparisons = await _count(runtime, Comparison)
    assert comparisons == 2 and await _count(runtime, PromptVersion) == 2
    new_id = str(opened).split("/?c=")[1][:32]
    assert "/?c=" in str(opened) and new_id != comparison_id
    new = await wait_until_final(runtime.comparisons, new_id)
    assert new.prompt == revised and [r.model for r in new.runs] == ["simulated:terse", "simulated:coder"]

    second = await _tab(runtime, new_id)  # the new version, opened on the compare page
    assert second.version == 2
    assert [(v.label, v.current) for v in second.versions] == [("v1", False), ("v2", True)]
    assert second.versions[0].comparison_id == comparison_id and second.versions[0].prompt == PROMPT
    assert second.versions[1].prompt == " ".join(revised.split())
    assert second.versions[1].reason == reason != "" and tab.has_proposal is False
    assert all(v.cost.startswith("$") for v in second.versions)
    first = await _tab(runtime, comparison_id)
    assert first.version == 1

    history = in_tree(HistoryState)
    await sign_in(history, runtime)
    await HistoryState.load.fn(history)
    assert {r.id: r.version for r in history.rows} == {comparison_id: "v1", new_id: "v2"}
    # The version numbers are only for comparisons in the asker's projects.
    eve = await owner(runtime, "eve@example.org")
    assert await runtime.prompts.version_numbers(eve, [comparison_id, new_id]) == {}


async def test_refusals_show_a_message_and_save_nothing(runtime: Runtime) -> None:
    comparison_id, project_id = await _finished(runtime)
    tab = await _tab(runtime, comparison_id)
    Imp.set_model.fn(tab, "openai:gpt-4o-mini")  # no key here: unavailable
    await _propose(tab)
    assert "openai" in tab.error.lower() and not tab.has_proposal and not tab.proposing

    await runtime.projects.set_member(await owner(runtime), project_id, "vic@example.org", "viewer")
    vic = await _tab(runtime, comparison_id, "vic@example.org")
    assert vic.can_run is False
    await _propose(vic)  # a crafted event: refused
    assert (
        said_in("en", vic.error)
        == "Your role (viewer) does not allow you to run comparisons in this project."
    )
    vic.has_proposal, vic.proposed_prompt = True, "planted"
    await Imp.accept.fn(vic)
    assert (
        said_in("en", vic.error).startswith("Your role (viewer)") and await _count(runtime, Comparison) == 1
    )

    eve = await _tab(runtime, comparison_id, "eve@example.org")
    assert said_in("en", eve.error) == f"No comparison {comparison_id}." and eve.versions == []
    # History's version numbers are only for comparisons in the asker's projects.
    assert (
        await runtime.prompts.version_numbers(await owner(runtime, "eve@example.org"), [comparison_id]) == {}
    )


async def test_a_blind_comparison_offers_no_improvement_until_revealed(runtime: Runtime) -> None:
    comparison_id, _ = await _finished(runtime, blind=True)
    tab = await _tab(runtime, comparison_id)
    assert tab.masked and tab.versions == []
    assert await _propose(tab) == [] and not tab.has_proposal and not tab.proposing
    await runtime.comparisons.reveal(await owner(runtime), comparison_id)
    revealed = await _tab(runtime, comparison_id)
    assert not revealed.masked
    await _propose(revealed)
    assert revealed.has_proposal


async def test_signed_out_the_panel_sends_to_login(runtime: Runtime) -> None:
    comparison_id, _ = await _finished(runtime)
    tab = in_tree(ImproveState)
    (await tab.get_state(CompareState)).comparison_id = comparison_id
    tab._comparison_id, tab.has_proposal, tab.proposed_prompt = comparison_id, True, "x"
    for event in (Imp.load.fn(tab), Imp.accept.fn(tab)):
        assert "/login?next=" in str(await event)
    proposed = await _propose(tab)
    assert len(proposed) == 1 and "/login?next=" in str(proposed[0])
    assert await _count(runtime, Comparison) == 1
