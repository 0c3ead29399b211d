"""Someone invited who signs up with an unproven address is told why no project shows (issue 15).

Invitations are taken up only once the address is proven (test_invitations_need_a_proven_address
.py). Before this, the newcomer saw only their Personal project and nothing said why: the
invitation waited silently for a link they might not know to look for. Now every signed-in
page shows a "Check your email" notice while invitations wait (how many, and the address the
link went to) with "Send the link again", in English and Japanese; the emailed link's pages
speak the reader's language too. Tried: sign-up with one and with two invitations waiting; an
invitation made after sign-up; none waiting; the notice gone once the link is confirmed;
an account proven when made (Firebase's claim) never sees it; the resend through the page and
what the SMTP server then receives; the link's pages in both languages, the token escaped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from backend.auth import Principal
from state.auth import AuthState
from state.email_notice import LINK_SENT, EmailNoticeState
from tests.backend.runtime_support import owner
from tests.browser.a11y import serious_violations
from tests.browser.accounts import sign_up
from tests.security.live_app import LiveApp
from tests.security.test_invitations_need_a_proven_address import (
    NEWCOMER,
    PASSWORD,
    _public,
    _team,
    app_with_smtp,
)
from tests.state.support import in_tree


async def _notice_for(token: str) -> EmailNoticeState:
    notice = in_tree(EmailNoticeState)
    (await notice.get_state(AuthState))._session_token = token
    await EmailNoticeState.load.fn(notice)
    return notice


async def test_the_notice_says_how_many_invitations_wait_and_where_the_link_went(
    runtime_database_url: str, tmp_path: Path, record_property: Any
) -> None:
    async with app_with_smtp(runtime_database_url, tmp_path) as (rt, inbox):
        ada = await owner(rt)
        team = await _team(rt)
        await rt.projects.set_member(ada, team, NEWCOMER, "editor")
        newcomer = await rt.accounts.sign_up(NEWCOMER, PASSWORD)
        notice = await _notice_for(newcomer.token)
        assert (notice.address, notice.invitations) == (NEWCOMER, 1)

        # One more invitation, made after the sign-up: two wait now.
        other = await rt.projects.create(ada, "Other")
        await rt.projects.set_member(ada, other, NEWCOMER, "viewer")
        notice = await _notice_for(newcomer.token)
        assert notice.invitations == 2

        # "Send the link again": a second mail with a new link, and the page says so.
        before = len(inbox.messages)
        await EmailNoticeState.send_again.fn(notice)
        assert notice.message == LINK_SENT and len(inbox.messages) == before + 1

        # Confirmed: the projects are theirs and the notice goes.
        async with _public(rt) as client:
            answer = await client.post("/api/v1/verify-email", params={"token": inbox.token_for(NEWCOMER)})
        assert answer.status_code == 200
        notice = await _notice_for(newcomer.token)
        assert (notice.address, notice.invitations) == ("", 0)
        assert {p.name for p in await rt.projects.list_for(newcomer.principal)} >= {"Team", "Other"}
    record_property("cases_tried", 4)


async def test_no_notice_without_a_waiting_invitation(runtime_database_url: str, tmp_path: Path) -> None:
    async with app_with_smtp(runtime_database_url, tmp_path) as (rt, _inbox):
        alone = await rt.accounts.sign_up("alone@example.org", PASSWORD)
        notice = await _notice_for(alone.token)
        assert (notice.address, notice.invitations) == ("", 0)
        # A signed-out tab gets the login page, not someone's address.
        signed_out = in_tree(EmailNoticeState)
        assert await EmailNoticeState.load.fn(signed_out) is not None
        assert signed_out.address == ""


async def test_an_address_proven_when_made_never_waits(runtime_database_url: str, tmp_path: Path) -> None:
    """Firebase's email_verified claim (or an admin made on the command line): invitations are
    taken up at once, so nothing waits and no notice shows."""
    from backend.db import accounts as repo

    async with app_with_smtp(runtime_database_url, tmp_path) as (rt, _inbox):
        ada = await owner(rt)
        team = await _team(rt)
        await rt.projects.set_member(ada, team, "proven@example.org", "viewer")
        async with rt.db.session() as session:
            made = await repo.create_account(
                session, email="proven@example.org", display_name="P", email_verified=True
            )
        proven = Principal(user_id=made.id, email=made.email, display_name="P", is_admin=False)
        assert await rt.accounts.invitations_waiting(proven) == 0
        assert "Team" in {p.name for p in await rt.projects.list_for(proven)}


async def test_signing_in_checks_for_waiting_invitations(runtime_database_url: str, tmp_path: Path) -> None:
    """The sign-up's answer (then every sign-in's) asks for the notice before the next page."""
    async with app_with_smtp(runtime_database_url, tmp_path) as (rt, _inbox):
        ada = await owner(rt)
        await rt.projects.set_member(ada, await _team(rt), NEWCOMER, "editor")
        auth = in_tree(AuthState)
        events = await AuthState.sign_up.fn(auth, {"email": NEWCOMER, "password": PASSWORD})
        assert isinstance(events, list)
        handlers = [getattr(getattr(e, "handler", e), "fn", None) for e in events]
        assert EmailNoticeState.load.fn in handlers


@pytest.mark.parametrize(
    ("headers", "language", "title"),
    [
        ({"accept-language": "ja,en;q=0.5"}, "ja", "メールアドレスを確認"),
        ({"cookie": "lang=ja"}, "ja", "メールアドレスを確認"),
        ({"accept-language": "ja", "cookie": "lang=en"}, "en", "Confirm your email address"),
        ({}, "en", "Confirm your email address"),
    ],
    ids=["accept-language", "cookie", "cookie-wins", "default"],
)
async def test_the_links_pages_speak_the_readers_language(
    runtime_database_url: str, tmp_path: Path, headers: dict[str, str], language: str, title: str
) -> None:
    async with app_with_smtp(runtime_database_url, tmp_path) as (rt, _inbox), _public(rt) as client:
        shown = await client.get(
            "/api/v1/verify-email", params={"token": "x'><script>{0}</script>"}, headers=headers
        )
        assert shown.status_code == 200
        assert f"<html lang='{language}'>" in shown.text and f"<h1>{title}</h1>" in shown.text
        assert "<script>" not in shown.text  # the token stays an attribute value
        refused = await client.post("/api/v1/verify-email", params={"token": "made-up"}, headers=headers)
        assert refused.status_code == 400
        assert ("このリンクは使えません" in refused.text) == (language == "ja")


# --- a real browser ------------------------------------------------------------------------------
@pytest.mark.browser
def test_the_notice_in_the_page_in_english_and_japanese(browser: Browser, live_app: LiveApp) -> None:
    """Eve invites someone with no account; they sign up on the page (development: the mail goes
    to the log) and every page says what waits, in English, then in Japanese."""
    invitee = f"invitee-{live_app.tag}@example.org"
    with httpx.Client(base_url=live_app.url, headers=live_app.eve.api_headers, timeout=30) as api:
        project = api.post("/api/v1/projects", json={"name": f"Eve's team {live_app.tag}"}).json()["id"]
        answer = api.put(f"/api/v1/projects/{project}/members", json={"email": invitee, "role": "viewer"})
        assert answer.status_code == 204
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=live_app.url)
    page = context.new_page()
    try:
        sign_up(page, live_app.url, invitee, PASSWORD, name="Invitee")
        notice = page.get_by_role("region", name="Check your email")
        expect(notice).to_contain_text(f"It appears once you confirm {invitee}", timeout=30_000)
        page.goto("/projects")  # checked again there; the project is not listed yet
        expect(notice).to_be_visible(timeout=30_000)
        expect(page.get_by_text(f"Eve's team {live_app.tag}")).to_have_count(0)
        notice.get_by_role("button", name="Send the link again").click()
        expect(notice.get_by_role("status")).to_contain_text("We sent a new link.")
        assert serious_violations(page, "[data-testid=email-notice]") == []

        page.get_by_label("Language / 言語").select_option("ja")
        notice_ja = page.get_by_role("region", name="メールを確認してください")
        expect(notice_ja).to_contain_text(f"{invitee} に送ったリンクでアドレスを確認すると表示されます")
        expect(notice_ja.get_by_role("button", name="リンクをもう一度送る")).to_be_visible()
        expect(notice_ja.get_by_role("status")).to_contain_text("新しいリンクを送りました")
    finally:
        context.close()
