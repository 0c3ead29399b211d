"""AUTH_PROVIDER=firebase against the real Firebase Auth emulator (started once per session).

Emulator tokens are unsigned and firebase-admin, pointed at an emulator, checks neither
signature nor expiry: the expired and tampered cases below are refused by
backend.auth.firebase_tokens' own checks, the other-project and revoked ones by the SDK.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.auth import AuthError
from backend.auth.firebase import SIGN_UP_CLOSED, UNVERIFIED, FirebaseAuthenticator
from backend.auth.firebase_tokens import (
    DISABLED,
    EMULATOR_ENV,
    EXPIRED,
    INVALID,
    OTHER_PROJECT,
    REVOKED,
    FirebaseTokenChecker,
)
from backend.db import accounts as accounts_repo
from backend.db.models import User
from backend.runtime import Runtime, running
from state.auth import FIREBASE_ON, AuthState, signed_in_user
from tests.backend.runtime_support import make_settings, owner
from tests.state.support import in_tree
from tests.support.firebase_emulator import OTHER_PROJECT_ID, PROJECT_ID, FirebaseEmulator, firebase_emulator


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirebaseEmulator]:
    with firebase_emulator(tmp_path_factory.mktemp("firebase")) as running_emulator:
        yield running_emulator
    os.environ.pop(EMULATOR_ENV, None)  # set process-wide by the authenticators under test


@pytest.fixture
async def frt(
    runtime_database_url: str, tmp_path: Path, emulator: FirebaseEmulator
) -> AsyncIterator[Runtime]:
    """A started runtime with AUTH_PROVIDER=firebase on the emulator."""
    async with running(_settings(runtime_database_url, tmp_path, emulator.host)) as runtime:
        yield runtime
        runtime.firebase_auth().close()


def _settings(database_url: str, tmp_path: Path, emulator_host: str, **overrides: Any) -> Any:
    return make_settings(
        database_url,
        tmp_path,
        auth_provider="firebase",
        firebase_project_id=PROJECT_ID,
        firebase_auth_emulator_host=emulator_host,
        **overrides,
    )


def _email() -> str:
    return f"u{uuid.uuid4().hex[:12]}@example.org"


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return value


def _edit(token: str, **claims: Any) -> str:
    """The emulator's unsigned token with some payload claims replaced."""
    header, _, signature = token.split(".")
    return f"{header}.{_b64({**_claims(token), **claims})}.{signature}"


async def _refusal(auth: FirebaseAuthenticator, token: str) -> str:
    """The message a token is refused with; authenticate() (every event) refuses it too."""
    with pytest.raises(AuthError) as refused:
        await auth.verify(token)
    assert await auth.authenticate(token) is None
    return refused.value.message


# --- accepted tokens --------------------------------------------------------------------


async def test_a_valid_token_gives_its_user_and_creates_the_account_once(
    frt: Runtime, emulator: FirebaseEmulator
) -> None:
    email = _email()
    uid = emulator.create_user(email)
    first = await frt.authenticate(emulator.id_token(email))
    again = await frt.authenticate(emulator.id_token(email))
    assert first is not None and again == first
    assert (first.email, first.via, first.is_admin) == (email, "firebase", False)
    async with frt.db.session() as session:
        account = await accounts_repo.account_by_firebase_uid(session, uid)
        same_email = (
            await session.execute(select(func.count(User.id)).where(User.email == email))
        ).scalar_one()
    assert account is not None and account.id == first.user_id and same_email == 1
    assert [p.name for p in await frt.projects.list_for(first)] == ["Personal"]


@pytest.mark.parametrize(("role", "is_admin"), [("admin", True), ("editor", False)])
async def test_the_role_claim_decides_admin_rights(
    frt: Runtime, emulator: FirebaseEmulator, role: str, is_admin: bool
) -> None:
    email = _email()
    emulator.set_role(emulator.create_user(email), role)
    principal = await frt.authenticate(emulator.id_token(email))
    assert principal is not None and principal.is_admin is is_admin


async def test_an_existing_account_with_the_email_is_linked(frt: Runtime, emulator: FirebaseEmulator) -> None:
    email = _email()
    local = await owner(frt, email)
    uid = emulator.create_user(email)
    principal = await frt.authenticate(emulator.id_token(email))
    assert principal is not None and principal.user_id == local.user_id
    async with frt.db.session() as session:
        account = await accounts_repo.account_by_id(session, local.user_id)
    assert account is not None and account.firebase_uid == uid


async def test_an_unverified_email_is_refused_until_verified(
    frt: Runtime, emulator: FirebaseEmulator
) -> None:
    email = _email()
    uid = emulator.create_user(email, verified=False)
    assert await _refusal(frt.firebase_auth(), emulator.id_token(email)) == UNVERIFIED
    emulator.update_user(uid, emailVerified=True)
    assert await frt.authenticate(emulator.id_token(email)) is not None


async def test_closed_sign_up_refuses_new_people_but_links_existing_accounts(
    runtime_database_url: str, tmp_path: Path, emulator: FirebaseEmulator
) -> None:
    settings = _settings(runtime_database_url, tmp_path, emulator.host, allow_sign_up=False)
    async with running(settings) as rt:
        known = _email()
        await owner(rt, known)
        stranger = _email()
        emulator.create_user(known)
        emulator.create_user(stranger)
        assert await _refusal(rt.firebase_auth(), emulator.id_token(stranger)) == SIGN_UP_CLOSED
        assert await rt.authenticate(emulator.id_token(known)) is not None
        rt.firebase_auth().close()


# --- refused tokens ---------------------------------------------------------------------


async def test_an_expired_token_is_refused(frt: Runtime, emulator: FirebaseEmulator) -> None:
    email = _email()
    emulator.create_user(email)
    token = emulator.id_token(email)
    two_hours_on = FirebaseAuthenticator(frt.db, frt.settings, clock=lambda: time.time() + 7200)
    try:
        assert await _refusal(two_hours_on, token) == EXPIRED  # the emulator's own token, an hour old
    finally:
        two_hours_on.close()
    # The same with the expiry moved into the past (emulator tokens are unsigned).
    assert await _refusal(frt.firebase_auth(), _edit(token, exp=int(time.time()) - 60)) == EXPIRED


async def test_a_token_for_another_project_is_refused(frt: Runtime, emulator: FirebaseEmulator) -> None:
    email = _email()
    emulator.create_user(email, project=OTHER_PROJECT_ID)
    token = emulator.id_token(email, project=OTHER_PROJECT_ID)
    assert _claims(token)["aud"] == OTHER_PROJECT_ID
    assert await _refusal(frt.firebase_auth(), token) == OTHER_PROJECT


Tamper = Callable[[str, str, str], str]  # (token, another user's uid, another user's email) -> token

TAMPERED: dict[str, tuple[Tamper, str]] = {
    "not a JWT": (lambda t, uid, email: "not-a-token", INVALID),
    "payload is not JSON": (lambda t, uid, email: t.split(".")[0] + ".bm90IGpzb24.", INVALID),
    "another user's uid": (lambda t, uid, email: _edit(t, sub=uid, user_id=uid), INVALID),
    "a uid nobody has": (
        lambda t, uid, email: _edit(t, sub="nobody-at-all", user_id="nobody-at-all"),
        INVALID,
    ),
    "uid and user_id disagree": (lambda t, uid, email: _edit(t, user_id=uid), INVALID),
    "another email": (lambda t, uid, email: _edit(t, email=email), INVALID),
    "role claim added": (lambda t, uid, email: _edit(t, role="admin"), INVALID),
    "issued in the future": (lambda t, uid, email: _edit(t, iat=int(time.time()) + 3600), INVALID),
    "no expiry": (lambda t, uid, email: _edit(t, exp=None), INVALID),
    "another issuer": (lambda t, uid, email: _edit(t, iss="https://securetoken.google.com/x"), INVALID),
    "a signature added": (lambda t, uid, email: t + "c2lnbmF0dXJl", INVALID),
    "an RS256 header": (
        lambda t, uid, email: _b64({"alg": "RS256", "kid": "k", "typ": "JWT"}) + t[t.index(".") :],
        INVALID,
    ),
    "audience of another project": (lambda t, uid, email: _edit(t, aud="demo-elsewhere"), OTHER_PROJECT),
}


@pytest.mark.parametrize("case", list(TAMPERED))
async def test_a_tampered_token_is_refused(frt: Runtime, emulator: FirebaseEmulator, case: str) -> None:
    email, other_email = _email(), _email()
    emulator.create_user(email)
    other_uid = emulator.create_user(other_email)
    token = emulator.id_token(email)
    assert await frt.authenticate(token) is not None  # untouched, it is fine
    tamper, message = TAMPERED[case]
    assert await _refusal(frt.firebase_auth(), tamper(token, other_uid, other_email)) == message


async def test_a_forged_verified_flag_is_refused(frt: Runtime, emulator: FirebaseEmulator) -> None:
    email = _email()
    emulator.create_user(email, verified=False)
    forged = _edit(emulator.id_token(email), email_verified=True)
    assert await _refusal(frt.firebase_auth(), forged) == INVALID


async def test_a_revoked_user_is_refused_until_signing_in_again(
    frt: Runtime, emulator: FirebaseEmulator
) -> None:
    email = _email()
    uid = emulator.create_user(email)
    token = emulator.id_token(email)
    assert await frt.authenticate(token) is not None
    await asyncio.sleep(1.1)  # revocation has one-second resolution: tokens issued before that second
    emulator.revoke(uid)
    assert await _refusal(frt.firebase_auth(), token) == REVOKED
    assert await frt.authenticate(emulator.id_token(email)) is not None


async def test_a_disabled_user_is_refused(frt: Runtime, emulator: FirebaseEmulator) -> None:
    email = _email()
    uid = emulator.create_user(email)
    token = emulator.id_token(email)
    emulator.update_user(uid, disableUser=True)
    assert await _refusal(frt.firebase_auth(), token) == DISABLED


async def test_a_disabled_local_account_is_refused(frt: Runtime, emulator: FirebaseEmulator) -> None:
    email = _email()
    emulator.create_user(email)
    principal = await frt.authenticate(emulator.id_token(email))
    assert principal is not None
    async with frt.db.session() as session:
        await accounts_repo.update_account(session, principal.user_id, disabled=True)
    assert await _refusal(frt.firebase_auth(), emulator.id_token(email)) == DISABLED


def test_production_refuses_the_emulator(tmp_path: Path) -> None:
    settings = _settings("sqlite://", tmp_path, "127.0.0.1:9099")
    with pytest.raises(RuntimeError, match="not in production"):
        FirebaseTokenChecker(settings.model_copy(update={"environment": "production"}))


# --- the page's events ------------------------------------------------------------------


async def test_firebase_signed_in_keeps_a_good_token_and_shows_why_a_bad_one_is_refused(
    frt: Runtime, emulator: FirebaseEmulator
) -> None:
    auth = in_tree(AuthState)
    email = _email()
    emulator.create_user(email)
    token = emulator.id_token(email)

    assert await AuthState.firebase_signed_in.fn(auth, token) is not None  # a redirect onwards
    assert (auth._session_token, auth.user_email, auth.message) == (token, email, "")
    assert (await signed_in_user(auth)) is not None

    refused = await AuthState.firebase_signed_in.fn(auth, _edit(token, role="admin"))
    assert refused is None
    assert (auth._session_token, auth.user_email, auth.message) == ("", "", INVALID)
    assert await signed_in_user(auth) is None

    # A renewal never signs a tab in: it only replaces the token of the session the tab has.
    fresh = emulator.id_token(email)
    assert await AuthState.firebase_token_refreshed.fn(auth, fresh) is not None  # to the login page
    assert (auth._session_token, auth.user_email) == ("", "")

    assert await AuthState.firebase_signed_in.fn(auth, token) is not None
    fresh = emulator.id_token(email)
    stays = await AuthState.firebase_token_refreshed.fn(auth, fresh)  # the new cookie, no redirect
    assert "_call_script" in str(stays) and "_redirect" not in str(stays)
    assert auth._session_token == fresh and auth.user_email == email

    # Nor switches it to another user.
    other = _email()
    emulator.create_user(other)
    assert await AuthState.firebase_token_refreshed.fn(auth, emulator.id_token(other)) is not None
    assert (auth._session_token, auth.user_email) == ("", "")

    # Signing out also signs the page's Firebase SDK out, or it would sign straight back in; a
    # renewal from a page whose SDK has not signed out yet is refused.
    assert await AuthState.firebase_signed_in.fn(auth, token) is not None
    assert "signed_out=1" in str(await AuthState.sign_out.fn(auth))
    assert auth._session_token == ""
    assert await AuthState.firebase_token_refreshed.fn(auth, emulator.id_token(email)) is not None
    assert auth._session_token == "" and await signed_in_user(auth) is None


async def test_builtin_password_sign_up_is_closed_in_firebase_mode(frt: Runtime) -> None:
    auth = in_tree(AuthState)
    email = _email()
    await AuthState.sign_up.fn(auth, {"email": email, "password": "a long enough password"})
    assert auth.message == FIREBASE_ON and auth._session_token == ""
    async with frt.db.session() as session:
        assert await accounts_repo.account_by_email(session, email) is None


# --- builtin mode stays free of firebase_admin ---------------------------------------------

_BUILTIN_PROBE = """
import asyncio, sys
from pathlib import Path
from backend.runtime import running
from tests.backend.runtime_support import make_settings
import dashboard.pages.login, state.auth

async def main():
    settings = make_settings(f"sqlite:///{Path(sys.argv[1]) / 'probe.db'}", Path(sys.argv[1]))
    async with running(settings) as rt:
        assert await rt.authenticate("some-session-token") is None

asyncio.run(main())
print("firebase_admin" in sys.modules, "backend.auth.firebase" in sys.modules)
"""


def test_builtin_mode_never_imports_firebase_admin(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    env = {k: v for k, v in os.environ.items() if k not in ("AUTH_PROVIDER", EMULATOR_ENV)}
    probe = subprocess.run(
        [sys.executable, "-c", _BUILTIN_PROBE, str(tmp_path)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split()[-2:] == ["False", "False"]
