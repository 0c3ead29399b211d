"""Everything that is not UI: settings, persistence, providers, queue, services.

Nothing under backend/ imports reflex; the dependency direction is
dashboard -> state -> backend and workers -> backend.
"""
