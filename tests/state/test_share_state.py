"""The share page, the Share dialog and /compare prefill links, driven through their handlers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import reflex as rx
from reflex.istate.data import RouterData

from backend.i18n import said_in
from backend.runtime import Runtime, running
from backend.services.shares import ShareService
from backend.services.validation import MAX_PANES, MAX_PROMPT_CHARS
from devstack.postgres import migrated_sqlite_url
from state.compare import CompareState
from state.language import LanguageState
from state.share import SharePageState, token_from_path
from state.share_dialog import ShareDialogState
from tests.backend.runtime_support import make_settings, owner, wait_until_final
from tests.state.support import in_tree, sign_in

ORIGIN = "http://dash.test"
PROMPT = "[[simulate:tokens=5]] Name three rivers"


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(make_settings(migrated_sqlite_url(tmp_path), tmp_path)) as rt:
        yield rt


def at(state: rx.State, path: str) -> None:
    state.router = RouterData.from_router_data({"headers": {"origin": ORIGIN}, "asPath": path})


def redirect_target(spec: Any) -> str:
    return {name._js_expr: value._var_value for name, value in spec.args}["path"]


async def shared_link(rt: Runtime) -> tuple[str, str]:
    """(comparison id, token) of a finished comparison of the default owner, shared."""
    ada = await owner(rt)
    created = await rt.comparisons.create(
        ada, {"prompt": PROMPT, "panes": [{"model": "simulated:instant"}, {"model": "simulated:swift"}]}
    )
    await wait_until_final(rt.comparisons, created.id)
    return created.id, (await ShareService(rt.db).create(ada, created.id)).token


def test_the_token_is_read_only_from_a_share_path() -> None:
    assert token_from_path("/share/abc_DEF-1") == "abc_DEF-1"
    assert token_from_path("/share/abc/") == "abc"
    assert token_from_path("/x/share/abc") == ""
    assert token_from_path("/share/") == ""
    assert token_from_path("/") == ""


async def test_a_signed_out_visitor_sees_the_saved_comparison(runtime: Runtime) -> None:
    comparison_id, token = await shared_link(runtime)
    state = in_tree(SharePageState)
    at(state, f"/share/{token}")
    await SharePageState.load.fn(state)

    saved = await runtime.comparisons.get_unchecked(comparison_id)
    assert state.loaded and state.found and not state.viewer_signed_in
    assert state.prompt == PROMPT
    assert state.owner_name == "Ada"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2} \d{1,2}:\d{2}:\d{2}（UTC）", said_in("ja", state.created))
    assert said_in("en", state.created).endswith(" UTC")
    assert [p.model for p in state.panes] == ["simulated:instant", "simulated:swift"]
    assert [p.text for p in state.panes] == [r.output_text for r in saved.runs]
    assert all(p.status == "done" and p.ttft.endswith("ms") and p.tokens_out == 5 for p in state.panes)
    assert state.login_href == f"/login?next={quote(f'/share/{token}', safe='')}"
    # Nothing of the owner's but the display name reached this state.
    assert comparison_id not in str(state.dict()) and "ada@example.org" not in str(state.dict())


async def test_an_unknown_link_shows_not_found(runtime: Runtime) -> None:
    state = in_tree(SharePageState)
    at(state, "/share/nothing-here")
    await SharePageState.load.fn(state)
    assert state.loaded and not state.found and state.panes == []


async def test_fork_sends_a_signed_out_visitor_to_sign_in_and_back(runtime: Runtime) -> None:
    _, token = await shared_link(runtime)
    state = in_tree(SharePageState)
    at(state, f"/share/{token}")
    await SharePageState.load.fn(state)
    result = await SharePageState.fork.fn(state)
    # The intent travels with the detour: back on the link, ?fork=1 forks.
    assert redirect_target(result) == f"/login?next={quote(f'/share/{token}?fork=1', safe='')}"


async def test_back_from_signing_in_to_fork_the_fork_happens(runtime: Runtime) -> None:
    _, token = await shared_link(runtime)
    state = in_tree(SharePageState)
    await sign_in(state, runtime, "yuri@example.org")
    at(state, f"/share/{token}?fork=1")
    assert await SharePageState.load.fn(state) == SharePageState.fork_now
    at(state, f"/share/{token}")  # without the intent, the page only shows the comparison
    assert await SharePageState.load.fn(state) is None


async def test_fork_copies_into_the_visitors_project_and_opens_it(runtime: Runtime) -> None:
    comparison_id, token = await shared_link(runtime)
    state = in_tree(SharePageState)
    await sign_in(state, runtime, "zoe@example.org")
    at(state, f"/share/{token}")
    await SharePageState.load.fn(state)
    assert state.viewer_signed_in
    assert await SharePageState.fork.fn(state) == SharePageState.fork_now
    result = await SharePageState.fork_now.fn(state)

    target = redirect_target(result)
    assert target.startswith("/?c=")
    zoe = await owner(runtime, "zoe@example.org")
    copy = await runtime.comparisons.get(zoe, target.removeprefix("/?c="))
    assert copy.id != comparison_id and copy.prompt == PROMPT


async def test_a_second_fork_asks_before_another_copy(runtime: Runtime) -> None:
    _, token = await shared_link(runtime)
    state = in_tree(SharePageState)
    await sign_in(state, runtime, "xena@example.org")
    at(state, f"/share/{token}")
    await SharePageState.load.fn(state)
    first = redirect_target(await SharePageState.fork_now.fn(state))
    assert first.startswith("/?c=") and not state.confirm_fork

    assert await SharePageState.fork_now.fn(state) is None  # asks instead
    assert state.confirm_fork
    xena = await owner(runtime, "xena@example.org")
    assert (await runtime.comparisons.history(xena)).total == 1

    second = redirect_target(await SharePageState.fork_again.fn(state))
    assert second.startswith("/?c=") and second != first and not state.confirm_fork
    assert (await runtime.comparisons.history(xena)).total == 2


async def test_the_dialog_makes_lists_and_revokes_links(runtime: Runtime) -> None:
    comparison_id, _ = await shared_link(runtime)
    dialog = in_tree(ShareDialogState)
    await sign_in(dialog, runtime)
    at(dialog, f"/?c={comparison_id}")
    (await dialog.get_state(CompareState)).comparison_id = comparison_id

    await ShareDialogState.set_open.fn(dialog, True)
    assert dialog.open and [link.status for link in dialog.links] == ["active"]  # made by shared_link
    ShareDialogState.set_expiry.fn(dialog, "7d")
    await ShareDialogState.create_link.fn(dialog)
    assert dialog.error == ""
    assert dialog.new_link.startswith(f"{ORIGIN}/share/")
    token = dialog.new_link.removeprefix(f"{ORIGIN}/share/")
    assert len(dialog.links) == 2 and dialog.active_count == 2
    assert dialog.links[0].expires != "never"
    assert token not in str(dialog.links)

    await ShareDialogState.revoke.fn(dialog, dialog.links[0].id)
    assert [link.status for link in dialog.links] == ["revoked", "active"]
    await ShareDialogState.set_open.fn(dialog, False)
    assert dialog.new_link == ""  # shown once


async def test_a_viewer_of_the_project_cannot_share(runtime: Runtime) -> None:
    comparison_id, _ = await shared_link(runtime)
    ada = await owner(runtime)
    await owner(runtime, "vic@example.org")
    project_id = (await runtime.comparisons.get_unchecked(comparison_id)).project_id
    await runtime.projects.set_member(ada, project_id, "vic@example.org", "viewer")
    dialog = in_tree(ShareDialogState)
    await sign_in(dialog, runtime, "vic@example.org")
    at(dialog, "/")
    (await dialog.get_state(CompareState)).comparison_id = comparison_id
    await ShareDialogState.create_link.fn(dialog)
    assert dialog.new_link == "" and "does not allow" in dialog.error


async def test_a_compare_link_prefills_models_and_prompt_without_running(runtime: Runtime) -> None:
    state = in_tree(CompareState)
    await sign_in(state, runtime)
    query = urlencode({"models": "simulated:swift, simulated:coder,nope:model", "prompt": "Hello there"})
    at(state, f"/compare?{query}")
    result = await CompareState.load.fn(state)

    assert result is None  # nothing runs
    assert [p.model for p in state.panes] == ["simulated:swift", "simulated:coder"]
    assert all(p.status == "idle" for p in state.panes)
    assert state.prompt == "Hello there"
    assert state.comparison_id == ""
    assert "nope:model" in state.errors["panes"]
    assert (await runtime.comparisons.history(await owner(runtime))).total == 0


async def test_a_compare_link_keeps_at_most_the_pane_limit(runtime: Runtime) -> None:
    state = in_tree(CompareState)
    await sign_in(state, runtime)
    at(state, "/compare?" + urlencode({"models": ",".join(["simulated:swift"] * (MAX_PANES + 2))}))
    await CompareState.load.fn(state)
    assert len(state.panes) == MAX_PANES
    assert f"At most {MAX_PANES}" in state.errors["panes"]


async def test_a_japanese_tab_is_told_what_a_link_left_out_in_japanese(runtime: Runtime) -> None:
    state = in_tree(CompareState)
    await sign_in(state, runtime)
    (await state.get_state(LanguageState)).lang_cookie = "ja"
    models = ["nope:model", *["simulated:swift"] * (MAX_PANES + 1)]
    at(state, "/compare?" + urlencode({"models": ",".join(models)}))
    await CompareState.load.fn(state)
    assert said_in("ja", state.errors["panes"]) == (
        "不明なモデルを除外しました: nope:model。"
        f" 一度に実行できるペインは {MAX_PANES} 個までです。残りは除外しました。"
    )


async def test_a_prefilled_prompt_is_cut_to_the_validation_limit() -> None:
    state = in_tree(CompareState)
    await state._prefill("", "x" * (MAX_PROMPT_CHARS + 5))
    assert len(state.prompt) == MAX_PROMPT_CHARS
    assert len(state.panes) == 3  # no models asked: the default panes
