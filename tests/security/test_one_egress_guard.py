"""Every outbound HTTP call goes through the one egress guard (issue 15).

The model-list probe of an OpenAI-compatible endpoint used a plain client that resolved the
name again, so a name that resolved to a public address when saved and to 127.0.0.1 later (DNS
rebinding) was called with the user's key. Now each path (the endpoint probe, Ollama's probe
and chat, the operator's endpoints, embeddings) resolves and checks at the connect itself:
against a local server here, each is refused without a request reaching it when its setting
forbids private addresses, by IP and by a name that resolves to loopback, and reaches it when
the explicit setting allows (as the tests' own local servers are). Link-local and metadata
addresses are refused even then. An enumeration of the modules that make outbound calls fails
on any new one that does not go through the guard.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.providers import discovery, registry
from backend.providers.base import ChatRequest, ProviderError
from backend.providers.ollama import OllamaConnection, OllamaProvider
from backend.providers.openai_compatible import EndpointConnection, OpenAICompatibleProvider
from backend.search.embed_openai import OpenAICompatibleEmbedder
from backend.search.embedding import EmbeddingError
from backend.settings import Settings
from tests.support.fake_llm_server import FakeLLMServer

ROOT = Path(__file__).parents[2]
KEY = "sk-user-endpoint-key-0123456789"


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    fake = FakeLLMServer().start()
    yield fake
    fake.stop()


def _spellings(server: FakeLLMServer) -> list[str]:
    """The server's address as an IP and as a name that resolves to loopback."""
    return [server.url, server.url.replace("127.0.0.1", "localhost")]


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, simulated_enabled=False, **values)  # type: ignore[arg-type]


async def test_the_endpoint_probe_is_guarded(server: FakeLLMServer) -> None:
    for base in _spellings(server):
        refused = await discovery.probe_openai_compatible(base + "/v1", KEY, 2.0, allow_private=False)
        assert not refused.availability.available
    assert server.requests == []  # the key never left
    allowed = await discovery.probe_openai_compatible(server.url + "/v1", KEY, 2.0, allow_private=True)
    assert allowed.models == ("local-a", "local-b")


@pytest.mark.parametrize(
    ("egress_mark", "operator_private", "reaches"),
    [
        ("public-only", True, False),  # a user's stored endpoint: its own mark decides
        ("private-ok", False, True),  # an admin's deployment endpoint
        ("", False, False),  # the operator's endpoint with OPERATOR_EGRESS_PRIVATE=false
        ("", True, True),
    ],
)
async def test_model_listing_probes_each_endpoint_through_the_guard(
    server: FakeLLMServer, egress_mark: str, operator_private: bool, reaches: bool
) -> None:
    endpoint = {"base_url": server.url.replace("127.0.0.1", "localhost") + "/v1", "api_key": KEY}
    if egress_mark:
        endpoint["egress"] = egress_mark
    settings = _settings(
        openai_compatible_endpoints={"mine": endpoint},
        operator_egress_private=operator_private,
        ollama_base_url="http://127.0.0.1:9",
        provider_probe_timeout_seconds=2.0,
    )
    entries = [e for e in await registry.list_models(settings) if e.family == "openai-compatible"]
    assert bool(server.requests) == reaches
    assert any(e.available for e in entries) == reaches


async def test_ollamas_probe_and_chat_are_guarded(server: FakeLLMServer) -> None:
    request = ChatRequest(model="llama3.2", prompt="hi", max_tokens=8)
    for base in _spellings(server):
        settings = _settings(
            ollama_base_url=base, operator_egress_private=False, provider_probe_timeout_seconds=2.0
        )
        assert not (await discovery.probe_ollama(settings)).availability.available
        provider = OllamaProvider(OllamaConnection(base_url=base, timeout=5.0, allow_private=False))
        with pytest.raises(ProviderError):
            async for _ in provider.stream(request):
                pass
    assert server.requests == []
    settings = _settings(
        ollama_base_url=server.url, operator_egress_private=True, provider_probe_timeout_seconds=2.0
    )
    assert (await discovery.probe_ollama(settings)).availability.available
    provider = OllamaProvider(OllamaConnection(base_url=server.url, timeout=5.0, allow_private=True))
    text = [item async for item in provider.stream(request)]
    assert text and server.requests


async def test_the_operators_endpoints_are_guarded_at_chat_time(server: FakeLLMServer) -> None:
    request = ChatRequest(model="mine/local-a", prompt="hi", max_tokens=8)
    for base in _spellings(server):
        conn = EndpointConnection(name="mine", base_url=base + "/v1", api_key=KEY, timeout=5.0)
        provider = OpenAICompatibleProvider({"mine": conn}, operator_private=False)
        with pytest.raises(ProviderError):
            async for _ in provider.stream(request):
                pass
    assert server.requests == []
    conn = EndpointConnection(name="mine", base_url=server.url + "/v1", api_key=KEY, timeout=5.0)
    items = [i async for i in OpenAICompatibleProvider({"mine": conn}, operator_private=True).stream(request)]
    assert items and server.requests


async def test_embeddings_are_guarded(server: FakeLLMServer) -> None:
    for base in _spellings(server):
        embedder = OpenAICompatibleEmbedder(base + "/v1", "e5", KEY, timeout_s=2.0, allow_private=False)
        with pytest.raises(EmbeddingError, match="unreachable"):
            await embedder.embed_queries(["hello"])
    assert server.requests == []
    embedder = OpenAICompatibleEmbedder(server.url + "/v1", "e5", KEY, timeout_s=2.0, allow_private=True)
    with pytest.raises(EmbeddingError, match="answered 404"):  # it reached the server (no such route)
        await embedder.embed_queries(["hello"])
    assert [r.path for r in server.requests] == ["/v1/embeddings"]


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/v1", "http://[fe80::1]:80/v1", "http://0.0.0.0:9/v1"]
)
async def test_link_local_and_metadata_are_refused_even_where_private_is_allowed(url: str) -> None:
    probe = await discovery.probe_openai_compatible(url, KEY, 2.0, allow_private=True)
    assert not probe.availability.available
    embedder = OpenAICompatibleEmbedder(url, "e5", KEY, timeout_s=2.0, allow_private=True)
    with pytest.raises(EmbeddingError, match="unreachable"):
        await embedder.embed_queries(["x"])


# --- every module that calls out --------------------------------------------------------------

OUTBOUND_LIBRARIES = (
    "httpx",
    "httpx2",
    "aiohttp",
    "requests",
    "urllib.request",
    "urllib3",
    "openai",
    "anthropic",
    "ollama",
    "langchain_openai",
    "langchain_anthropic",
    "langchain_ollama",
    "langchain_google_genai",
    "google.genai",
    "pinecone",
    "aiosmtplib",
    "smtplib",
)
# Modules that make outbound calls without the guard, each with the reason it is accepted.
NOT_GUARDED = {
    "backend/mail.py": "SMTP (not HTTP) to the operator's SMTP_HOST",
}
# The SDK paths (OpenAI, Anthropic, Vertex AI's Gemini and Claude, Pinecone) are guarded as well:
# tests/security/test_sdk_calls_through_the_egress_guard.py tries each.
SDK_MODULES = (
    "backend/providers/openai.py",
    "backend/providers/anthropic.py",
    "backend/providers/vertexai.py",
    "backend/providers/vertex_claude.py",
    "backend/providers/key_check.py",
    "backend/search/vector_pinecone.py",
)
GUARDED_MARKERS = ("guarded_client", "guarded_httpx_client", "guarded_transport")


def _outbound_modules() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for base in ("backend", "workers", "state", "dashboard"):
        for path in sorted((ROOT / base).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel == "backend/net/egress.py":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names: set[str] = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names.update(a.name for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names.add(node.module)
                elif (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and node.func.attr == "import_module"
                ):
                    names.update(
                        a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
                    )
            hits = {
                n for n in names if any(n == lib or n.startswith(lib + ".") for lib in OUTBOUND_LIBRARIES)
            }
            if hits:
                found[rel] = hits
    return found


def test_every_module_that_calls_out_goes_through_the_guard() -> None:
    modules = _outbound_modules()
    assert "backend/providers/discovery.py" in modules and "backend/search/embed_openai.py" in modules
    assert set(SDK_MODULES) <= set(modules)  # the enumeration sees every SDK path
    bypassing = []
    for rel, libraries in modules.items():
        text = (ROOT / rel).read_text(encoding="utf-8")
        if any(marker in text for marker in GUARDED_MARKERS) or rel in NOT_GUARDED:
            continue
        only_types = all(lib in ("httpx", "httpx2") for lib in libraries) and "AsyncClient(" not in text
        if only_types:  # imports httpx for its exception or type names only: no client of its own
            continue
        bypassing.append((rel, sorted(libraries)))
    assert not bypassing, f"modules that call out without backend/net/egress.py: {bypassing}"
    stale = set(NOT_GUARDED) - set(modules)
    assert not stale, f"NOT_GUARDED names modules that no longer call out: {stale}"


def test_no_module_builds_a_plain_http_client() -> None:
    """A guarded module may still build a plain client on the side: none does."""
    plain = []
    for path in sorted((ROOT / "backend").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("AsyncClient", "Client", "ClientSession")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("httpx", "httpx2", "aiohttp")
                and rel != "backend/net/egress.py"
            ):
                plain.append(f"{rel}:{node.lineno}")
    assert not plain, plain


async def test_a_stored_endpoint_that_now_resolves_to_loopback_is_not_probed(
    runtime_database_url: str, tmp_path: Path, server: FakeLLMServer
) -> None:
    """The issue's case: a user's endpoint saved while allowed (here: loopback allowed, standing
    in for a name that resolved to a public address), listed later where its address is not
    allowed (the name now resolves to 127.0.0.1): the model listing's probe is refused at the
    connect, and the user's key never reaches the server."""
    from tests.backend.runtime_support import owner
    from tests.support.keys import runtime_on

    base = server.url.replace("127.0.0.1", "localhost") + "/v1"
    async with runtime_on(server, runtime_database_url, tmp_path) as rt:
        ada = await owner(rt)
        await rt.credentials.save(ada, "openai-compatible:mine", KEY, base)
        assert "openai-compatible:mine/local-a" in {
            e.id for e in await rt.comparisons.models(ada) if e.available
        }
    assert server.requests
    server.requests.clear()
    async with runtime_on(server, runtime_database_url, tmp_path, allow_private_endpoints=False) as rt:
        ada = await owner(rt)
        listed = {e.id: e.available for e in await rt.comparisons.models(ada)}
        assert not listed.get("openai-compatible:mine/local-a", False)
    assert [r for r in server.requests if r.path == "/v1/models"] == []
