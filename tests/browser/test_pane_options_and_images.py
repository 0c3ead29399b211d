"""A pane's capability-gated settings and an image attached to a vision model, in the browser.
Located by role and accessible name only."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

from playwright.sync_api import Page, expect

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def _first_pane_model(page: Page, model: str) -> None:
    select = page.get_by_role("combobox", name="Model", exact=True).first
    select.select_option(model)
    expect(select).to_have_value(model)


def test_a_setting_shows_only_for_models_that_take_it_and_is_checked(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("combobox", name="Model", exact=True)).to_have_count(3, timeout=30_000)
    _first_pane_model(page, "simulated:terse")  # takes a seed and stop sequences only
    page.get_by_role("button", name="More settings").first.click()
    expect(page.get_by_role("spinbutton", name="Seed")).to_have_count(1)
    expect(page.get_by_role("spinbutton", name="Top P")).to_have_count(0)
    expect(page.get_by_role("combobox", name="Output format")).to_have_count(0)

    _first_pane_model(page, "simulated:swift")  # takes them all
    top_p = page.get_by_role("spinbutton", name="Top P")
    expect(top_p).to_have_count(1)
    expect(page.get_by_role("combobox", name="Output format")).to_have_count(1)
    top_p.fill("1.5")
    top_p.blur()
    expect(page.get_by_role("alert").filter(has_text="Top P must be between 0.0 and 1.0.")).to_be_visible()
    page.get_by_role("button", name="Run", exact=True).click()
    expect(
        page.get_by_role("alert").filter(has_text="Fix the highlighted pane settings first.")
    ).to_be_visible()

    top_p.fill("0.5")
    top_p.blur()
    expect(page.get_by_role("alert").filter(has_text="Top P must be")).to_have_count(0)


def test_an_image_goes_to_a_vision_model_and_models_without_vision_are_marked(
    page: Page, tmp_path: Path
) -> None:
    image = tmp_path / "chart.png"
    image.write_bytes(PNG)
    page.goto("/")
    pickers = page.get_by_role("combobox", name="Model", exact=True)
    expect(pickers).to_have_count(3, timeout=30_000)
    for left in (2, 1):  # one pane is enough: the default three would all answer
        page.get_by_role("button", name="Remove pane").first.click()
        # Each removal shown before the next step: a model picked in a pane still on its way
        # out would be lost with it (the run kept the last pane's model).
        expect(pickers).to_have_count(left)
    _first_pane_model(page, "simulated:swift")

    page.get_by_label("Attach images").set_input_files(str(image))
    expect(page.get_by_role("button", name="Remove image chart.png")).to_be_visible(timeout=15_000)

    no_vision = page.get_by_role("option", name=re.compile(r"^Terse \(simulated\) — no images$"))
    expect(no_vision.first).to_be_disabled()
    expect(page.get_by_role("option", name="Swift (simulated)", exact=True).first).to_be_enabled()

    page.get_by_label("Prompt", exact=True).fill("What does the chart show? [[simulate:tokens=10]]")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(
        page.get_by_role("paragraph").filter(has_text="I see 1 image(s) (image/png 48 bytes).")
    ).to_be_visible(timeout=30_000)


def _png(width: int = 2, height: int = 2) -> bytes:
    """A real (red) PNG, so the thumbnail has something to draw."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


PASTE = """(el, bytes) => {
    const data = new DataTransfer();
    data.items.add(new File([new Uint8Array(bytes)], "screenshot.png", {type: "image/png"}));
    el.focus();
    el.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true}));
}"""


def test_an_image_pasted_into_the_prompt_is_attached_with_its_thumbnail(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("combobox", name="Model", exact=True)).to_have_count(3, timeout=30_000)
    prompt = page.get_by_label("Prompt", exact=True)
    prompt.fill("What is in the screenshot?")
    prompt.evaluate(PASTE, list(_png()))

    thumbnail = page.get_by_role("img", name="pasted image")
    expect(thumbnail).to_be_visible(timeout=15_000)
    expect(thumbnail).to_have_js_property("naturalWidth", 2)  # the pasted picture itself, drawn
    expect(page.get_by_role("button", name="Remove image pasted image")).to_be_visible()
    expect(prompt).to_have_value("What is in the screenshot?")  # the prompt's text is untouched

    page.get_by_role("button", name="Remove image pasted image").click()
    expect(thumbnail).to_have_count(0)
