"""Service tests run in process on a fresh data directory per test, with job hand-offs captured."""

from __future__ import annotations

import pytest


@pytest.fixture
def store_env(tmp_path, data_dir_switch, dispatched):
    from voicesmith.store.db import migrate

    with data_dir_switch(tmp_path / "data", VOICESMITH_INITIAL_CREDITS="3000000"):
        migrate()
        yield tmp_path / "data"


@pytest.fixture
def org(store_env) -> str:
    from voicesmith.service import keys

    key, _ = keys.create_key("svc-org")
    return key.org_id
