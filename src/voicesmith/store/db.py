"""Database engine, sessions and schema migration.

SQLite (the embedded default) runs in WAL mode with a busy timeout so the API and the worker
processes can share one file; `VOICESMITH_DATABASE_URL` points everything at PostgreSQL instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from voicesmith.config import get_settings

log = logging.getLogger(__name__)

_SQLITE_BUSY_TIMEOUT_MS = 30_000
_MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_ALEMBIC_INI = Path(__file__).parent / "alembic.ini"

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_sessionmakers: dict[str, sessionmaker[Session]] = {}


def _normalise_url(url: str) -> str:
    # Users write postgresql://; SQLAlchemy would pick psycopg2, which we do not ship.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def database_exists() -> bool:
    """False when the configured database is a SQLite file that is not there yet (a server database is
    assumed to exist: connecting would say otherwise)."""
    url = get_settings().database_url
    if not _is_sqlite(url):
        return True
    path = url.split("///", 1)[-1]
    return path in ("", ":memory:") or Path(path).is_file()


def _on_sqlite_connect(dbapi_conn, _record) -> None:  # noqa: ANN001 (DB-API objects are untyped)
    # pysqlite's default transaction handling is kept on purpose: it opens the write transaction
    # at the first INSERT/UPDATE, which then waits on busy_timeout. A BEGIN at the first SELECT
    # would fail with SQLITE_BUSY (no waiting) whenever another process committed in between.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _make_engine(url: str) -> Engine:
    if _is_sqlite(url):
        db_path = url.split("///", 1)[-1]
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": _SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=20,
            max_overflow=40,
        )
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def get_engine() -> Engine:
    """The process-wide engine for the configured database (one per URL, so tests can switch)."""
    url = _normalise_url(get_settings().database_url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = _make_engine(url)
            _sessionmakers[url] = sessionmaker(engine, expire_on_commit=False)
        return engine


def _sessionmaker() -> sessionmaker[Session]:
    get_engine()
    return _sessionmakers[_normalise_url(get_settings().database_url)]


@contextlib.contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception."""
    session = _sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dispose_engines() -> None:
    """Close every pooled connection (tests, and forked worker processes)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _sessionmakers.clear()


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    # The API and the embedded worker start together and both migrate: serialise them.
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(727274)"))
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(727274)"))
                conn.commit()
        return
    lock_path = get_settings().data_dir / ".migrate.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def alembic_config():  # noqa: ANN201 (alembic is imported lazily)
    from alembic.config import Config

    cfg = Config(str(_ALEMBIC_INI))
    cfg.set_main_option("script_location", str(_MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", _normalise_url(get_settings().database_url).replace("%", "%%"))
    return cfg


def migrate() -> None:
    """Bring the schema to the newest Alembic revision (safe to call from several processes at once)."""
    from alembic import command

    engine = get_engine()
    with _migration_lock(engine):
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
