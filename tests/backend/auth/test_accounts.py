"""Built-in accounts: sign up, sign in, sessions, passwords, API tokens."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update

from backend.auth import AuthError, SignInLocked
from backend.auth.accounts import AccountService
from backend.auth.throttle import SignInThrottle
from backend.auth.tokens import token_hash
from backend.db.models import ApiToken, AuthSession, utcnow
from backend.runtime import Runtime, running
from tests.backend.runtime_support import make_settings
from tests.support.clock import FakeClock

PASSWORD = "correct horse battery"


async def test_first_account_is_admin_and_owns_a_personal_project(rt: Runtime) -> None:
    first = await rt.accounts.sign_up("Ada@Example.org ", PASSWORD, "Ada")
    second = await rt.accounts.sign_up("bob@example.org", PASSWORD, "Bob")
    assert first.principal.is_admin and first.principal.email == "ada@example.org"
    assert not second.principal.is_admin
    projects = await rt.projects.list_for(first.principal)
    assert [(p.name, p.role) for p in projects] == [("Personal", "owner")]


async def test_passwords_are_stored_as_argon2id_hashes(rt: Runtime) -> None:
    await rt.accounts.sign_up("ada@example.org", PASSWORD)
    async with rt.db.session() as session:
        stored = (await session.execute(text("SELECT password_hash FROM users"))).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


async def test_session_tokens_are_stored_hashed_and_resolve_to_the_user(rt: Runtime) -> None:
    signed = await rt.accounts.sign_up("ada@example.org", PASSWORD)
    async with rt.db.session() as session:
        stored = (await session.execute(text("SELECT token_hash FROM auth_sessions"))).scalar_one()
    assert stored == token_hash(signed.token) and signed.token not in stored
    assert await rt.authenticate(signed.token) == signed.principal
    assert await rt.authenticate("") is None
    assert await rt.authenticate(signed.token + "x") is None


async def test_sign_out_and_expiry_end_a_session(rt: Runtime) -> None:
    one = await rt.accounts.sign_up("ada@example.org", PASSWORD)
    two = await rt.accounts.sign_in("ada@example.org", PASSWORD)
    await rt.accounts.sign_out(one.token)
    assert await rt.authenticate(one.token) is None
    assert await rt.authenticate(two.token) is not None
    async with rt.db.session() as session:
        await session.execute(
            update(AuthSession)
            .where(AuthSession.token_hash == token_hash(two.token))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    assert await rt.authenticate(two.token) is None


async def test_wrong_password_and_unknown_email_get_the_same_answer(rt: Runtime) -> None:
    await rt.accounts.sign_up("ada@example.org", PASSWORD)
    with pytest.raises(AuthError) as wrong:
        await rt.accounts.sign_in("ada@example.org", "not it at all")
    with pytest.raises(AuthError) as unknown:
        await rt.accounts.sign_in("nobody@example.org", PASSWORD)
    assert wrong.value.message == unknown.value.message == "Email or password is incorrect."


async def test_sign_up_refusals_are_clear_and_do_not_confirm_an_account(rt: Runtime) -> None:
    with pytest.raises(AuthError) as bad:
        await rt.accounts.sign_up("not an email", "short")
    assert set(bad.value.errors) == {"email", "password"}
    await rt.accounts.sign_up("ada@example.org", PASSWORD)
    with pytest.raises(AuthError) as taken:
        await rt.accounts.sign_up("ADA@example.org", "another password")
    assert "taken" not in taken.value.message.lower() and "exists" not in taken.value.message.lower()


async def test_sign_up_can_be_turned_off_after_the_first_account(
    runtime_database_url: str, tmp_path: Path
) -> None:
    async with running(make_settings(runtime_database_url, tmp_path, allow_sign_up=False)) as rt:
        admin = await rt.accounts.sign_up("admin@example.org", PASSWORD)
        assert admin.principal.is_admin
        with pytest.raises(AuthError, match="Sign-up is closed"):
            await rt.accounts.sign_up("bob@example.org", PASSWORD)


async def test_changing_the_password_signs_out_other_sessions(rt: Runtime) -> None:
    here = await rt.accounts.sign_up("ada@example.org", PASSWORD)
    elsewhere = await rt.accounts.sign_in("ada@example.org", PASSWORD)
    with pytest.raises(AuthError, match="current password is incorrect"):
        await rt.accounts.change_password(here.principal, here.token, "wrong", "a new password")
    await rt.accounts.change_password(here.principal, here.token, PASSWORD, "a new password")
    assert await rt.authenticate(here.token) is not None
    assert await rt.authenticate(elsewhere.token) is None
    with pytest.raises(AuthError):
        await rt.accounts.sign_in("ada@example.org", PASSWORD)
    assert (
        await rt.accounts.sign_in("ada@example.org", "a new password")
    ).principal.email == "ada@example.org"


async def test_a_token_minted_by_a_stolen_session_ends_with_the_password_change(rt: Runtime) -> None:
    here = await rt.accounts.sign_up("ada@example.org", PASSWORD)
    thief = await rt.accounts.sign_in("ada@example.org", PASSWORD)
    stolen = await rt.accounts.create_api_token(thief.principal, "thief's script")
    assert await rt.accounts.principal_for_api_token(stolen) is not None
    revoked = await rt.accounts.change_password(here.principal, here.token, PASSWORD, "a new password")
    assert revoked == 1
    assert await rt.accounts.principal_for_api_token(stolen) is None
    assert await rt.authenticate(thief.token) is None


async def test_signing_out_everywhere_revokes_api_tokens_unless_asked_not_to(rt: Runtime) -> None:
    here = await rt.accounts.sign_up("ada@example.org", PASSWORD)
    kept = await rt.accounts.create_api_token(here.principal, "ci")
    assert await rt.accounts.sign_out_everywhere(here.principal, here.token, revoke_api_tokens=False) == (
        0,
        0,
    )
    assert await rt.accounts.principal_for_api_token(kept) is not None
    other = await rt.accounts.sign_in("ada@example.org", PASSWORD)
    assert await rt.accounts.sign_out_everywhere(here.principal, here.token) == (1, 1)
    assert await rt.accounts.principal_for_api_token(kept) is None
    assert await rt.authenticate(other.token) is None and await rt.authenticate(here.token) is not None


async def test_api_tokens_are_shown_once_stored_hashed_and_revocable(rt: Runtime) -> None:
    ada = (await rt.accounts.sign_up("ada@example.org", PASSWORD)).principal
    token = await rt.accounts.create_api_token(ada, "ci")
    assert token.startswith("llmd_") and len(token) >= 40
    listed = await rt.accounts.list_api_tokens(ada)
    assert [(t.name, t.prefix) for t in listed] == [("ci", token[:12])]
    async with rt.db.session() as session:
        stored = (await session.execute(text("SELECT token_hash FROM api_tokens"))).scalar_one()
    assert token not in stored
    found = await rt.accounts.principal_for_api_token(token)
    assert found is not None and found.user_id == ada.user_id and found.via == "api-token"
    bob = (await rt.accounts.sign_up("bob@example.org", PASSWORD)).principal
    assert not await rt.accounts.revoke_api_token(bob, listed[0].id)  # not Bob's token
    assert await rt.accounts.revoke_api_token(ada, listed[0].id)
    assert await rt.accounts.principal_for_api_token(token) is None


async def test_a_token_revoked_in_another_process_stops_within_the_cache_time(
    runtime_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(runtime_database_url, tmp_path, api_token_cache_seconds=0.3)
    async with running(settings) as rt:
        clock = FakeClock()
        accounts = AccountService(rt.db, rt.settings, SignInThrottle(100, 60.0, sleep=False), clock=clock)
        ada = (await accounts.sign_up("ada@example.org", PASSWORD)).principal
        token = await accounts.create_api_token(ada, "ci")
        assert await accounts.principal_for_api_token(token) is not None
        async with rt.db.session() as session:  # as another replica would: straight in the database
            await session.execute(
                update(ApiToken).where(ApiToken.token_hash == token_hash(token)).values(revoked_at=utcnow())
            )
            await session.commit()
        assert await accounts.principal_for_api_token(token) is not None  # still trusted here ...
        clock.advance(0.35)
        assert await accounts.principal_for_api_token(token) is None  # ... for the cache time only


async def test_repeated_failures_lock_the_address_out_whether_or_not_the_account_exists(rt: Runtime) -> None:
    service = AccountService(rt.db, rt.settings, SignInThrottle(3, 60.0, sleep=False))
    await service.sign_up("ada@example.org", PASSWORD)
    for email in ("ada@example.org", "ghost@example.org"):
        for _ in range(3):
            with pytest.raises(AuthError, match="incorrect"):
                await service.sign_in(email, "wrong password", address="10.0.0.1")
        with pytest.raises(SignInLocked) as locked:
            await service.sign_in(email, PASSWORD if email.startswith("ada") else "x", address="10.0.0.1")
        assert locked.value.message == "Too many failed sign-ins. Try again in 1 minute."
        assert 0 < locked.value.retry_after_s <= 60
    # The owner from another address is not locked out by the guesser's failures.
    assert (await service.sign_in("ada@example.org", PASSWORD, address="10.9.9.9")).token


async def test_one_address_guessing_many_accounts_is_locked_out(rt: Runtime) -> None:
    service = AccountService(rt.db, rt.settings, SignInThrottle(3, 60.0, sleep=False))
    await service.sign_up("ada@example.org", PASSWORD)
    for i in range(15):  # five times the per-account limit, over many accounts
        with pytest.raises(AuthError):
            await service.sign_in(f"user{i}@example.org", "guess", address="203.0.113.7")
    with pytest.raises(SignInLocked):
        await service.sign_in("ada@example.org", PASSWORD, address="203.0.113.7")
    # the same account from another address still works: the lock is per address here
    assert (await service.sign_in("ada@example.org", PASSWORD, address="198.51.100.1")).token


async def test_failures_beyond_the_first_few_are_slowed(rt: Runtime) -> None:
    service = AccountService(rt.db, rt.settings, SignInThrottle(10, 60.0))
    loop = asyncio.get_running_loop()
    timings = []
    for _ in range(5):
        start = loop.time()
        with pytest.raises(AuthError):
            await service.sign_in("ghost@example.org", "guess", address="192.0.2.1")
        timings.append(loop.time() - start)
    # attempts 4 and 5 wait 0.25 s and 0.5 s before checking the password
    assert timings[3] >= 0.25 and timings[4] >= 0.5
