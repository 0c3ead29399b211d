"""The Settings page's handlers (AccountState, KeysState), called directly on state instances."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import reflex as rx

from backend.i18n import said_in
from backend.providers.discovery import vertexai_availability
from backend.runtime import Runtime
from backend.services.budgets import parse_budget
from backend.services.credentials import KEY_REFUSED, SavedKey
from backend.settings import Settings
from devstack.postgres import migrated_sqlite_url
from state.account import AccountState
from state.compare import CompareState
from state.keys import (
    DEPLOYMENT,
    GOOGLE_MISSING_ASK_ADMIN,
    NEVER_TESTED,
    NOT_SET,
    TEST_FAILED,
    TEST_OK,
    USER,
    KeysState,
    google_status_text,
)
from state.keys import test_fields as key_test_fields  # aliased: pytest would collect test_*
from state.language import LanguageState
from state.rows import PaneRow
from tests.backend.runtime_support import owner
from tests.state.support import in_tree, sign_in
from tests.support.fake_llm_server import FakeLLMServer
from tests.support.keys import ADMIN_EMAIL, admin, fake_server, runtime_on

A, K = AccountState, KeysState
KEY = "sk-state-test-0123456789-wxyz"
PASSWORD = "correct horse battery"


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with fake_server(api_key=KEY) as fake:
        yield fake


@pytest.fixture
async def rt(server: FakeLLMServer, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with runtime_on(server, migrated_sqlite_url(tmp_path), tmp_path) as runtime:
        yield runtime


def state_text(state: rx.State) -> str:
    """Everything the state would send to the browser, as one string."""
    return repr({name: getattr(state, name) for name in state.base_vars})


async def signed_in_state(cls: type[Any], rt: Runtime, email: str = "ada@example.org") -> Any:
    state = in_tree(cls)
    await sign_in(state, rt, email)
    return state


# --- signed out -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("handler", "args"),
    [
        (A.load, ()),
        (A.change_password, ({"current": "a", "new": "b", "confirm": "b"},)),
        (A.sign_out_everywhere, ()),
        (A.save_budget, ({"budget": "5"},)),
        (A.create_token, ({"name": "ci"},)),
        (A.revoke_token, ("x",)),
        (K.load, ()),
        (K.save_key, ({"provider": "openai", "scope": USER, "api_key": KEY},)),
        (K.delete_key, ("openai", False)),
        (K.test_key, ("openai", False)),
    ],
)
async def test_every_handler_sends_a_signed_out_browser_to_login(
    rt: Runtime, handler: Any, args: tuple[Any, ...]
) -> None:
    state = in_tree(A if handler.fn.__qualname__.startswith("AccountState") else K)
    result = await handler.fn(state, *args)
    assert result is not None and "/login" in str(result)
    assert await rt.credentials.list_keys(await owner(rt)) == []


# --- account ----------------------------------------------------------------------------------


async def test_load_shows_the_account_budget_and_tokens(rt: Runtime) -> None:
    state = await signed_in_state(A, rt)
    await rt.accounts.create_api_token(await owner(rt), "laptop")
    assert await A.load.fn(state) is None
    assert state.email == "ada@example.org" and state.name == "Ada"
    assert state.budget_label == "No monthly limit." and state.budget_input == ""
    assert said_in("en", state.spent_label) == "Spent this month (UTC): $0.00."
    [token] = state.tokens
    assert token.name == "laptop" and token.prefix.startswith("llmd_") and token.last_used == "never"


async def test_change_password_flags_fields_then_succeeds(rt: Runtime) -> None:
    signed_up = await rt.accounts.sign_up("eve@example.org", PASSWORD)
    state = await signed_in_state(A, rt, "eve@example.org")
    await A.change_password.fn(state, {"current": PASSWORD, "new": "new password 1", "confirm": "other"})
    assert state.confirm_password_error == "The two new passwords differ."
    await A.change_password.fn(
        state, {"current": "wrong", "new": "new password 1", "confirm": "new password 1"}
    )
    assert state.current_password_error == "Incorrect password."
    await A.change_password.fn(state, {"current": PASSWORD, "new": "short", "confirm": "short"})
    assert state.new_password_error != ""
    await A.change_password.fn(
        state, {"current": PASSWORD, "new": "new password 1", "confirm": "new password 1"}
    )
    assert state.password_errors == {} and said_in("en", state.password_message).startswith(
        "Password changed"
    )
    # The sign-up's own session was another browser: signed out. This tab stays signed in.
    assert await rt.authenticate(signed_up.token) is None
    assert await A.load.fn(state) is None
    await rt.accounts.sign_in("eve@example.org", "new password 1")


async def test_sign_out_everywhere_keeps_this_browser(rt: Runtime) -> None:
    other = await rt.accounts.sign_up("eve@example.org", PASSWORD)
    state = await signed_in_state(A, rt, "eve@example.org")
    await A.sign_out_everywhere.fn(state)
    assert said_in("en", state.sessions_message) == "Signed out of 1 other browser. This one stays signed in."
    assert await rt.authenticate(other.token) is None
    assert await A.load.fn(state) is None  # still signed in


async def test_a_japanese_tab_is_told_it_signed_out_elsewhere_in_japanese(rt: Runtime) -> None:
    await rt.accounts.sign_up("eve@example.org", PASSWORD)  # two other browsers
    await rt.accounts.sign_in("eve@example.org", PASSWORD)
    state = await signed_in_state(A, rt, "eve@example.org")
    (await state.get_state(LanguageState)).lang_cookie = "ja"
    await A.sign_out_everywhere.fn(state)
    assert said_in("ja", state.sessions_message) == (
        "他のブラウザ 2 件からサインアウトしました。このブラウザはサインインしたままです。"
    )
    await A.create_token.fn(state, {"name": "  "})  # a service's refusal with a figure
    assert said_in("ja", state.token_error).startswith("トークンに名前を付けてください（1〜")


async def test_budget_is_validated_saved_and_shown(rt: Runtime) -> None:
    state = await signed_in_state(A, rt)
    await A.save_budget.fn(state, {"budget": "lots"})
    assert state.budget_error.startswith("Enter an amount")
    await A.save_budget.fn(state, {"budget": "-3"})
    assert "between 0 and" in state.budget_error
    await A.save_budget.fn(state, {"budget": "$12.50"})
    assert state.budget_error == "" and state.budget_message == "Budget saved."
    assert said_in("en", state.budget_label) == "Monthly limit: $12.50." and state.budget_input == "12.50"
    assert (await rt.budgets.spend((await owner(rt)).user_id)).budget_usd == 12.5
    await A.save_budget.fn(state, {"budget": ""})
    assert state.budget_label == "No monthly limit."


def test_parse_budget() -> None:
    assert parse_budget(" $1,200.5 ") == 1200.5
    assert parse_budget("") is None
    for bad in ("abc", "nan", "inf"):
        with pytest.raises(ValueError):
            parse_budget(bad)


async def test_a_new_token_is_shown_once_listed_by_prefix_and_revocable(rt: Runtime) -> None:
    state = await signed_in_state(A, rt)
    await A.create_token.fn(state, {"name": "  "})
    assert state.token_error and state.new_token == ""
    await A.create_token.fn(state, {"name": "ci"})
    token = state.new_token
    assert token.startswith("llmd_")
    [row] = state.tokens
    assert row.prefix == token[:12] + "…" and token not in row.prefix
    assert (await rt.accounts.principal_for_api_token(token)) is not None
    await A.load.fn(state)  # a reload: shown once only
    assert state.new_token == ""
    await A.revoke_token.fn(state, row.id)
    assert state.tokens == []
    assert (await rt.accounts.principal_for_api_token(token)) is None


# --- provider keys ----------------------------------------------------------------------------


async def test_keys_are_listed_per_provider_and_a_saved_key_only_ever_masked(rt: Runtime) -> None:
    state = await signed_in_state(K, rt)
    await K.load.fn(state)
    assert [(r.provider, r.hint, r.is_set) for r in state.keys] == [
        ("openai", NOT_SET, False),
        ("anthropic", NOT_SET, False),
    ]
    assert state.is_admin is False and state.deployment_keys == []
    await K.save_key.fn(state, {"provider": "openai", "scope": USER, "api_key": KEY})
    assert state.keys[0].hint == "…wxyz" and state.keys[0].is_set
    assert said_in("en", state.message) == "OpenAI key saved (…wxyz)."
    assert KEY not in state_text(state) and "0123456789" not in state_text(state)


def test_a_key_test_failure_kept_in_english_is_shown_in_the_readers_language() -> None:
    """The stored text is English (it has the provider's words in it); the row says it again."""
    tested = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
    key = SavedKey(
        "openai-compatible:gone",
        "Endpoint gone",
        "…wxyz",
        "http://127.0.0.1:9/v1",
        tested,
        False,
        tested_at=tested,
        test_ok=False,
        test_message="Could not check the key: connection refused",
    )
    shown = key_test_fields(key)["test_message"]  # kept in every language: the page picks its own
    assert said_in("ja", shown) == "キーを確認できませんでした: connection refused"
    assert said_in("en", shown) == "Could not check the key: connection refused"
    refused = dataclasses.replace(key, test_message=KEY_REFUSED)
    assert key_test_fields(refused)["test_message"] == KEY_REFUSED  # a msgid: the page translates it


def test_the_vertex_ai_line_says_its_reason_in_the_readers_language() -> None:
    unset = vertexai_availability(Settings(_env_file=None, google_cloud_project=""))
    shown = google_status_text(unset, project="", location="us-central1", token=False, admin=True)
    assert said_in("en", shown) == "Vertex AI models cannot run: GOOGLE_CLOUD_PROJECT is not set."
    ja = "Vertex AI のモデルは実行できません: GOOGLE_CLOUD_PROJECT が設定されていません。"
    assert said_in("ja", shown) == ja  # the reason too (it was left in English)


async def test_a_japanese_tab_is_told_a_key_was_saved_in_japanese(rt: Runtime) -> None:
    state = await signed_in_state(K, rt)
    (await state.get_state(LanguageState)).lang_cookie = "ja"
    await K.save_key.fn(state, {"provider": "openai", "scope": USER, "api_key": KEY})
    assert said_in("ja", state.message) == "OpenAI のキーを保存しました（…wxyz）。"


async def test_test_key_shows_its_result_on_the_row_and_a_reload_keeps_it(rt: Runtime) -> None:
    state = await signed_in_state(K, rt)
    await K.save_key.fn(state, {"provider": "openai", "scope": USER, "api_key": KEY})
    assert (state.keys[0].test_state, state.keys[0].tested) == (NEVER_TESTED, "")
    await K.test_key.fn(state, "openai", False)
    assert (state.keys[0].test_state, state.keys[0].test_message) == (TEST_OK, "Key works")
    tested = state.keys[0].tested  # kept in every language: the page shows its own
    assert said_in("en", tested).endswith(" UTC") and said_in("ja", tested).endswith("（UTC）")
    await K.save_key.fn(state, {"provider": "anthropic", "scope": USER, "api_key": "sk-bad-000000000-zzzz"})
    await K.test_key.fn(state, "anthropic", False)
    assert state.keys[1].test_state == TEST_FAILED and "refused this key" in state.keys[1].test_message
    assert "sk-bad-000000000" not in state_text(state)
    await K.load.fn(state)  # a new visit: the outcomes come from the database
    assert [r.test_state for r in state.keys] == [TEST_OK, TEST_FAILED]
    await K.save_key.fn(state, {"provider": "anthropic", "scope": USER, "api_key": KEY})
    assert state.keys[1].test_state == NEVER_TESTED  # a new key has not been tested


async def test_bad_saves_show_on_their_row_and_a_delete_clears_the_key(rt: Runtime) -> None:
    state = await signed_in_state(K, rt)
    await K.load.fn(state)
    await K.save_key.fn(state, {"provider": "anthropic", "scope": USER, "api_key": ""})
    assert state.keys[1].error == "Paste the key." and state.keys[0].error == ""
    await K.save_key.fn(state, {"provider": "anthropic", "scope": USER, "api_key": KEY})
    await K.delete_key.fn(state, "anthropic", False)
    assert state.keys[1].hint == NOT_SET and state.message == "Key deleted."


async def test_endpoints_are_saved_with_their_address_and_errors_shown(
    rt: Runtime, server: FakeLLMServer
) -> None:
    state = await signed_in_state(K, rt)
    await K.save_endpoint.fn(state, {"scope": USER, "name": "lab", "base_url": "nope", "api_key": KEY})
    assert state.endpoint_error.startswith("Enter the endpoint's address")
    await K.save_endpoint.fn(
        state, {"scope": USER, "name": "lab", "base_url": f"{server.url}/v1", "api_key": KEY}
    )
    [row] = state.endpoints
    assert (row.label, row.base_url, row.hint) == ("lab", f"{server.url}/v1", "…wxyz")
    assert state.endpoint_error == ""
    await K.test_key.fn(state, row.provider, False)
    assert (state.endpoints[0].test_state, state.endpoints[0].test_message) == (TEST_OK, "Key works")


async def test_only_admins_see_and_change_deployment_keys(rt: Runtime) -> None:
    user = await signed_in_state(K, rt)
    await K.save_key.fn(user, {"provider": "openai", "scope": DEPLOYMENT, "api_key": KEY})
    assert await rt.credentials.list_keys(await owner(rt)) == []
    await K.save_endpoint.fn(user, {"scope": DEPLOYMENT, "name": "lab", "base_url": "http://h/v1"})
    assert "admin" in user.deployment_endpoint_error

    root = await admin(rt)
    state = await signed_in_state(K, rt, ADMIN_EMAIL)
    await K.load.fn(state)
    assert state.is_admin and [r.provider for r in state.deployment_keys] == ["openai", "anthropic"]
    await K.save_key.fn(state, {"provider": "openai", "scope": DEPLOYMENT, "api_key": KEY})
    assert state.deployment_keys[0].hint == "…wxyz" and state.keys[0].hint == NOT_SET
    assert [k.provider for k in await rt.credentials.list_deployment_keys(root)] == ["openai"]


# --- the compare page shows a budget refusal --------------------------------------------------


async def test_an_over_budget_run_shows_in_the_limit_slot_and_starts_nothing(rt: Runtime) -> None:
    await rt.accounts.set_budget(await owner(rt), 0.0001)
    await rt.credentials.save(await owner(rt), "openai", KEY)
    state = await signed_in_state(CompareState, rt)
    state.panes = [PaneRow(pane_id="p0", model="openai:gpt-4o", label="GPT-4o", max_tokens=2000)]
    state.prompt = "Explain bloom filters"
    await CompareState.run.fn(state)
    assert "would pass your monthly budget of $0.0001" in state.errors["limit"]
    assert state.comparison_id == ""


# --- Google Cloud (Vertex AI) credentials -------------------------------------------------------


@pytest.fixture
async def google_rt(server: FakeLLMServer, tmp_path: Path) -> AsyncIterator[Runtime]:
    url = f"sqlite:///{tmp_path / 'google.db'}"
    async with runtime_on(
        server, url, tmp_path, google_cloud_project="proj-1", vertex_location="europe-west4"
    ) as r:
        yield r


async def check_google(state: Any) -> None:
    assert [e async for e in K.check_google.fn(state)] == []


async def test_missing_google_credentials_are_shown(
    google_rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-such-key.json"))
    user = await signed_in_state(K, google_rt)
    await check_google(user)
    assert user.google_checked and not user.google_ok
    assert user.google_status == GOOGLE_MISSING_ASK_ADMIN  # no file paths for everyone

    await admin(google_rt)
    root = await signed_in_state(K, google_rt, ADMIN_EMAIL)
    await check_google(root)
    assert not root.google_ok
    assert "no-such-key.json" in root.google_status
    assert "gcloud auth application-default login" in root.google_status


async def test_found_google_credentials_are_shown(
    google_rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adc = tmp_path / "application_default_credentials.json"
    adc.write_text(
        '{"type": "authorized_user", "client_id": "i", "client_secret": "s", "refresh_token": "r"}'
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    state = await signed_in_state(K, google_rt)
    await check_google(state)
    assert state.google_ok
    assert said_in("en", state.google_status) == (
        "Ready: project proj-1, region europe-west4, credentials found (Application Default Credentials)."
    )
    assert "refresh_token" not in state_text(state)

    ja = await signed_in_state(K, google_rt)  # a tab whose language is Japanese
    (await ja.get_state(LanguageState)).lang_cookie = "ja"
    await check_google(ja)
    assert said_in("ja", ja.google_status) == (
        "準備完了: プロジェクト proj-1、リージョン europe-west4、"
        "認証情報あり (Application Default Credentials)。"
    )


async def test_checking_google_needs_a_session(google_rt: Runtime) -> None:
    state = in_tree(K)
    events = [e async for e in K.check_google.fn(state)]
    assert events and "/login" in str(events[0])
    assert not state.google_checked
