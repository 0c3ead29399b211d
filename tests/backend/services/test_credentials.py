"""Stored provider keys through the whole runtime, on SQLite and PostgreSQL: encrypted at rest,
masked in every listing, admin-only for the deployment, tested against a real local server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.auth.permissions import AccessDenied
from backend.db.models import DEPLOYMENT_SCOPE, ProviderCredential
from backend.i18n import catalog
from backend.runtime import Runtime
from backend.services.credentials import (
    KEY_REFUSED,
    KEY_WORKS,
    NO_KEY_SAVED,
    CredentialError,
    base_url_problem,
)
from backend.services.validation import InvalidComparison
from tests.backend.runtime_support import owner
from tests.support.fake_llm_server import FakeLLMServer
from tests.support.keys import admin, bearers, fake_server, runtime_on

RIGHT = "sk-right-0123456789-wxyz"
WRONG = "sk-wrong-9876543210-abcd"


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with fake_server(api_key=RIGHT) as fake:
        yield fake


@pytest.fixture
async def krt(server: FakeLLMServer, runtime_database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with runtime_on(server, runtime_database_url, tmp_path) as runtime:
        yield runtime


async def raw_rows(rt: Runtime) -> list[tuple[str, str, str, str]]:
    async with rt.db.session() as session:
        stmt = select(
            ProviderCredential.scope,
            ProviderCredential.provider,
            ProviderCredential.encrypted_key,
            ProviderCredential.key_hint,
        )
        return [tuple(row) for row in (await session.execute(stmt)).all()]  # type: ignore[misc]


# --- storage --------------------------------------------------------------------------------


async def test_a_saved_key_is_encrypted_at_rest_and_listed_masked(krt: Runtime) -> None:
    user = await owner(krt)
    saved = await krt.credentials.save(user, "openai", f"  {RIGHT}\n")
    assert saved.key_hint == "…wxyz" and saved.label == "OpenAI" and not saved.deployment

    [(scope, provider, encrypted, hint)] = await raw_rows(krt)
    assert (scope, provider, hint) == (user.user_id, "openai", "…wxyz")
    assert RIGHT not in encrypted and "0123456789" not in encrypted  # the raw column holds no plaintext

    listed = await krt.credentials.list_keys(user)
    assert [k.provider for k in listed] == ["openai"]
    assert RIGHT not in repr(listed) and "0123456789" not in repr(listed)


async def test_saving_again_replaces_the_key_and_delete_removes_it(krt: Runtime) -> None:
    user = await owner(krt)
    await krt.credentials.save(user, "openai", WRONG)
    await krt.credentials.save(user, "openai", RIGHT)
    assert [k.key_hint for k in await krt.credentials.list_keys(user)] == ["…wxyz"]
    assert len(await raw_rows(krt)) == 1
    assert await krt.credentials.delete(user, "openai") is True
    assert await krt.credentials.delete(user, "openai") is False
    assert await krt.credentials.list_keys(user) == []


async def test_users_see_only_their_own_keys(krt: Runtime) -> None:
    ada, bob = await owner(krt), await owner(krt, "bob@example.org")
    await krt.credentials.save(ada, "openai", RIGHT)
    assert await krt.credentials.list_keys(bob) == []
    assert (await krt.credentials.test(bob, "openai")).ok is False


async def test_a_non_admin_cannot_touch_the_deployment_keys(krt: Runtime) -> None:
    user = await owner(krt)
    with pytest.raises(AccessDenied):
        await krt.credentials.save(user, "openai", RIGHT, deployment=True)
    with pytest.raises(AccessDenied):
        await krt.credentials.list_deployment_keys(user)
    with pytest.raises(AccessDenied):
        await krt.credentials.delete(user, "openai", deployment=True)
    with pytest.raises(AccessDenied):
        await krt.credentials.test(user, "openai", deployment=True)
    assert await raw_rows(krt) == []


async def test_an_admin_sets_the_deployment_key_apart_from_their_own(krt: Runtime) -> None:
    root = await admin(krt)
    saved = await krt.credentials.save(root, "anthropic", RIGHT, deployment=True)
    assert saved.deployment
    assert [k.provider for k in await krt.credentials.list_deployment_keys(root)] == ["anthropic"]
    assert await krt.credentials.list_keys(root) == []
    [(scope, *_)] = await raw_rows(krt)
    assert scope == DEPLOYMENT_SCOPE


@pytest.mark.parametrize(
    ("provider", "key", "base_url", "field"),
    [
        ("openai", "", "", "api_key"),
        ("openai", RIGHT, "https://evil.example/v1", "base_url"),  # a family key goes to the family only
        ("openai", "sk with spaces", "", "api_key"),
        ("vertexai", RIGHT, "", "provider"),
        ("openai-compatible:bad/name", RIGHT, "http://127.0.0.1:8000/v1", "provider"),
        ("openai-compatible:local", RIGHT, "", "base_url"),
        ("openai-compatible:local", RIGHT, "ftp://host/v1", "base_url"),
        ("openai-compatible:meta", RIGHT, "http://169.254.169.254/v1", "base_url"),
        ("openai-compatible:meta", RIGHT, "http://user:pw@host/v1", "base_url"),
    ],
)
async def test_bad_saves_are_refused_by_field_and_never_echo_the_key(
    krt: Runtime, provider: str, key: str, base_url: str, field: str
) -> None:
    with pytest.raises(CredentialError) as caught:
        await krt.credentials.save(await owner(krt), provider, key, base_url)
    assert field in caught.value.errors
    if key:
        assert key not in str(caught.value) and key not in repr(caught.value.errors)
    assert await raw_rows(krt) == []


def test_user_endpoints_stay_off_private_networks_unless_allowed() -> None:
    assert base_url_problem("http://127.0.0.1:8000/v1", allow_private=True, require_https=False) == ""
    assert "private network" in base_url_problem("https://127.0.0.1:8000/v1", False, True)
    assert "private network" in base_url_problem("https://10.0.0.5/v1", False, True)
    assert "https" in base_url_problem("http://llm.example.com/v1", False, require_https=True)
    assert base_url_problem("https://llm.example.com/v1", False, True) == ""


# --- test key ----------------------------------------------------------------------------


async def test_test_key_says_a_right_openai_key_works(krt: Runtime, server: FakeLLMServer) -> None:
    user = await owner(krt)
    await krt.credentials.save(user, "openai", RIGHT)
    result = await krt.credentials.test(user, "openai")
    assert (result.ok, result.message) == (True, KEY_WORKS)
    assert bearers(server, "/v1/models") == [f"Bearer {RIGHT}"]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_test_key_refuses_a_wrong_key_without_echoing_it(krt: Runtime, provider: str) -> None:
    user = await owner(krt)
    await krt.credentials.save(user, provider, WRONG)
    result = await krt.credentials.test(user, provider)
    assert not result.ok
    assert "refused this key" in result.message
    assert WRONG not in result.message and "9876543210" not in result.message


async def test_test_key_checks_the_deployment_anthropic_key(krt: Runtime, server: FakeLLMServer) -> None:
    root = await admin(krt)
    await krt.credentials.save(root, "anthropic", RIGHT, deployment=True)
    assert (await krt.credentials.test(root, "anthropic", deployment=True)).ok
    [request] = [r for r in server.requests if r.path == "/v1/models"]
    # Older SDKs send x-api-key, newer ones a bearer token: either way, this key.
    assert RIGHT in (request.headers.get("x-api-key"), request.headers.get("authorization", "")[7:])


async def test_test_key_of_an_endpoint_goes_to_its_saved_address(krt: Runtime, server: FakeLLMServer) -> None:
    user = await owner(krt)
    await krt.credentials.save(user, "openai-compatible:local", RIGHT, f"{server.url}/v1/")
    assert (await krt.credentials.test(user, "openai-compatible:local")).ok
    await krt.credentials.save(user, "openai-compatible:local", WRONG, f"{server.url}/v1")
    assert not (await krt.credentials.test(user, "openai-compatible:local")).ok
    [saved] = await krt.credentials.list_keys(user)
    assert saved.base_url == f"{server.url}/v1" and saved.label == "Endpoint local"


async def test_test_key_explains_a_missing_key_and_an_unreachable_server(
    krt: Runtime, server: FakeLLMServer
) -> None:
    user = await owner(krt)
    assert (await krt.credentials.test(user, "openai")).message == NO_KEY_SAVED
    await krt.credentials.save(user, "openai-compatible:gone", RIGHT, "http://127.0.0.1:9/v1")
    result = await krt.credentials.test(user, "openai-compatible:gone")
    assert not result.ok and result.message.startswith("Could not check the key")
    assert RIGHT not in result.message


async def test_each_keys_last_test_is_kept_until_the_key_is_replaced(krt: Runtime) -> None:
    user = await owner(krt)
    await krt.credentials.save(user, "openai", RIGHT)
    [never] = await krt.credentials.list_keys(user)
    assert (never.tested_at, never.test_ok, never.test_message) == (None, None, "")
    await krt.credentials.test(user, "openai")
    [passed] = await krt.credentials.list_keys(user)
    assert passed.tested_at is not None and (passed.test_ok, passed.test_message) == (True, KEY_WORKS)
    await krt.credentials.save(user, "openai", WRONG)
    [replaced] = await krt.credentials.list_keys(user)
    assert (replaced.tested_at, replaced.test_ok) == (None, None)
    await krt.credentials.test(user, "openai")
    [failed] = await krt.credentials.list_keys(user)
    assert failed.test_ok is False and failed.test_message == KEY_REFUSED
    assert catalog("ja").get(failed.test_message), "a kept test message is a msgid the page translates"
    assert failed.tested_at is not None and WRONG not in failed.test_message


async def test_the_picker_marks_models_whose_key_failed_its_test(krt: Runtime) -> None:
    """The key a run would use counts: the user's own, else the deployment's."""
    root, ada, bob = await admin(krt), await owner(krt), await owner(krt, "bob@example.org")
    await krt.credentials.save(root, "openai", WRONG, deployment=True)
    await krt.credentials.save(ada, "openai", RIGHT)

    def mark(entries: list) -> str:
        return str(next(e for e in entries if e.id == "openai:gpt-4o-mini").key_failed)

    assert mark(await krt.comparisons.models(bob)) == ""  # never tested: nothing to say yet
    assert not (await krt.credentials.test(root, "openai", deployment=True)).ok
    assert "refused this key" in mark(await krt.comparisons.models(bob))
    assert mark(await krt.comparisons.models(ada)) == ""  # runs with her own key
    await krt.credentials.save(ada, "openai", WRONG)
    await krt.credentials.test(ada, "openai")
    assert "refused this key" in mark(await krt.comparisons.models(ada))
    assert mark(await krt.comparisons.models(ada)) != "" and mark(await krt.comparisons.models()) == ""


# --- stored keys make their models usable --------------------------------------------------


async def test_a_users_key_makes_the_family_available_to_that_user_only(krt: Runtime) -> None:
    ada, bob = await owner(krt), await owner(krt, "bob@example.org")
    payload = {"prompt": "Hi", "panes": [{"model": "openai:gpt-4o-mini", "max_tokens": 16}]}
    with pytest.raises(InvalidComparison, match="No OpenAI key: add one in Settings → Provider keys"):
        await krt.comparisons.validate(payload, ada)
    await krt.credentials.save(ada, "openai", RIGHT)
    await krt.comparisons.validate(payload, ada)
    with pytest.raises(InvalidComparison):
        await krt.comparisons.validate(payload, bob)

    def available(entries: list) -> bool:
        return next(e for e in entries if e.id == "openai:gpt-4o-mini").available

    assert available(await krt.comparisons.models(ada))
    assert not available(await krt.comparisons.models(bob))
    assert not available(await krt.comparisons.models())


async def test_a_saved_endpoint_lists_its_models_for_its_user(krt: Runtime, server: FakeLLMServer) -> None:
    ada = await owner(krt)
    await krt.credentials.save(ada, "openai-compatible:mine", RIGHT, f"{server.url}/v1")
    ids = {e.id for e in await krt.comparisons.models(ada) if e.available}
    assert {"openai-compatible:mine/local-a", "openai-compatible:mine/local-b"} <= ids
    assert bearers(server, "/v1/models") == [f"Bearer {RIGHT}"]
    others = {e.id for e in await krt.comparisons.models(await owner(krt, "bob@example.org"))}
    assert "openai-compatible:mine/local-a" not in others
