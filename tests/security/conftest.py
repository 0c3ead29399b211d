"""The security tests drive whole runtimes: the same fixtures as tests/backend."""

from tests.backend.conftest import rt, runtime_database_url

__all__ = ["rt", "runtime_database_url"]
