"""The comparison page: one prompt, several models, answers side by side."""

from __future__ import annotations

import reflex as rx

from components.blind import blind_notice
from components.delete_dialog import delete_button, delete_comparison_dialog
from components.i18n import t, t_var
from components.layout import field_error
from components.pane import PaneActions, pane_card
from components.prompt_form import PromptFormProps, prompt_form
from components.prompt_images import prompt_images
from components.similar import similar_panel
from components.turns import FollowUpProps, follow_up_form
from dashboard.pages.frame import signed_in_page
from dashboard.pages.judge_section import improve_section, judge_section
from dashboard.pages.share_button import share_button
from dashboard.pages.vote_section import vote_section
from state.compare import MAX_PANES
from state.compare import CompareState as S
from state.conversation_state import ConversationState as C
from state.deletion import DeleteComparisonState
from state.pane_options import PaneOptionsState
from state.prompt_images import UPLOAD_ID
from state.prompt_images import PromptImagesState as Images
from state.similar import SimilarState

_actions = PaneActions(
    set_model=S.set_pane_model,
    set_param=S.set_pane_param,
    stop=S.stop_pane,
    retry=S.retry_pane,
    remove=S.remove_pane,
    expand=S.toggle_expand,
    set_option=PaneOptionsState.set_pane_option,
    toggle_options=PaneOptionsState.toggle_pane_options,
)

_follow_up = FollowUpProps(
    message=C.message,
    target=C.target,
    error=C.error,
    panes=S.panes,
    running=S.running,
    can_run=S.can_run,
    on_message=C.set_message,
    on_target=C.set_target,
    on_send=C.send,
)


def compare_page() -> rx.Component:
    form = PromptFormProps(
        prompt=S.prompt,
        system_prompt=S.system_prompt,
        show_system=S.show_system,
        prompt_error=S.prompt_error,
        panes_error=S.panes_error,
        models=S.models,
        picker=S.picker,
        can_add_pane=S.can_add_pane,
        pane_count_label=t("{count} of {max} panes", count=S.panes.length(), max=MAX_PANES),
        running=S.running,
        sync_settings=S.sync_settings,
        sync_scroll=S.sync_scroll,
        use_cache=S.use_cache,
        limit_error=S.limit_error,
        projects=S.projects,
        project_id=S.project_id,
        can_run=S.can_run,
        ready=S.loaded,
        blind=S.blind,
        masked=S.masked,
        on_project=S.set_project,
        on_prompt=S.set_prompt,
        on_prompt_draft=SimilarState.typed,
        on_system_prompt=S.set_system_prompt,
        on_toggle_system=S.toggle_system,
        on_picker=S.set_picker,
        on_add_pane=S.add_pane,
        on_sync_settings=S.set_sync_settings,
        on_sync_scroll=S.set_sync_scroll,
        on_use_cache=S.set_use_cache,
        on_run=S.run,
        on_blind=S.set_blind,
        on_battle=S.battle,
        on_stop=S.stop,
        on_new=S.new_comparison,
        has_images=Images.has_images,
        project_name=S.project_name,
        dense=S.dense,
        on_dense=S.set_dense,
        beside_buttons=rx.cond(  # editors and owners may share and delete
            (S.comparison_id != "") & S.can_run,
            share_button(delete_comparison_dialog(DeleteComparisonState.delete_open, delete_button())),
        ),
    )
    return signed_in_page(
        rx.vstack(
            prompt_form(form),
            prompt_images(
                UPLOAD_ID,
                Images.images,
                Images.image_error,
                Images.upload_images(rx.upload_files(upload_id=UPLOAD_ID)),
                Images.paste_images,
                Images.remove_image,
                S.running,
            ),
            similar_panel(
                SimilarState.items, SimilarState.winners_label, SimilarState.winners_csv, S.use_models
            ),
            field_error(t_var(DeleteComparisonState.error), "delete-error"),
            rx.cond(S.masked, blind_notice(S.reveal)),
            rx.box(  # one row: panes shrink to a minimum width, then it scrolls (assets/styles.css)
                rx.foreach(
                    S.panes,
                    lambda pane: pane_card(
                        pane, S.models, S.sync_scroll, _actions, S.can_run, Images.has_images
                    ),
                ),
                class_name=rx.cond(S.dense, "pane-row dense", "pane-row"),
                width="100%",
            ),
            rx.cond(S.comparison_id != "", follow_up_form(_follow_up)),
            vote_section(),  # once every pane has finished
            judge_section(),
            improve_section(),
            width="100%",
            spacing="4",
        ),
        title=t("Compare"),
    )
