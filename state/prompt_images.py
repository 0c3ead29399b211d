"""Images attached to the next prompt: uploaded (or pasted) here, checked (type by content,
size) and stored in the file store at once; Run sends their ids with the comparison, whose
service refuses them for a pane whose model has no vision."""

from __future__ import annotations

import base64
import binascii
import dataclasses

import reflex as rx

from backend import runtime
from backend.auth import Principal
from backend.db.records import ComparisonRecord
from backend.files.images import MAX_IMAGES, TOO_MANY_ERROR, InvalidImage, image_id, images_of, save_image
from state.current_user import with_user
from state.events import event
from state.language import localized

UPLOAD_ID = "prompt-images"
THUMBNAIL_MAX_BYTES = 150_000  # larger images show an icon: their bytes would weigh on every update


@dataclasses.dataclass
class ImageRow:
    id: str  # "<sha256>.<ext>": what the comparison names
    name: str
    size: str  # "12 KB"
    thumbnail: str = ""  # the image as a data: URI (small images only), or "": an icon


class PromptImagesState(rx.State):
    images: rx.Field[list[ImageRow]] = rx.field(default_factory=list)
    image_error: rx.Field[str] = rx.field("")

    @rx.var(cache=True)
    def has_images(self) -> bool:
        return bool(self.images)

    @event
    @with_user
    async def upload_images(self, user: Principal, files: list[rx.UploadFile]) -> None:
        await self._keep(user, [(file.name or "image", await file.read()) for file in files])

    @event
    @with_user
    async def paste_images(self, user: Principal, items: list[tuple[str, str]]) -> None:
        """Clipboard items as (type, data URI) pasted into the prompt or the drop zone; text and
        other types are ignored (the prompt keeps pasted text as typed)."""
        pasted = []
        for media_type, data_uri in items:
            if not media_type.startswith("image/"):
                continue
            try:
                pasted.append(("pasted image", base64.b64decode(data_uri.partition(",")[2], validate=True)))
            except (binascii.Error, ValueError):
                continue
        await self._keep(user, pasted)

    async def _keep(self, user: Principal, files: list[tuple[str, bytes]]) -> None:
        rt = runtime.current()
        self.image_error = ""
        for name, data in files:
            if len(self.images) >= MAX_IMAGES:
                self.image_error = await localized(self, TOO_MANY_ERROR)
                return
            try:
                ref = await save_image(
                    rt.comparisons.files, user.user_id, data, rt.settings.max_image_bytes, name
                )
            except InvalidImage as exc:
                self.image_error = await localized(self, exc.message)
                continue
            if image_id(ref) not in attached_image_ids(self):
                self.images.append(
                    ImageRow(
                        id=image_id(ref),
                        name=name[:80],
                        size=f"{max(len(data) // 1000, 1)} KB",
                        thumbnail=_thumbnail(ref.media_type, data),
                    )
                )

    @event
    def remove_image(self, image: str) -> None:
        self.images = [i for i in self.images if i.id != image]
        self.image_error = ""


def _thumbnail(media_type: str, data: bytes) -> str:
    """A small image as a data: URI for its chip (its type was told by content: no SVG)."""
    if len(data) > THUMBNAIL_MAX_BYTES:
        return ""
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def attached_image_ids(state: PromptImagesState) -> list[str]:
    """What Run names in the comparison (a function: a public method would be an event handler)."""
    return [image.id for image in state.images]


def show_record_images(state: PromptImagesState, record: ComparisonRecord) -> None:
    """A reopened comparison's images, so Run sends them again (its author's: the service
    refuses another person's image ids)."""
    state.images = [
        ImageRow(id=image_id(ref), name=image_id(ref)[:12], size="") for ref in images_of(record.settings)
    ]
    state.image_error = ""
