"""The response cache's key covers a run's options and images, and is unchanged without them."""

from __future__ import annotations

from backend.cache.base import cache_key
from backend.run_options import RunOptions


def _key(extra: str = "") -> str:
    return cache_key("simulated:swift", "", "Hello", 0.0, 100, None, owner="u1", extra=extra)


def test_options_and_images_change_the_key_and_none_keep_it() -> None:
    plain = cache_key("simulated:swift", "", "Hello", 0.0, 100, None, owner="u1")
    assert _key() == plain  # entries cached before options existed still match
    with_top_p = _key(RunOptions(top_p=0.5).cache_part())
    assert with_top_p != plain
    assert _key(RunOptions(top_p=0.4).cache_part()) != with_top_p
    assert _key("\x00u1/" + "a" * 64 + ".png") != plain
