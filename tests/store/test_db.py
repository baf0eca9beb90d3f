"""Schema migrations and the SQLite setup."""

from __future__ import annotations

import json
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


# A writer creates fine-tunes through the service layer (each: the credits reservation and the row, one transaction)
# and deletes every third (the deleted flag and the release of its reservation, one transaction), printing what it
# committed, until it is killed. Rows carry a few KB so that transactions span several database pages. To pay the
# imports once, this process forks a new writer for each line it reads on stdin.
_WRITERS = textwrap.dedent("""
    import os, sys
    os.environ["VOICESMITH_DATA"] = sys.argv[1]
    from voicesmith.service import background, fine_tunes
    background.enqueue_fine_tune = lambda fine_tune_id: True  # the broker is not under test
    org_id, dataset_id = sys.argv[2], sys.argv[3]
    for line in sys.stdin:
        pid = os.fork()
        if pid:
            os.waitpid(pid, 0)
            print("ended", pid, flush=True)
            continue
        i = int(line)
        print("writer", os.getpid(), flush=True)
        while True:
            ft = fine_tunes.create(org_id, name=f"ft-{i}", description=f"{i}:" + "d" * 3000, language="en",
                                   model_id="sonic-2", dataset_id=dataset_id, params={"i": i, "pad": "p" * 3000})
            print("created", ft.id, i, flush=True)
            if i % 3 == 0:
                fine_tunes.delete(org_id, ft.id)
                print("deleted", ft.id, flush=True)
            i += 1
""")


def test_sigkill_mid_write_leaves_a_whole_database_and_all_or_nothing_transactions(tmp_path, data_dir_switch):
    import contextlib
    import os
    import random
    import signal
    import time

    from voicesmith.store.db import migrate, session_scope
    from voicesmith.store.models import Dataset, DatasetFile, Organization

    with data_dir_switch(tmp_path):
        migrate()
        with session_scope() as s:
            s.add(Organization(id="org_k", name="k", credits_balance=10**15, credits_reserved=0))
            s.flush()
            s.add(Dataset(id="ds_k", org_id="org_k", name="d", report_status="pending"))
            s.flush()
            s.add(DatasetFile(id="file_k", dataset_id="ds_k", filename="a.wav", size=1, sha256="0" * 64,
                              blob_key="datasets/ds_k/file_k"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICESMITH_")}
    created: dict[str, int] = {}
    deleted: set[str] = set()
    rng = random.Random()
    errors = tmp_path / "writers.err"
    writers = subprocess.Popen([sys.executable, "-c", _WRITERS, str(tmp_path), "org_k", "ds_k"], env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(errors, "wb"), text=True)
    writer = None
    try:
        for round_ in range(3):
            writers.stdin.write(f"{round_ * 100_000}\n")
            writers.stdin.flush()
            kill_after = rng.randint(5, 30)  # committed creations before the kill: a random moment mid-stream
            seen = 0
            for line in writers.stdout:
                what, ident, *i = line.split()
                if what == "writer":
                    writer = int(ident)
                elif what == "created":
                    created[ident] = int(i[0])
                    seen += 1
                elif what == "deleted":
                    deleted.add(ident)
                elif what == "ended":
                    break
                if seen == kill_after:
                    time.sleep(rng.uniform(0, 0.05))  # a random point of the next transactions (~10-30 ms each)
                    with contextlib.suppress(ProcessLookupError):  # (it failed by itself: see below)
                        os.kill(writer, signal.SIGKILL)  # read on to its last line
            assert seen >= kill_after and os.path.getsize(errors) == 0, open(errors).read()[-3000:]
            _check_after_the_kill(tmp_path / "voicesmith.db", created, deleted)
    finally:
        writers.kill()
        writers.communicate(timeout=30)
        if writer is not None:  # a writer the test did not get to kill must not go on
            with contextlib.suppress(ProcessLookupError):
                os.kill(writer, signal.SIGKILL)
    assert len(created) >= 15


def _check_after_the_kill(db_path, created: dict[str, int], deleted: set[str]) -> None:  # noqa: ANN001
    import sqlite3

    from alembic.script import ScriptDirectory

    from voicesmith.store.db import alembic_config

    db = sqlite3.connect(db_path)  # a fresh connection: it recovers from the WAL the killed writer left
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]
        rows = {r[0]: r[1:] for r in db.execute(
            "SELECT id, name, description, params, credits_reserved, deleted FROM fine_tunes")}
        (reserved,) = db.execute("SELECT credits_reserved FROM organizations WHERE id = 'org_k'").fetchone()
    finally:
        db.close()
    assert set(created) <= set(rows), "a committed fine-tune was lost"
    for ft_id, (name, description, params, held, is_deleted) in rows.items():
        i = int(name.removeprefix("ft-"))
        assert created.get(ft_id, i) == i
        assert description == f"{i}:" + "d" * 3000, "a row was written in part"
        assert json.loads(params) == {"i": i, "pad": "p" * 3000}
        assert held > 0 or is_deleted, "a fine-tune without its reservation"
        assert bool(is_deleted) == (held == 0), "a deletion without the release of its reservation, or the reverse"
        assert ft_id not in deleted or is_deleted
    assert reserved == sum(r[3] for r in rows.values()), "reservations and the rows holding them disagree"
