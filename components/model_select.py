"""The catalog's models as a native select: unavailable ones disabled, with their reason."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.i18n import t, t_var


def model_option(m: Any, has_images: rx.Var[bool] | bool = False) -> rx.Component:
    """One ModelOption of a picker: unavailable ones disabled with their reason; with
    `has_images` (the prompt has images) one without vision is marked "no images" and cannot be
    picked. A model whose stored key failed its last test is marked (it can still be picked:
    the key may work again, and Run says why if it does not)."""
    return rx.el.option(
        rx.cond(
            m.available,
            rx.cond(
                has_images & ~m.vision,
                m.label + " — " + t("no images"),
                rx.cond(m.key_failed, m.label + " — " + t("key test failed: see Settings"), m.label),
            ),
            m.label + " — " + t_var(m.reason),
        ),
        value=m.id,
        disabled=~m.available | (has_images & ~m.vision),
    )


def model_select(
    models: rx.Var,
    value: rx.Var[str],
    on_change: Any,
    label: rx.Var[str] | str,
    has_images: rx.Var[bool] | bool = False,
    **props: Any,
) -> rx.Component:
    """`label` is the accessible name; `models` are ModelOption rows (see model_option)."""
    return rx.el.select(
        rx.foreach(models, lambda m: model_option(m, has_images)),
        value=value,
        on_change=on_change,
        aria_label=label,
        class_name="model-picker",
        **props,
    )
