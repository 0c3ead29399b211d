"""The public page of a share link: /share/<token>, no account needed."""

from __future__ import annotations

import reflex as rx

from components.i18n import t
from components.layout import bare_shell
from components.shared_view import SharedViewProps, shared_view
from state.language import LanguageState
from state.share import SharePageState as S


def share_page() -> rx.Component:
    return bare_shell(
        shared_view(
            SharedViewProps(
                loaded=S.loaded,
                found=S.found,
                prompt=S.prompt,
                system_prompt=S.system_prompt,
                owner_name=S.owner_name,
                created=S.created,
                expires=S.expires,
                panes=S.panes,
                image_hosts=S.image_hosts,
                fork_error=S.fork_error,
                forking=S.forking,
                viewer_signed_in=S.viewer_signed_in,
                login_href=S.login_href,
                on_fork=S.fork,
                confirm_fork=S.confirm_fork,
                on_fork_again=S.fork_again,
                on_confirm_fork=S.set_confirm_fork,
            )
        ),
        title=t("Shared comparison"),
        on_language=LanguageState.choose,
    )
