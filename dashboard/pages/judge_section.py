"""The compare page's Judge and Improve prompt panels, wired to JudgeState and ImproveState.

Like the vote panel: shown only once every pane has finished, and mounted anew for each
comparison (keyed on its id) so mounting loads its judgements, rubric and versions. The key
also changes when a blind comparison is revealed, so the panels reload with model names.
"""

from __future__ import annotations

import reflex as rx

from components.i18n import t
from components.improve import ImproveProps, improve_panel
from components.judge import JudgeProps, judge_panel
from state.compare import CompareState as C
from state.improve import ImproveState as Imp
from state.judge import RUBRIC_MAX_SHOWN
from state.judge import JudgeState as J


def _finished() -> rx.Var[bool]:
    return (C.comparison_id != "") & ~C.running & (C.panes.length() > 0)


def _key() -> rx.Var[str]:
    return C.comparison_id + rx.cond(C.masked, "-blind", "")


def judge_section() -> rx.Component:
    props = JudgeProps(
        judgements=J.judgements,
        models=C.models,
        judge_model=J.judge_model,
        rubric=J.rubric,
        rubric_note=J.rubric_note,
        rubric_count=t("{count} of {max} characters", count=J.rubric_count, max=RUBRIC_MAX_SHOWN),
        can_run=J.can_run,
        can_manage=J.can_manage,
        judging=J.judging,
        model_error=J.model_error,
        rubric_error=J.rubric_error,
        general_error=J.general_error,
        notice=J.notice,
        on_model=J.set_judge_model,
        on_rubric=J.set_rubric,
        on_start=J.start,
        on_save_rubric=J.save_rubric,
        turn=J.turn,
        turn_options=J.turn_options,
        on_turn=J.set_turn,
    )
    return rx.cond(
        _finished(),
        rx.box(judge_panel(props), key=_key(), on_mount=J.load, width="100%"),
    )


def improve_section() -> rx.Component:
    props = ImproveProps(
        models=C.models,
        model=Imp.model,
        can_run=Imp.can_run,
        masked=Imp.masked,
        proposing=Imp.proposing,
        has_proposal=Imp.has_proposal,
        proposed_prompt=Imp.proposed_prompt,
        proposed_system_prompt=Imp.proposed_system_prompt,
        reason=Imp.reason,
        versions=Imp.versions,
        version_label=rx.cond(Imp.version > 0, t("Version {n} of this prompt", n=Imp.version), ""),
        error=Imp.error,
        on_model=Imp.set_model,
        on_propose=Imp.propose,
        on_accept=Imp.accept,
        on_discard=Imp.discard,
    )
    return rx.cond(
        _finished(),
        rx.box(
            rx.cond(Imp.can_run | (Imp.versions.length() > 0) | (Imp.error != ""), improve_panel(props)),
            key=_key(),
            on_mount=Imp.load,
            width="100%",
        ),
    )
