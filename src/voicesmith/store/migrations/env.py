"""Alembic environment: runs migrations on the connection voicesmith.store.db.migrate() hands over,
or, from the alembic command line, on the URL given with `-x url=...` or from voicesmith's settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from voicesmith.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        from voicesmith.store.db import _normalise_url
        from voicesmith.config import get_settings

        url = _normalise_url(get_settings().database_url)
    engine = create_engine(url)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("voicesmith migrations run online only")
run_online()
