"""The queries that used to live here, re-exported from the modules they moved to (by aggregate,
like ``accounts``, ``projects``, ``shares`` and ``votes``): ``users`` (a user and their
"Personal" project), ``comparisons`` (create, read, page through, delete) and ``runs`` (run state,
guarded by ``attempt``). New code imports those modules; this one stays while backend/runtime.py
(``fail_unfinished_runs`` at start-up) still uses it.
"""

from __future__ import annotations

from backend.db.comparisons import (
    MAX_PAGE_SIZE,
    create_comparison,
    delete_comparison,
    get_comparison,
    list_comparisons,
)
from backend.db.runs import (
    cancel_runs,
    fail_unfinished_runs,
    get_runs,
    mark_run_running,
    reset_run_for_retry,
    save_run_result,
    unfinished_comparison_ids,
)
from backend.db.users import NotFoundError, default_project_id, ensure_user

__all__ = [
    "MAX_PAGE_SIZE",
    "NotFoundError",
    "cancel_runs",
    "create_comparison",
    "default_project_id",
    "delete_comparison",
    "ensure_user",
    "fail_unfinished_runs",
    "get_comparison",
    "get_runs",
    "list_comparisons",
    "mark_run_running",
    "reset_run_for_retry",
    "save_run_result",
    "unfinished_comparison_ids",
]
