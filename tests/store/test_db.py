"""Schema migrations and the SQLite setup."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from sqlalchemy import inspect, text


def test_migrate_creates_schema_matching_models(tmp_path, data_dir_switch):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from voicesmith.store.db import get_engine, migrate
    from voicesmith.store.models import Base

    with data_dir_switch(tmp_path):
        migrate()
        migrate()  # idempotent
        engine = get_engine()
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables and "alembic_version" in tables
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            assert diff == [], f"models.py and the migrations disagree: {diff}"
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 10_000
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_concurrent_migrations_do_not_race(tmp_path):
    # The API and the embedded worker migrate at the same moment on first start.
    script = textwrap.dedent("""
        import os, sys
        os.environ["VOICESMITH_DATA"] = sys.argv[1]
        from voicesmith.store.db import migrate
        migrate()
        print("ok")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-1500:] for _, err in results]


def test_session_scope_rolls_back_on_error(tmp_path, data_dir_switch):
    import pytest
    from sqlalchemy import select

    from voicesmith.store.db import migrate, session_scope
    from voicesmith.store.models import Organization

    with data_dir_switch(tmp_path):
        migrate()
        with pytest.raises(RuntimeError):
            with session_scope() as s:
                s.add(Organization(id="org_x", name="x", credits_balance=1, credits_reserved=0))
                s.flush()
                raise RuntimeError("boom")
        with session_scope() as s:
            assert s.scalar(select(Organization).where(Organization.id == "org_x")) is None
