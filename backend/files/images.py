"""A prompt's images: checked (type by content, size), stored content-addressed per user, read
back for the worker.

An image's id is "<sha256>.<ext>"; it is stored under "<user id>/<id>", so a comparison can name
only its author's images, and the same image uploaded twice is stored once.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from backend.files.store import FileNotStored, FileStore
from backend.i18n import N_, Message
from backend.run_options import ImageData, ImageRef

MAX_IMAGES = 4
# What every provider here accepts (OpenAI, Anthropic, Gemini, Ollama), by extension.
IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
TYPE_ERROR = N_("Only PNG, JPEG, GIF and WebP images can be attached.")
TOO_MANY_ERROR = N_("At most 4 images can be attached to a prompt.")
assert str(MAX_IMAGES) in TOO_MANY_ERROR


class InvalidImage(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def sniff_media_type(data: bytes) -> str | None:
    """The image type by its first bytes (a file's name or declared type can lie)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check_image(data: bytes, max_bytes: int, name: str = "") -> str:
    """The image's media type, or InvalidImage saying what is wrong with it."""
    if not data:
        raise InvalidImage(Message("{name} is empty.", name=name or "The image"))
    if len(data) > max_bytes:
        raise InvalidImage(
            Message(
                "{name} is {size:.1f} MB; images may be at most {limit:.1f} MB.",
                name=name or "The image",
                size=len(data) / 1_000_000,
                limit=max_bytes / 1_000_000,
            )
        )
    media_type = sniff_media_type(data)
    if media_type is None:
        raise InvalidImage(TYPE_ERROR)
    return media_type


def image_id(ref: ImageRef) -> str:
    return ref.key.rsplit("/", 1)[-1]


async def save_image(store: FileStore, user_id: str, data: bytes, max_bytes: int, name: str = "") -> ImageRef:
    media_type = check_image(data, max_bytes, name)
    digest = await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())
    ref = ImageRef(key=f"{user_id}/{digest}.{IMAGE_TYPES[media_type]}", media_type=media_type)
    await store.put(ref.key, data, media_type)
    return ref


def ref_for(user_id: str, image: str) -> ImageRef | None:
    """The user's image named by its id, or None for something that is not an image id."""
    stem, _, ext = image.partition(".")
    media_type = next((t for t, e in IMAGE_TYPES.items() if e == ext), None)
    if media_type is None or len(stem) != 64 or any(c not in "0123456789abcdef" for c in stem):
        return None
    return ImageRef(key=f"{user_id}/{image}", media_type=media_type)


async def resolve_images(store: FileStore, user_id: str, ids: Sequence[str]) -> tuple[ImageRef, ...]:
    """The user's uploaded images by id; InvalidImage for one that is not there."""
    if len(ids) > MAX_IMAGES:
        raise InvalidImage(TOO_MANY_ERROR)
    refs = []
    for image in ids:
        ref = ref_for(user_id, image)
        if ref is None or not await store.exists(ref.key):
            raise InvalidImage(Message("No uploaded image {id}.", id=image[:80]))
        refs.append(ref)
    return tuple(refs)


async def load_images(store: FileStore, refs: Sequence[ImageRef]) -> tuple[ImageData, ...]:
    """The bytes of a run's images, for its provider call."""
    try:
        return tuple([ImageData(ref.media_type, await store.get(ref.key)) for ref in refs])
    except FileNotStored as exc:
        raise InvalidImage(
            Message("An image of this prompt is no longer stored ({key}).", key=str(exc))
        ) from exc


IMAGES_SETTING = "images"  # the comparison's settings JSON: [{"key": …, "media_type": …}]


def images_setting(user_id: str, ids: Sequence[str]) -> dict[str, object]:
    """What a comparison's settings JSON keeps of its images (their store keys); {} for none."""
    refs = [ref for image in ids if (ref := ref_for(user_id, image)) is not None]
    if not refs:
        return {}
    return {IMAGES_SETTING: [{"key": ref.key, "media_type": ref.media_type} for ref in refs]}


def images_of(settings: Mapping[str, Any]) -> tuple[ImageRef, ...]:
    """A comparison's images, from its settings JSON."""
    stored = settings.get(IMAGES_SETTING) or []
    return tuple(ImageRef(key=str(i["key"]), media_type=str(i["media_type"])) for i in stored)
