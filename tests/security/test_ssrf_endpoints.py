"""Server-side request forgery through provider endpoints (issue 5, item 2): the class of
LiteLLM's and Open WebUI's advisories where a user-supplied base URL made the server call
the cloud metadata service or its own network."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import httpx
import httpx2
import pytest

from backend.net import egress
from backend.runtime import Runtime
from backend.services.credentials import CredentialError
from tests.backend.runtime_support import api_client, owner, wait_until_final
from tests.support.fake_llm_server import FakeLLMServer
from tests.support.keys import bearers, runtime_on

KEY = "sk-user-endpoint-key-0123456789"


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/v1",
        "http://[::ffff:169.254.169.254]/v1",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://0xa9.0xfe.0xa9.0xfe/v1",  # 169.254.169.254 in hex
        "http://2852039166/v1",  # ... as one decimal number
        "http://0251.0376.0251.0376/v1",  # ... in octal
        "http://127.1/v1",  # 127.0.0.1, short form
        "http://evil.example\\@169.254.169.254/v1",  # backslash: parsers disagree on the host
        "http://evil.example@169.254.169.254/v1",  # userinfo trick
        "http://169.254.169.254#@evil.example/v1",
        "http://169.254.169.254%2f@evil.example/v1",
        "http://evil.example /v1",
        "http://ev\til.example/v1",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "http://[::1]/v1",
        "http://10.0.0.8/v1",
        "http://100.64.0.1/v1",  # carrier-grade NAT
        "http://0.0.0.0/v1",
    ],
)
def test_addresses_that_reach_what_a_user_must_not_are_refused(url: str) -> None:
    assert egress.url_problem(url, allow_private=False) != ""


def test_link_local_and_metadata_stay_refused_even_where_private_networks_are_allowed() -> None:
    for url in ("http://169.254.169.254/", "http://[fe80::1]/", "http://metadata.google.internal/"):
        assert egress.url_problem(url, allow_private=True) != ""
    assert egress.url_problem("http://127.0.0.1:8000/v1", allow_private=True) == ""
    assert egress.url_problem("https://llm.example.com/v1", allow_private=False) == ""


async def test_a_host_name_is_judged_by_every_address_it_resolves_to() -> None:
    assert "private network" in await egress.resolve_problem("http://localhost:8000/v1", allow_private=False)
    assert await egress.resolve_problem("http://localhost:8000/v1", allow_private=True) == ""


class _Redirector(BaseHTTPRequestHandler):
    """Answers every request with a redirect to the metadata service."""

    hits: list[str] = []

    def do_GET(self) -> None:
        _Redirector.hits.append(self.path)
        self.send_response(302)
        self.send_header("Location", "http://169.254.169.254/latest/meta-data/iam/")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redirector() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


async def test_the_guarded_client_checks_at_connect_time_and_follows_no_redirect(redirector: str) -> None:
    async with egress.guarded_client(allow_private=False, timeout=5) as client:
        with pytest.raises(httpx2.ConnectError, match="private network"):
            await client.get(redirector + "/v1/models")  # 127.0.0.1 itself is refused
        port = redirector.rsplit(":", 1)[1]
        with pytest.raises(httpx2.ConnectError, match="private network"):
            await client.get(f"http://localhost:{port}/v1/models")  # a name resolving inside too
    async with egress.guarded_client(allow_private=True, timeout=5) as client:
        response = await client.get(redirector + "/v1/models")
    assert response.status_code == 302  # handed back, not followed to the metadata address
    assert _Redirector.hits == ["/v1/models"]


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    fake = FakeLLMServer(api_key=KEY, openai_models=["m"]).start()
    yield fake
    fake.stop()


async def test_a_user_cannot_save_an_endpoint_on_the_servers_network_unless_allowed(
    server: FakeLLMServer, runtime_database_url: str, tmp_path: Path
) -> None:
    async with runtime_on(server, runtime_database_url, tmp_path, allow_private_endpoints=False) as rt:
        user = await owner(rt)
        for url in (f"{server.url}/v1", f"http://localhost:{server.url.rsplit(':', 1)[1]}/v1"):
            with pytest.raises(CredentialError) as refused:
                await rt.credentials.save(user, "openai-compatible:mine", KEY, url)
            assert "private network" in refused.value.errors["base_url"]
            assert KEY not in str(refused.value)
        with pytest.raises(CredentialError):
            await rt.credentials.save(user, "openai-compatible:meta", "", "http://169.254.169.254/v1")
        assert await rt.credentials.list_keys(user) == []
        assert server.requests == []  # nothing was called while deciding


async def test_a_request_cannot_carry_its_own_base_url(rt: Runtime) -> None:
    async with api_client(rt) as client:
        for pane in (
            {"model": "simulated:swift", "base_url": "http://169.254.169.254/v1"},
            {"model": "simulated:swift", "endpoint": {"base_url": "http://10.0.0.1"}},
            {"model": "simulated:swift", "api_base": "http://10.0.0.1"},
        ):
            response = await client.post("/api/v1/comparisons", json={"prompt": "hi", "panes": [pane]})
            assert response.status_code == 422, response.text
        top = await client.post(
            "/api/v1/comparisons",
            json={"prompt": "hi", "panes": [{"model": "simulated:swift"}], "base_url": "http://10.0.0.1"},
        )
        assert top.status_code == 422


async def test_one_users_endpoint_key_never_goes_to_another_user(
    server: FakeLLMServer, runtime_database_url: str, tmp_path: Path
) -> None:
    async with runtime_on(server, runtime_database_url, tmp_path) as rt:  # private allowed (loopback)
        ada, eve = await owner(rt, "ada@example.org"), await owner(rt, "eve@example.org")
        await rt.credentials.save(ada, "openai-compatible:lab", KEY, f"{server.url}/v1")
        payload = {"prompt": "[[x]] hello", "panes": [{"model": "openai-compatible:lab/m"}]}
        try:
            record = await rt.comparisons.create(eve, payload)
        except Exception as exc:  # refused outright: Eve has no endpoint named "lab"
            assert KEY not in str(exc)
        else:
            final = await wait_until_final(rt.comparisons, record.id)
            assert final.runs[0].status == "error"
        assert bearers(server) == []  # Ada's key was never sent for Eve
        mine = await rt.comparisons.create(ada, payload)
        assert (await wait_until_final(rt.comparisons, mine.id)).runs[0].status == "done"
        assert bearers(server) == [f"Bearer {KEY}"]


@pytest.mark.parametrize(
    ("stack", "make", "module"),
    [("httpx", egress.guarded_transport, httpx), ("httpx2", egress.guarded_transport2, httpx2)],
)
def test_guarded_transports_share_one_tls_context_that_verifies_as_the_default(
    stack: str, make: Callable[[bool], object], module: ModuleType
) -> None:
    """One context per stack (making one loads the CA bundle, ~25 ms a client made per call),
    checking certificates and host names against the same CAs as the stack's own default."""
    first, second = make(True), make(False)
    context = egress.tls_context(stack)
    assert first._pool._ssl_context is second._pool._ssl_context is context  # type: ignore[attr-defined]
    default = module.create_ssl_context()
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert (default.verify_mode, default.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert context.cert_store_stats() == default.cert_store_stats() and context.cert_store_stats()["x509_ca"]
