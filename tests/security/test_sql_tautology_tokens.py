"""SQL tautologies (`' OR '1'='1` …) in every place a secret is presented: the API token
headers, the session cookie, the public share link and the sign-in form.

Field class: authentication bypass by SQL injection in a token or login lookup
(Langfuse, Dify and Open WebUI advisories on token and API-key checks). Every
lookup here hashes the presented value before it reaches SQL, so a tautology is
just a wrong secret: 401 / signed out / 404, with no database error text. Real
rows exist in every table the lookups read, so a lookup that matched "any row"
would be caught.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from backend.auth import AuthError
from backend.runtime import Runtime
from state.compare import CompareState
from tests.backend.runtime_support import api_client, owner, wait_until_final
from tests.security.support import PREFIX, SQL_TAUTOLOGIES, anonymous, saved_rows, shows_no_db_error
from tests.state.support import in_tree, sign_in

BODY = {"prompt": "[[simulate:tokens=3]] hi", "panes": [{"model": "simulated:instant"}]}


async def _victim_with_data(rt: Runtime) -> str:
    """Ada has a session, an API token, a finished comparison and a live share link."""
    ada = await owner(rt, "ada@example.org")
    await rt.accounts.create_api_token(ada, "ci")
    from backend.services.shares import ShareService

    record = await rt.comparisons.create(ada, BODY)
    await wait_until_final(rt.comparisons, record.id)
    created = await ShareService(rt.db).create(ada, record.id)
    return created.token


@pytest.mark.parametrize("tautology", SQL_TAUTOLOGIES)
async def test_tautology_api_tokens_get_401_without_database_text(rt: Runtime, tautology: str) -> None:
    await _victim_with_data(rt)
    for headers in ({"Authorization": f"Bearer {tautology}"}, {"X-API-Key": tautology}):
        async with anonymous(rt, headers) as client:
            for method, path in (
                ("GET", "/models"),
                ("GET", "/projects"),
                ("GET", "/comparisons"),
                ("POST", "/comparisons"),
            ):
                response = await client.request(method, PREFIX + path, json=BODY)
                assert response.status_code == 401, (headers, method, path, response.text)
                assert shows_no_db_error(response.text), response.text


@pytest.mark.parametrize("tautology", SQL_TAUTOLOGIES)
async def test_tautology_session_cookie_is_not_signed_in(rt: Runtime, tautology: str) -> None:
    await _victim_with_data(rt)
    tab = in_tree(CompareState)
    await sign_in(tab, rt, "ada@example.org")  # a real session exists in the table
    assert await rt.authenticate(tautology) is None
    from state.auth import AuthState, signed_in_user

    auth = await tab.get_state(AuthState)
    auth._session_token = tautology  # what a forged cookie becomes
    before = await saved_rows(rt)
    assert await signed_in_user(tab) is None
    assert auth.user_email == "" and not auth.is_admin
    assert "/login?next=" in str(await CompareState.load.fn(tab))
    assert "/login?next=" in str(await CompareState.run.fn(tab))
    assert await saved_rows(rt) == before


@pytest.mark.parametrize("tautology", SQL_TAUTOLOGIES)
async def test_tautology_share_tokens_are_not_found(rt: Runtime, tautology: str) -> None:
    real_token = await _victim_with_data(rt)
    async with anonymous(rt) as visitor:
        unknown = await visitor.get(f"{PREFIX}/shares/{quote('no-such-link', safe='')}")
        response = await visitor.get(f"{PREFIX}/shares/{quote(tautology, safe='')}")
        assert response.status_code == 404, response.text
        if "/" not in tautology:  # a "/" (even as %2F) makes it another path: the router's 404
            assert response.json() == unknown.json()  # the same answer as any unknown link
        assert shows_no_db_error(response.text)
        assert (await visitor.get(f"{PREFIX}/shares/{real_token}")).status_code == 200
    async with api_client(rt, "eve@example.org") as eve:
        before = await saved_rows(rt)
        forked = await eve.post(f"{PREFIX}/shares/{quote(tautology, safe='')}/fork")
        assert forked.status_code == 404 and shows_no_db_error(forked.text)
        assert await saved_rows(rt) == before

    from backend.services.access import NotFound
    from backend.services.shares import ShareService

    with pytest.raises(NotFound):
        await ShareService(rt.db).resolve(tautology)


@pytest.mark.parametrize("tautology", SQL_TAUTOLOGIES[:4])
async def test_tautology_in_the_sign_in_form_does_not_sign_in(rt: Runtime, tautology: str) -> None:
    await rt.accounts.sign_up("ada@example.org", "correct horse battery staple", "Ada")
    for email, password in (
        (tautology, tautology),
        ("ada@example.org", tautology),
        (f"ada@example.org{tautology}", "x"),
    ):
        with pytest.raises(AuthError) as refused:
            await rt.accounts.sign_in(email, password, "203.0.113.7")
        assert shows_no_db_error(refused.value.message)
