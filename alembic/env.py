"""Alembic environment.

URL precedence: an open connection in ``config.attributes["connection"]``
(programmatic use, see ``backend.db.engine.Database.upgrade``), then
``sqlalchemy.url`` from the config, then the app settings
(``backend.settings.get_settings().resolved_database_url``).
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from alembic import context
from backend.db.engine import sqlite_file_path, to_sync_url
from backend.db.models import Base
from backend.db.search_text import include_object

config = context.config

if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from backend.settings import get_settings

        url = get_settings().resolved_database_url
    return to_sync_url(url).render_as_string(hide_password=False)


def run_migrations_offline() -> None:
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = _url()
    engine = create_engine(url, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        path = sqlite_file_path(engine.url)
        if path is not None:
            path.resolve().parent.mkdir(parents=True, exist_ok=True)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")

    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
