"""The compare page's panes as the person edits them: filled in from a link, and the
service's field errors put on the panes they name. Pure functions over rows."""

from __future__ import annotations

from collections.abc import Sequence

from backend.i18n import N_, Message
from backend.services.validation import MAX_PANES
from state.rows import ModelOption, PaneRow, new_pane

# The pane limit as fixed msgids (translated in the browser, so they switch with the page).
TOO_MANY_PANES = N_("At most 8 panes can run at once.")
TOO_MANY_ASKED = N_("At most 8 panes can run at once; the rest were left out.")
assert f"At most {MAX_PANES} panes" in TOO_MANY_PANES and f"At most {MAX_PANES} panes" in TOO_MANY_ASKED


def prefilled_panes(
    models: str, options: list[ModelOption], shown: Sequence[PaneRow], defaults: Sequence[str]
) -> tuple[list[PaneRow], list[str]]:
    """Panes for `/compare?models=a,b`: the known models (at most MAX_PANES), and what was
    skipped and why (messages for people, in English). Without `models` the panes on screen
    stay, as new, unrun ones."""
    known = {m.id for m in options}
    asked = [m.strip() for m in models.split(",") if m.strip()]
    chosen = [m for m in asked if m in known]
    problems: list[str] = []
    if unknown := [m for m in asked if m not in known]:
        problems.append(Message("Unknown models skipped: {models}.", models=", ".join(unknown)))
    if len(chosen) > MAX_PANES:
        problems.append(TOO_MANY_ASKED)
    if asked:
        panes = [new_pane(m, options) for m in (chosen[:MAX_PANES] or defaults)]
    else:
        kept = [new_pane(p.model, options, p.temperature, p.max_tokens) for p in shown]
        panes = kept or [new_pane(m, options) for m in defaults]
    return panes, problems


def show_field_errors(errors: dict[str, str], panes: list[PaneRow]) -> dict[str, str]:
    """Put "panes.<i>.<field>" errors on their panes; answers the page-level errors."""
    page_errors = {k: v for k, v in errors.items() if not k.startswith("panes.")}
    for key, message in errors.items():
        parts = key.split(".")
        if len(parts) >= 2 and parts[0] == "panes" and parts[1].isdigit() and int(parts[1]) < len(panes):
            pane = panes[int(parts[1])]
            pane.field_errors = {**pane.field_errors, parts[2] if len(parts) > 2 else "pane": message}
    if any(k.startswith("panes.") for k in errors) and "panes" not in page_errors:
        page_errors["panes"] = N_("Some panes cannot run; see the messages on them.")
    return page_errors
