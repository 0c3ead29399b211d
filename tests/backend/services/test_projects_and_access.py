"""Projects, members and roles, and the one access check every service method makes."""

from __future__ import annotations

import pytest

from backend.auth import AccessDenied, Principal
from backend.db import accounts as accounts_repo
from backend.runtime import Runtime
from backend.services.access import NotFound
from backend.services.projects import InvalidProject
from tests.backend.runtime_support import owner, wait_until_final

PROMPT = "[[simulate:tokens=4]] roles"


async def _compare(rt: Runtime, user: Principal, project_id: str = "") -> str:
    payload = {"prompt": PROMPT, "panes": [{"model": "simulated:instant"}]}
    if project_id:
        payload["project_id"] = project_id
    record = await rt.comparisons.create(user, payload)
    await wait_until_final(rt.comparisons, record.id)
    return record.id


async def test_another_user_cannot_reach_a_comparison_by_id(rt: Runtime) -> None:
    ada, eve = await owner(rt, "ada@example.org"), await owner(rt, "eve@example.org")
    comparison_id = await _compare(rt, ada)
    run_id = (await rt.comparisons.get(ada, comparison_id)).runs[0].id
    for attempt in (
        rt.comparisons.get(eve, comparison_id),
        rt.comparisons.cancel(eve, comparison_id),
        rt.comparisons.retry(eve, comparison_id, run_id),
        rt.comparisons.delete(eve, comparison_id),
    ):
        with pytest.raises(NotFound):  # not 403: the id's existence is not confirmed
            await attempt
    assert (await rt.comparisons.history(eve)).total == 0
    assert (await rt.comparisons.get(ada, comparison_id)).id == comparison_id  # still there


async def test_another_user_cannot_run_in_read_or_manage_a_project(rt: Runtime) -> None:
    ada, eve = await owner(rt, "ada@example.org"), await owner(rt, "eve@example.org")
    project_id = await rt.projects.create(ada, "Research")
    with pytest.raises(NotFound):
        await _compare(rt, eve, project_id)
    for attempt in (
        rt.projects.members(eve, project_id),
        rt.projects.rename(eve, project_id, "Mine now"),
        rt.projects.delete(eve, project_id),
        rt.projects.set_member(eve, project_id, "eve@example.org", "owner"),
        rt.comparisons.history(eve, project_id=project_id),
    ):
        with pytest.raises(NotFound):
            await attempt
    assert [p.name for p in await rt.projects.list_for(ada)] == ["Personal", "Research"]


async def test_roles_decide_what_members_may_do(rt: Runtime) -> None:
    ada = await owner(rt, "ada@example.org")
    ed, vi = await owner(rt, "ed@example.org"), await owner(rt, "vi@example.org")
    project_id = await rt.projects.create(ada, "Team")
    await rt.projects.set_member(ada, project_id, "ed@example.org", "editor")
    await rt.projects.set_member(ada, project_id, "vi@example.org", "viewer")
    comparison_id = await _compare(rt, ada, project_id)

    # the editor runs, retries and deletes comparisons, but does not manage the project
    mine = await _compare(rt, ed, project_id)
    await rt.comparisons.retry(ed, comparison_id, (await rt.comparisons.get(ed, comparison_id)).runs[0].id)
    with pytest.raises(AccessDenied, match="editor"):
        await rt.projects.rename(ed, project_id, "Ed's")
    with pytest.raises(AccessDenied):
        await rt.projects.set_member(ed, project_id, "ed@example.org", "owner")

    # the viewer reads, and nothing else
    assert (await rt.comparisons.get(vi, comparison_id)).id == comparison_id
    assert {i.id for i in (await rt.comparisons.history(vi, project_id=project_id)).items} >= {mine}
    with pytest.raises(AccessDenied, match="viewer"):
        await _compare(rt, vi, project_id)
    for attempt in (
        rt.comparisons.cancel(vi, comparison_id),
        rt.comparisons.delete(vi, comparison_id),
        rt.projects.delete(vi, project_id),
    ):
        with pytest.raises(AccessDenied):
            await attempt

    await rt.comparisons.delete(ed, mine)
    with pytest.raises(NotFound):
        await rt.comparisons.get(ada, mine)


async def test_an_invitation_to_an_unknown_email_is_claimed_once_the_address_is_proven(rt: Runtime) -> None:
    ada = await owner(rt, "ada@example.org")
    project_id = await rt.projects.create(ada, "Team")
    await rt.projects.set_member(ada, project_id, "New.Person@Example.org", "editor")
    members = await rt.projects.members(ada, project_id)
    assert [(m.email, m.role, m.pending) for m in members] == [
        ("ada@example.org", "owner", False),
        ("new.person@example.org", "editor", True),
    ]
    newcomer = (await rt.accounts.sign_up("new.person@example.org", "correct horse battery")).principal
    assert {p.name for p in await rt.projects.list_for(newcomer)} == {"Personal"}  # not proven yet
    async with rt.db.session() as session:  # as the emailed link does (tests/security: the link itself)
        await accounts_repo.mark_email_verified(session, newcomer.user_id)
    assert {p.name: p.role for p in await rt.projects.list_for(newcomer)} == {
        "Personal": "owner",
        "Team": "editor",
    }


async def test_a_project_keeps_at_least_one_owner(rt: Runtime) -> None:
    ada = await owner(rt, "ada@example.org")
    project_id = await rt.projects.create(ada, "Solo")
    with pytest.raises(InvalidProject, match="at least one owner"):
        await rt.projects.set_member(ada, project_id, "ada@example.org", "viewer")
    with pytest.raises(InvalidProject, match="at least one owner"):
        await rt.projects.remove_member(ada, project_id, "ada@example.org")


async def test_bad_project_input_is_refused_by_field(rt: Runtime) -> None:
    ada = await owner(rt, "ada@example.org")
    with pytest.raises(InvalidProject) as empty:
        await rt.projects.create(ada, "   ")
    assert empty.value.errors == {"name": "Give the project a name."}
    await rt.projects.create(ada, "Research")
    with pytest.raises(InvalidProject, match="already have a project"):
        await rt.projects.create(ada, "Research")
    project_id = await rt.projects.create(ada, "Other")
    with pytest.raises(InvalidProject) as bad_role:
        await rt.projects.set_member(ada, project_id, "bob@example.org", "superuser")
    assert "role" in bad_role.value.errors
    with pytest.raises(InvalidProject) as bad_email:
        await rt.projects.set_member(ada, project_id, "bob", "viewer")
    assert "email" in bad_email.value.errors


async def test_deleting_a_project_deletes_its_comparisons(rt: Runtime) -> None:
    ada = await owner(rt, "ada@example.org")
    project_id = await rt.projects.create(ada, "Scratch")
    comparison_id = await _compare(rt, ada, project_id)
    await rt.projects.delete(ada, project_id)
    with pytest.raises(NotFound):
        await rt.comparisons.get(ada, comparison_id)
    assert [p.name for p in await rt.projects.list_for(ada)] == ["Personal"]


async def test_the_personal_project_cannot_be_deleted_or_renamed(rt: Runtime) -> None:
    ada = await owner(rt, "ada@example.org")
    personal = (await rt.comparisons.get(ada, await _compare(rt, ada))).project_id
    with pytest.raises(InvalidProject, match="Personal") as deleting:
        await rt.projects.delete(ada, personal)
    assert "project" in deleting.value.errors
    with pytest.raises(InvalidProject, match="Personal"):
        await rt.projects.rename(ada, personal, "Mine")
    # Comparisons without a project still land there (the process's cached default is right).
    again = await rt.comparisons.get(ada, await _compare(rt, ada))
    assert again.project_id == personal
    team = await rt.projects.create(ada, "Team")
    await rt.projects.rename(ada, team, "Squad")
    await rt.projects.delete(ada, team)
