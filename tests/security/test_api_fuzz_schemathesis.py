"""Property-based fuzzing of the whole HTTP API from its own OpenAPI document (Schemathesis):
for every operation, schema-conforming and schema-violating requests, with a valid API
token, against ids that exist and ids that do not. No input may produce a 5xx.

Field class: unhandled input reaching the database or a parser and surfacing as a 500
(the NUL-byte and type-confusion crashes reported against Dify, Langfuse and Open WebUI
APIs). Bounded: at most EXAMPLES cases per operation and mode, no shrinking, a fixed seed
(derandomized, so a failure reproduces), well under a minute on SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.python import asgi

from backend.api.app import create_api
from backend.runtime import Runtime, running
from backend.services.shares import ShareService
from devstack.postgres import make_database_url
from tests.backend.runtime_support import make_settings, owner, wait_until_final
from tests.db_support import DATABASE_KINDS

EXAMPLES = 12  # per operation and generation mode
OPENAPI_PATH = "/api/v1/openapi.json"


def _operations() -> list[str]:
    """Every operation of the document, read without starting anything."""
    document = create_api(lambda: None).openapi()  # type: ignore[arg-type,return-value]
    return [f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item]


OPERATIONS = _operations()


@dataclass
class Target:
    schema: Any
    headers: dict[str, str]
    real_ids: dict[str, str] = field(default_factory=dict)
    calls: int = 0


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """The API app on a started runtime. Schemathesis calls ASGI apps from one event loop thread
    of its own, so the runtime starts there, in the app's lifespan, not in the test's loop."""
    data_dir = tmp_path_factory.mktemp("fuzz")
    with make_database_url(request.param, data_dir) as url:
        holder: dict[str, Runtime] = {}
        target = Target(schema=None, headers={})
        api = create_api(lambda: holder["rt"])

        @contextlib.asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            async with running(make_settings(url, data_dir)) as rt:
                holder["rt"] = rt
                ada = await owner(rt)
                target.headers["Authorization"] = f"Bearer {await rt.accounts.create_api_token(ada, 'fuzz')}"
                record = await rt.comparisons.create(
                    ada, {"prompt": "[[simulate:tokens=3]] seed", "panes": [{"model": "simulated:instant"}]}
                )
                await wait_until_final(rt.comparisons, record.id)
                share = await ShareService(rt.db).create(ada, record.id)
                target.real_ids.update(
                    comparison_id=record.id,
                    project_id=record.project_id,
                    share_id=share.share.id,
                    token=share.token,
                    email="ada@example.org",
                )
                yield

        api.router.lifespan_context = lifespan
        target.schema = schemathesis.openapi.from_asgi(OPENAPI_PATH, api)
        try:
            yield target
        finally:
            asgi.shutdown_lifespans()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_no_generated_request_gets_a_server_error(
    target: Target, operation: str, record_property: Callable[[str, object], None]
) -> None:
    method, path = operation.split(" ", 1)
    api_operation = target.schema[path][method]
    failures: list[str] = []
    tried = 0
    fixed_ids = {name: target.real_ids[name] for name in target.real_ids if "{" + name + "}" in path}
    modes: list[tuple[GenerationMode, dict[str, str]]] = [
        (GenerationMode.POSITIVE, {}),
        (GenerationMode.NEGATIVE, {}),
    ]
    if fixed_ids:  # also reach the code behind the 404: the caller's own, existing ids
        modes += [(GenerationMode.POSITIVE, fixed_ids), (GenerationMode.NEGATIVE, fixed_ids)]

    for mode, ids in modes:
        strategy = api_operation.as_strategy(mode, path_parameters=ids or None)

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: Any) -> None:
            nonlocal tried
            tried += 1
            response = case.call(headers=target.headers, timeout=15)
            if response.status_code >= 500:
                failures.append(f"{response.status_code} for {case.as_curl_command()}: {response.text[:300]}")

        try:
            run()
        except Unsatisfiable:
            # Nothing in the operation can be made invalid (e.g. no parameters, no body).
            assert mode is GenerationMode.NEGATIVE, f"no valid case could be generated for {operation}"

    target.calls += tried
    record_property("cases_tried", tried)  # for scripts/security-report
    assert tried >= 1, f"no case was generated for {operation}"
    assert not failures, "\n".join(failures[:5])
