"""A member removed from a project loses the share links they made to its comparisons (issue 15):
removing them revokes those links by default, through the API and the service, unless the owner
asks to keep them; links the member made elsewhere, and other members' links, stay."""

from __future__ import annotations

import httpx

from backend.api.app import create_api
from backend.runtime import Runtime
from tests.backend.runtime_support import api_client, owner, wait_until_final

PREFIX = "/api/v1"
BODY = {"prompt": "[[simulate:tokens=3]] hi", "panes": [{"model": "simulated:instant"}]}
VI = "vi@example.org"


def _public(rt: Runtime) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_api(lambda: rt)), base_url="http://t")


async def _comparison(rt: Runtime, client: httpx.AsyncClient, project_id: str = "") -> str:
    body = {**BODY, **({"project_id": project_id} if project_id else {})}
    made = await client.post(f"{PREFIX}/comparisons", json=body)
    assert made.status_code == 201, made.text
    await wait_until_final(rt.comparisons, made.json()["id"])
    return str(made.json()["id"])


async def _share(client: httpx.AsyncClient, comparison_id: str) -> str:
    made = await client.post(f"{PREFIX}/comparisons/{comparison_id}/shares", json={"expires_in_days": 7})
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


async def _team_with_vi(rt: Runtime, ada: httpx.AsyncClient) -> str:
    project_id = (await ada.post(f"{PREFIX}/projects", json={"name": "Team"})).json()["id"]
    await owner(rt, VI)
    added = await ada.put(f"{PREFIX}/projects/{project_id}/members", json={"email": VI, "role": "editor"})
    assert added.status_code == 204, added.text
    return str(project_id)


async def _alive(public: httpx.AsyncClient, token: str) -> bool:
    status = (await public.get(f"{PREFIX}/shares/{token}")).status_code
    assert status in (200, 404)
    return status == 200


async def test_removing_a_member_revokes_their_links_by_default(rt: Runtime) -> None:
    async with api_client(rt) as ada, api_client(rt, VI) as vi, _public(rt) as public:
        team = await _team_with_vi(rt, ada)
        vi_team_link = await _share(vi, await _comparison(rt, vi, team))
        vi_on_adas = await _share(vi, await _comparison(rt, ada, team))  # Vi's link to Ada's comparison
        adas_link = await _share(ada, await _comparison(rt, ada, team))
        vi_personal = await _share(vi, await _comparison(rt, vi))  # Vi's own project: not Ada's to end
        assert all([await _alive(public, t) for t in (vi_team_link, vi_on_adas, adas_link, vi_personal)])

        removed = await ada.delete(f"{PREFIX}/projects/{team}/members/{VI}")
        assert removed.status_code == 204, removed.text
        assert removed.headers["x-share-links-revoked"] == "2"
        assert not await _alive(public, vi_team_link)
        assert not await _alive(public, vi_on_adas)
        assert await _alive(public, adas_link)
        assert await _alive(public, vi_personal)


async def test_the_owner_can_keep_the_links(rt: Runtime) -> None:
    async with api_client(rt) as ada, api_client(rt, VI) as vi, _public(rt) as public:
        team = await _team_with_vi(rt, ada)
        link = await _share(vi, await _comparison(rt, vi, team))
        kept = await ada.delete(f"{PREFIX}/projects/{team}/members/{VI}", params={"keep_share_links": "true"})
        assert kept.status_code == 204 and kept.headers["x-share-links-revoked"] == "0"
        assert await _alive(public, link)


async def test_the_service_revokes_too_and_a_mixed_case_email_is_the_same_member(rt: Runtime) -> None:
    """The page calls the service; the email typed differently still names the member."""
    async with api_client(rt) as ada_client, api_client(rt, VI) as vi, _public(rt) as public:
        team = await _team_with_vi(rt, ada_client)
        link = await _share(vi, await _comparison(rt, vi, team))
        revoked = await rt.projects.remove_member(await owner(rt), team, "  VI@Example.ORG ")
        assert revoked == 1
        assert not await _alive(public, link)
        # Re-invited later, the old link stays revoked: nothing brings it back.
        await rt.projects.set_member(await owner(rt), team, VI, "viewer")
        assert not await _alive(public, link)


async def test_a_pending_invitation_has_no_links_and_removes_cleanly(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        project_id = (await ada.post(f"{PREFIX}/projects", json={"name": "Pending"})).json()["id"]
        await ada.put(
            f"{PREFIX}/projects/{project_id}/members", json={"email": "new@example.org", "role": "viewer"}
        )
        removed = await ada.delete(f"{PREFIX}/projects/{project_id}/members/new@example.org")
        assert removed.status_code == 204 and removed.headers["x-share-links-revoked"] == "0"
