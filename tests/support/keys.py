"""Helpers for stored provider key tests: admins, fake provider servers that check keys, and
a runtime whose OpenAI / Anthropic addresses point at such a server."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from backend.auth.permissions import Principal
from backend.db import accounts as accounts_repo
from backend.runtime import Runtime, running
from tests.backend.runtime_support import make_settings, owner
from tests.support.fake_llm_server import FakeLLMServer

ADMIN_EMAIL = "root@example.org"


async def admin(rt: Runtime, email: str = ADMIN_EMAIL) -> Principal:
    principal = await owner(rt, email)
    async with rt.db.session() as session:
        await accounts_repo.update_account(session, principal.user_id, is_admin=True)
    return dataclasses.replace(principal, is_admin=True)


@contextlib.contextmanager
def fake_server(api_key: str = "") -> Iterator[FakeLLMServer]:
    """A fake OpenAI/Anthropic server; with `api_key`, every other key gets a 401."""
    server = FakeLLMServer(api_key=api_key).start()
    try:
        yield server
    finally:
        server.stop()


def bearers(server: FakeLLMServer, path: str = "/v1/chat/completions") -> list[str]:
    """The Authorization headers `server` received on `path`, in order."""
    return [r.headers.get("authorization", "") for r in server.requests if r.path == path]


@contextlib.asynccontextmanager
async def runtime_on(
    server: FakeLLMServer,
    database_url: str,
    tmp_path: Path,
    clock: Callable[[], float] = time.time,
    **overrides: Any,
) -> AsyncIterator[Runtime]:
    """A started runtime whose OpenAI and Anthropic families talk to `server` (no keys set
    unless `overrides` set them)."""
    values: dict[str, Any] = {
        "openai_base_url": f"{server.url}/v1",
        "anthropic_base_url": server.url,
        "rate_limit_requests_per_minute": 0,
        "rate_limit_tokens_per_day": 0,
        # The fake servers listen on loopback: as an admin of a laptop deployment would allow.
        "allow_private_endpoints": True,
    }
    values.update(overrides)
    async with running(make_settings(database_url, tmp_path, **values), clock) as runtime:
        yield runtime
