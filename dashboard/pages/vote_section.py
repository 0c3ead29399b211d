"""The compare page's vote panel, wired to VoteState.

Mounted anew for each comparison and each new turn (its key is the comparison id and latest
turn), and only once every pane has finished: mounting loads the latest turn's tally and my
vote on it; in a conversation "Vote on turn" picks another turn.
"""

from __future__ import annotations

import reflex as rx

from components.votes import VoteProps, turn_picker, vote_panel
from state.compare import CompareState
from state.votes import VoteState as V


def vote_section() -> rx.Component:
    props = VoteProps(
        panes=V.panes,
        best=V.best,
        comment=V.comment,
        tie=V.tie,
        all_bad=V.all_bad,
        votes_label=V.votes_label,
        save_label=V.save_label,
        error=V.error,
        notice=V.notice,
        on_best=V.set_best,
        on_comment=V.set_comment,
        on_thumb=V.toggle_thumb,
        on_submit=V.submit,
    )
    return rx.cond(
        (CompareState.comparison_id != "") & ~CompareState.running & (CompareState.panes.length() > 0),
        rx.box(
            rx.cond(
                CompareState.latest_turn > 1,
                turn_picker(V.turn, V.turn_options, V.set_turn),
            ),
            vote_panel(props),
            # Mounted anew after each turn too: the vote starts on the latest one.
            key=CompareState.comparison_id + "-" + CompareState.latest_turn.to_string(),
            on_mount=V.load,
            width="100%",
        ),
    )
