"""Persistence: ``engine.Database`` (async engine, sessions, migrations),
``models`` (ORM tables), ``records`` (frozen results) and the queries, one module per aggregate
(``users``, ``comparisons``, ``runs``, ``accounts``, ``projects``, ``shares``, ``votes``, ...;
``repository`` re-exports the first three for the callers not moved yet)."""
