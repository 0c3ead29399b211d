"""Pure UI functions returning rx.Component; state is passed in, never imported."""
