"""The versioned HTTP API (FastAPI), mounted on the Reflex backend."""
