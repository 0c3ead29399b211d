"""A provider that echoes the key it was given in its 401 (as OpenAI does, and some
OpenAI-compatible servers do in full) must not put that key into a run's error: the
error is saved, shown on the page and on public share links, returned by the API and
published on the queue.

Field class: secrets in error messages and logs (LiteLLM advisories on API keys in
logs and exception text; Langfuse/Dify provider-credential exposure). Covered: the
environment's keys (OPENAI_API_KEY, ANTHROPIC_API_KEY, an endpoint's key from
OPENAI_COMPATIBLE_ENDPOINTS), a user's saved key and an admin's saved deployment key.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from backend.auth.permissions import Principal
from backend.db.records import ComparisonRecord
from backend.runtime import Runtime, running
from backend.services.shares import ShareService
from tests.backend.runtime_support import api_client, make_settings, owner, wait_until_final
from tests.security.echo_provider import echoing_provider
from tests.security.support import PREFIX, anonymous, saved_rows
from tests.support.keys import admin

TAG = uuid.uuid4().hex[:10]
ENV_OPENAI = f"sk-env-openai-{TAG}-SECRET"
ENV_ANTHROPIC = f"sk-ant-env-{TAG}-SECRET"
ENV_ENDPOINT = f"sk-endpoint-{TAG}-SECRET"
USER_OPENAI = f"sk-user-openai-{TAG}-SECRET"
DEPLOYMENT_ANTHROPIC = f"sk-ant-deploy-{TAG}-SECRET"
SECRETS = (ENV_OPENAI, ENV_ANTHROPIC, ENV_ENDPOINT, USER_OPENAI, DEPLOYMENT_ANTHROPIC)


@pytest.fixture
def echo() -> Iterator[tuple[str, list[str]]]:
    with echoing_provider() as server:
        yield server


@pytest.fixture
async def krt(
    echo: tuple[str, list[str]], runtime_database_url: str, tmp_path: Path
) -> AsyncIterator[Runtime]:
    url, _ = echo
    endpoint = {"base_url": f"{url}/v1", "api_key": ENV_ENDPOINT, "models": "m"}
    settings = make_settings(
        runtime_database_url,
        tmp_path,
        openai_base_url=f"{url}/v1",
        openai_api_key=ENV_OPENAI,
        anthropic_base_url=url,
        anthropic_api_key=ENV_ANTHROPIC,
        openai_compatible_endpoints={"echo": endpoint},
        rate_limit_requests_per_minute=0,
        rate_limit_tokens_per_day=0,
    )
    async with running(settings) as runtime:
        yield runtime


def _leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


async def test_echoed_keys_stay_out_of_errors_pages_api_and_database(
    krt: Runtime, echo: tuple[str, list[str]]
) -> None:
    _, presented = echo
    models = ("openai:gpt-4o-mini", "anthropic:claude-haiku-4-5", "openai-compatible:echo/m")
    panes = [{"model": m} for m in models]
    eve = await owner(krt, "eve@example.org")
    ada = await owner(krt, "ada@example.org")

    async def run_as(who: Principal) -> ComparisonRecord:
        record = await krt.comparisons.create(who, {"prompt": "hello", "panes": panes})
        return await wait_until_final(krt.comparisons, record.id, timeout=60)

    records = [await run_as(eve)]  # the environment's three keys
    await krt.credentials.save(await admin(krt), "anthropic", DEPLOYMENT_ANTHROPIC, deployment=True)
    await krt.credentials.save(ada, "openai", USER_OPENAI)
    records.append(await run_as(ada))  # her own OpenAI key, the deployment's Anthropic key
    # Every key was really presented to (and echoed by) the provider.
    assert set(SECRETS) <= set(presented), presented

    for record in records:
        for run in record.runs:
            assert run.status == "error", (run.model, run.status)
            assert run.error, run.model
            assert not _leaks(run.error), (run.model, run.error)

    # The same text through every way out: the API (JSON and events), a public share link.
    async with api_client(krt, "eve@example.org") as client:
        body = (await client.get(f"{PREFIX}/comparisons/{records[0].id}")).text
        events = (await client.get(f"{PREFIX}/comparisons/{records[0].id}/events")).text
    share = await ShareService(krt.db).create(eve, records[0].id)
    async with anonymous(krt) as visitor:
        public = (await visitor.get(f"{PREFIX}/shares/{share.token}")).text
    for text in (body, events, public):
        assert not _leaks(text)
    shown = json.loads(public)["runs"][0]["error"]
    assert "…" in shown or "refused" in shown, shown

    dump = repr(await saved_rows(krt))
    assert not _leaks(dump)  # saved keys are encrypted; errors are masked


async def test_the_key_test_button_does_not_echo_the_key(krt: Runtime) -> None:
    ada = await owner(krt, "ada@example.org")
    await krt.credentials.save(ada, "openai", USER_OPENAI)
    result = await krt.credentials.test(ada, "openai")
    assert not result.ok
    assert not _leaks(result.message), result.message
