"""The security tests drive whole runtimes: the same fixtures as tests/backend."""

from tests.backend.conftest import rt, runtime_database_url
from tests.security.live_app import live_app, scenario  # the whole app in a subprocess, on first use

__all__ = ["live_app", "rt", "runtime_database_url", "scenario"]
