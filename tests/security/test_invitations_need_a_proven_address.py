"""An invitation goes to whoever proves the address, not whoever signs up with it (issue 15).

A local SMTP server (aiosmtpd) started by the test receives the mail the app sends at sign-up;
the link in it, confirmed once, hands over the invitation. Before that, and with a used,
expired, foreign or made-up link, the newcomer is not a member: not by the invitation made
before sign-up, nor by one made after (an unproven account is not linked at once either).
Without SMTP, development writes the mail to the log and production refuses to pretend.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update

from backend.api.app import create_api
from backend.auth import AuthError
from backend.db import accounts as accounts_repo
from backend.db.models import EmailVerification, utcnow
from backend.runtime import Runtime, running
from tests.backend.auth.test_firebase import emulator, frt
from tests.backend.runtime_support import make_settings, owner
from tests.support.firebase_emulator import FirebaseEmulator

NEWCOMER = "new.person@example.org"
PASSWORD = "correct horse battery staple"


@dataclass
class Inbox:
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 OK"

    def token_for(self, to: str) -> str:
        mails = [m for m in self.messages if m["To"] == to]
        assert mails, f"no mail to {to}: {[m['To'] for m in self.messages]}"
        payload = mails[-1].get_payload(decode=True)
        assert isinstance(payload, bytes)
        body = payload.decode()
        link = re.search(r"https?://\S+/api/v1/verify-email\?token=\S+", body)
        assert link, body
        return parse_qs(urlsplit(link.group(0)).query)["token"][0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@contextlib.asynccontextmanager
async def app_with_smtp(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Runtime, Inbox]]:
    with smtp_server() as (inbox, port):
        settings = dict(
            smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False, public_url="https://dash.test"
        )
        async with running(make_settings(database_url, tmp_path, **settings)) as rt:
            yield rt, inbox


def _public(rt: Runtime) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_api(lambda: rt)), base_url="http://t")


async def _projects_of(rt: Runtime, email: str) -> set[str]:
    signed = await rt.accounts.sign_in(email, PASSWORD)
    return {p.name for p in await rt.projects.list_for(signed.principal)}


async def _team(rt: Runtime) -> str:
    ada = await owner(rt)
    return await rt.projects.create(ada, "Team")


async def test_sign_up_alone_does_not_take_up_an_invitation(
    runtime_database_url: str, tmp_path: Path
) -> None:
    async with app_with_smtp(runtime_database_url, tmp_path) as (rt, inbox):
        team = await _team(rt)
        await rt.projects.set_member(await owner(rt), team, NEWCOMER, "editor")
        await rt.accounts.sign_up(NEWCOMER, PASSWORD)
        assert await _projects_of(rt, NEWCOMER) == {"Personal"}
        members = {m.email: m.pending for m in await rt.projects.members(await owner(rt), team)}
        assert members[NEWCOMER] is True

        token = inbox.token_for(NEWCOMER)
        async with _public(rt) as public:
            shown = await public.get("/api/v1/verify-email", params={"token": token})
            assert shown.status_code == 200 and "<form method='post'" in shown.text
            assert await _projects_of(rt, NEWCOMER) == {"Personal"}  # opening the link used nothing
            confirmed = await public.post("/api/v1/verify-email", params={"token": token})
            assert confirmed.status_code == 200, confirmed.text
            assert await _projects_of(rt, NEWCOMER) == {"Personal", "Team"}
            again = await public.post("/api/v1/verify-email", params={"token": token})
            assert again.status_code == 400  # single use


async def test_an_invitation_after_an_unproven_sign_up_waits_for_the_proof(
    runtime_database_url: str, tmp_path: Path
) -> None:
    async with app_with_smtp(runtime_database_url, tmp_path) as (rt, inbox):
        await rt.accounts.sign_up(NEWCOMER, PASSWORD)  # the squatter signs up first
        team = await _team(rt)
        await rt.projects.set_member(await owner(rt), team, NEWCOMER, "editor")
        assert await _projects_of(rt, NEWCOMER) == {"Personal"}
        assert await rt.accounts.confirm_email(inbox.token_for(NEWCOMER))
        assert await _projects_of(rt, NEWCOMER) == {"Personal", "Team"}


@pytest.mark.parametrize("bad", ["", "x", "llmd_" + "0" * 43, "' OR '1'='1", "a" * 500])
async def test_made_up_tokens_prove_nothing(runtime_database_url: str, tmp_path: Path, bad: str) -> None:
    async with app_with_smtp(runtime_database_url, tmp_path) as (rt, _inbox):
        team = await _team(rt)
        await rt.projects.set_member(await owner(rt), team, NEWCOMER, "editor")
        await rt.accounts.sign_up(NEWCOMER, PASSWORD)
        async with _public(rt) as public:
            refused = await public.post("/api/v1/verify-email", params={"token": bad})
        assert refused.status_code in (400, 422)
        assert await _projects_of(rt, NEWCOMER) == {"Personal"}


async def test_expired_and_other_accounts_links_prove_nothing(
    runtime_database_url: str, tmp_path: Path
) -> None:
    async with app_with_smtp(runtime_database_url, tmp_path) as (rt, inbox):
        team = await _team(rt)
        await rt.projects.set_member(await owner(rt), team, NEWCOMER, "editor")
        await rt.accounts.sign_up(NEWCOMER, PASSWORD)
        await rt.accounts.sign_up("mallory@example.org", PASSWORD)
        # Mallory's own link proves Mallory's address, never the newcomer's.
        assert await rt.accounts.confirm_email(inbox.token_for("mallory@example.org"))
        assert await _projects_of(rt, NEWCOMER) == {"Personal"}
        assert await _projects_of(rt, "mallory@example.org") == {"Personal"}
        async with rt.db.session() as session:
            await session.execute(
                update(EmailVerification).values(expires_at=utcnow() - timedelta(seconds=1))
            )
            await session.commit()
        assert not await rt.accounts.confirm_email(inbox.token_for(NEWCOMER))
        assert await _projects_of(rt, NEWCOMER) == {"Personal"}
        # A new link (asked for by the signed-in newcomer) works.
        signed = await rt.accounts.sign_in(NEWCOMER, PASSWORD)
        assert await rt.accounts.send_verification(signed.principal)
        assert await rt.accounts.confirm_email(inbox.token_for(NEWCOMER))
        assert await _projects_of(rt, NEWCOMER) == {"Personal", "Team"}


async def test_without_smtp_development_logs_the_mail_and_production_sends_nothing(
    runtime_database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="backend.mail")
    async with running(make_settings(runtime_database_url, tmp_path)) as rt:
        team = await _team(rt)
        await rt.projects.set_member(await owner(rt), team, NEWCOMER, "editor")
        await rt.accounts.sign_up(NEWCOMER, PASSWORD)
        outbox = [r.getMessage() for r in caplog.records if "Development outbox" in r.getMessage()]
        assert len(outbox) == 1 and NEWCOMER in outbox[0]
        token = parse_qs(urlsplit(re.search(r"http\S+", outbox[0]).group(0)).query)["token"][0]  # type: ignore[union-attr]
        assert await _projects_of(rt, NEWCOMER) == {"Personal"}  # never silently accepted
        assert await rt.accounts.confirm_email(token)
        assert await _projects_of(rt, NEWCOMER) == {"Personal", "Team"}

    from backend.auth.verification import EmailVerifier
    from backend.mail import Mailer

    production = make_settings(runtime_database_url, tmp_path, environment="production")
    async with running(make_settings(runtime_database_url, tmp_path)) as rt:
        account = await rt.accounts.sign_up("second@example.org", PASSWORD)
        caplog.clear()  # the development sign-up's own mail above; now production's attempt
        verifier = EmailVerifier(rt.db, production, Mailer(production))
        assert not await verifier.send(account.principal.user_id)
    assert not [r for r in caplog.records if "verify-email?token=" in r.getMessage()]
    assert any("SMTP_HOST is not set" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


async def test_a_refused_smtp_server_is_not_a_failed_sign_up(
    runtime_database_url: str, tmp_path: Path
) -> None:
    """The account is made, its invitations wait; a new link can be asked for later."""
    async with running(
        make_settings(
            runtime_database_url, tmp_path, smtp_host="127.0.0.1", smtp_port=_free_port(), smtp_starttls=False
        )
    ) as rt:
        team = await _team(rt)
        await rt.projects.set_member(await owner(rt), team, NEWCOMER, "editor")
        signed = await asyncio.wait_for(rt.accounts.sign_up(NEWCOMER, PASSWORD), 20)
        assert signed.principal.email == NEWCOMER
        assert await _projects_of(rt, NEWCOMER) == {"Personal"}


# --- Firebase: its email_verified claim is the proof ---------------------------------------------


async def test_a_firebase_user_with_a_verified_address_takes_up_the_invitation(
    frt: Runtime, emulator: FirebaseEmulator
) -> None:
    email = f"fb-{uuid.uuid4().hex[:10]}@example.org"
    team = await _team(frt)
    await frt.projects.set_member(await owner(frt), team, email, "viewer")
    emulator.create_user(email)  # verified by default
    principal = await frt.authenticate(emulator.id_token(email))
    assert principal is not None
    assert {p.name for p in await frt.projects.list_for(principal)} == {"Personal", "Team"}


async def test_an_unverified_firebase_address_takes_up_nothing(
    frt: Runtime, emulator: FirebaseEmulator
) -> None:
    email = f"fb-{uuid.uuid4().hex[:10]}@example.org"
    team = await _team(frt)
    await frt.projects.set_member(await owner(frt), team, email, "viewer")
    emulator.create_user(email, verified=False)
    with pytest.raises(AuthError):
        await frt.firebase_auth().verify(emulator.id_token(email))
    members = {m.email: m.pending for m in await frt.projects.members(await owner(frt), team)}
    assert members[email] is True


async def test_firebase_proves_an_unproven_password_account_it_links(
    frt: Runtime, emulator: FirebaseEmulator
) -> None:
    email = f"fb-{uuid.uuid4().hex[:10]}@example.org"
    async with frt.db.session() as session:  # a password account whose address was never proven
        local = await accounts_repo.create_account(session, email=email, display_name="Squatter?")
    team = await _team(frt)
    await frt.projects.set_member(await owner(frt), team, email, "viewer")
    members = {m.email: m.pending for m in await frt.projects.members(await owner(frt), team)}
    assert members[email] is True
    emulator.create_user(email)
    principal = await frt.authenticate(emulator.id_token(email))
    assert principal is not None and principal.user_id == local.id
    assert {p.name for p in await frt.projects.list_for(principal)} == {"Personal", "Team"}


async def test_a_firebase_address_mixing_scripts_is_refused(frt: Runtime, emulator: FirebaseEmulator) -> None:
    email = f"\u0430fb-{uuid.uuid4().hex[:8]}@example.org"  # Cyrillic а, then Latin
    emulator.create_user(email)
    with pytest.raises(AuthError, match="alphabets"):
        await frt.firebase_auth().verify(emulator.id_token(email))
    async with frt.db.session() as session:
        assert await accounts_repo.account_by_email(session, email) is None


__all__ = ["emulator", "frt"]  # fixtures shared with tests/backend/auth/test_firebase.py
