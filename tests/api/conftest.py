"""In-process API tests: a fresh data directory and app per test module, jobs captured not sent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import capture_job_hand_offs
from tests.tts_support import stock_voice_ids


@dataclass
class Api:
    client: TestClient
    data_dir: Path
    dispatched: list[tuple[str, str]] = field(default_factory=list)
    _keys: dict[tuple[str, bool], str] = field(default_factory=dict)

    def key(self, org: str = "acme", admin: bool = False) -> str:
        if (org, admin) not in self._keys:
            from voicesmith import admin as admin_mod

            self._keys[(org, admin)] = admin_mod.create_key(org=org, description=f"{org} test key", is_admin=admin)
        return self._keys[(org, admin)]

    def h(self, org: str = "acme", version: str | None = None, admin: bool = False) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.key(org, admin)}"}
        if version:
            headers["Cartesia-Version"] = version
        return headers

    def org_id(self, name: str) -> str:
        self.key(name)
        return org_id_of(name)

    def credits(self, org: str) -> tuple[int, int]:
        """(balance, reserved) of an organisation."""
        from voicesmith.store.db import session_scope
        from voicesmith.store.models import Organization

        with session_scope() as s:
            o = s.get(Organization, self.org_id(org))
            return o.credits_balance, o.credits_reserved

    def set_balance(self, org: str, balance: int) -> None:
        from voicesmith.store.db import session_scope
        from voicesmith.store.models import Organization

        with session_scope() as s:
            s.get(Organization, self.org_id(org)).credits_balance = balance

    def add_voice(self, org: str | None, name: str, **kw) -> str:  # noqa: ANN003
        if org:
            self.key(org)
        return add_voice(org, name, **kw)


@pytest.fixture(scope="module")
def api(tmp_path_factory, data_dir_switch) -> Iterator[Api]:
    data_dir = tmp_path_factory.mktemp("api-data")
    with data_dir_switch(data_dir), pytest.MonkeyPatch.context() as mp:
        from voicesmith.api.app import create_app

        state = Api(client=None, data_dir=data_dir)  # type: ignore[arg-type]

        # In-process tests check *that* work is handed over; the worker tests cover what happens next.
        capture_job_hand_offs(mp, state.dispatched)
        with TestClient(create_app(), raise_server_exceptions=False) as client:
            state.client = client
            yield state


# The TTS route tests (test_tts_*.py) speak over real HTTP and WebSocket to the session's live server, with its
# first stock voice unless a module picks another.
@pytest.fixture(scope="module")
def server(live_server):
    return live_server


@pytest.fixture(scope="module")
def voice(server) -> str:
    return stock_voice_ids(server.base_url, server.headers())[0]


def org_id_of(name: str) -> str:
    from sqlalchemy import select

    from voicesmith.store.db import session_scope
    from voicesmith.store.models import Organization

    with session_scope() as s:
        return s.scalar(select(Organization.id).where(Organization.name == name))


def add_voice(org: str | None, name: str, *, kind: str = "clone", language: str = "en", gender: str | None = None,
              description: str = "", fine_tune_id: str | None = None) -> str:
    """Store a voice (random style) for `org` (None: a public stock-like voice); returns its id."""
    import numpy as np

    from voicesmith.engine.voice import VoiceArtifact
    from voicesmith.service.ids import new_uuid
    from voicesmith.service.voices import store_voice
    from voicesmith.store.db import session_scope

    artifact = VoiceArtifact(style=np.random.default_rng(0).normal(size=(510, 256)).astype("float32"))
    vid = new_uuid()
    with session_scope() as s:
        store_voice(s, voice_id=vid, org_id=org_id_of(org) if org else None, kind=kind, name=name,
                    description=description, language=language, artifact=artifact, gender=gender,
                    fine_tune_id=fine_tune_id, is_public=org is None)
    return vid
