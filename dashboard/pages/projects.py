"""Projects: create them, invite people, set their roles."""

from __future__ import annotations

import reflex as rx

from components.i18n import t
from components.projects_view import ProjectsProps, projects_view
from dashboard.pages.frame import signed_in_page
from state.projects import ProjectsState as P


def projects_page() -> rx.Component:
    return signed_in_page(
        projects_view(
            ProjectsProps(
                projects=P.projects,
                selected_id=P.selected_id,
                selected_name=P.selected_name,
                can_manage=P.can_manage,
                members=P.members,
                name_error=P.name_error,
                member_error=P.member_error,
                notice=P.notice,
                on_select=P.select,
                on_create=P.create,
                on_rename=P.rename,
                on_delete=P.delete,
                on_invite=P.invite,
                on_set_role=P.set_role,
                on_remove=P.remove,
                keep_member_links=P.keep_member_links,
                on_keep_member_links=P.set_keep_member_links,
                personal=P.selected_personal,
            )
        ),
        title=t("Projects"),
    )
