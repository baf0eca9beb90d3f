"""VOICESMITH_DATABASE_URL=postgresql://... : the same migrations and services on PostgreSQL.

Starts a throwaway cluster (initdb + pg_ctl, unix socket only) when the PostgreSQL server binaries are
installed; skips otherwise.
"""

from __future__ import annotations

import pytest

from tests.pg_support import PostgresUnavailable, running_postgres
from tests.wav_support import wav_bytes


@pytest.fixture(scope="module")
def pg_url():
    try:
        with running_postgres() as url:
            yield url
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))


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
        upload.writer.write(wav_bytes())
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
