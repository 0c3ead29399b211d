"""CompareState's events with ids typed by hand: another user's comparison is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backend.i18n import said_in
from backend.runtime import Runtime, running
from devstack.postgres import migrated_sqlite_url
from state.compare import CompareState
from tests.backend.runtime_support import make_settings, owner, wait_until_final
from tests.state.support import in_tree, sign_in

S = CompareState


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(make_settings(migrated_sqlite_url(tmp_path), tmp_path)) as rt:
        yield rt


async def _adas_comparison(rt: Runtime) -> str:
    record = await rt.comparisons.create(
        await owner(rt, "ada@example.org"),
        {"prompt": "[[simulate:tokens=120]] private", "panes": [{"model": "simulated:ponder"}]},
    )
    return record.id


async def test_signed_out_events_change_nothing(runtime: Runtime) -> None:
    comparison_id = await _adas_comparison(runtime)
    tab = in_tree(CompareState)
    tab.comparison_id = comparison_id
    tab.prompt = "[[simulate:tokens=3]] hi"
    for event in (S.run.fn(tab), S.stop.fn(tab), S.retry_pane.fn(tab, "p0"), S.load.fn(tab)):
        assert "/login?next=" in str(await event)
    assert (await runtime.comparisons.history(await owner(runtime, "ada@example.org"))).total == 1


async def test_another_users_comparison_id_is_not_found_and_untouched(runtime: Runtime) -> None:
    comparison_id = await _adas_comparison(runtime)
    eve = in_tree(CompareState)
    await sign_in(eve, runtime, "eve@example.org")
    eve.comparison_id = comparison_id  # as if the id were typed into a crafted event
    await S.load.fn(eve)
    assert said_in("en", eve.errors["panes"]) == f"No comparison {comparison_id}."
    assert eve.panes == [] and eve.comparison_id == ""

    eve.comparison_id = comparison_id
    await S.stop.fn(eve)
    assert said_in("en", eve.errors["panes"]) == f"No comparison {comparison_id}."
    saved = await runtime.comparisons.get_unchecked(comparison_id)
    from state.rows import PaneRow

    eve.panes = [PaneRow(pane_id="p0", model="simulated:ponder", label="x", run_id=saved.runs[0].id)]
    await S.retry_pane.fn(eve, "p0")
    assert said_in("en", eve.errors["panes"]) == f"No comparison {comparison_id}."
    await S.stop_pane.fn(eve, "p0")
    assert said_in("en", eve.errors["panes"]) == f"No comparison {comparison_id}."

    final = await wait_until_final(runtime.comparisons, comparison_id, timeout=30)
    assert final.runs[0].status == "done" and final.runs[0].attempt == 0  # neither stopped nor retried


async def test_a_project_id_of_someone_else_cannot_be_run_in(runtime: Runtime) -> None:
    ada = await owner(runtime, "ada@example.org")
    secret = await runtime.projects.create(ada, "Secret")
    eve = in_tree(CompareState)
    await sign_in(eve, runtime, "eve@example.org")
    await S.load.fn(eve)
    S.set_project.fn(eve, secret)  # not among her projects: ignored
    assert eve.project_id != secret
    eve.project_id = secret  # forced, as a crafted delta would
    eve.prompt = "[[simulate:tokens=3]] sneaking in"
    await S.run.fn(eve)
    assert said_in("en", eve.errors["panes"]) == f"No project {secret}."
    assert (await runtime.comparisons.history(ada, project_id=secret)).total == 0
