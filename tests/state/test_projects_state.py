"""ProjectsState's handlers against a started runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backend.i18n import said_in
from backend.runtime import Runtime, running
from devstack.postgres import migrated_sqlite_url
from state.language import LanguageState
from state.projects import ProjectsState
from tests.backend.runtime_support import make_settings
from tests.state.support import in_tree, sign_in

P = ProjectsState


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(make_settings(migrated_sqlite_url(tmp_path), tmp_path)) as rt:
        yield rt


async def test_a_signed_out_tab_is_sent_to_sign_in(runtime: Runtime) -> None:
    state = in_tree(ProjectsState)
    result = await P.load.fn(state)
    assert "/login?next=" in str(result)
    assert state.projects == []


async def test_create_invite_and_change_roles(runtime: Runtime) -> None:
    state = in_tree(ProjectsState)
    await sign_in(state, runtime, "ada@example.org")
    await P.load.fn(state)
    assert [(p.name, p.role) for p in state.projects] == [("Personal", "owner")]

    await P.create.fn(state, {"name": "  Research   team "})
    assert state.selected_name == "Research team" and state.can_manage
    await P.invite.fn(state, {"email": "Bob@Example.org", "role": "viewer"})
    assert said_in("en", state.notice) == "Bob@Example.org can now read this project."
    assert [(m.email, m.role, m.pending) for m in state.members] == [
        ("ada@example.org", "owner", False),
        ("bob@example.org", "viewer", True),
    ]
    await P.set_role.fn(state, "bob@example.org", "editor")
    assert state.members[1].role == "editor"
    await P.set_role.fn(state, "ada@example.org", "viewer")
    assert state.member_error == "A project needs at least one owner."
    await P.remove.fn(state, "bob@example.org")
    assert [m.email for m in state.members] == ["ada@example.org"]


async def test_bad_names_are_shown_and_nothing_changes(runtime: Runtime) -> None:
    state = in_tree(ProjectsState)
    await sign_in(state, runtime, "ada@example.org")
    await P.load.fn(state)
    await P.create.fn(state, {"name": "   "})
    assert state.name_error == "Give the project a name."
    await P.create.fn(state, {"name": "Personal"})
    assert "already have a project" in state.name_error
    assert len(state.projects) == 1


async def test_a_member_cannot_manage_through_the_page(runtime: Runtime) -> None:
    owner_tab = in_tree(ProjectsState)
    await sign_in(owner_tab, runtime, "ada@example.org")
    await P.load.fn(owner_tab)
    await P.create.fn(owner_tab, {"name": "Team"})
    await P.invite.fn(owner_tab, {"email": "vi@example.org", "role": "viewer"})
    team_id = owner_tab.selected_id

    viewer_tab = in_tree(ProjectsState)
    await sign_in(viewer_tab, runtime, "vi@example.org")
    await P.select.fn(viewer_tab, team_id)
    assert viewer_tab.selected_name == "Team" and not viewer_tab.can_manage
    await P.delete.fn(viewer_tab)
    assert "viewer" in viewer_tab.member_error
    await P.rename.fn(viewer_tab, {"name": "Hijacked"})
    await P.load.fn(owner_tab)
    assert [p.name for p in owner_tab.projects] == ["Personal", "Team"]


async def test_ids_of_projects_the_user_is_not_in_are_ignored(runtime: Runtime) -> None:
    ada = in_tree(ProjectsState)
    await sign_in(ada, runtime, "ada@example.org")
    await P.load.fn(ada)
    await P.create.fn(ada, {"name": "Secret"})
    secret_id = ada.selected_id

    eve = in_tree(ProjectsState)
    await sign_in(eve, runtime, "eve@example.org")
    await P.select.fn(eve, secret_id)  # an id typed by hand
    assert eve.selected_name == "Personal"  # falls back to her own project
    assert all(m.email == "eve@example.org" for m in eve.members)


@pytest.mark.parametrize("keep", [False, True])
async def test_removing_a_member_revokes_their_links_unless_the_box_is_ticked(
    runtime: Runtime, keep: bool
) -> None:
    from backend.services.access import NotFound
    from backend.services.shares import ShareService
    from tests.backend.runtime_support import owner, wait_until_final

    owner_tab = in_tree(ProjectsState)
    await sign_in(owner_tab, runtime, "ada@example.org")
    await P.load.fn(owner_tab)
    await P.create.fn(owner_tab, {"name": "Team"})
    await P.invite.fn(owner_tab, {"email": "vi@example.org", "role": "editor"})
    vi = await owner(runtime, "vi@example.org")
    record = await runtime.comparisons.create(
        vi,
        {
            "prompt": "[[simulate:tokens=3]] hi",
            "panes": [{"model": "simulated:instant"}],
            "project_id": owner_tab.selected_id,
        },
    )
    await wait_until_final(runtime.comparisons, record.id)
    shares = ShareService(runtime.db)
    link = await shares.create(vi, record.id)

    assert owner_tab.keep_member_links is False  # revoking is the default
    await P.set_keep_member_links.fn(owner_tab, keep)
    await P.remove.fn(owner_tab, "vi@example.org")
    assert [m.email for m in owner_tab.members] == ["ada@example.org"]
    if keep:
        assert (await shares.resolve(link.token)).prompt  # the public link still works
    else:
        with pytest.raises(NotFound):
            await shares.resolve(link.token)
    assert ("Share links revoked: 1." in owner_tab.notice) is not keep


async def test_a_japanese_tab_gets_the_member_notices_in_japanese(runtime: Runtime) -> None:
    state = in_tree(ProjectsState)
    await sign_in(state, runtime, "ada@example.org")
    (await state.get_state(LanguageState)).lang_cookie = "ja"
    await P.load.fn(state)
    await P.create.fn(state, {"name": "Research"})
    assert state.notice == "Project created."  # a fixed msgid: the page translates it
    await P.invite.fn(state, {"email": "bob@example.org", "role": "viewer"})
    assert said_in("ja", state.notice) == "bob@example.org はこのプロジェクトを閲覧できるようになりました。"
    await P.set_role.fn(state, "bob@example.org", "editor")
    assert said_in("ja", state.notice) == "bob@example.org は編集者になりました。"
    await P.remove.fn(state, "bob@example.org")
    assert said_in("ja", state.notice) == "bob@example.org をメンバーから外しました。"
