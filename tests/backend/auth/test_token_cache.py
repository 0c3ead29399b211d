"""PrincipalCache: valid API tokens kept for a few seconds, forgotten on revocation."""

from __future__ import annotations

import pytest

from backend.auth.permissions import Principal
from backend.auth.token_cache import PrincipalCache
from tests.support.clock import FakeClock


def _principal(user_id: str) -> Principal:
    return Principal(user_id=user_id, email=f"{user_id}@example.org", display_name=user_id, via="api-token")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_an_entry_lasts_its_ttl_and_no_longer(clock: FakeClock) -> None:
    cache = PrincipalCache(ttl_s=5.0, clock=clock)
    cache.put("h1", _principal("ada"))
    clock.advance(5.0)
    assert cache.get("h1") == _principal("ada")
    clock.advance(0.01)
    assert cache.get("h1") is None


def test_forgetting_a_user_drops_all_of_their_tokens_only(clock: FakeClock) -> None:
    cache = PrincipalCache(ttl_s=5.0, clock=clock)
    cache.put("ada-1", _principal("ada"))
    cache.put("ada-2", _principal("ada"))
    cache.put("bob-1", _principal("bob"))
    cache.forget_user("ada")
    assert cache.get("ada-1") is None and cache.get("ada-2") is None
    assert cache.get("bob-1") == _principal("bob")


def test_the_oldest_check_goes_when_full(clock: FakeClock) -> None:
    cache = PrincipalCache(ttl_s=5.0, max_entries=2, clock=clock)
    for name in ("a", "b", "c"):
        cache.put(name, _principal(name))
    assert cache.get("a") is None
    assert cache.get("b") is not None and cache.get("c") is not None


def test_ttl_zero_keeps_nothing(clock: FakeClock) -> None:
    cache = PrincipalCache(ttl_s=0.0, clock=clock)
    cache.put("h1", _principal("ada"))
    assert cache.get("h1") is None
