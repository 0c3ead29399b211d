"""The login page's mode: the first visit (no account yet) opens on "Create account"; a mode the
person chose survives the page's load."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backend.runtime import Runtime, running
from devstack.postgres import migrated_sqlite_url
from state.auth import AuthState
from tests.backend.runtime_support import make_settings, owner
from tests.state.support import in_tree


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(make_settings(migrated_sqlite_url(tmp_path), tmp_path)) as rt:
        yield rt


async def test_the_first_visit_opens_on_create_account_then_on_sign_in(runtime: Runtime) -> None:
    first = in_tree(AuthState)
    await AuthState.load_login.fn(first)
    assert first.mode == "sign_up"  # no account yet: the first one becomes the admin

    await owner(runtime, "ada@example.org")
    later = in_tree(AuthState)
    await AuthState.load_login.fn(later)
    assert later.mode == "sign_in"


async def test_create_account_chosen_before_the_page_loaded_stays_chosen(runtime: Runtime) -> None:
    """The login page is on screen, its "Create an account" clickable, before its load answers:
    the load must not flip the form being filled back to "Sign in"."""
    await owner(runtime, "ada@example.org")
    tab = in_tree(AuthState)
    AuthState.set_mode.fn(tab, "sign_up")
    await AuthState.load_login.fn(tab)
    assert tab.mode == "sign_up"
