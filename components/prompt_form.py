"""Prompt, system prompt, model picker and the run controls."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx
from reflex.event import EventCallback

from components.i18n import t, t_var
from components.layout import field_error
from components.model_select import model_select
from components.pane import READ_ONLY_NOTE_ID

# The system prompt's section: focus goes into it when it opens and back to "+ System prompt"
# when it closes (state/compare.py's toggle_system).
SYSTEM_PROMPT_ID = "system-prompt"
SYSTEM_PROMPT_OPEN_ID = "system-prompt-open"
SYSTEM_PROMPT_CLOSE_ID = "system-prompt-close"


def _why_locked(can_run: rx.Var[bool]) -> dict[str, rx.Var]:
    """A control a viewer may not use points at the sentence saying why."""
    return {"aria_describedby": rx.cond(can_run, "", READ_ONLY_NOTE_ID)}


@dataclass(frozen=True)
class PromptFormProps:
    prompt: rx.Var[str]
    system_prompt: rx.Var[str]
    show_system: rx.Var[bool]
    prompt_error: rx.Var[str]
    panes_error: rx.Var[str]
    models: rx.Var
    picker: rx.Var[str]
    can_add_pane: rx.Var[bool]
    pane_count_label: rx.Var[str]
    running: rx.Var[bool]
    sync_settings: rx.Var[bool]
    sync_scroll: rx.Var[bool]
    use_cache: rx.Var[bool]
    limit_error: rx.Var[str]
    projects: rx.Var  # list of ProjectChoice: where a new comparison is saved
    project_id: rx.Var[str]
    can_run: rx.Var[bool]  # False for a viewer of the open comparison's project
    ready: rx.Var[bool]  # the page's load has answered: a click before it would be lost
    blind: rx.Var[bool]  # the next Run hides which pane is which model
    masked: rx.Var[bool]  # a blind comparison is on screen, its models not revealed
    on_project: EventCallback[str]
    on_prompt: EventCallback[str]
    on_system_prompt: EventCallback[str]
    on_toggle_system: EventCallback[()]
    on_picker: EventCallback[str]
    on_add_pane: EventCallback[()]
    on_sync_settings: EventCallback[bool]
    on_sync_scroll: EventCallback[bool]
    on_use_cache: EventCallback[bool]
    on_run: EventCallback[()]
    on_blind: EventCallback[bool]
    on_battle: EventCallback[()]
    on_stop: EventCallback[()]
    on_new: EventCallback[()]
    on_prompt_draft: EventCallback[str] | None = None  # also told of each keystroke (similar comparisons)
    has_images: rx.Var[bool] | bool = False  # the prompt has images: the picker marks models without vision
    project_name: rx.Var[str] | str = ""  # the open comparison's project (a viewer cannot pick)
    dense: rx.Var[bool] | None = None  # compact panes: more of them side by side
    on_dense: EventCallback[bool] | None = None
    beside_buttons: rx.Component | None = None  # Share and Delete: in the controls' row, not above the panes


def _model_picker(p: PromptFormProps) -> rx.Component:
    return rx.hstack(
        model_select(p.models, p.picker, p.on_picker, t("Model to add"), has_images=p.has_images),
        rx.button(
            rx.icon("plus", size=14),
            t("Add pane"),
            variant="soft",
            on_click=p.on_add_pane,
            disabled=~p.can_add_pane | p.running | ~p.can_run | ~p.ready,
            **_why_locked(p.can_run),
        ),
        rx.text(p.pane_count_label, size="2", color_scheme="gray"),
        align="center",
        spacing="2",
        wrap="wrap",
    )


def _switches(p: PromptFormProps) -> rx.Component:
    return rx.hstack(
        rx.el.label(
            rx.switch(checked=p.sync_settings, on_change=p.on_sync_settings, size="1"),
            " ",
            t("Sync settings"),
            class_name="switch-label",
        ),
        rx.el.label(
            rx.switch(checked=p.sync_scroll, on_change=p.on_sync_scroll, size="1"),
            " ",
            t("Sync scrolling"),
            class_name="switch-label wide-only",  # a phone shows one pane at a time (styles.css)
        ),
        rx.el.label(
            rx.switch(checked=p.use_cache, on_change=p.on_use_cache, size="1", id="use-cache"),
            " ",
            t("Use cache"),
            class_name="switch-label",
            title=t("Replay cached answers even at temperature > 0 (temperature 0 always uses the cache)"),
        ),
        rx.el.label(
            rx.switch(checked=p.dense, on_change=p.on_dense, size="1"),
            " ",
            t("Compact panes"),
            class_name="switch-label wide-only",
            title=t("Smaller text and narrower panes: more of them side by side"),
        )
        if p.dense is not None and p.on_dense is not None
        else rx.fragment(),
        spacing="4",
        wrap="wrap",
        align="center",
    )


def _project_picker(p: PromptFormProps) -> rx.Component:
    """Where the comparison is saved. A viewer's comparison is in a project they cannot run
    in: the picker names it (and is off) rather than show one of their own projects."""
    return rx.cond(
        p.can_run,
        _runnable_projects(p),
        rx.el.select(
            rx.el.option(rx.cond(p.project_name != "", p.project_name, t("another project")), value=""),
            value="",
            disabled=True,
            aria_label=t("Project"),
            title=t("The project this comparison is saved in"),
            class_name="model-picker",
            **_why_locked(p.can_run),
        ),
    )


def _runnable_projects(p: PromptFormProps) -> rx.Component:
    return rx.el.select(
        rx.foreach(p.projects, lambda pr: rx.el.option(pr.name, value=pr.id)),
        value=p.project_id,
        on_change=p.on_project,
        disabled=p.running,
        aria_label=t("Project"),
        title=t("The project this comparison is saved in"),
        class_name="model-picker",
        id="project-picker",
    )


def _buttons(p: PromptFormProps) -> rx.Component:
    return rx.hstack(
        _project_picker(p),
        rx.el.label(
            rx.switch(checked=p.blind, on_change=p.on_blind, size="1", disabled=p.running),
            " ",
            t("Blind"),
            class_name="switch-label",
            title=t('Label the panes "Model A", "Model B" … in a random order until you vote or reveal'),
        ),
        rx.button(
            rx.icon("play", size=14),
            t("Run"),
            id="run-button",
            on_click=p.on_run,
            disabled=p.running | ~p.can_run | p.masked | ~p.ready,
            aria_label=t("Run"),
            title=t("Run all panes (Ctrl+Enter)"),
            **_why_locked(p.can_run),
        ),
        rx.button(
            rx.icon("swords", size=14),
            t("Battle"),
            variant="soft",
            on_click=p.on_battle,
            disabled=p.running | ~p.can_run | ~p.ready,
            **_why_locked(p.can_run),
            title=t(
                "Two models drawn at random (from the project's battle pool, if it sets one) "
                "answer this prompt blind: vote, then see who they were"
            ),
        ),
        rx.button(
            rx.icon("square", size=14),
            t("Stop"),
            color_scheme="red",
            variant="soft",
            on_click=p.on_stop,
            disabled=~p.running,
            aria_label=t("Stop"),
        ),
        rx.button(t("New"), variant="outline", on_click=p.on_new, disabled=p.running | ~p.ready),
        p.beside_buttons if p.beside_buttons is not None else rx.fragment(),
        spacing="2",
        align="center",
        wrap="wrap",  # seven controls do not fit a phone's width in one row
    )


def prompt_form(p: PromptFormProps) -> rx.Component:
    return rx.vstack(
        rx.el.label(t("Prompt"), html_for="prompt", class_name="field-label"),
        rx.text_area(
            id="prompt",
            value=p.prompt,
            on_change=[p.on_prompt, p.on_prompt_draft] if p.on_prompt_draft is not None else p.on_prompt,
            placeholder=t("Ask every model the same thing… (Ctrl+Enter runs)"),
            rows="4",
            width="100%",
            aria_invalid=rx.cond(p.prompt_error != "", "true", "false"),
        ),
        field_error(t_var(p.prompt_error), "prompt-error"),
        rx.cond(
            p.show_system,
            rx.vstack(
                rx.el.label(t("System prompt"), html_for="system-prompt", class_name="field-label"),
                rx.text_area(
                    id=SYSTEM_PROMPT_ID,
                    value=p.system_prompt,
                    on_change=p.on_system_prompt,
                    rows="2",
                    width="100%",
                    placeholder=t("Optional instructions for every model"),
                ),
                # Hidden, it is kept but not sent (what runs is what the page shows).
                _system_toggle(p, t("Hide system prompt"), SYSTEM_PROMPT_CLOSE_ID),
                width="100%",
                spacing="1",
            ),
            _system_toggle(p, t("+ System prompt"), SYSTEM_PROMPT_OPEN_ID),
        ),
        rx.hstack(
            _model_picker(p),
            rx.spacer(class_name="wide-only"),  # wrapped on a phone it was a blank row of its own
            _switches(p),
            _buttons(p),
            width="100%",
            align="center",
            wrap="wrap",
            spacing="4",
        ),
        # Said while the controls wait for the page to be live (in the page from the start, so a
        # screen reader announces the change; empty once live).
        rx.text(
            rx.cond(p.ready, "", t("Connecting…")),
            role="status",
            size="2",
            color_scheme="gray",
            aria_live="polite",
        ),
        field_error(t_var(p.panes_error), "panes-error"),
        field_error(t_var(p.limit_error), "limit-error"),
        rx.cond(
            ~p.can_run,
            rx.text(
                t("You can read this comparison; your role in its project does not allow running it."),
                size="2",
                color_scheme="gray",
                id=READ_ONLY_NOTE_ID,
                data_testid="read-only-note",
            ),
        ),
        width="100%",
        spacing="2",
    )


def _system_toggle(p: PromptFormProps, label: rx.Var[str] | str, element_id: str) -> rx.Component:
    """The link that opens or closes the system prompt (focus moves between the two by id)."""
    return rx.link(label, on_click=p.on_toggle_system, size="2", as_="button", id=element_id)
