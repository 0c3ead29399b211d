"""The leaderboard: which model wins on my prompts, at what cost, and what to use instead."""

from __future__ import annotations

import reflex as rx

from components.i18n import t
from components.leaderboard import LeaderboardProps, RecommendationProps, leaderboard_view
from dashboard.pages.frame import signed_in_page
from state.leaderboard import LeaderboardState as L


def leaderboard_page() -> rx.Component:
    board = LeaderboardProps(
        projects=L.projects,
        project_id=L.project_id,
        source=L.source,
        window=L.window,
        style_control=L.style_control,
        style_effects=L.style_effects,
        rows=L.rows,
        chart=L.chart,
        chart_domain=L.chart_domain,
        matrix_models=L.matrix_models,
        matrix=L.matrix,
        summary=L.summary,
        empty=L.empty,
        loaded=L.loaded,
        error=L.error,
        on_project=L.set_project,
        on_source=L.set_source,
        on_window=L.set_window,
        on_style_control=L.set_style_control,
    )
    advice = RecommendationProps(
        models=L.baseline_options,
        baseline=L.baseline,
        min_win_rate=L.min_win_rate,
        error=L.recommendation_error,
        answered=L.recommended,
        model=L.recommended_model,
        detail=L.recommendation_detail,
        on_baseline=L.set_baseline,
        on_min_win_rate=L.set_min_win_rate,
        on_recommend=L.recommend,
    )
    return signed_in_page(leaderboard_view(board, advice), title=t("Leaderboard"))
