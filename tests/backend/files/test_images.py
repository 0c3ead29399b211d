"""The file store and a prompt's images: type by content, size, per-user keys, read back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.files.images import (
    InvalidImage,
    check_image,
    image_id,
    images_of,
    images_setting,
    load_images,
    resolve_images,
    save_image,
)
from backend.files.store import FileNotStored, GCSFileStore, LocalFileStore, file_store
from backend.run_options import ImageData
from backend.settings import Settings
from tests.support.fake_gcs_server import FakeGCSServer, gcs_client

PNG = b"\x89PNG\r\n\x1a\n" + b"pixels"
JPEG = b"\xff\xd8\xff\xe0" + b"jfif"
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8 "


@pytest.mark.parametrize(
    ("data", "media_type"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), (b"GIF89a...", "image/gif"), (WEBP, "image/webp")],
)
def test_types_are_told_by_content(data: bytes, media_type: str) -> None:
    assert check_image(data, 1_000) == media_type


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.7", "Only PNG, JPEG, GIF and WebP images can be attached."),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'/>",
            "Only PNG, JPEG, GIF and WebP images can be attached.",
        ),
        (b"", "cat.png is empty."),
        (PNG + b"x" * 2_000_000, "cat.png is 2.0 MB; images may be at most 1.0 MB."),
    ],
)
def test_bad_images_say_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(InvalidImage) as caught:
        check_image(data, 1_000_000, "cat.png")
    assert caught.value.message == message


async def test_saved_images_are_per_user_and_read_back(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    ref = await save_image(store, "user-1", PNG, 1_000)
    assert ref.key.startswith("user-1/") and ref.key.endswith(".png")
    assert (tmp_path / ref.key).read_bytes() == PNG
    assert await resolve_images(store, "user-1", [image_id(ref)]) == (ref,)
    with pytest.raises(InvalidImage):  # another user cannot name it
        await resolve_images(store, "user-2", [image_id(ref)])
    with pytest.raises(InvalidImage):
        await resolve_images(store, "user-1", ["../../etc/passwd"])
    assert await load_images(store, [ref]) == (ImageData("image/png", PNG),)
    assert images_of(images_setting("user-1", [image_id(ref)])) == (ref,)
    assert images_setting("user-1", []) == {}


async def test_local_store_refuses_keys_it_did_not_make(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    with pytest.raises(ValueError):
        await store.put("../outside/" + "a" * 64 + ".png", PNG, "image/png")
    with pytest.raises(FileNotStored):
        await store.get("u/" + "a" * 64 + ".png")


def test_settings_pick_the_store(tmp_path: Path) -> None:
    local = file_store(Settings(_env_file=None, data_dir=tmp_path))
    assert isinstance(local, LocalFileStore) and local.root == tmp_path / "files"
    gcs = file_store(Settings(_env_file=None, file_store="gcs", file_store_bucket="llmdash-files"))
    assert isinstance(gcs, GCSFileStore) and gcs.bucket_name == "llmdash-files"
    with pytest.raises(ValueError, match="FILE_STORE_BUCKET"):
        file_store(Settings(_env_file=None, file_store="gcs"))


@pytest.fixture
def gcs() -> Iterator[FakeGCSServer]:
    server = FakeGCSServer().start()
    try:
        yield server
    finally:
        server.stop()


async def test_gcs_store_round_trips_through_the_json_api(gcs: FakeGCSServer) -> None:
    """google-cloud-storage's real client against a local server speaking the JSON API."""
    store = GCSFileStore("llmdash-files", client=gcs_client(gcs))
    ref = await save_image(store, "u1", PNG, 1_000)
    stored = gcs.objects[("llmdash-files", ref.key)]
    assert (stored.data, stored.content_type) == (PNG, "image/png")
    assert await store.exists(ref.key)
    assert await store.get(ref.key) == PNG
    assert await load_images(store, [ref]) == (ImageData("image/png", PNG),)
    again = await save_image(store, "u1", PNG, 1_000)  # the same image: one object, stored once
    assert again == ref and len(gcs.objects) == 1
    assert "upload" in gcs.routes() and "download" in gcs.routes()
    assert {r.name for r in gcs.requests if r.route != "bucket"} == {ref.key}  # "u1/<sha>.png", slash and all


async def test_gcs_store_says_a_deleted_object_is_not_stored(gcs: FakeGCSServer) -> None:
    client = gcs_client(gcs)
    store = GCSFileStore("llmdash-files", client=client)
    ref = await save_image(store, "u1", PNG, 1_000)
    client.bucket("llmdash-files").blob(ref.key).delete()  # gone (a lifecycle rule, an operator)
    assert gcs.routes()[-1] == "delete" and gcs.objects == {}
    assert not await store.exists(ref.key)
    with pytest.raises(FileNotStored):
        await store.get(ref.key)
    with pytest.raises(InvalidImage, match="no longer stored"):
        await load_images(store, [ref])


async def test_gcs_store_in_a_bucket_that_does_not_exist_fails_loudly(gcs: FakeGCSServer) -> None:
    store = GCSFileStore("no-such-bucket", client=gcs_client(gcs))
    with pytest.raises(Exception, match="bucket"):
        await save_image(store, "u1", PNG, 1_000)
    assert gcs.objects == {}
