"""Which key a run uses: the user's own, else the deployment's, else the environment's, seen by
real local fake servers; keys never travel on the queue and never reach an error message."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from backend.auth.permissions import Principal
from backend.db.records import ComparisonRecord
from backend.execution.worker import Worker
from backend.providers.base import BadRequest, ChatProvider, ChatRequest, StreamItem
from backend.providers.credentials import ProviderCredentials
from backend.queue.base import AnyEvent
from backend.queue.embedded import EmbeddedBroker
from backend.queue.messages import RunTask
from backend.runtime import Runtime
from devstack.postgres import make_migrated_database_url
from tests.backend.runtime_support import owner, wait_until_final
from tests.db_support import DATABASE_KINDS
from tests.support.fake_llm_server import FakeLLMServer
from tests.support.keys import admin, bearers, fake_server, runtime_on

ENV_KEY = "sk-env-000000000000-eeee"
DEPLOYMENT_KEY = "sk-deployment-11111111-dddd"
ADA_KEY = "sk-ada-2222222222222-aaaa"
ALL_KEYS = (ENV_KEY, DEPLOYMENT_KEY, ADA_KEY)


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with make_migrated_database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with fake_server() as fake:
        yield fake


@pytest.fixture
async def krt(server: FakeLLMServer, database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with runtime_on(server, database_url, tmp_path, openai_api_key=ENV_KEY) as runtime:
        yield runtime


async def run(rt: Runtime, user: Principal, model: str = "openai:gpt-4o-mini") -> ComparisonRecord:
    created = await rt.comparisons.create(
        user, {"prompt": "Hi", "panes": [{"model": model, "max_tokens": 8}]}
    )
    return await wait_until_final(rt.comparisons, created.id)


class QueueSpy:
    """Every message the runtime's broker carried (tasks submitted, events published)."""

    def __init__(self, rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
        self.wire: list[bytes] = []
        broker: Any = rt.broker  # embedded: the web side's queue and the workers' source in one
        submit, publish = broker.submit, broker.publish

        async def spy_submit(task: RunTask) -> None:
            self.wire.append(task.to_bytes())
            await submit(task)

        async def spy_publish(event: AnyEvent) -> None:
            self.wire.append(event.to_bytes())
            await publish(event)

        monkeypatch.setattr(broker, "submit", spy_submit)
        monkeypatch.setattr(broker, "publish", spy_publish)


async def test_user_key_before_deployment_key_before_environment_key(
    krt: Runtime, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = QueueSpy(krt, monkeypatch)
    ada, bob, root = await owner(krt), await owner(krt, "bob@example.org"), await admin(krt)

    assert (await run(krt, ada)).runs[0].status == "done"
    assert bearers(server)[-1] == f"Bearer {ENV_KEY}"  # nothing stored: the environment's

    await krt.credentials.save(root, "openai", DEPLOYMENT_KEY, deployment=True)
    await run(krt, ada)
    assert bearers(server)[-1] == f"Bearer {DEPLOYMENT_KEY}"

    await krt.credentials.save(ada, "openai", ADA_KEY)
    await run(krt, ada)
    assert bearers(server)[-1] == f"Bearer {ADA_KEY}"
    await run(krt, bob)  # Ada's key is hers alone
    assert bearers(server)[-1] == f"Bearer {DEPLOYMENT_KEY}"

    await krt.credentials.delete(ada, "openai")
    await run(krt, ada)
    assert bearers(server)[-1] == f"Bearer {DEPLOYMENT_KEY}"

    assert len(bearers(server)) == 5
    tasks = [RunTask.from_bytes(m) for m in spy.wire if b'"prompt"' in m]
    assert {t.user_id for t in tasks} == {ada.user_id, bob.user_id}
    assert not any(key.encode() in message for message in spy.wire for key in ALL_KEYS)


async def test_no_model_kept_for_runs_holds_a_key_once_it_is_replaced_or_deleted(krt: Runtime) -> None:
    """Models are kept between runs (backend/providers/model_cache.py), never past their key."""

    def models_holding(key: str) -> int:
        gc.collect()
        models = [o for o in gc.get_objects() if isinstance(o, ChatOpenAI)]
        return len(
            [
                m
                for m in models
                if isinstance(m.openai_api_key, SecretStr) and m.openai_api_key.get_secret_value() == key
            ]
        )

    ada = await owner(krt)
    await krt.credentials.save(ada, "openai", ADA_KEY)
    await run(krt, ada)
    assert models_holding(ADA_KEY) == 1
    await krt.credentials.save(ada, "openai", DEPLOYMENT_KEY)  # replaced
    assert models_holding(ADA_KEY) == 0
    await run(krt, ada)
    await krt.credentials.delete(ada, "openai")
    assert models_holding(DEPLOYMENT_KEY) == 0


async def test_an_endpoint_key_goes_only_to_its_saved_address(
    server: FakeLLMServer, database_url: str, tmp_path: Path
) -> None:
    endpoints = {"lab": {"base_url": f"{server.url}/v1", "api_key": ENV_KEY, "models": "local-a"}}
    with fake_server() as own:
        async with runtime_on(server, database_url, tmp_path, openai_compatible_endpoints=endpoints) as rt:
            ada, bob = await owner(rt), await owner(rt, "bob@example.org")
            # Ada's "lab" is her own server: it replaces the configured one for her runs only.
            await rt.credentials.save(ada, "openai-compatible:lab", ADA_KEY, f"{own.url}/v1")
            assert (await run(rt, ada, "openai-compatible:lab/local-a")).runs[0].status == "done"
            assert (await run(rt, bob, "openai-compatible:lab/local-a")).runs[0].status == "done"
        assert bearers(own) == [f"Bearer {ADA_KEY}"]
        assert bearers(server) == [f"Bearer {ENV_KEY}"]  # the configured key never went to Ada's server


async def test_a_refused_stored_key_fails_the_run_without_showing_the_key(
    krt: Runtime, server: FakeLLMServer
) -> None:
    server.api_key = ENV_KEY  # the provider accepts only the environment's key
    ada = await owner(krt)
    await krt.credentials.save(ada, "openai", ADA_KEY)
    [failed] = (await run(krt, ada)).runs
    assert failed.status == "error" and failed.error_kind == "auth"
    assert failed.error == "OpenAI refused your saved key: check it on the Settings page."
    assert ADA_KEY not in failed.error and "2222222222" not in failed.error


async def test_a_key_the_provider_echoes_in_an_error_is_masked() -> None:
    key = "sk-echoed-333333333333-cccc"

    class Echoing:
        async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
            raise BadRequest(f"malformed request for key {key}")
            yield  # pragma: no cover - makes this an async generator

    def resolve(model_id: str, credentials: ProviderCredentials | None = None) -> ChatProvider:
        assert credentials is not None and credentials.api_key == key
        return Echoing()

    async def lookup(task: RunTask) -> ProviderCredentials | None:
        return ProviderCredentials(api_key=key, scope=task.user_id)

    broker = EmbeddedBroker()
    worker = Worker(broker, resolve, credentials=lookup)
    final = await worker.execute(
        RunTask(run_id="r", comparison_id="c", model="openai:gpt-4o-mini", prompt="Hi", user_id="u1")
    )
    assert final.status == "error" and final.error == "malformed request for key …cccc"


async def test_a_task_from_an_older_version_without_user_id_still_decodes() -> None:
    old = b'{"run_id":"r","comparison_id":"c","attempt":0,"model":"simulated:instant","prompt":"Hi"}'
    assert RunTask.from_bytes(old).user_id == ""


async def test_deleting_a_key_takes_effect_for_the_next_run_at_once(
    krt: Runtime, server: FakeLLMServer
) -> None:
    ada = await owner(krt)
    await krt.credentials.save(ada, "openai", ADA_KEY)
    await run(krt, ada)
    await krt.credentials.delete(ada, "openai")
    await run(krt, ada)
    assert bearers(server) == [f"Bearer {ADA_KEY}", f"Bearer {ENV_KEY}"]
