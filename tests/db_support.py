"""Database fixture params shared by every test package; the databases themselves come from
``devstack.postgres`` (``make_database_url``, ``postgres_database``).

To parametrise a fixture over both engines::

    @pytest.fixture(params=DATABASE_KINDS)
    def database_url(request, tmp_path):
        with make_database_url(request.param, tmp_path) as url:
            yield url
"""

from __future__ import annotations

import pytest

DATABASE_KINDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.postgres))
"""Fixture params: PostgreSQL cases carry ``pytest.mark.postgres`` (deselect with -m "not postgres")."""
