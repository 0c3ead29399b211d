"""One answer pane: model and settings, live text, metrics, and its own controls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.event import EventCallback

from components.i18n import t, t_var
from components.live import live_markdown, live_metrics
from components.model_select import model_option
from components.pane_options import pane_options
from components.turns import conversation_view

# status -> (badge colour, what the badge says)
_STATUS_BADGES = {
    "idle": ("gray", t("idle")),
    "queued": ("gray", t("queued")),
    "running": ("blue", t("running")),
    "done": ("green", t("done")),
    "error": ("red", t("error")),
    "cancelled": ("gray", t("stopped")),  # the person's own Stop: neutral, not a failure
}


@dataclass(frozen=True)
class PaneActions:
    """Event factories, each taking the pane id (and a value for setters)."""

    set_model: EventCallback[str, str]
    set_param: EventCallback[str, str, str]  # pane id, parameter name, the text typed
    stop: EventCallback[str]
    retry: EventCallback[str]
    remove: EventCallback[str]
    expand: EventCallback[str]
    set_option: EventCallback[str, str, str] | None = None  # pane id, field, value (pane_options.py)
    toggle_options: EventCallback[str] | None = None


def status_badge(status: rx.Var[str]) -> rx.Component:
    """A run's status as the compare page and a shared link both show it."""
    return rx.match(
        status,
        *[
            (name, rx.badge(label, color_scheme=color, variant="soft"))
            for name, (color, label) in _STATUS_BADGES.items()
        ],
        rx.badge(status, variant="soft"),
    )


READ_ONLY_NOTE_ID = "read-only-note"  # the sentence that says why a viewer's controls are off


def _why_locked(locked: rx.Var[bool] | bool) -> dict[str, Any]:
    """A viewer's disabled control points at the sentence saying why (aria-describedby)."""
    return {"aria_describedby": rx.cond(locked, READ_ONLY_NOTE_ID, "")}


def _model_select(
    pane: Any,
    models: rx.Var,
    active: rx.Var[bool],
    actions: PaneActions,
    has_images: rx.Var[bool] | bool,
    locked: rx.Var[bool] | bool = False,
) -> rx.Component:
    return rx.el.select(
        rx.foreach(models, lambda m: model_option(m, has_images)),  # marks as the "Model to add" picker
        value=pane.model,
        on_change=lambda value: actions.set_model(pane.pane_id, value),
        disabled=active | locked,
        aria_label=t("Model"),
        **_why_locked(locked),
        class_name="pane-model-select",
        # The model's whole name on hover (the option list shows it whole when opened, and a
        # screen reader reads the selected option whole; the pane itself is named after it).
        title=pane.label,
        # Grows to the room it has; in a narrow pane (eight at 1440 px) it takes a line of its
        # own, the badges and buttons wrapping below it inside the card, so the name is cut as
        # little as the pane's width allows.
        min_width="0",
        flex="1 1 12em",
    )


def _header(
    pane: Any,
    models: rx.Var,
    active: rx.Var[bool],
    actions: PaneActions,
    has_images: rx.Var[bool] | bool,
    locked: rx.Var[bool] | bool,
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
                _model_select(pane, models, active, actions, has_images, locked),
                # A narrow pane (assets/styles.css: a container query) cannot show a long name in
                # its picker: the whole name wraps here under it. Hidden from screen readers, who
                # hear the picker's value and the pane's name, both whole.
                rx.text(pane.label, size="1", class_name="pane-model-name", aria_hidden="true"),
            ),
        ),
        rx.cond(pane.simulated, rx.badge(t("simulated"), color_scheme="purple", variant="outline")),
        # A polite live region: a pane's status change is announced (its tokens are not).
        rx.box(status_badge(pane.status), role="status", display="inline-flex"),
        rx.cond(
            pane.attempt > 1,
            rx.badge(t("attempt {n} of {n}", n=pane.attempt), color_scheme="gray", variant="outline"),
        ),
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
                    disabled=locked,
                    aria_label=t("Retry pane"),
                    title=t("Run this pane again"),
                    **_why_locked(locked),
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
            disabled=active | locked,
            aria_label=t("Remove pane"),
            **_why_locked(locked),
        ),
        align="center",
        spacing="2",
        width="100%",
        wrap="wrap",  # a narrow pane puts its buttons on a second line, inside the card
    )


def param_input(
    pane: Any,
    name: str,
    label: rx.Var[str] | str,
    value: rx.Var,
    active: rx.Var[bool],
    actions: PaneActions,
    locked: rx.Var[bool] | bool = False,
    **props: Any,
) -> rx.Component:
    """One run parameter of a pane (state/pane_params.py): it shows the text typed when that
    is not valid (with its message, and Run refuses), else the value the pane will run with."""
    shown = pane.typed.get(name, value.to_string())
    error = pane.field_errors.get(name, "")
    error_id = pane.pane_id + "-" + name + "-error"
    return rx.hstack(
        rx.text(label, size="1", color_scheme="gray", aria_hidden="true"),
        rx.input(
            default_value=shown,
            # A new key when the value shown changes (a synced pane, a fixed value) redraws the field.
            key=pane.pane_id + "-" + name + "-" + shown,
            on_blur=lambda text: actions.set_param(pane.pane_id, name, text),
            size="1",
            disabled=active | locked,
            aria_label=label,
            aria_invalid=rx.cond(error != "", "true", "false"),
            aria_describedby=rx.cond(error != "", error_id, rx.cond(locked, READ_ONLY_NOTE_ID, "")),
            color_scheme=rx.cond(error != "", "red", "gray"),
            **props,
        ),
        align="center",
        spacing="1",
    )


def _param_errors(pane: Any) -> rx.Component:
    return rx.foreach(
        pane.field_errors.entries(),
        lambda entry: rx.text(
            t_var(entry[1].to(str)),
            id=pane.pane_id + "-" + entry[0].to(str) + "-error",
            color_scheme="red",
            size="2",
            role="alert",
            data_testid="pane-field-error",
        ),
    )


def _settings(
    pane: Any, active: rx.Var[bool], actions: PaneActions, locked: rx.Var[bool] | bool
) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            param_input(
                pane,
                "temperature",
                t("Temperature"),
                pane.temperature,
                active,
                actions,
                locked,
                type="number",
                step="0.1",
                min="0",
                max="2",
                width="5em",
            ),
            param_input(
                pane,
                "max_tokens",
                t("Max tokens"),
                pane.max_tokens,
                active,
                actions,
                locked,
                type="number",
                step="1",
                min="1",
                width="6em",
            ),
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        rx.fragment()
        if actions.set_option is None or actions.toggle_options is None
        else pane_options(pane, active, actions.set_option, actions.toggle_options),
        _param_errors(pane),
        spacing="1",
        width="100%",
    )


def _original_metrics(pane: Any) -> rx.Component:
    return rx.cond(
        pane.original != "",
        rx.text(t_var(pane.original), size="1", color_scheme="gray", data_testid="original-metrics"),
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


def _input_sent(pane: Any) -> rx.Component:
    """A failed or stopped run still sent its input: its tokens (the provider's count, else the
    estimate) show even when the provider reported none or no output came."""
    return rx.cond(
        ((pane.status == "error") | (pane.status == "cancelled"))
        & ~pane.masked
        & ((pane.ttft == "") | (pane.tokens_in == 0)),
        rx.text(
            t("Input: about {n} tokens", n=rx.cond(pane.tokens_in > 0, pane.tokens_in, pane.tokens_sent)),
            size="1",
            color_scheme="gray",
        ),
    )


def _earlier_attempt(pane: Any) -> rx.Component:
    """The attempt before a Retry, folded away: its status, error and text (plain, not rendered)."""
    return rx.cond(
        pane.earlier_status != "",
        rx.el.details(
            rx.el.summary(t("Show attempt {n}", n=pane.attempt - 1), class_name="earlier-summary"),
            rx.vstack(
                status_badge(pane.earlier_status),
                rx.cond(
                    pane.earlier_error != "",
                    rx.text(t_var(pane.earlier_error), size="1", color_scheme="gray"),
                ),
                rx.box(
                    rx.text(pane.earlier_text, size="1", white_space="pre-wrap"),
                    role="region",
                    aria_label=t("Attempt {n}", n=pane.attempt - 1),
                    tab_index=0,
                    max_height="30vh",
                    overflow_y="auto",
                    width="100%",
                ),
                spacing="1",
                width="100%",
            ),
            width="100%",
        ),
    )


def _replay_metrics(pane: Any) -> rx.Component:
    return rx.cond(
        pane.masked,
        _masked_metrics(pane),
        run_metrics(pane, cached_label=t("replay: ")),
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
        role="group",
        aria_label=t("Figures"),
    )


def run_metrics(pane: Any, cached_label: rx.Var[str] | str) -> rx.Component:
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
        role="group",
        aria_label=t("Figures"),
    )


def pane_card(
    pane: Any,
    models: rx.Var,
    sync_scroll: rx.Var[bool],
    actions: PaneActions,
    can_run: rx.Var[bool] | bool = True,  # False: a viewer; what it may not do is off, with why
    has_images: rx.Var[bool] | bool = False,  # the prompt has images: models without vision are off
) -> rx.Component:
    active = (pane.status == "queued") | (pane.status == "running")
    locked = ~can_run if isinstance(can_run, rx.Var) else not can_run
    return rx.card(
        rx.vstack(
            _header(pane, models, active, actions, has_images, locked),
            _settings(pane, active, actions, locked),
            rx.cond(
                pane.error != "",
                rx.cond(
                    pane.status == "cancelled",
                    rx.callout(
                        t_var(pane.error),
                        icon="circle-stop",
                        color_scheme="gray",
                        size="1",
                        width="100%",
                        data_testid="pane-stopped",
                    ),
                    rx.callout(
                        t_var(pane.error),
                        icon="triangle-alert",
                        color_scheme="red",
                        size="1",
                        width="100%",
                        role="group",
                        aria_label=t("Pane error"),
                    ),
                ),
            ),
            conversation_view(pane.earlier, pane.message, pane.turn),  # a follow-up's earlier turns
            live_markdown(
                run_key=pane.live_key,
                text=pane.text,
                sync_scroll=sync_scroll,
                height=rx.cond(pane.expanded, "70vh", "48vh"),
                label=t("Answer: {model}", model=pane.label),
                data_testid="pane-text",
            ),
            rx.cond(active, live_metrics(run_key=pane.live_key), _final_metrics(pane)),
            _input_sent(pane),
            _earlier_attempt(pane),
            spacing="2",
            width="100%",
        ),
        role="group",
        aria_label=pane.label,
        data_testid="pane",
        data_status=pane.status,
        data_model=pane.model,
        data_run_key=pane.live_key,
        # A row of panes (assets/styles.css .pane-row): each shrinks to a minimum width, then
        # the row scrolls sideways; an expanded pane takes the row's whole width.
        class_name=rx.cond(pane.expanded, "pane-card expanded", "pane-card"),
        overflow="hidden",
    )
