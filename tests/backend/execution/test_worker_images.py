"""The worker reads a task's images from the file store (the queue carries only their keys),
and a task's options reach the provider; a worker without the store says so."""

from __future__ import annotations

from pathlib import Path

from backend.files.images import save_image
from backend.files.store import LocalFileStore
from backend.queue.embedded import EmbeddedBroker
from backend.run_options import RunOptions
from tests.backend.execution.test_worker import events_until_final, make_task, split, worker_running

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 20


async def test_images_are_read_from_the_store_and_options_applied(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    ref = await save_image(store, "u1", PNG, 1_000)
    broker = EmbeddedBroker()
    task = make_task(
        "[[simulate:tokens=8]] What is in it?",
        model="simulated:swift",
        images=(ref,),
        options=RunOptions(response_format="json"),
    )
    assert ref.key in task.to_bytes().decode() and "\\x89PNG" not in task.to_bytes().decode()
    async with worker_running(broker, files=store):
        await broker.submit(task)
        _, _, final = split(await events_until_final(broker, task.run_id))
    assert final.status == "done", final.error
    assert final.output_text.startswith('{"answer": "I see 1 image(s) (image/png 28 bytes).')


async def test_a_worker_without_a_file_store_fails_the_run_clearly(tmp_path: Path) -> None:
    ref = await save_image(LocalFileStore(tmp_path), "u1", PNG, 1_000)
    broker = EmbeddedBroker()
    task = make_task("Describe", model="simulated:swift", images=(ref,))
    async with worker_running(broker):
        await broker.submit(task)
        _, _, final = split(await events_until_final(broker, task.run_id))
    assert (final.status, final.error_kind) == ("error", "bad_request")
    assert "no file store" in final.error


async def test_an_image_gone_from_the_store_fails_the_run_clearly(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    ref = await save_image(store, "u1", PNG, 1_000)
    (tmp_path / ref.key).unlink()
    broker = EmbeddedBroker()
    task = make_task("Describe", model="simulated:swift", images=(ref,))
    async with worker_running(broker, files=store):
        await broker.submit(task)
        _, _, final = split(await events_until_final(broker, task.run_id))
    assert (final.status, final.error_kind) == ("error", "bad_request")
    assert "no longer stored" in final.error
