"""The real app in a subprocess for the security tests that need it whole: raw Socket.IO
clients, the secrets scan and the History browser check.

It runs the way a deployment does: `reflex run --env prod`, Reflex's session state and the
app's cache and limits in Redis (a database of its own, flushed at the end), a known
ENCRYPTION_KEY, and providers that refuse keys and echo them back: the environment's
OpenAI and Anthropic keys are wrong on purpose (401 with the key in the message), and an
OpenAI-compatible endpoint with its own key answers with hostile markup. Every secret is
unique to this run, so finding it anywhere is a leak, never a coincidence.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.fernet import Fernet
from redis import Redis

from devstack.accounts import TestAccount, account_in
from devstack.app_process import running_app
from tests.browser.conftest import HOSTILE_REPLY
from tests.security.echo_provider import echoing_provider
from tests.support.fake_llm_server import FakeLLMServer

if TYPE_CHECKING:
    from tests.security.raw_socket import RawTab

UNTRACKED_COLUMNS = frozenset({"api_tokens.last_used_at"})
REDIS_URL = os.environ.get("LLMDASH_TEST_SECURITY_REDIS_URL", "redis://127.0.0.1:6379/13")
HOSTILE_MODEL = "openai-compatible:hostile/evil"


LOGGING_SETUP = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
for name in ("backend", "workers", "state", "openai", "anthropic", "httpx", "httpcore", "langchain_core"):
    logging.getLogger(name).setLevel(logging.DEBUG)
"""


@dataclass
class LiveApp:
    url: str
    data_dir: Path
    redis_url: str
    tag: str
    secrets: dict[str, str]  # what must never leak, by name
    ada: TestAccount  # the first account: the admin
    eve: TestAccount
    echoed: list[str] = field(default_factory=list)  # keys the echoing provider was shown
    tabs: list[tuple[str, RawTab]] = field(default_factory=list)  # (whose, raw tab) of every test

    def log(self) -> str:
        return (self.data_dir / "app.log").read_text(errors="replace")

    @property
    def database(self) -> Path:
        return self.data_dir / "dashboard.db"


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    tag = uuid.uuid4().hex[:12]
    secrets = {
        "ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "OPENAI_API_KEY": f"sk-env-openai-{tag}-SECRET",
        "ANTHROPIC_API_KEY": f"sk-ant-env-{tag}-SECRET",
        "endpoint key": f"sk-endpoint-{tag}-SECRET",
        "ada password": f"ada-password-{tag}",
        "eve password": f"eve-password-{tag}",
    }
    tmp = tmp_path_factory.mktemp("security-app")
    data_dir = tmp / "data"
    # Production sends Python's logging somewhere; here to the app's log, talkative where secrets
    # could slip in (the provider SDKs, HTTP clients, our own code), so the scan reads all of it.
    site = tmp / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(LOGGING_SETUP)
    redis = Redis.from_url(REDIS_URL)
    hostile = FakeLLMServer(reply=HOSTILE_REPLY, openai_models=["evil"], api_key=secrets["endpoint key"])
    hostile.start()
    try:
        with echoing_provider() as (echo_url, echoed):
            endpoints = {
                "hostile": {
                    "base_url": f"{hostile.url}/v1",
                    "api_key": secrets["endpoint key"],
                    "models": "evil",
                }
            }
            env = {
                "ENCRYPTION_KEY": secrets["ENCRYPTION_KEY"],
                "OPENAI_BASE_URL": f"{echo_url}/v1",
                "OPENAI_API_KEY": secrets["OPENAI_API_KEY"],
                "ANTHROPIC_BASE_URL": echo_url,
                "ANTHROPIC_API_KEY": secrets["ANTHROPIC_API_KEY"],
                "OPENAI_COMPATIBLE_ENDPOINTS": json.dumps(endpoints),
                "REDIS_URL": REDIS_URL,
                "REDIS_KEY_PREFIX": f"llmdash-sec:{tag}:",
                "RATE_LIMIT_REQUESTS_PER_MINUTE": "0",
                "RATE_LIMIT_TOKENS_PER_DAY": "0",
                "GRANIAN_WORKERS": "1",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH", "")])),
                # Info, not the default warning: the scan reads what a production log keeps.
                "REFLEX_LOGLEVEL": "info",
                # A build directory of its own: never rewrite the checkout's .web under another app.
                "REFLEX_WEB_WORKDIR": str(tmp / "web"),
                "REFLEX_STATES_WORKDIR": str(tmp / "states"),
            }
            with running_app(data_dir, env) as url:
                ada = account_in(data_dir, f"ada-{tag}@example.org", secrets["ada password"], name="Ada")
                eve = account_in(data_dir, f"eve-{tag}@example.org", secrets["eve password"], name="Eve")
                yield LiveApp(url, data_dir, REDIS_URL, tag, secrets, ada, eve, echoed)
    finally:
        hostile.stop()
        redis.flushdb()
        redis.close()


# --- what is saved, read straight from the app's database file --------------------------------
def saved_rows(app: LiveApp) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of the running app's SQLite file (read-only)."""
    with sqlite3.connect(f"file:{app.database}?mode=ro", uri=True) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        snapshot = {}
        for table in sorted(tables):
            columns = [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]
            kept = [c for c in columns if f"{table}.{c}" not in UNTRACKED_COLUMNS]
            rows = db.execute(f'SELECT {", ".join(chr(34) + c + chr(34) for c in kept)} FROM "{table}"')
            snapshot[table] = sorted((tuple(row) for row in rows), key=repr)
    return snapshot


def runs_final(app: LiveApp, comparison_id: str) -> bool:
    with sqlite3.connect(f"file:{app.database}?mode=ro", uri=True) as db:
        statuses = [
            r[0] for r in db.execute("SELECT status FROM runs WHERE comparison_id = ?", (comparison_id,))
        ]
    return bool(statuses) and all(s in ("done", "error", "cancelled") for s in statuses)


# --- one scenario everybody builds on ---------------------------------------------------------
@dataclass
class Scenario:
    """What Ada (the admin) and Eve did through their own tabs, and what identifies Ada's data."""

    ada_comparison: str
    ada_share_link: str
    ada_new_api_token: str
    ada_markers: list[str]  # strings that only Ada's data contains
    eve_comparison: str
    keys: dict[str, str]  # provider keys typed into the Settings page


async def _wait(predicate: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _act(app: LiveApp) -> Scenario:
    from backend.auth.session_cookie import SESSION_COOKIE
    from state.account import AccountState
    from state.auth import AuthState
    from state.compare import CompareState
    from state.keys import KeysState
    from state.share_dialog import ShareDialogState
    from tests.security.raw_socket import RawTab, event_name

    keys = {
        "ada's own OpenAI key": f"sk-ada-own-{app.tag}-SECRET-adak",
        "deployment Anthropic key": f"sk-ant-deploy-{app.tag}-SECRET-depk",
    }
    app.secrets.update(keys)
    C, K, A, S = CompareState, KeysState, AccountState, ShareDialogState

    # A failed and a good sign-in through the login form (passwords travel only in these events).
    login = await RawTab(app.url).connect(path="/login")
    app.tabs.append(("anonymous", login))
    wrong = f"wrong-password-{app.tag}"
    app.secrets["wrong password"] = wrong
    await login.send(
        event_name(AuthState, "sign_in"), {"form": {"email": app.eve.email, "password": wrong}}, "/login"
    )
    await login.settle()
    good = {"email": app.eve.email, "password": app.secrets["eve password"]}
    await login.send(event_name(AuthState, "sign_in"), {"form": good}, "/login")
    await login.wait_for(app.eve.email)
    # The page trades its one-time grant for the HttpOnly cookie, then navigates: the same
    # connection proved the new session by signing in, and the tab keeps its data.
    await _wait(lambda: bool(login.scripts()), "the cookie grant")
    answer = await login.trade_grant()
    assert answer.status_code == 204 and "httponly" in answer.headers["set-cookie"].lower()
    app.secrets["eve session from the login form"] = answer.cookies[SESSION_COOKIE]
    await login.send(event_name(AccountState, "load"), {}, "/settings")
    await _wait(lambda: login.var(AccountState, "email") == app.eve.email, "Settings after sign-in")
    await login.close()

    ada = await RawTab(app.url).connect(cookie=app.ada.session_token)
    app.tabs.append(("ada", ada))
    await ada.wait_for(app.ada.email)
    await ada.settle()
    for provider, scope, key in (
        ("openai", "user", keys["ada's own OpenAI key"]),
        ("anthropic", "deployment", keys["deployment Anthropic key"]),
    ):
        await ada.send(
            event_name(K, "save_key"), {"form": {"provider": provider, "scope": scope, "api_key": key}}
        )
        await ada.wait_for(f"…{key[-4:]}")
    marker = f"ada-secret-prompt-{app.tag}"
    await ada.send(event_name(C, "set_prompt"), {"value": f"{marker} [[simulate:tokens=4]]"})
    for model in ("openai:gpt-4o-mini", HOSTILE_MODEL):
        await ada.send(event_name(C, "set_picker"), {"value": model})
        await ada.send(event_name(C, "add_pane"))
    await ada.settle()
    await ada.send(event_name(C, "run"))
    await _wait(lambda: bool(ada.var(C, "comparison_id")), "Ada's comparison id")
    ada_comparison = str(ada.var(C, "comparison_id"))
    await _wait(lambda: runs_final(app, ada_comparison), "Ada's runs to end")
    await ada.send(event_name(S, "set_open"), {"value": True})
    await ada.settle()
    await ada.send(event_name(S, "create_link"))
    await _wait(lambda: bool(ada.var(S, "new_link")), "Ada's share link")
    share_link = str(ada.var(S, "new_link"))
    await ada.send(event_name(A, "load"), path="/settings")
    await ada.settle()
    await ada.send(event_name(A, "create_token"), {"form": {"name": "ada-cli"}}, "/settings")
    await _wait(lambda: bool(ada.var(A, "new_token")), "Ada's new API token")
    new_token = str(ada.var(A, "new_token"))
    await ada.settle()
    await ada.close()  # her tab's state stays on the server (in Redis) for a while

    eve = await RawTab(app.url).connect(cookie=app.eve.session_token)
    app.tabs.append(("eve", eve))
    await eve.wait_for(app.eve.email)
    await eve.settle()
    await eve.send(event_name(C, "set_prompt"), {"value": f"eve-prompt-{app.tag} [[simulate:tokens=4]]"})
    for model in ("openai:gpt-4o-mini", "anthropic:claude-haiku-4-5"):
        await eve.send(event_name(C, "set_picker"), {"value": model})
        await eve.send(event_name(C, "add_pane"))
    await eve.settle()
    await eve.send(event_name(C, "run"))
    # An event the server cannot process (a stale page, a bug): Reflex logs the event it failed.
    await eve.send(f"{C.get_full_name()}.renamed_since_this_page_loaded", {"value": 1})
    await _wait(lambda: bool(eve.var(C, "comparison_id")), "Eve's comparison id")
    eve_comparison = str(eve.var(C, "comparison_id"))
    await _wait(lambda: runs_final(app, eve_comparison), "Eve's runs to end")
    await eve.settle()
    await eve.close()

    share_token = share_link.rsplit("/", 1)[-1]
    markers = [app.ada.email, marker, ada_comparison, share_token, new_token, app.ada.session_token]
    return Scenario(ada_comparison, share_link, new_token, markers, eve_comparison, keys)


@pytest.fixture(scope="session")
def scenario(live_app: LiveApp) -> Scenario:
    return asyncio.run(_act(live_app))
