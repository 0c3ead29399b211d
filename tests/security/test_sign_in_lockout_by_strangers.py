"""A stranger cannot lock the owner out, and a slow guesser cannot keep a window open (issue 15).

Tried on both stores (in-process and Redis): wrong passwords for the owner's email from ten
addresses, and from one; the owner's right password from their own address then signs in
(slowed, never refused). Failures spaced inside the window do not restart it. Behind a proxy,
each client has its own key from X-Forwarded-For, read only through the configured trusted hops:
a client that writes the header itself gains nothing.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
import reflex.app

from backend.auth.accounts import AccountService
from backend.auth.throttle import MAX_DELAY_S, Lockout, SignInThrottle
from backend.runtime import Runtime
from tests.redis_support import BACKENDS, redis_prefix
from tests.support.clock import FakeClock

PASSWORD = "correct horse battery staple"
OWNER = "owner@example.org"
HOME = "198.51.100.10"


@pytest.fixture(params=BACKENDS)
async def throttle(request: pytest.FixtureRequest) -> AsyncIterator[SignInThrottle]:
    if request.param == "memory":
        yield SignInThrottle(10, 900.0, sleep=False, clock=FakeClock())
        return
    async with redis_prefix() as (client, prefix):
        yield SignInThrottle(10, 900.0, redis=client, prefix=prefix, sleep=False)


async def test_ten_wrong_passwords_from_ten_addresses_leave_the_owner_in(
    rt: Runtime, throttle: SignInThrottle
) -> None:
    service = AccountService(rt.db, rt.settings, throttle)
    await service.sign_up(OWNER, PASSWORD)
    for i in range(10):
        with pytest.raises(Exception, match="incorrect"):
            await service.sign_in(OWNER, "guess", address=f"203.0.113.{i}")
    for i in range(10):  # each guessing address may still guess: one failure each
        await throttle.before_attempt(OWNER, f"203.0.113.{i}")
    assert (await service.sign_in(OWNER, PASSWORD, address=HOME)).principal.email == OWNER


async def test_ten_wrong_passwords_from_one_address_stop_that_address_only(
    rt: Runtime, throttle: SignInThrottle
) -> None:
    service = AccountService(rt.db, rt.settings, throttle)
    await service.sign_up(OWNER, PASSWORD)
    for _ in range(10):
        with pytest.raises(Exception, match="incorrect"):
            await service.sign_in(OWNER, "guess", address="203.0.113.66")
    with pytest.raises(Lockout):
        await throttle.before_attempt(OWNER, "203.0.113.66")
    with pytest.raises(Lockout):  # even with the right password: that address is the guesser's
        await throttle.before_attempt(OWNER.upper(), "203.0.113.66")
    assert (await service.sign_in(OWNER, PASSWORD, address=HOME)).token


def test_the_owners_slow_down_is_bounded() -> None:
    """Guesses from many addresses slow every try of the account, never beyond MAX_DELAY_S."""
    assert SignInThrottle.delay_for(2) == 0
    assert 0 < SignInThrottle.delay_for(4) < SignInThrottle.delay_for(6) <= MAX_DELAY_S
    assert SignInThrottle.delay_for(10_000) == MAX_DELAY_S


async def test_failures_inside_the_window_do_not_restart_it() -> None:
    clock = FakeClock()
    throttle = SignInThrottle(3, 10.0, sleep=False, clock=clock)
    for _ in range(2):
        await throttle.failed(OWNER, "203.0.113.1")
    clock.advance(9.0)
    await throttle.failed(OWNER, "203.0.113.1")  # third failure, 9 s into the window
    with pytest.raises(Lockout) as locked:
        await throttle.before_attempt(OWNER, "203.0.113.1")
    assert locked.value.retry_after_s <= 1.0 + 1e-6  # the window ends 10 s after the first failure
    clock.advance(1.5)
    await throttle.before_attempt(OWNER, "203.0.113.1")  # over: a new window
    await throttle.failed(OWNER, "203.0.113.1")
    await throttle.before_attempt(OWNER, "203.0.113.1")  # one failure in the new window


@pytest.mark.redis
async def test_failures_inside_the_window_do_not_restart_it_on_redis() -> None:
    async with redis_prefix() as (client, prefix):
        throttle = SignInThrottle(3, 1.0, redis=client, prefix=prefix, sleep=False)
        key = prefix + "signin:" + throttle.keys(OWNER, "203.0.113.1")[0]
        await throttle.failed(OWNER, "203.0.113.1")
        first_ttl = await client.pttl(key)
        import asyncio

        await asyncio.sleep(0.3)
        await throttle.failed(OWNER, "203.0.113.1")
        assert await client.pttl(key) <= first_ttl - 250  # the second failure did not extend it


def _client_ip(hops: int, forwarded_for: str, peer: str = "10.0.0.2") -> str:
    """The address Reflex gives a socket (router.session.client_ip), with our config's hops."""

    class Config:
        trusted_proxy_hops = hops

    environ: dict[str, Any] = {
        "asgi.scope": {
            "client": (peer, 5555),
            "headers": [(b"x-forwarded-for", forwarded_for.encode())] if forwarded_for else [],
        }
    }
    original = reflex.app.get_config

    def config(reload: bool = False) -> Any:
        return Config()

    reflex.app.get_config = config
    try:
        data = reflex.app.EventNamespace._build_static_router_data(None, "sid", environ)  # type: ignore[arg-type]
    finally:
        reflex.app.get_config = original
    return str(data[reflex.constants.RouteVar.CLIENT_IP])


def test_behind_one_trusted_proxy_each_client_has_its_own_address() -> None:
    # nginx appends the client's address: "$proxy_add_x_forwarded_for"
    assert _client_ip(1, "192.0.2.1") == "192.0.2.1"
    assert _client_ip(1, "192.0.2.2") == "192.0.2.2"
    # a client writing the header itself: nginx appends the real address, which wins
    assert _client_ip(1, "198.51.100.10, 192.0.2.3") == "192.0.2.3"


def test_without_trusted_hops_the_header_is_ignored() -> None:
    assert _client_ip(0, "198.51.100.10") == "10.0.0.2"  # the peer, whatever the header says


def test_trusted_proxy_hops_reaches_reflex_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import rxconfig

    for raw, hops in (("1", 1), ("2", 2), ("", 0), ("x", 0), ("-1", 0)):
        monkeypatch.setenv("TRUSTED_PROXY_HOPS", raw)
        assert importlib.reload(rxconfig).config.trusted_proxy_hops == hops, raw
    monkeypatch.delenv("TRUSTED_PROXY_HOPS")
    importlib.reload(rxconfig)
    assert os.environ.get("TRUSTED_PROXY_HOPS") is None


def test_the_shipped_stack_trusts_one_hop_behind_nginx() -> None:
    from pathlib import Path

    stack = (Path(__file__).parents[2] / "scripts" / "stack").read_text()
    assert 'TRUSTED_PROXY_HOPS="${TRUSTED_PROXY_HOPS:-1}"' in stack
    template = (Path(__file__).parents[2] / "deploy" / "nginx.conf.template").read_text()
    assert "X-Forwarded-For $proxy_add_x_forwarded_for" in template
