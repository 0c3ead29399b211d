"""The Projects page: a list of projects, and the selected one's settings and members."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.event import EventCallback
from reflex.vars import StringVar

from components.delete_dialog import confirm_dialog
from components.i18n import t, t_var
from components.layout import field_error
from components.table import header_cell

ROLE_CHOICES = ["owner", "editor", "viewer"]
ROLE_LABELS = {"owner": t("owner"), "editor": t("editor"), "viewer": t("viewer")}


@dataclass(frozen=True)
class ProjectsProps:
    projects: rx.Var
    selected_id: StringVar
    selected_name: rx.Var[str]
    can_manage: rx.Var[bool]
    members: rx.Var
    name_error: rx.Var[str]
    member_error: rx.Var[str]
    notice: rx.Var[str]
    on_select: EventCallback[str]
    on_create: EventCallback[dict[str, str]]
    on_rename: EventCallback[dict[str, str]]
    on_delete: EventCallback[()]
    on_invite: EventCallback[dict[str, str]]
    on_set_role: EventCallback[str, str]
    on_remove: EventCallback[str]
    keep_member_links: rx.Var[bool]
    on_keep_member_links: EventCallback[bool]
    personal: rx.Var[bool] | bool = False  # the selected project is the owner's Personal one


def _project_item(p: ProjectsProps, row: Any) -> rx.Component:
    return rx.button(
        rx.hstack(
            rx.text(row.name, weight="medium"),
            rx.badge(t_var(row.role), variant="soft"),
            rx.spacer(),
            rx.text(row.n_comparisons, size="1", color_scheme="gray"),
            width="100%",
            align="center",
        ),
        on_click=p.on_select(row.id),
        variant=rx.cond(row.id == p.selected_id, "soft", "ghost"),
        width="100%",
        data_testid="project-item",
    )


def _member_row(p: ProjectsProps, row: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.text(row.email, size="2"),
                rx.cond(
                    row.pending, rx.text(t("invited: joins when they sign up"), size="1", color_scheme="gray")
                ),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.cond(
                p.can_manage,
                rx.el.select(
                    *[rx.el.option(ROLE_LABELS[role], value=role) for role in ROLE_CHOICES],
                    value=row.role,
                    on_change=lambda role: p.on_set_role(row.email, role),
                    aria_label=t("Role of {email}", email=row.email),
                    class_name="model-picker",
                ),
                rx.text(t_var(row.role), size="2"),
            )
        ),
        rx.table.cell(
            rx.cond(
                p.can_manage,
                confirm_dialog(
                    rx.icon_button(
                        rx.icon("user-minus", size=14),
                        variant="ghost",
                        color_scheme="red",
                        aria_label=t("Remove member"),
                        title=t("Remove {email}", email=row.email),
                    ),
                    t("Remove {email} from this project?", email=row.email),
                    t("They lose access to its comparisons. A project keeps at least one owner."),
                    t("Remove"),
                    p.on_remove(row.email),
                ),
            )
        ),
        data_testid="member-row",
    )


PERSONAL_NOTE_ID = "personal-note"


def _why_personal(p: ProjectsProps) -> dict[str, Any]:
    return {"aria_describedby": rx.cond(p.personal, PERSONAL_NOTE_ID, "")}


def _manage(p: ProjectsProps) -> rx.Component:
    return rx.vstack(
        rx.cond(
            p.personal,
            rx.text(
                t(
                    "The Personal project cannot be deleted or renamed: "
                    "comparisons without a project go there."
                ),
                id=PERSONAL_NOTE_ID,
                size="2",
                color_scheme="gray",
            ),
        ),
        rx.form(
            rx.hstack(
                rx.input(
                    name="name",
                    default_value=p.selected_name,
                    aria_label=t("Project name"),
                    key=p.selected_id,
                ),
                rx.button(
                    t("Rename"), type="submit", variant="soft", disabled=p.personal, **_why_personal(p)
                ),
                rx.alert_dialog.root(
                    rx.alert_dialog.trigger(
                        rx.button(
                            t("Delete project"),
                            color_scheme="red",
                            variant="soft",
                            disabled=p.personal,
                            **_why_personal(p),
                        )
                    ),
                    rx.alert_dialog.content(
                        rx.alert_dialog.title(t("Delete this project?")),
                        rx.alert_dialog.description(
                            t("Its comparisons and share links are deleted too. This cannot be undone.")
                        ),
                        rx.hstack(
                            rx.alert_dialog.cancel(rx.button(t("Keep it"), variant="soft")),
                            rx.alert_dialog.action(
                                rx.button(
                                    t("Delete"), color_scheme="red", on_click=p.on_delete, id="confirm-delete"
                                )
                            ),
                            justify="end",
                            spacing="3",
                        ),
                    ),
                ),
                spacing="2",
                wrap="wrap",  # a phone puts the buttons under the name
            ),
            on_submit=p.on_rename,
            reset_on_submit=False,
        ),
        rx.form(
            rx.hstack(
                rx.input(
                    name="email", placeholder="colleague@example.org", type="email", aria_label=t("Email")
                ),
                rx.el.select(
                    *[rx.el.option(ROLE_LABELS[role], value=role) for role in ROLE_CHOICES],
                    name="role",
                    default_value="editor",
                    aria_label=t("New member's role"),
                    class_name="model-picker",
                ),
                rx.button(t("Invite"), type="submit", id="invite-button"),
                spacing="2",
                wrap="wrap",
            ),
            on_submit=p.on_invite,
            reset_on_submit=True,
        ),
        rx.checkbox(
            t("Keep the share links a removed member made"),
            checked=p.keep_member_links,
            on_change=p.on_keep_member_links,
            size="1",
        ),
        spacing="3",
        width="100%",
    )


def projects_view(p: ProjectsProps) -> rx.Component:
    return rx.grid(
        rx.vstack(
            rx.heading(t("Projects"), size="4"),
            rx.foreach(p.projects, lambda row: _project_item(p, row)),
            rx.form(
                rx.hstack(
                    rx.input(
                        name="name", placeholder=t("New project name"), aria_label=t("New project name")
                    ),
                    rx.button(t("Create"), type="submit", id="create-project"),
                    spacing="2",
                ),
                on_submit=p.on_create,
                reset_on_submit=True,
            ),
            field_error(t_var(p.name_error), "name-error"),
            spacing="2",
            width="100%",
        ),
        rx.vstack(
            rx.heading(p.selected_name, size="5"),
            rx.cond(
                p.notice != "", rx.callout(t_var(p.notice), icon="check", color_scheme="green", size="1")
            ),
            rx.cond(p.can_manage, _manage(p)),
            field_error(t_var(p.member_error), "member-error"),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        header_cell(t("Member")),
                        header_cell(t("Role")),
                        header_cell(rx.el.span(t("Actions"), class_name="sr-only")),
                    )
                ),
                rx.table.body(rx.foreach(p.members, lambda row: _member_row(p, row))),
                width="100%",
            ),
            rx.link(t("Open this project's comparisons"), href="/history?project=" + p.selected_id, size="2"),
            spacing="3",
            width="100%",
        ),
        columns=rx.breakpoints(initial="1fr", md="minmax(220px, 1fr) 3fr"),  # phones: one column
        spacing="6",
        width="100%",
    )
