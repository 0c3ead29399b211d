"""The API's Swagger page, served whole by the app itself (issue 15, browser hardening).

FastAPI's own page loads Swagger UI from a CDN (a floating version, without Subresource
Integrity), so whoever serves that file runs script on this origin. Here the page's script,
style sheet and icon come from the swagger-ui-bundle-v2 package (Swagger UI, a pinned release,
installed with the app): the page needs no other host, and its script policy
(dashboard/security_headers.py) admits only this origin and the page's one inline script.

- No online validator: Swagger UI would send the API's description to validator.swagger.io
  and show its badge (`validatorUrl: null`).
- No OAuth2 redirect page: the API takes bearer tokens, not an OAuth flow.
- ReDoc stays off (create_api's `redoc_url=None`): it too would load from a CDN.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from swagger_ui_bundle import swagger_ui_path

# The files the page loads, by name, with their type: nothing else of the package is served.
ASSETS: dict[str, str] = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
# The files change only with the package: a day in the browser's cache (the API's answers
# are otherwise no-store, dashboard/security_headers.py).
ASSET_CACHE = "public, max-age=86400"


def add_docs_page(api: FastAPI, docs_path: str, openapi_path: str) -> None:
    """`docs_path`: the Swagger page; `docs_path/assets/<name>`: the files of `ASSETS`."""
    assets_path = f"{docs_path}/assets"
    folder = Path(str(swagger_ui_path))

    async def page(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_path,
            title=f"{api.title} - Swagger UI",
            swagger_js_url=f"{assets_path}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets_path}/swagger-ui.css",
            swagger_favicon_url=f"{assets_path}/favicon-32x32.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters={"validatorUrl": None},
        )

    async def asset(request: Request) -> Response:
        name = str(request.path_params["name"])
        media_type = ASSETS.get(name)
        if media_type is None:
            return PlainTextResponse("Not Found", status_code=404)
        return FileResponse(folder / name, media_type=media_type, headers={"Cache-Control": ASSET_CACHE})

    # Plain routes (GET and HEAD), as FastAPI adds its own docs page: not operations of the API.
    api.add_route(docs_path, page, include_in_schema=False)
    api.add_route(f"{assets_path}/{{name}}", asset, include_in_schema=False)
