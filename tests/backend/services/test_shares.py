"""Share links end to end over a started runtime: make, resolve, expire, revoke, fork."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from pydantic import TypeAdapter
from sqlalchemy import select, update

from backend.auth.permissions import AccessDenied, Principal
from backend.auth.tokens import token_hash
from backend.db.comparisons import create_comparison
from backend.db.models import Run, Share, utcnow
from backend.db.records import ComparisonRecord, NewRun
from backend.db.users import default_project_id
from backend.runtime import Runtime
from backend.services.access import NotFound
from backend.services.budgets import BudgetGuard
from backend.services.shares import LINK_NOT_FOUND, InvalidShare, PublicComparison, ShareService, expiry_from
from tests.backend.runtime_support import OWNER_EMAIL, owner, wait_until_final

PROMPT = "[[simulate:tokens=6]] Explain tides to a child"
SYSTEM = "Be brief."
OTHER_EMAIL = "bob@example.org"


async def finished(rt: Runtime, user: Principal, prompt: str = PROMPT) -> ComparisonRecord:
    created = await rt.comparisons.create(
        user,
        {
            "prompt": prompt,
            "system_prompt": SYSTEM,
            "panes": [{"model": "simulated:instant"}, {"model": "simulated:swift", "temperature": 0.2}],
        },
    )
    return await wait_until_final(rt.comparisons, created.id)


async def test_a_token_carries_at_least_128_bits_and_only_its_hash_is_stored(rt: Runtime) -> None:
    ada = await owner(rt)
    comparison = await finished(rt, ada)
    created = await ShareService(rt.db).create(ada, comparison.id)

    raw = base64.urlsafe_b64decode(created.token + "=" * (-len(created.token) % 4))
    assert len(raw) * 8 >= 128
    assert created.url_path == f"/share/{created.token}"
    async with rt.db.session() as session:
        rows = (await session.execute(select(Share))).scalars().all()
    assert len(rows) == 1
    row = rows[0]
    assert row.token_hash == token_hash(created.token)
    stored = [str(getattr(row, column.key)) for column in Share.__table__.columns]
    assert not [value for value in stored if created.token in value]
    listed = await ShareService(rt.db).list(ada, comparison.id)
    assert [s.id for s in listed] == [created.share.id]
    assert created.token not in repr(listed)


async def test_a_link_shows_the_comparison_exactly_as_saved(rt: Runtime) -> None:
    ada = await owner(rt)
    comparison = await finished(rt, ada)
    shares = ShareService(rt.db)
    view = await shares.resolve((await shares.create(ada, comparison.id)).token)

    assert view.prompt == PROMPT and view.system_prompt == SYSTEM
    assert view.owner_name == "Ada"
    assert view.created_at == comparison.created_at
    assert view.expires_at is None
    assert [r.model for r in view.runs] == ["simulated:instant", "simulated:swift"]
    for shown, saved in zip(view.runs, comparison.runs, strict=True):
        assert shown.status == saved.status == "done"
        assert shown.output_text == saved.output_text != ""
        assert (shown.input_tokens, shown.output_tokens) == (saved.input_tokens, saved.output_tokens)
        assert (shown.ttft_ms, shown.total_ms, shown.cost_usd) == (
            saved.ttft_ms,
            saved.total_ms,
            saved.cost_usd,
        )
        assert shown.cached == saved.cache_hit
        assert shown.model_label and shown.model_label != shown.model  # the catalog's name


async def test_unknown_expired_and_revoked_links_get_the_same_not_found(rt: Runtime) -> None:
    ada = await owner(rt)
    comparison = await finished(rt, ada)
    shares = ShareService(rt.db)
    expiring = await shares.create(ada, comparison.id, timedelta(hours=1))
    assert expiring.share.expires_at is not None
    assert timedelta(minutes=59) < expiring.share.expires_at - utcnow() <= timedelta(hours=1)
    await shares.resolve(expiring.token)  # alive until it expires
    async with rt.db.session() as session:
        await session.execute(
            update(Share)
            .where(Share.id == expiring.share.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    revoked = await shares.create(ada, comparison.id)
    await shares.revoke(ada, revoked.share.id)

    for token in (expiring.token, revoked.token, "x" * 43, "", "a" * 10_000):
        with pytest.raises(NotFound) as caught:
            await shares.resolve(token)
        assert str(caught.value) == LINK_NOT_FOUND
    listed = {s.id: s for s in await shares.list(ada, comparison.id)}
    assert not listed[expiring.share.id].active_at(utcnow())
    assert listed[revoked.share.id].revoked_at is not None


async def test_revoking_twice_keeps_the_first_time(rt: Runtime) -> None:
    ada = await owner(rt)
    comparison = await finished(rt, ada)
    shares = ShareService(rt.db)
    created = await shares.create(ada, comparison.id)
    first = await shares.revoke(ada, created.share.id)
    again = await shares.revoke(ada, created.share.id)
    assert first.revoked_at is not None and again.revoked_at == first.revoked_at


async def test_people_outside_the_project_cannot_touch_its_links(rt: Runtime) -> None:
    ada, bob = await owner(rt), await owner(rt, OTHER_EMAIL)
    comparison = await finished(rt, ada)
    shares = ShareService(rt.db)
    created = await shares.create(ada, comparison.id)

    with pytest.raises(NotFound):
        await shares.create(bob, comparison.id)
    with pytest.raises(NotFound):
        await shares.list(bob, comparison.id)
    with pytest.raises(NotFound):
        await shares.revoke(bob, created.share.id)
    with pytest.raises(NotFound):
        await shares.revoke(ada, "0" * 32)
    await shares.resolve(created.token)  # still live


async def test_a_viewer_cannot_share_and_only_the_maker_or_an_owner_can_revoke(rt: Runtime) -> None:
    ada = await owner(rt)
    viewer, editor = await owner(rt, "vera@example.org"), await owner(rt, "ed@example.org")
    comparison = await finished(rt, ada)
    await rt.projects.set_member(ada, comparison.project_id, viewer.email, "viewer")
    await rt.projects.set_member(ada, comparison.project_id, editor.email, "editor")
    shares = ShareService(rt.db)

    with pytest.raises(AccessDenied):
        await shares.create(viewer, comparison.id)
    with pytest.raises(AccessDenied):
        await shares.list(viewer, comparison.id)
    by_ada = await shares.create(ada, comparison.id)
    by_editor = await shares.create(editor, comparison.id, timedelta(days=7))
    assert len(await shares.list(editor, comparison.id)) == 2
    with pytest.raises(AccessDenied):
        await shares.revoke(viewer, by_ada.share.id)
    with pytest.raises(AccessDenied):
        await shares.revoke(editor, by_ada.share.id)  # an editor revokes only their own
    assert (await shares.revoke(editor, by_editor.share.id)).revoked_at is not None
    by_editor_again = await shares.create(editor, comparison.id)
    assert (await shares.revoke(ada, by_editor_again.share.id)).revoked_at is not None  # owner: any
    await shares.resolve(by_ada.token)


async def test_the_public_view_holds_nothing_private(rt: Runtime) -> None:
    ada, bob = await owner(rt), await owner(rt, OTHER_EMAIL)
    key_token = await rt.accounts.create_api_token(ada, "ci")
    comparison = await finished(rt, ada)
    other = await finished(rt, ada, prompt="[[simulate:tokens=3]] A private second question")
    bobs = await finished(rt, bob, prompt="[[simulate:tokens=3]] Bob's own question")
    created = await ShareService(rt.db).create(ada, comparison.id)

    body = TypeAdapter(PublicComparison).dump_json(await ShareService(rt.db).resolve(created.token)).decode()
    assert PROMPT in body
    forbidden = [
        OWNER_EMAIL,
        OTHER_EMAIL,
        "@",
        ada.user_id,
        bob.user_id,
        comparison.id,
        comparison.project_id,
        *[run.id for run in comparison.runs],
        created.share.id,
        created.token,
        token_hash(created.token),
        key_token,
        other.id,
        "private second question",
        bobs.id,
        "Bob's own question",
    ]
    assert [item for item in forbidden if item in body] == []


async def test_fork_copies_into_the_forkers_personal_project_and_leaves_the_original(rt: Runtime) -> None:
    ada, bob = await owner(rt), await owner(rt, OTHER_EMAIL)
    original = await finished(rt, ada)
    shares = ShareService(rt.db)
    token = (await shares.create(ada, original.id)).token

    fork = await shares.fork(bob, token)
    async with rt.db.session() as session:
        bobs_project = await default_project_id(session, bob.user_id)
    assert fork.id != original.id
    assert (fork.project_id, fork.user_id) == (bobs_project, bob.user_id)
    copy = await rt.comparisons.get(bob, fork.id)  # bob may open it
    assert copy.prompt == original.prompt and copy.system_prompt == original.system_prompt
    assert copy.settings.get("forked") is True
    for new, old in zip(copy.runs, original.runs, strict=True):
        assert new.id != old.id
        assert (new.model, new.params, new.status, new.output_text) == (
            old.model,
            old.params,
            old.status,
            old.output_text,
        )
        assert (new.ttft_ms, new.total_ms, new.input_tokens, new.output_tokens) == (
            old.ttft_ms,
            old.total_ms,
            old.input_tokens,
            old.output_tokens,
        )
    assert await rt.comparisons.get_unchecked(original.id) == original  # untouched
    with pytest.raises(NotFound):
        await rt.comparisons.get(ada, fork.id)  # the copy is bob's alone
    assert (await rt.comparisons.history(bob)).total == 1


async def test_unfinished_runs_are_forked_as_cancelled(rt: Runtime) -> None:
    ada, bob = await owner(rt), await owner(rt, OTHER_EMAIL)
    async with rt.db.session() as session:
        project_id = await default_project_id(session, ada.user_id)
    queued = await create_comparison(  # saved, never queued: stays "queued"
        rt.db,
        user_id=ada.user_id,
        project_id=project_id,
        prompt="still going",
        runs=[NewRun(model="simulated:swift", provider="simulated")],
    )
    token = (await ShareService(rt.db).create(ada, queued.id)).token
    assert [r.status for r in (await ShareService(rt.db).resolve(token)).runs] == ["queued"]
    fork = await ShareService(rt.db).fork(bob, token)
    assert [r.status for r in fork.runs] == ["cancelled"]


async def test_revoked_links_cannot_be_forked_and_deleting_a_comparison_ends_its_links(rt: Runtime) -> None:
    ada, bob = await owner(rt), await owner(rt, OTHER_EMAIL)
    comparison = await finished(rt, ada)
    shares = ShareService(rt.db)
    revoked = await shares.create(ada, comparison.id)
    await shares.revoke(ada, revoked.share.id)
    with pytest.raises(NotFound):
        await shares.fork(bob, revoked.token)

    live = await shares.create(ada, comparison.id)
    await rt.comparisons.delete(ada, comparison.id)
    with pytest.raises(NotFound):
        await shares.resolve(live.token)
    async with rt.db.session() as session:
        assert (await session.execute(select(Share))).scalars().all() == []


def test_expiry_is_hours_or_days_within_a_year() -> None:
    assert expiry_from() is None
    assert expiry_from(hours=5) == timedelta(hours=5)
    assert expiry_from(days=30) == timedelta(days=30)
    for bad in ({"hours": 1, "days": 1}, {"hours": 0}, {"days": -1}, {"days": 366}):
        with pytest.raises(InvalidShare):
            expiry_from(**bad)


async def test_a_fork_shows_the_original_cost_but_is_not_the_forkers_spend(rt: Runtime) -> None:
    ada, bob = await owner(rt), await owner(rt, OTHER_EMAIL)
    original = await finished(rt, ada)
    async with rt.db.session() as session:  # simulated models are free: give the runs a price
        await session.execute(update(Run).where(Run.comparison_id == original.id).values(cost_usd=0.25))
        await session.commit()
    token = (await ShareService(rt.db).create(ada, original.id)).token

    fork = await ShareService(rt.db).fork(bob, token)
    assert [r.cost_usd for r in fork.runs] == [0.25, 0.25]
    assert (await BudgetGuard(rt.db).spend(bob.user_id)).spent_usd == 0.0
    assert (await BudgetGuard(rt.db).spend(ada.user_id)).spent_usd == 0.5
