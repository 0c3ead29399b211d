"""What a run's error says to people, in their language.

A run's error is stored as English text (the runs table, the live events, exports and the API
keep it so). The app's own sentences are msgids here; those with figures (a provider's name, an
exception's text) are recognized in the stored text again where the page shows it
(`run_error_message`), so that the page says them in the reader's language. A provider's own
words (its error messages) are shown as the provider wrote them.
"""

from __future__ import annotations

from backend.i18n import N_, recognize

STOPPED = N_("Stopped by the user.")
INTERRUPTED_BY_RESTART = N_("Interrupted: the server restarted.")
INTERNAL = N_("Internal error: {detail}")
YOUR_KEY_REFUSED = N_("{provider} refused your saved key: check it on the Settings page.")
SERVER_KEY_REFUSED = N_("{provider} refused this server's saved key: check it on the Settings page.")
SIMULATED_DISABLED = N_("simulated models are disabled (SIMULATED_ENABLED=false)")
SIMULATED_FAILURE = N_("simulated failure after {n} tokens")
NO_OUTPUT = N_("No output for {seconds} s; gave up.")

WITH_FIGURES = (YOUR_KEY_REFUSED, SERVER_KEY_REFUSED, SIMULATED_FAILURE, NO_OUTPUT, INTERNAL)


def run_error_message(stored: str) -> str:
    """A run's stored error as the message it was made from (a Message when it has figures)."""
    return recognize(stored, WITH_FIGURES)
