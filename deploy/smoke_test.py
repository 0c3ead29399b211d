"""Smoke test of a deployed revision, run by .github/workflows/deploy.yml against the new revision's
tagged address before it gets traffic (and against the service's address after):

    python deploy/smoke_test.py https://g1a2b3c4---llmdash-production-web-xyz.a.run.app

with SMOKE_API_TOKEN (a personal API token of a dedicated user, docs/deploy.md) in the environment.
It checks that the front end is served, that /api/v1/health is ok (database, Kafka, live workers,
Redis), and runs a comparison of two simulated models through the API end to end (web -> Kafka ->
worker -> Kafka -> web -> database), then deletes it.  Exit 0 on success, 1 with the reason.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

import httpx

API = "/api/v1"
PROMPT = "[[simulate:tokens=24]] Smoke test: explain a B-tree in one paragraph."
PANES = [{"model": "simulated:instant", "max_tokens": 64}, {"model": "simulated:swift", "max_tokens": 64}]
FINAL = {"done", "error", "cancelled"}


class SmokeFailure(RuntimeError):
    pass


async def check_api(client: httpx.AsyncClient, timeout_s: float = 60.0) -> str:
    """Health, then one simulated comparison to the end; returns a one-line summary."""
    health = await client.get(f"{API}/health")
    if health.status_code != 200 or health.json().get("status") != "ok":
        raise SmokeFailure(f"health: {health.status_code} {health.text[:300]}")
    created = await client.post(f"{API}/comparisons", json={"prompt": PROMPT, "panes": PANES})
    if created.status_code != 201:
        raise SmokeFailure(f"create comparison: {created.status_code} {created.text[:300]}")
    comparison_id = created.json()["id"]
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            got = await client.get(f"{API}/comparisons/{comparison_id}")
            got.raise_for_status()
            runs = got.json()["runs"]
            if all(run["status"] in FINAL for run in runs):
                break
            if time.monotonic() > deadline:
                raise SmokeFailure(f"comparison {comparison_id} not finished after {timeout_s:.0f} s: {runs}")
            await asyncio.sleep(0.5)
        bad = [f"{run.get('model', run['id'])}: {run['status']}" for run in runs if run["status"] != "done"]
        if bad or not all(run["output_text"].strip() for run in runs):
            raise SmokeFailure(f"comparison {comparison_id} ended badly: {bad or 'empty output'}")
        return f"health ok; comparison {comparison_id}: {len(runs)} simulated runs done"
    finally:
        await client.delete(f"{API}/comparisons/{comparison_id}")


async def check(base_url: str, token: str) -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=20.0, follow_redirects=True) as web:
        for path in ("/ping", "/"):
            page = await web.get(path)
            if page.status_code != 200:
                raise SmokeFailure(f"GET {path}: {page.status_code}")
        if "<html" not in (await web.get("/")).text.lower():
            raise SmokeFailure("GET /: no HTML page (front end not built into the image?)")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=20.0, headers=headers) as api:
        return await check_api(api)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not os.environ.get("SMOKE_API_TOKEN"):
        print("usage: SMOKE_API_TOKEN=... python deploy/smoke_test.py BASE_URL", file=sys.stderr)
        return 2
    try:
        print(asyncio.run(check(argv[1].rstrip("/"), os.environ["SMOKE_API_TOKEN"])))
    except (SmokeFailure, httpx.HTTPError) as exc:
        print(f"smoke test failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
