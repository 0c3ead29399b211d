"""Persistence: ``engine.Database`` (async engine, sessions, migrations),
``models`` (ORM tables), ``records`` (frozen results) and ``repository`` (queries)."""
