"""VOICESMITH_DATABASE_URL=postgresql://... : the same migrations and services on PostgreSQL.

Starts a throwaway cluster (initdb + pg_ctl, unix socket only) when the PostgreSQL server binaries are
installed; skips otherwise.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.wav_support import TINY_WAV


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / name).exists():
            return str(d / name)
    return None


@pytest.fixture(scope="module")
def pg_url():
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'voicesmith[postgres]')")
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the cluster")
        run_as = ["runuser", "-u", "postgres", "--"]
    # Not under pytest's tmp dir: that is private to root, and the cluster runs as 'postgres'.
    base = Path(tempfile.mkdtemp(prefix="voicesmith-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if run_as:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    init = subprocess.run([*run_as, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
                          capture_output=True, text=True)
    assert init.returncode == 0, init.stderr
    subprocess.run([*run_as, pg_ctl, "-D", str(data), "-w", "-l", str(base / "log"),
                    "-o", f"-k {sock} -c listen_addresses='' -c fsync=off", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@/postgres?host={sock}"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_migrations_and_services_on_postgres(pg_url, tmp_path, data_dir_switch, dispatched):
    from voicesmith.service import datasets, fine_tunes, keys
    from voicesmith.service.errors import InsufficientCredits
    from voicesmith.service.orgs import available_credits
    from voicesmith.service.pagination import PageRequest
    from voicesmith.store.db import get_engine, migrate, session_scope

    with data_dir_switch(tmp_path, VOICESMITH_DATABASE_URL=pg_url, VOICESMITH_INITIAL_CREDITS="1500000"):
        migrate()
        migrate()
        assert get_engine().dialect.name == "postgresql"
        key_row, secret = keys.create_key("pg-org", "pg", is_admin=False)
        with session_scope() as s:
            owner = keys.authenticate(s, secret)
        assert owner is not None and owner.org_id == key_row.org_id
        org = owner.org_id

        ds = datasets.create(org, "pg dataset", "")
        upload = datasets.begin_upload(org, ds.id)
        upload.writer.write(TINY_WAV)
        datasets.finish_upload(upload, "a.wav", "fine_tune", "audio/wav")
        ids = [datasets.create(org, f"d{i}", "").id for i in range(3)]
        page = datasets.list_page(org, PageRequest(limit=2))
        assert [d.id for d in page.items] == [ids[2], ids[1]] and page.has_more

        ft = fine_tunes.create(org, name="ft", description="", language="en", model_id="sonic-2", dataset_id=ds.id)
        with session_scope() as s:
            assert available_credits(s, org) == 500_000
        with pytest.raises(InsufficientCredits):
            fine_tunes.create(org, name="ft2", description="", language="en", model_id="sonic-2", dataset_id=ds.id)
        assert ("enqueue_fine_tune", ft.id) in dispatched
        fine_tunes.delete(org, ft.id)
        with session_scope() as s:
            assert available_credits(s, org) == 1_500_000
