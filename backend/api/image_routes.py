"""Images for prompts over HTTP: upload one, then name its id in `POST /api/v1/comparisons`
(`"images": [id]`). The body is the image itself (Content-Type image/png, image/jpeg, image/gif
or image/webp); its type is checked by its content, its size against MAX_IMAGE_BYTES (and, as
for every API request, MAX_REQUEST_BYTES)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from backend.api.auth import User
from backend.api.schemas import ErrorOut
from backend.files.images import InvalidImage, image_id, save_image
from backend.i18n import gettext, request_language
from backend.runtime import Runtime

API_PREFIX = "/api/v1"
BINARY = {"type": "string", "format": "binary"}


class ImageOut(BaseModel):
    id: str
    media_type: str
    bytes: int


def image_router(get_runtime: Callable[[], Runtime]) -> APIRouter:
    router = APIRouter(tags=["images"])

    @router.post(
        f"{API_PREFIX}/images",
        response_model=ImageOut,
        status_code=201,
        responses={422: {"model": ErrorOut}},
        openapi_extra={"requestBody": {"content": {"image/*": {"schema": BINARY}}}},
    )
    async def upload_image(user: User, request: Request) -> JSONResponse:
        rt = get_runtime()
        data = await request.body()
        try:
            ref = await save_image(rt.comparisons.files, user.user_id, data, rt.settings.max_image_bytes)
        except InvalidImage as exc:
            language = request_language(request.headers.get("cookie"), request.headers.get("accept-language"))
            message = gettext(language, exc.message)
            error = ErrorOut(detail=message, errors={"image": message})
            return JSONResponse(status_code=422, content=error.model_dump())
        out = ImageOut(id=image_id(ref), media_type=ref.media_type, bytes=len(data))
        return JSONResponse(status_code=201, content=out.model_dump())

    return router
