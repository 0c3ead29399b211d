"""Where the server may connect for a user: the guard against server-side request forgery.

A user-saved endpoint is an address the server will call with a key; pointed at
the cloud metadata service, the server's own network or a parser trick, it would
make the server fetch things for the user (the SSRF class reported against
LiteLLM, Open WebUI and Dify).  Three layers:

1. ``url_problem``: the address must read the same to every parser (urllib and
   httpx here; backslashes, whitespace, ``@`` tricks and odd IP spellings like
   ``0x7f.1`` or ``2130706433`` are refused outright);
2. ``resolve_problem``: every address the host name resolves to must be
   allowed when it is saved;
3. ``guarded_client``: at every connection the resolved address is checked
   again and the socket goes to exactly that address (no DNS rebinding between
   check and connect), and redirects are not followed.

Link-local and metadata addresses are never allowed; loopback and private
networks only where an admin allows them (deployment endpoints, or
ALLOW_PRIVATE_ENDPOINTS for everyone).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
import ssl
import weakref
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpcore2
import httpx
import httpx2

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "metadata.azure.com", "instance-data"})
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# Host names are letters, digits, '-', '.'; anything else in a host is a parser trick or a typo.
_HOST_CHARS = re.compile(r"^[A-Za-z0-9.-]+$")
MAX_URL_CHARS = 2048


class EgressRefused(httpcore2.ConnectError):
    """The server refused to connect to an address (the message says why, never a key).

    A ConnectError, so the HTTP client and the provider adapters report it as a failed
    connection to the endpoint, like any other."""


def _ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _legacy_ipv4(host: str) -> bool:
    """True for spellings the C resolver reads as IPv4 but ipaddress does not (0x7f.1, 2130706433)."""
    if _ip(host) is not None or not re.fullmatch(r"[0-9a-fA-Fx.]+", host):
        return False
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


def address_problem(address: IPAddress, allow_private: bool) -> str:
    """Why the server must not connect to `address` ("" if it may)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_link_local or address.is_multicast or address.is_unspecified or address.is_reserved:
        return f"{address} is a link-local, metadata or reserved address."
    internal = address.is_loopback or address.is_private or address in _CGNAT or not address.is_global
    if internal and not allow_private:
        return f"{address} is on a private network; only an admin can allow that."
    return ""


def url_problem(url: str, allow_private: bool) -> str:
    """Why `url` cannot be an endpoint ("" if its form is fine; resolve_problem checks the host)."""
    if len(url) > MAX_URL_CHARS:
        return "That address is too long."
    if any(c.isspace() or ord(c) < 32 or c == "\\" for c in url):
        return "That address contains spaces, control characters or backslashes."
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Enter the endpoint's address, like https://llm.example.com/v1."
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "Put the key in the key field, not in the address."
    try:
        other = httpx2.URL(url)
    except httpx2.InvalidURL:
        return "That address cannot be read."
    host = parts.hostname.lower()
    if other.host.lower().strip("[]") != host.strip("[]") or (other.port or None) != parts.port:
        return "That address reads differently to different parsers; write it plainly."
    if host in METADATA_HOSTS:
        return "That address is not allowed."
    address = _ip(host)
    if address is None:
        if _legacy_ipv4(host) or not _HOST_CHARS.match(host):
            return "Write the address as a host name or a plain IP address."
        return ""
    return address_problem(address, allow_private)


async def resolve(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def resolve_problem(url: str, allow_private: bool) -> str:
    """Why the host of `url` resolves somewhere not allowed ("" if every address is fine)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = await resolve(host, port)
    except OSError:
        return f"The host {host!r} could not be found."
    for address in addresses:
        if problem := address_problem(address, allow_private):
            return problem
    return ""


def _first_allowed(addresses: Iterable[IPAddress], allow_private: bool) -> IPAddress:
    problems = []
    for address in addresses:
        problem = address_problem(address, allow_private)
        if not problem:
            return address
        problems.append(problem)
    raise EgressRefused(problems[0] if problems else "The host has no address.")


class GuardedBackend:
    """Resolves, checks and connects to the checked address itself: a host name cannot
    resolve to an allowed address for the check and to a forbidden one for the connect.

    One connect path for both HTTP stacks: `inner` is httpcore's or httpcore2's own network
    backend (the pools take any object with these methods), and a refusal is raised as that
    stack's ConnectError (httpx maps only its own httpcore's errors to its exceptions)."""

    def __init__(self, allow_private: bool, inner: Any, refused: type[Exception]) -> None:
        self._allow_private = allow_private
        self._inner = inner
        self._refused = refused

    def _refuse(self, why: str) -> Exception:
        return EgressRefused(why) if self._refused is EgressRefused else self._refused(why)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> Any:
        literal = _ip(host)
        addresses = [literal] if literal is not None else await resolve(host, port)
        try:
            address = _first_allowed(addresses, self._allow_private)
        except EgressRefused as refused:
            raise self._refuse(str(refused)) from None
        return await self._inner.connect_tcp(
            str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> Any:
        raise self._refuse("Unix sockets are not endpoints.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def tls_context(stack: str) -> ssl.SSLContext:
    """The TLS context of every guarded transport of `stack` ("httpx" or "httpx2"), made once as
    each transport made its own (the stack's defaults: its CA bundle, SSL_CERT_FILE/_DIR read
    at the first use). Making one loads the CA bundle: about 25 ms of CPU, on the event loop
    for the clients made per call (a key check, an embedding call, a Gemini run). A context is
    meant to be shared by connections."""
    module: Any = httpx2 if stack == "httpx2" else httpx
    context: ssl.SSLContext = module.create_ssl_context()
    return context


def _guard(transport: Any, core: Any, refused: type[Exception], allow_private: bool) -> Any:
    """`transport` with its connection pool replaced by a guarded one (same TLS settings)."""
    ssl_context = getattr(transport._pool, "_ssl_context", None)
    backend = GuardedBackend(allow_private, core.AnyIOBackend(), refused)
    transport._pool = core.AsyncConnectionPool(ssl_context=ssl_context, network_backend=backend)
    return transport


def guarded_transport(allow_private: bool) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection goes through the guard (for clients built by
    libraries that take a transport: Ollama's, Pinecone's)."""
    guarded: httpx.AsyncHTTPTransport = _guard(
        httpx.AsyncHTTPTransport(verify=tls_context("httpx")), httpcore, httpcore.ConnectError, allow_private
    )
    return guarded


# Per event loop (a transport's connections belong to the loop that opened them), per setting.
_SHARED_TRANSPORTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[bool, httpx.AsyncHTTPTransport]]
_SHARED_TRANSPORTS = weakref.WeakKeyDictionary()


def shared_guarded_transport(allow_private: bool) -> httpx.AsyncHTTPTransport:
    """A guarded transport kept for reuse, for the clients a library builds per chat model
    (Ollama's): their connections are pooled, and a kept model's key can name this loop's."""
    transports = _SHARED_TRANSPORTS.setdefault(asyncio.get_running_loop(), {})
    transport = transports.get(allow_private)
    if transport is None:
        transport = transports[allow_private] = guarded_transport(allow_private)
    return transport


def guarded_transport2(allow_private: bool) -> httpx2.AsyncHTTPTransport:
    """The httpx2 form of `guarded_transport` (google-genai takes one in its client_args)."""
    plain = httpx2.AsyncHTTPTransport(verify=tls_context("httpx2"))
    guarded: httpx2.AsyncHTTPTransport = _guard(plain, httpcore2, EgressRefused, allow_private)
    return guarded


def guarded_client(allow_private: bool, timeout: float) -> httpx2.AsyncClient:
    """An httpx2 client (the OpenAI and Anthropic SDKs' HTTP stack): checked connects, no
    redirects followed. A new one: its owner closes it (an SDK client used `async with`)."""
    return httpx2.AsyncClient(
        transport=guarded_transport2(allow_private), timeout=timeout, follow_redirects=False
    )


def guarded_httpx_client(
    allow_private: bool, timeout: float, base_url: str = "", headers: dict[str, str] | None = None
) -> httpx.AsyncClient:
    """The httpx form of `guarded_client`. Every outbound HTTP call of the app goes through
    one of these (tests/security/test_one_egress_guard.py fails on a module that builds a
    client of its own)."""
    return httpx.AsyncClient(
        transport=guarded_transport(allow_private),
        timeout=timeout,
        follow_redirects=False,
        base_url=base_url,
        headers=headers,
    )


# Per event loop (a client's connections belong to the loop that opened them), per setting.
_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[bool, float], httpx2.AsyncClient]]
_SHARED = weakref.WeakKeyDictionary()


def shared_guarded_client(allow_private: bool, timeout: float) -> httpx2.AsyncClient:
    """A guarded httpx2 client kept for reuse, as LangChain keeps its own per base URL: the
    provider models built per request share its connections (time to first token). Never
    closed by its users."""
    clients = _SHARED.setdefault(asyncio.get_running_loop(), {})
    client = clients.get((allow_private, timeout))
    if client is None or client.is_closed:
        client = clients[(allow_private, timeout)] = guarded_client(allow_private, timeout)
    return client


def operator_private_ok(egress: str, operator_private: bool) -> bool:
    """Whether a connection may reach loopback and private networks: a stored endpoint's own
    mark ("private-ok" / "public-only"), else (an address the operator configured) the
    OPERATOR_EGRESS_PRIVATE setting."""
    if egress:
        return egress == "private-ok"
    return operator_private
