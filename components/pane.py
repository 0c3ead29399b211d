"""One answer pane: model and settings, live text, metrics, and its own controls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.event import EventCallback

from components.i18n import t, t_var
from components.layout import field_error
from components.live import live_markdown, live_metrics
from components.pane_options import pane_options
from components.turns import conversation_view

# status -> (badge colour, what the badge says)
_STATUS_BADGES = {
    "idle": ("gray", t("idle")),
    "queued": ("gray", t("queued")),
    "running": ("blue", t("running")),
    "done": ("green", t("done")),
    "error": ("red", t("error")),
    "cancelled": ("orange", t("cancelled")),
}


@dataclass(frozen=True)
class PaneActions:
    """Event factories, each taking the pane id (and a value for setters)."""

    set_model: EventCallback[str, str]
    set_temperature: EventCallback[str, str]
    set_max_tokens: EventCallback[str, str]
    stop: EventCallback[str]
    retry: EventCallback[str]
    remove: EventCallback[str]
    expand: EventCallback[str]
    set_option: EventCallback[str, str, str] | None = None  # pane id, field, value (pane_options.py)
    toggle_options: EventCallback[str] | None = None


def _status_badge(status: rx.Var[str]) -> rx.Component:
    return rx.match(
        status,
        *[
            (name, rx.badge(label, color_scheme=color, variant="soft"))
            for name, (color, label) in _STATUS_BADGES.items()
        ],
        rx.badge(status),
    )


def _model_select(
    pane: Any, models: rx.Var, active: rx.Var[bool], actions: PaneActions, has_images: rx.Var[bool] | bool
) -> rx.Component:
    return rx.el.select(
        rx.foreach(
            models,
            lambda m: rx.el.option(
                rx.cond(has_images & ~m.vision, m.label + " — " + t("no images"), m.label),
                value=m.id,
                disabled=~m.available | (has_images & ~m.vision),
            ),
        ),
        value=pane.model,
        on_change=lambda value: actions.set_model(pane.pane_id, value),
        disabled=active,
        aria_label=t("Model"),
        class_name="pane-model-select",
        # Shrinks (cutting the name short) rather than push the pane's buttons out of a narrow pane.
        min_width="0",
        flex="0 1 auto",
    )


def _header(
    pane: Any, models: rx.Var, active: rx.Var[bool], actions: PaneActions, has_images: rx.Var[bool] | bool
) -> rx.Component:
    return rx.hstack(
        # A blind pane shows only its label: the picker would name the model.
        rx.cond(
            pane.masked,
            rx.heading(pane.model, size="3", as_="h3", data_testid="blind-label"),
            rx.fragment(
                # Revealed: the label the person voted on stays beside the model it was.
                rx.cond(
                    pane.blind_label != "",
                    rx.badge(pane.blind_label, color_scheme="indigo", variant="soft", size="2"),
                ),
                _model_select(pane, models, active, actions, has_images),
            ),
        ),
        rx.cond(pane.simulated, rx.badge(t("simulated"), color_scheme="purple", variant="outline")),
        _status_badge(pane.status),
        rx.cond(
            pane.cached,
            rx.badge(
                t("cached"),
                color_scheme="cyan",
                variant="soft",
                title=t("Replayed from the response cache: no model was called"),
                data_testid="cached-badge",
            ),
        ),
        rx.spacer(),
        rx.cond(
            active,
            rx.icon_button(
                rx.icon("square", size=14),
                size="1",
                variant="soft",
                color_scheme="red",
                on_click=actions.stop(pane.pane_id),
                aria_label=t("Stop pane"),
                title=t("Stop this pane"),
            ),
            rx.cond(
                pane.run_id != "",
                rx.icon_button(
                    rx.icon("rotate-ccw", size=14),
                    size="1",
                    variant="soft",
                    on_click=actions.retry(pane.pane_id),
                    aria_label=t("Retry pane"),
                    title=t("Run this pane again"),
                ),
            ),
        ),
        rx.icon_button(
            rx.cond(pane.expanded, rx.icon("minimize-2", size=14), rx.icon("maximize-2", size=14)),
            size="1",
            variant="ghost",
            on_click=actions.expand(pane.pane_id),
            aria_label=t("Expand pane"),
            title=t("Full width"),
        ),
        rx.icon_button(
            rx.icon("x", size=14),
            size="1",
            variant="ghost",
            color_scheme="gray",
            on_click=actions.remove(pane.pane_id),
            disabled=active,
            aria_label=t("Remove pane"),
        ),
        align="center",
        spacing="2",
        width="100%",
    )


def _settings(pane: Any, active: rx.Var[bool], actions: PaneActions) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(t("Temperature"), size="1", color_scheme="gray"),
            rx.input(
                default_value=pane.temperature.to_string(),
                key=pane.pane_id + "-t-" + pane.temperature.to_string(),
                on_blur=lambda value: actions.set_temperature(pane.pane_id, value),
                type="number",
                step="0.1",
                min="0",
                max="2",
                size="1",
                width="5em",
                disabled=active,
                aria_label=t("Temperature"),
            ),
            rx.text(t("Max tokens"), size="1", color_scheme="gray"),
            rx.input(
                default_value=pane.max_tokens.to_string(),
                key=pane.pane_id + "-m-" + pane.max_tokens.to_string(),
                on_blur=lambda value: actions.set_max_tokens(pane.pane_id, value),
                type="number",
                step="1",
                min="1",
                size="1",
                width="6em",
                disabled=active,
                aria_label=t("Max tokens"),
            ),
            align="center",
            spacing="2",
        ),
        rx.fragment()
        if actions.set_option is None or actions.toggle_options is None
        else pane_options(pane, active, actions.set_option, actions.toggle_options),
        field_error(t_var(pane.field_error), "pane-field-error"),
        spacing="1",
        width="100%",
    )


def _original_metrics(pane: Any) -> rx.Component:
    return rx.cond(
        pane.original != "",
        rx.text(pane.original, size="1", color_scheme="gray", data_testid="original-metrics"),
    )


def _final_metrics(pane: Any) -> rx.Component:
    return rx.cond(
        pane.ttft != "",
        rx.vstack(
            _replay_metrics(pane),
            _original_metrics(pane),
            spacing="0",
        ),
    )


def _replay_metrics(pane: Any) -> rx.Component:
    return rx.cond(
        pane.masked,
        _masked_metrics(pane),
        run_metrics(pane, cached_label=t("replay: "), test_id="final-metrics"),
    )


def _masked_metrics(pane: Any) -> rx.Component:
    """A blind pane's figures: input tokens (tokenizers differ) and cost would name the model."""
    return rx.text(
        "TTFT ",
        pane.ttft,
        " · ",
        pane.tps,
        " · ",
        t("out"),
        " ",
        pane.tokens_out.to_string(),
        " · ",
        pane.elapsed,
        " · ",
        t_var(pane.cost),  # "cost hidden"
        size="1",
        color_scheme="gray",
        data_testid="final-metrics",
    )


def run_metrics(pane: Any, cached_label: rx.Var[str] | str, test_id: str) -> rx.Component:
    """A run's saved figures on one line (the compare page's panes and the shared view)."""
    return rx.text(
        rx.cond(pane.cached, cached_label, ""),
        "TTFT ",
        pane.ttft,
        " · ",
        pane.tps,
        " · ",
        t("in"),
        " ",
        pane.tokens_in.to_string(),
        " / ",
        t("out"),
        " ",
        pane.tokens_out.to_string(),
        " · ",
        pane.elapsed,
        " · ",
        pane.cost,
        size="1",
        color_scheme="gray",
        data_testid=test_id,
    )


def pane_card(
    pane: Any,
    models: rx.Var,
    sync_scroll: rx.Var[bool],
    actions: PaneActions,
    has_images: rx.Var[bool] | bool = False,  # the prompt has images: models without vision are off
) -> rx.Component:
    active = (pane.status == "queued") | (pane.status == "running")
    return rx.card(
        rx.vstack(
            _header(pane, models, active, actions, has_images),
            _settings(pane, active, actions),
            rx.cond(
                pane.error != "",
                rx.callout(
                    t_var(pane.error),
                    icon="triangle-alert",
                    color_scheme="red",
                    size="1",
                    width="100%",
                    data_testid="pane-error",
                ),
            ),
            conversation_view(pane.earlier, pane.message, pane.turn),  # a follow-up's earlier turns
            live_markdown(
                run_key=pane.live_key,
                text=pane.text,
                sync_scroll=sync_scroll,
                height=rx.cond(pane.expanded, "70vh", "48vh"),
                data_testid="pane-text",
            ),
            rx.cond(active, live_metrics(run_key=pane.live_key), _final_metrics(pane)),
            spacing="2",
            width="100%",
        ),
        data_testid="pane",
        data_status=pane.status,
        data_model=pane.model,
        data_run_key=pane.live_key,
        grid_column=rx.cond(pane.expanded, "1 / -1", "auto"),
        min_width="0",
        overflow="hidden",
    )
