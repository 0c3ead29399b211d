"""After runs that failed because providers refused (and echoed) the keys, after keys were
typed into the Settings page and passwords into the login form, no provider key,
password or ENCRYPTION_KEY appears in the app's log, in any text column or the raw
file of the database, in any Redis key or value, or in any state delta a browser
received. A session token never reaches any tab (the cookie is HttpOnly and set by an HTTP
answer; the state keeps it server-side only); an API token appears only in its own tab's
deltas (the shown-once token); both are in that tab's Reflex state in Redis (see
SECURITY.md), never in the log, the database (hashes only) or another tab.

Field class: credential exposure in logs, caches and client payloads (LiteLLM advisories:
keys in logs, in the proxy's cache and in error responses; Langfuse and Dify: provider
credentials returned to the browser; Open WebUI: tokens in WebSocket payloads).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx
import pytest
from redis import Redis

from tests.security.live_app import LiveApp, Scenario

pytestmark = [pytest.mark.redis]

# Never anywhere, under any circumstance.
NEVER = (
    "ENCRYPTION_KEY",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "endpoint key",
    "ada password",
    "eve password",
    "wrong password",
    "ada's own OpenAI key",
    "deployment Anthropic key",
)


def _found(text: str, secrets: dict[str, str], names: tuple[str, ...] | list[str]) -> list[str]:
    return [name for name in names if secrets[name] in text]


def _tokens(app: LiveApp, scenario: Scenario) -> dict[str, str]:
    return {
        "ada session": app.ada.session_token,
        "eve session": app.eve.session_token,
        "eve session from the login form": app.secrets["eve session from the login form"],
        "ada api token": app.ada.api_token,
        "eve api token": app.eve.api_token,
        "ada api token made on the page": scenario.ada_new_api_token,
    }


def test_the_refused_keys_were_really_presented_and_echoed(live_app: LiveApp, scenario: Scenario) -> None:
    """Otherwise the scan below would prove nothing: each key reached a provider that echoed it."""
    presented = set(live_app.echoed)
    for name in ("OPENAI_API_KEY", "ada's own OpenAI key", "deployment Anthropic key"):
        assert live_app.secrets[name] in presented, name


def test_no_secret_in_the_app_log(live_app: LiveApp, scenario: Scenario) -> None:
    log = live_app.log()
    assert len(log) > 1_000  # the app did log (requests, runs, refusals)
    assert _found(log, live_app.secrets, NEVER) == []
    tokens = _tokens(live_app, scenario)
    assert [name for name, value in tokens.items() if value in log] == []
    # A tab's client token is a bearer credential for the tab's server-side state.
    tab_tokens = {f"{whose}'s tab token {tab.token}" for whose, tab in live_app.tabs if tab.token in log}
    assert len(live_app.tabs) >= 3 and tab_tokens == set()
    files = [p for p in live_app.data_dir.iterdir() if p.is_file()]
    for path in [p for p in files if not p.name.startswith("dashboard.db")]:
        text = path.read_bytes().decode(errors="replace")
        assert _found(text, live_app.secrets, NEVER) == [], path.name


def test_no_secret_in_any_database_column_or_page(live_app: LiveApp, scenario: Scenario) -> None:
    tokens = _tokens(live_app, scenario)
    with sqlite3.connect(f"file:{live_app.database}?mode=ro", uri=True) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        cells = 0
        for table in tables:
            columns = [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                for (raw,) in db.execute(f'SELECT "{column}" FROM "{table}"'):
                    if raw is None:
                        continue
                    # Binary cells (the full-text index's blocks) are read byte for byte: a secret
                    # copied into an index is a leak too.
                    value = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
                    cells += 1
                    assert _found(value, live_app.secrets, NEVER) == [], (table, column)
                    assert [n for n, t in tokens.items() if t in value] == [], (table, column)
    assert cells > 100
    raw = b"".join(
        p.read_bytes() for p in live_app.data_dir.iterdir() if p.name.startswith("dashboard.db")
    ).decode("latin-1")
    assert _found(raw, live_app.secrets, NEVER) == []
    assert [n for n, t in tokens.items() if t in raw] == []


def test_no_secret_in_redis(live_app: LiveApp, scenario: Scenario) -> None:
    redis: Any = Redis.from_url(live_app.redis_url)  # the sync client: its answers are not awaitables
    tokens = _tokens(live_app, scenario)
    app_prefix = f"llmdash-sec:{live_app.tag}:".encode()
    keys = list(redis.scan_iter(count=500))
    assert keys, "the app kept nothing in Redis: the scan would prove nothing"
    token_holders: set[bytes] = set()
    for key in keys:
        kind = redis.type(key).decode()
        if kind == "string":
            values = [redis.get(key) or b""]
        elif kind == "hash":
            values = [b"".join(k + v for k, v in redis.hgetall(key).items())]
        elif kind == "list":
            values = list(redis.lrange(key, 0, -1))
        elif kind in ("set",):
            values = list(redis.smembers(key))
        elif kind == "zset":
            values = [m for m, _ in redis.zrange(key, 0, -1, withscores=True)]
        else:
            values = []
        text = (key + b"".join(values)).decode("latin-1")
        assert _found(text, live_app.secrets, NEVER) == [], key
        if any(t in text for t in tokens.values()):
            token_holders.add(key)
    redis.close()
    # The app's own keys (cache, limits, throttle) never hold a session or API token; Reflex's
    # state of a signed-in tab does hold its session cookie's value (documented in SECURITY.md).
    assert not [k for k in token_holders if k.startswith(app_prefix)]


def test_no_secret_in_any_delta_and_no_token_in_another_tab(live_app: LiveApp, scenario: Scenario) -> None:
    tokens = _tokens(live_app, scenario)
    assert len(live_app.tabs) >= 3
    for whose, tab in live_app.tabs:
        text = tab.text()
        assert _found(text, live_app.secrets, NEVER) == [], whose
        foreign = [n for n, t in tokens.items() if t in tab.served_text() and not n.startswith(whose)]
        assert foreign == [], (whose, foreign)
        sessions = [n for n, t in tokens.items() if "session" in n and t in text]
        assert sessions == [], (whose, sessions)  # not even its own: no script may read it


def test_no_secret_in_any_export(live_app: LiveApp, scenario: Scenario) -> None:
    """The runs export (CSV and JSON Lines, every project of each person; everyone's for the admin)
    and each comparison's Markdown and JSON export hold run errors: refused keys must not be in them."""
    tokens = _tokens(live_app, scenario)
    for who, account in (("ada", live_app.ada), ("eve", live_app.eve)):
        with httpx.Client(base_url=live_app.url, headers=account.api_headers, timeout=30) as api:
            texts = [
                api.get("/api/v1/runs/export", params={"format": fmt, "everyone": str(who == "ada").lower()})
                for fmt in ("csv", "jsonl")
            ]
            comparison = scenario.ada_comparison if who == "ada" else scenario.eve_comparison
            texts += [
                api.get(f"/api/v1/comparisons/{comparison}/export", params={"format": fmt})
                for fmt in ("md", "json")
            ]
        assert [r.status_code for r in texts] == [200] * 4, who
        assert sum(r.text.count("\n") for r in texts[:2]) > 2, who  # the exports hold runs
        for response in texts:
            assert _found(response.text, live_app.secrets, NEVER) == [], (who, response.url)
            assert [name for name, value in tokens.items() if value in response.text] == [], response.url
