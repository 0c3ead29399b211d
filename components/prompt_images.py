"""Images attached to the prompt: attach (file picker or drop) or paste (into the prompt or the
drop zone), each listed with its thumbnail and a remove button; a model without vision cannot
run a prompt with images."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.event import EventCallback

from components.i18n import t, t_var
from components.layout import field_error

ZONE_ID = "prompt-images-zone"


def _image_chip(image: Any, on_remove: EventCallback[str], disabled: rx.Var[bool]) -> rx.Component:
    return rx.badge(
        rx.cond(
            image.thumbnail != "",
            # The image's own bytes as a data: URI (checked by content: PNG, JPEG, GIF or WebP)
            rx.image(
                src=image.thumbnail, alt=image.name, height="28px", max_width="56px", border_radius="2px"
            ),
            rx.icon("image", size=12),
        ),
        image.name,
        rx.cond(image.size != "", " · " + image.size, ""),
        rx.icon_button(
            rx.icon("x", size=10),
            size="1",
            variant="ghost",
            on_click=on_remove(image.id),
            disabled=disabled,
            aria_label=t("Remove image {name}", name=image.name),
        ),
        variant="soft",
        size="2",
    )


def prompt_images(
    upload_id: str,
    images: rx.Var,
    error: rx.Var[str],
    on_drop: Any,
    on_paste: EventCallback[list[tuple[str, str]]],
    on_remove: EventCallback[str],
    disabled: rx.Var[bool],
    prompt_id: str = "prompt",
) -> rx.Component:
    # The label wraps the dropzone and so its file input: the input's accessible name, and a click
    # on it opens the file picker natively (no_click: the zone would open a second one).
    # Dropping works on the zone; pasting an image works in the prompt (`prompt_id`) and while the
    # zone has focus (Tab reaches it; Enter picks). Text pasted into the prompt stays text.
    zone = rx.el.label(
        rx.upload.root(
            rx.hstack(
                rx.icon("image-plus", size=14),
                rx.text(
                    t("Attach images"), size="2", weight="medium", color_scheme="iris", white_space="nowrap"
                ),
                rx.text(
                    t("or drop or paste them here (PNG, JPEG, GIF, WebP)"),
                    size="1",
                    color_scheme="gray",
                    class_name="drop-hint",  # not on a phone: nothing to drop there (styles.css)
                ),
                align="center",
                spacing="2",
                cursor=rx.cond(disabled, "default", "pointer"),
            ),
            id=upload_id,
            # No `accept` or size filter here: the server checks type (by content) and size and says
            # what is wrong, the same check and words as the API's.
            multiple=True,
            disabled=disabled,
            no_click=True,
            on_drop=on_drop,
        ),
        id=ZONE_ID,
    )
    return rx.vstack(
        rx.clipboard(zone, targets=[ZONE_ID, prompt_id], on_paste=on_paste),
        rx.hstack(
            rx.foreach(images, lambda image: _image_chip(image, on_remove, disabled)),
            wrap="wrap",
            spacing="2",
        ),
        field_error(t_var(error), "image-error"),
        spacing="1",
        width="100%",
    )
