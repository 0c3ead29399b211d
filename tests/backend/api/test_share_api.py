"""Share routes of the HTTP API, in-process over a started runtime."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy import update

from backend.api.app import create_api
from backend.db.models import Share, utcnow
from backend.runtime import Runtime
from tests.backend.runtime_support import OWNER_EMAIL, api_client, wait_until_final

PREFIX = "/api/v1"
PROMPT = "[[simulate:tokens=5]] Why is the sky blue?"
OTHER_EMAIL = "eve@example.org"


def anonymous(rt: Runtime) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_api(lambda: rt)), base_url="http://testserver"
    )


async def saved_comparison(rt: Runtime, client: httpx.AsyncClient) -> str:
    response = await client.post(
        f"{PREFIX}/comparisons", json={"prompt": PROMPT, "panes": [{"model": "simulated:instant"}]}
    )
    assert response.status_code == 201, response.text
    comparison_id: str = response.json()["id"]
    await wait_until_final(rt.comparisons, comparison_id)
    return comparison_id


async def test_share_read_publicly_list_and_revoke(rt: Runtime) -> None:
    async with api_client(rt) as client, anonymous(rt) as public:
        comparison_id = await saved_comparison(rt, client)
        made = await client.post(f"{PREFIX}/comparisons/{comparison_id}/shares", json={"expires_in_days": 7})
        assert made.status_code == 201, made.text
        body = made.json()
        token = body["token"]
        assert body["url_path"] == f"/share/{token}"
        assert body["active"] is True and body["revoked_at"] is None
        expires = datetime.fromisoformat(body["expires_at"])
        assert timedelta(days=6, hours=23) < expires - utcnow() <= timedelta(days=7)

        shown = await public.get(f"{PREFIX}/shares/{token}")
        assert shown.status_code == 200, shown.text
        assert shown.headers["cache-control"] == "no-store"
        view = shown.json()
        assert view["prompt"] == PROMPT
        assert [r["model"] for r in view["runs"]] == ["simulated:instant"]
        assert view["runs"][0]["status"] == "done" and view["runs"][0]["output_text"]
        assert set(view) == {"prompt", "system_prompt", "created_at", "owner_name", "expires_at", "runs"}
        assert OWNER_EMAIL not in shown.text and comparison_id not in shown.text

        listed = await client.get(f"{PREFIX}/comparisons/{comparison_id}/shares")
        assert listed.status_code == 200
        assert [s["id"] for s in listed.json()] == [body["id"]]
        assert token not in listed.text

        revoked = await client.delete(f"{PREFIX}/shares/{body['id']}")
        assert revoked.status_code == 200
        assert revoked.json()["active"] is False and revoked.json()["revoked_at"]
        assert (await public.get(f"{PREFIX}/shares/{token}")).status_code == 404


async def test_expired_and_unknown_links_are_404(rt: Runtime) -> None:
    async with api_client(rt) as client, anonymous(rt) as public:
        comparison_id = await saved_comparison(rt, client)
        made = (
            await client.post(f"{PREFIX}/comparisons/{comparison_id}/shares", json={"expires_in_hours": 1})
        ).json()
        assert (await public.get(f"{PREFIX}/shares/{made['token']}")).status_code == 200
        async with rt.db.session() as session:
            await session.execute(
                update(Share).where(Share.id == made["id"]).values(expires_at=utcnow() - timedelta(minutes=1))
            )
            await session.commit()
        expired = await public.get(f"{PREFIX}/shares/{made['token']}")
        unknown = await public.get(f"{PREFIX}/shares/not-a-real-token")
        assert expired.status_code == unknown.status_code == 404
        assert expired.json() == unknown.json()


async def test_authed_routes_need_a_token(rt: Runtime) -> None:
    async with api_client(rt) as client, anonymous(rt) as public:
        comparison_id = await saved_comparison(rt, client)
        token = (await client.post(f"{PREFIX}/comparisons/{comparison_id}/shares")).json()["token"]
        share_id = (await client.get(f"{PREFIX}/comparisons/{comparison_id}/shares")).json()[0]["id"]
        for method, path in [
            ("POST", f"{PREFIX}/comparisons/{comparison_id}/shares"),
            ("GET", f"{PREFIX}/comparisons/{comparison_id}/shares"),
            ("DELETE", f"{PREFIX}/shares/{share_id}"),
            ("POST", f"{PREFIX}/shares/{token}/fork"),
        ]:
            response = await public.request(method, path)
            assert response.status_code == 401, (method, path, response.status_code)


async def test_other_peoples_comparisons_and_links_are_404(rt: Runtime) -> None:
    async with api_client(rt) as client, api_client(rt, OTHER_EMAIL) as eve:
        comparison_id = await saved_comparison(rt, client)
        share_id = (await client.post(f"{PREFIX}/comparisons/{comparison_id}/shares")).json()["id"]
        assert (await eve.post(f"{PREFIX}/comparisons/{comparison_id}/shares")).status_code == 404
        assert (await eve.get(f"{PREFIX}/comparisons/{comparison_id}/shares")).status_code == 404
        assert (await eve.delete(f"{PREFIX}/shares/{share_id}")).status_code == 404
        assert (await client.get(f"{PREFIX}/comparisons/{comparison_id}/shares")).json()[0]["active"]


async def test_bad_expiry_is_422(rt: Runtime) -> None:
    async with api_client(rt) as client:
        comparison_id = await saved_comparison(rt, client)
        url = f"{PREFIX}/comparisons/{comparison_id}/shares"
        both = await client.post(url, json={"expires_in_hours": 1, "expires_in_days": 1})
        assert both.status_code == 422 and "expires" in both.json()["errors"]
        assert (await client.post(url, json={"expires_in_days": 400})).status_code == 422
        assert (await client.post(url, json={"expires_in_hours": -1})).status_code == 422
        assert (await client.post(url, json={"token": "chosen"})).status_code == 422
        # Too large for a timedelta (a 500 before), or not a number at all: a 422 naming the field.
        for huge in (
            '{"expires_in_hours": 1e308}',
            '{"expires_in_days": 1e12}',
            '{"expires_in_hours": Infinity}',
        ):
            response = await client.post(url, content=huge, headers={"Content-Type": "application/json"})
            assert response.status_code == 422, (huge, response.text)
            assert "expires" in response.text


async def test_fork_creates_a_comparison_of_the_caller(rt: Runtime) -> None:
    async with api_client(rt) as client, api_client(rt, OTHER_EMAIL) as eve:
        comparison_id = await saved_comparison(rt, client)
        token = (await client.post(f"{PREFIX}/comparisons/{comparison_id}/shares")).json()["token"]
        forked = await eve.post(f"{PREFIX}/shares/{token}/fork")
        assert forked.status_code == 201, forked.text
        copy = forked.json()
        assert copy["id"] != comparison_id and copy["prompt"] == PROMPT
        assert copy["runs"][0]["status"] == "done" and copy["runs"][0]["output_text"]
        assert (await eve.get(f"{PREFIX}/comparisons/{copy['id']}")).status_code == 200
        assert (await client.get(f"{PREFIX}/comparisons/{copy['id']}")).status_code == 404
        assert (await eve.post(f"{PREFIX}/shares/nope/fork")).status_code == 404
