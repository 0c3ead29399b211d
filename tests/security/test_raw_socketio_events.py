"""A hand-made Socket.IO client against the running app: the page's event channel is an API
too, and anything the frontend would never send can be sent to it.

Tried: events with no session; connecting with another user's client token (her tab
closed, and her tab still open), with and without the hydrate, with the attacker's own
cookie or none; arguments of the wrong type; oversized arguments; unknown handlers,
backend-only (`_`-prefixed) methods, Reflex's generic setters aimed at server-only
fields. Each time: nothing saved changes, and no message received carries any of Ada's
data (her email, prompt, comparison id, share link, API token, session).

Field class: Reflex state-event authorization and client-token handling (a client token
is a bearer credential for the tab's whole server-side state); Open WebUI's Socket.IO
events that skipped authorization; Dify/LangChain apps trusting client-sent state.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from state.account import AccountState
from state.auth import AuthState
from state.compare import CompareState
from state.history import HistoryState
from state.keys import KeysState
from state.projects import ProjectsState
from state.share_dialog import ShareDialogState
from tests.security.live_app import LiveApp, Scenario, saved_rows
from tests.security.raw_socket import RawTab, event_name

pytestmark = [pytest.mark.redis]

C, P, K, A, S, H = CompareState, ProjectsState, KeysState, AccountState, ShareDialogState, HistoryState


async def _tab(app: LiveApp, whose: str, token: str | None = None) -> RawTab:
    tab = RawTab(app.url, token)
    app.tabs.append((whose, tab))
    return tab


def _foreign(tab: RawTab, scenario: Scenario) -> list[str]:
    """Which of Ada's markers the server sent this tab (its own input echoed back aside)."""
    text = tab.served_text()
    return [marker for marker in scenario.ada_markers if marker in text]


# Every handler that reads or changes saved data, with arguments aimed at Ada's things.
def _data_events(scenario: Scenario) -> list[tuple[str, dict[str, Any], str]]:
    ada_ids = {"comparison": scenario.ada_comparison}
    return [
        (event_name(C, "load"), {}, f"/?c={ada_ids['comparison']}"),
        (event_name(C, "run"), {}, "/"),
        (event_name(C, "stop"), {}, "/"),
        (event_name(C, "retry_pane"), {"pane_id": "p0"}, "/"),
        (event_name(C, "stream"), {}, "/"),
        (event_name(H, "load"), {}, "/history"),
        (event_name(P, "load"), {}, "/projects"),
        (event_name(P, "create"), {"form": {"name": "sneaky"}}, "/projects"),
        (event_name(P, "invite"), {"form": {"email": "x@example.org", "role": "owner"}}, "/projects"),
        (event_name(A, "load"), {}, "/settings"),
        (event_name(A, "create_token"), {"form": {"name": "sneaky"}}, "/settings"),
        (event_name(A, "save_budget"), {"form": {"budget": "0.01"}}, "/settings"),
        (event_name(A, "sign_out_everywhere"), {}, "/settings"),
        (event_name(K, "load"), {}, "/settings"),
        (event_name(K, "save_key"), {"form": {"provider": "openai", "api_key": "x" * 20}}, "/"),
        (event_name(S, "set_open"), {"value": True}, "/"),
        (event_name(S, "create_link"), {}, "/"),
    ]


async def test_events_without_a_session_change_nothing_and_show_nothing(
    live_app: LiveApp, scenario: Scenario
) -> None:
    before = saved_rows(live_app)
    tab = await (await _tab(live_app, "anonymous")).connect(cookie=None, path="/")
    await tab.settle()
    assert any(path.startswith("/login") for path in tab.redirects()), tab.redirects()
    for name, payload, path in _data_events(scenario):
        await tab.send(name, payload, path)
    await tab.settle(quiet_s=1.5)
    await tab.close()
    assert saved_rows(live_app) == before
    assert len([p for p in tab.redirects() if p.startswith("/login")]) >= 10
    assert _foreign(tab, scenario) == []


@pytest.mark.parametrize("cookie", ["none", "attacker's own"])
@pytest.mark.parametrize("hydrate", [True, False], ids=["hydrates", "skips-hydrate"])
async def test_a_closed_tabs_client_token_gives_none_of_its_data(
    live_app: LiveApp, scenario: Scenario, cookie: str, hydrate: bool
) -> None:
    # Ada's tab: opened with her cookie, shown her data, then closed; its state stays behind.
    ada = await (await _tab(live_app, "ada")).connect(cookie=live_app.ada.session_token, path="/settings")
    await ada.wait_for(live_app.ada.email)
    await ada.send(event_name(C, "load"), {}, f"/?c={scenario.ada_comparison}")
    await ada.wait_for(scenario.ada_comparison)
    await ada.settle()
    await ada.close()
    await asyncio.sleep(0.5)

    before = saved_rows(live_app)
    eve_cookie = live_app.eve.session_token if cookie == "attacker's own" else None
    thief = await (await _tab(live_app, "eve", token=ada.token)).connect(cookie=eve_cookie, hydrate=hydrate)
    if not hydrate:  # ask for the whole state, or any data, without the hydrate that carries cookies
        await thief.send("reflex___state____state.hydrate", {})
        await thief.send("reflex___state____state.hydrate_and_load", {})
    # What the state would serve: the page's data (no ids typed: the thief knows none).
    for name, payload, path in [
        (event_name(C, "load"), {}, "/"),
        (event_name(C, "stream"), {}, "/"),
        (event_name(S, "set_open"), {"value": True}, "/"),
        (event_name(A, "load"), {}, "/settings"),
        (event_name(K, "load"), {}, "/settings"),
    ]:
        await thief.send(name, payload, path)
    await thief.settle(quiet_s=1.5)
    await thief.close()
    assert _foreign(thief, scenario) == [], "another tab's state reached the thief"
    assert saved_rows(live_app) == before

    # Ada's own browser (same token, her cookie) still gets her data back from the server.
    back = await (await _tab(live_app, "ada", token=ada.token)).connect(cookie=live_app.ada.session_token)
    await back.wait_for(live_app.ada.email)
    await back.close()


async def test_an_open_tabs_client_token_is_replaced_not_shared(
    live_app: LiveApp, scenario: Scenario
) -> None:
    ada = await (await _tab(live_app, "ada")).connect(cookie=live_app.ada.session_token, path="/settings")
    await ada.wait_for(live_app.ada.email)
    await ada.settle()
    thief = await (await _tab(live_app, "eve", token=ada.token)).connect(cookie=None, path="/settings")
    await thief.settle()
    await thief.send(event_name(A, "load"), {}, "/settings")
    await thief.settle()
    await thief.close()
    await ada.close()
    assert thief.new_tokens and thief.new_tokens[0] != ada.token
    assert _foreign(thief, scenario) == []


async def test_wrong_argument_types_change_nothing(live_app: LiveApp, scenario: Scenario) -> None:
    eve = await (await _tab(live_app, "eve")).connect(cookie=live_app.eve.session_token)
    await eve.wait_for(live_app.eve.email)
    await eve.settle()
    before = saved_rows(live_app)
    weird: list[Any] = [None, 12, 3.5, True, [1, "a"], {"$ne": None}, "x" * 300, {"__class__": "dict"}]
    targets = [
        (P, "create", "form"),
        (P, "invite", "form"),
        (P, "rename", "form"),
        (P, "set_role", "email"),
        (P, "remove", "email"),
        (P, "select", "project_id"),
        (A, "revoke_token", "token_id"),
        (A, "save_budget", "form"),
        (A, "change_password", "form"),
        (K, "save_key", "form"),
        (K, "delete_key", "provider"),
        (S, "revoke", "share_id"),
        (C, "set_pane_temperature", "value"),
        (C, "retry_pane", "pane_id"),
        (C, "set_project", "project_id"),
    ]
    for cls, handler, argument in targets:
        for value in weird:
            await eve.send(event_name(cls, handler), {argument: value, "role": value, "deployment": value})
    # Payloads and messages that are not what the protocol says at all.
    await eve.send(event_name(P, "create"), {"form": {"name": "ok"}, "extra": 1})
    malformed = ("not json", ["list"], 42, {"name": 42}, {"name": event_name(P, "load"), "payload": []})
    for raw in malformed:
        await eve.send_raw(raw)
    await eve.settle(quiet_s=1.5)
    assert eve.sio.connected, "the server dropped a client for malformed events"
    assert saved_rows(live_app) == before
    # The connection still works and still acts as Eve only.
    await eve.send(event_name(C, "set_prompt"), {"value": "still here"})
    await eve.wait_for("still here")
    await eve.close()
    assert _foreign(eve, scenario) == []


async def test_oversized_arguments_are_refused_by_the_socket(live_app: LiveApp, scenario: Scenario) -> None:
    before = saved_rows(live_app)
    eve = await (await _tab(live_app, "eve")).connect(cookie=live_app.eve.session_token)
    await eve.wait_for(live_app.eve.email)
    await eve.settle()
    # Over the 1 MB bound of a Socket.IO message (REFLEX_SOCKET_MAX_HTTP_BUFFER_SIZE): dropped.
    await eve.send(event_name(C, "set_prompt"), {"value": "A" * 2_000_000})
    await asyncio.wait_for(eve.disconnected.wait(), 20)
    assert "A" * 1000 not in eve.text()

    # Under the bound but over the prompt limit: a message on the page, nothing saved.
    eve2 = await (await _tab(live_app, "eve")).connect(cookie=live_app.eve.session_token)
    await eve2.wait_for(live_app.eve.email)
    await eve2.settle()
    await eve2.send(event_name(C, "set_prompt"), {"value": "B" * 900_000})
    await eve2.send(event_name(C, "run"))
    await eve2.wait_for("The prompt is longer than")
    await eve2.close()
    assert saved_rows(live_app) == before
    assert _foreign(eve2, scenario) == []


async def test_unknown_and_backend_only_handlers_do_nothing(live_app: LiveApp, scenario: Scenario) -> None:
    eve = await (await _tab(live_app, "eve")).connect(cookie=live_app.eve.session_token)
    await eve.wait_for(live_app.eve.email)
    await eve.settle()
    before = saved_rows(live_app)
    compare, auth = C.get_full_name(), AuthState.get_full_name()
    ada_principal = {"user_id": "x", "email": live_app.ada.email, "display_name": "Ada", "is_admin": True}
    attempts: list[tuple[str, dict[str, Any]]] = [
        (f"{compare}.no_such_handler", {}),
        (f"{compare}._cancel", {"run_ids": None}),
        (f"{compare}._prefill", {"models": "simulated:swift", "prompt": "x"}),
        (f"{P.get_full_name()}._act", {"action": "delete", "args": []}),
        (f"{P.get_full_name()}._reload", {}),
        (f"{auth}._signed_in", {"result": {"token": "a-token-the-attacker-made-up"}}),
        (f"{auth}._show", {"principal": ada_principal}),
        (f"{auth}.signed_in_user", {}),
        ("reflex___state____state.no_such_state.load", {}),
        ("no_dots_at_all", {}),
        ("_redirect", {"path": "/evil"}),
        ("_call_script", {"javascript_code": "1"}),
        # Reflex's generic setters aimed at fields no handler lets a browser set.
        (event_name(C, "setvar"), {"var_name": "comparison_id", "value": scenario.ada_comparison}),
        (event_name(C, "setvar"), {"var_name": "_generation", "value": 0}),
        (event_name(AuthState, "setvar"), {"var_name": "user_email", "value": live_app.ada.email}),
        (event_name(AuthState, "setvar"), {"var_name": "is_admin", "value": True}),
        (event_name(AuthState, "setvar"), {"var_name": "_session_token", "value": scenario.ada_markers[-1]}),
        (
            "reflex___state____state.reflex___state____update_vars_internal_state.update_vars_internal",
            {
                "vars": {
                    f"{compare}.comparison_id_rx_state_": scenario.ada_comparison,
                    f"{auth}.user_email_rx_state_": live_app.ada.email,
                    f"{auth}.is_admin_rx_state_": True,
                    # The session cookie is no client var any more; planting the server-side
                    # field, with a made-up value and with Ada's real session, changes nothing.
                    f"{auth}.session_token_rx_state_": "a-cookie-the-attacker-made-up",
                    f"{auth}._session_token_rx_state_": live_app.ada.session_token,
                }
            },
        ),
    ]
    for name, payload in attempts:
        await eve.send(name, payload)
    await eve.settle(quiet_s=1.5)
    # Then what the planted fields would have been used for: none of Ada's things open.
    await eve.send(event_name(C, "load"), {}, "/")
    await eve.send(event_name(A, "load"), {}, "/settings")
    await eve.settle(quiet_s=1.5)
    await eve.close()
    assert saved_rows(live_app) == before
    assert eve.var(AuthState, "is_admin") in (None, False)
    assert _foreign(eve, scenario) == []


@pytest.mark.parametrize("hydrate", [True, False], ids=["hydrates-without-cookie", "skips-hydrate"])
async def test_a_closed_tabs_live_stream_reaches_no_other_socket(
    live_app: LiveApp, scenario: Scenario, hydrate: bool
) -> None:
    """Ada runs a long comparison and closes her tab while it streams; a socket that connects
    with her tab's token receives none of the live answers the tab's stream would push."""
    ada = await (await _tab(live_app, "ada")).connect(cookie=live_app.ada.session_token, path="/")
    await ada.wait_for(live_app.ada.email)
    await ada.settle()
    await ada.send(event_name(C, "set_prompt"), {"value": f"ada-live-{live_app.tag} [[simulate:tokens=600]]"})
    await ada.send(event_name(C, "set_picker"), {"value": "simulated:steady"})
    await ada.send(event_name(C, "add_pane"))
    await ada.settle()
    await ada.send(event_name(C, "run"))
    await ada.wait_for("__llmLive.apply")  # her stream is live (6 s of text at 100 tokens/s)
    await ada.close()

    thief = await (await _tab(live_app, "eve", token=ada.token)).connect(cookie=None, hydrate=hydrate)
    await thief.settle(quiet_s=1.5, timeout_s=5.0)
    await asyncio.sleep(1.0)
    await thief.close()
    assert "__llmLive.apply" not in thief.text(), "the closed tab's stream pushed to another socket"
    assert _foreign(thief, scenario) == []
