"""A pane's optional parameters and the prompt's images on the compare page's state: checked as
the temperature is, sent with Run only for what the model takes, images refused for a model
without vision."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backend.run_options import PENALTY_ERROR, SCHEMA_ERROR, STOP_ERROR, TOP_P_ERROR
from backend.runtime import Runtime, running
from devstack.postgres import migrated_sqlite_url
from state.compare import CompareState
from state.pane_options import PaneOptionsState
from state.pane_params import invalid_panes
from state.prompt_images import THUMBNAIL_MAX_BYTES, PromptImagesState, show_record_images
from state.rows import new_pane
from state.run_option_fields import pane_payload
from tests.backend.runtime_support import make_settings, owner, wait_until_final
from tests.state.support import in_tree, sign_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


async def _compare(options: PaneOptionsState, *models: str) -> CompareState:
    compare = await options.get_state(CompareState)
    compare.panes = [new_pane(m, []) for m in models]
    return compare


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("top_p", "1.5", TOP_P_ERROR),
        ("top_p", "abc", TOP_P_ERROR),
        ("presence_penalty", "-3", PENALTY_ERROR),
        ("frequency_penalty", "9", PENALTY_ERROR),
        ("stop", "a\nb\nc\nd\ne", STOP_ERROR),
        ("json_schema", "[1, 2]", SCHEMA_ERROR),
    ],
)
async def test_a_bad_value_stays_on_screen_with_its_message_and_blocks_run(
    field: str, value: str, error: str
) -> None:
    # What a pane runs is what it shows (issue 16): the text typed stays, Run refuses until fixed.
    state = in_tree(PaneOptionsState)
    compare = await _compare(state, "simulated:swift")
    pane_id = compare.panes[0].pane_id
    await PaneOptionsState.set_pane_option.fn(state, pane_id, field, value)
    assert compare.panes[0].field_errors == {field: error}
    assert getattr(compare.panes[0], field) == value
    assert invalid_panes(compare.panes) == [compare.panes[0]]
    await PaneOptionsState.set_pane_option.fn(state, pane_id, field, "")
    assert compare.panes[0].field_errors == {} and invalid_panes(compare.panes) == []


async def test_good_values_are_sent_only_for_what_the_model_takes() -> None:
    state = in_tree(PaneOptionsState)
    compare = await _compare(state, "simulated:swift", "simulated:terse")
    for pane in compare.panes:
        for field, value in (
            ("top_p", "0.5"),
            ("seed", "7"),
            ("stop", "END\n###"),
            ("response_format", "json"),
        ):
            await PaneOptionsState.set_pane_option.fn(state, pane.pane_id, field, value)
        assert pane.field_errors == {}
    swift, terse = (pane_payload(p) for p in compare.panes)
    assert swift == {
        "model": "simulated:swift",
        "temperature": 0.7,
        "max_tokens": 1024,
        "top_p": 0.5,
        "seed": 7,
        "stop": ["END", "###"],
        "response_format": "json",
    }
    # Terse takes a seed and stop sequences only: its other fields are hidden and not sent.
    assert terse == {
        "model": "simulated:terse",
        "temperature": 0.7,
        "max_tokens": 1024,
        "seed": 7,
        "stop": ["END", "###"],
    }
    assert compare.panes[1].caps == ["seed", "stop"]


async def test_changing_the_model_keeps_the_options() -> None:
    state = in_tree(PaneOptionsState)
    compare = await _compare(state, "simulated:terse")
    pane_id = compare.panes[0].pane_id
    await PaneOptionsState.set_pane_option.fn(state, pane_id, "stop", "END")
    CompareState.set_pane_model.fn(compare, pane_id, "simulated:swift")
    assert compare.panes[0].stop == "END" and "top_p" in compare.panes[0].caps


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(make_settings(migrated_sqlite_url(tmp_path), tmp_path)) as rt:
        yield rt


async def test_run_saves_the_options_and_the_images(runtime: Runtime) -> None:
    images = in_tree(PromptImagesState)
    await sign_in(images, runtime)
    await images._keep(await owner(runtime), [("cat.png", PNG), ("notes.txt", b"hello")])
    assert [i.name for i in images.images] == ["cat.png"]
    assert images.image_error == "Only PNG, JPEG, GIF and WebP images can be attached."

    compare = await images.get_state(CompareState)
    compare.panes = [new_pane("simulated:terse", [])]
    compare.prompt = "What is this? [[simulate:tokens=6]]"
    assert await CompareState.run.fn(compare) is None  # terse has no vision: nothing runs
    assert any("does not accept images" in m for m in compare.panes[0].field_errors.values())

    compare.panes = [new_pane("simulated:swift", [])]
    compare.panes[0].top_p = "0.25"
    await CompareState.run.fn(compare)
    assert compare.comparison_id, compare.errors
    record = await wait_until_final(runtime.comparisons, compare.comparison_id)
    assert record.runs[0].params.options.top_p == 0.25
    assert record.runs[0].output_text.startswith("I see 1 image(s) (image/png 40 bytes).")
    assert compare.panes[0].top_p == "0.25"  # shown again from the saved run

    saved_ids = [i.id for i in images.images]
    images.images = []
    show_record_images(images, record)  # reopening the comparison brings its images back
    assert [i.id for i in images.images] == saved_ids


async def test_a_pasted_image_is_kept_with_its_thumbnail_and_pasted_text_is_not(runtime: Runtime) -> None:
    images = in_tree(PromptImagesState)
    await sign_in(images, runtime)
    pasted = "data:image/png;base64," + base64.b64encode(PNG).decode()
    await PromptImagesState.paste_images.fn(
        images, [("text/plain", "a line of the prompt"), ("image/png", pasted)]
    )
    [image] = images.images
    assert (image.name, image.thumbnail, images.image_error) == ("pasted image", pasted, "")
    big = b"\x89PNG\r\n\x1a\n" + b"\x01" * (THUMBNAIL_MAX_BYTES + 1)  # too big to ship as a thumbnail
    await images._keep(await owner(runtime), [("big.png", big)])
    assert [(i.name, i.thumbnail) for i in images.images] == [("pasted image", pasted), ("big.png", "")]
