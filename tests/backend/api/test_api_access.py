"""Who the HTTP API acts for, and every refusal: no token, a bad token, another
user's ids, a role that does not allow the action."""

from __future__ import annotations

import httpx
import pytest

from backend.api.app import create_api
from backend.runtime import Runtime
from tests.backend.runtime_support import api_client, owner, wait_until_final

PREFIX = "/api/v1"
BODY = {"prompt": "[[simulate:tokens=3]] hi", "panes": [{"model": "simulated:instant"}]}


def _anonymous(rt: Runtime, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_api(lambda: rt)),
        base_url="http://testserver",
        headers=headers or {},
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer llmd_not-a-real-token"},
        {"Authorization": "Bearer ' OR '1'='1"},
        {"Authorization": "Bearer llmd_' OR 1=1 --"},
        {"X-API-Key": "' OR ''='"},
        {"Authorization": "Basic YWRhOnB3"},
    ],
)
async def test_requests_without_a_valid_token_get_401_and_no_details(
    rt: Runtime, headers: dict[str, str]
) -> None:
    async with _anonymous(rt, headers) as client:
        for method, path in (("GET", "/models"), ("POST", "/comparisons"), ("GET", "/projects")):
            response = await client.request(method, PREFIX + path, json=BODY)
            assert response.status_code == 401, (method, path, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
            assert "sql" not in response.text.lower() and "select" not in response.text.lower()


async def test_the_x_api_key_header_is_the_same_check(rt: Runtime) -> None:
    token = await rt.accounts.create_api_token(await owner(rt), "header test")
    async with _anonymous(rt, {"X-API-Key": token}) as client:
        assert (await client.get(f"{PREFIX}/projects")).status_code == 200
    other = await rt.accounts.create_api_token(await owner(rt, "eve@example.org"), "eve")
    async with _anonymous(rt, {"X-API-Key": token, "Authorization": f"Bearer {other}"}) as client:
        refused = await client.get(f"{PREFIX}/projects")
    assert refused.status_code == 401 and "one API token" in refused.json()["detail"]


async def test_a_revoked_token_stops_working(rt: Runtime) -> None:
    ada = await owner(rt)
    token = await rt.accounts.create_api_token(ada, "short-lived")
    async with _anonymous(rt, {"Authorization": f"Bearer {token}"}) as client:
        assert (await client.get(f"{PREFIX}/projects")).status_code == 200
        await rt.accounts.revoke_api_token(ada, (await rt.accounts.list_api_tokens(ada))[0].id)
        assert (await client.get(f"{PREFIX}/projects")).status_code == 401


async def test_another_users_comparison_is_404_on_every_route(rt: Runtime) -> None:
    async with api_client(rt, "ada@example.org") as ada, api_client(rt, "eve@example.org") as eve:
        created = (await ada.post(f"{PREFIX}/comparisons", json=BODY)).json()
        await wait_until_final(rt.comparisons, created["id"])
        cid = created["id"]
        for method, path in (
            ("GET", f"/comparisons/{cid}"),
            ("GET", f"/comparisons/{cid}/events"),
            ("POST", f"/comparisons/{cid}/cancel"),
            ("DELETE", f"/comparisons/{cid}"),
        ):
            response = await eve.request(method, PREFIX + path)
            assert response.status_code == 404, (method, path, response.text)
            assert "ada@" not in response.text
        assert (await eve.get(f"{PREFIX}/comparisons")).json()["total"] == 0
        assert (await ada.get(f"{PREFIX}/comparisons/{cid}")).status_code == 200


async def test_another_users_project_is_404_and_a_viewer_gets_403(rt: Runtime) -> None:
    async with (
        api_client(rt, "ada@example.org") as ada,
        api_client(rt, "eve@example.org") as eve,
        api_client(rt, "vi@example.org") as vi,
    ):
        project_id = (await ada.post(f"{PREFIX}/projects", json={"name": "Team"})).json()["id"]
        for method, path, body in (
            ("PATCH", f"/projects/{project_id}", {"name": "Mine"}),
            ("DELETE", f"/projects/{project_id}", None),
            ("GET", f"/projects/{project_id}/members", None),
            ("PUT", f"/projects/{project_id}/members", {"email": "eve@example.org", "role": "owner"}),
            ("POST", "/comparisons", {**BODY, "project_id": project_id}),
            ("GET", f"/comparisons?project_id={project_id}", None),
        ):
            response = await eve.request(method, PREFIX + path, json=body)
            assert response.status_code == 404, (method, path, response.text)

        invite = {"email": "vi@example.org", "role": "viewer"}
        assert (await ada.put(f"{PREFIX}/projects/{project_id}/members", json=invite)).status_code == 204
        refused = await vi.post(f"{PREFIX}/comparisons", json={**BODY, "project_id": project_id})
        assert refused.status_code == 403 and "viewer" in refused.json()["detail"]
        assert (await vi.get(f"{PREFIX}/projects/{project_id}/members")).status_code == 200
        assert (await vi.delete(f"{PREFIX}/projects/{project_id}")).status_code == 403
        names = [p["name"] for p in (await ada.get(f"{PREFIX}/projects")).json()]
        assert names == ["Personal", "Team"]


async def test_bad_project_input_is_a_422_naming_the_field(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        empty = await ada.post(f"{PREFIX}/projects", json={"name": ""})
        assert empty.status_code == 422 and "name" in empty.json()["errors"]
        project_id = (await ada.post(f"{PREFIX}/projects", json={"name": "Team"})).json()["id"]
        bad_role = await ada.put(
            f"{PREFIX}/projects/{project_id}/members", json={"email": "x@example.org", "role": "god"}
        )
        assert bad_role.status_code == 422 and "role" in bad_role.json()["errors"]
        last_owner = await ada.delete(f"{PREFIX}/projects/{project_id}/members/ada@example.org")
        assert last_owner.status_code == 422
