"""Stock voice seeding and voice resolution for synthesis."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from voicesmith.service.errors import NotFound

needs_stock = pytest.mark.skipif(importlib.util.find_spec("voicesmith.engine.stock") is None,
                                 reason="voicesmith.engine.stock is not installed yet")


@needs_stock
def test_stock_voices_are_seeded_public_with_their_artifacts(store_env, org):
    from sqlalchemy import select

    from voicesmith.engine.stock import stock_voices
    from voicesmith.service import voices
    from voicesmith.store.blobs import get_blob_store
    from voicesmith.store.db import session_scope
    from voicesmith.store.models import Voice

    expected = stock_voices()
    assert voices.seed_stock_voices() == len(expected) > 0
    assert voices.seed_stock_voices() == len(expected)  # idempotent
    with session_scope() as s:
        rows = s.scalars(select(Voice).where(Voice.kind == "stock")).all()
    assert sorted(r.id for r in rows) == sorted(v.voice_id for v in expected)
    assert all(r.org_id is None and r.is_public for r in rows)
    for sv in expected:
        assert get_blob_store().exists(f"voices/stock/{sv.voice_id}")
        resolved = voices.resolve(org, sv.voice_id)
        assert resolved.kind == "stock"
        np.testing.assert_array_equal(resolved.artifact.style, sv.artifact.style)
    listed = voices.list_all(org)
    assert {v.id for v in listed} >= {sv.voice_id for sv in expected}


def test_resolve_respects_ownership(store_env, org):
    from voicesmith.engine.voice import VoiceArtifact
    from voicesmith.service import keys, voices
    from voicesmith.service.ids import new_uuid
    from voicesmith.store.db import session_scope

    other, _ = keys.create_key("someone-else")
    artifact = VoiceArtifact(style=np.full((510, 256), 0.25, dtype=np.float32), pitch_scale=1.1)
    vid = new_uuid()
    with session_scope() as s:
        voices.store_voice(s, voice_id=vid, org_id=org, kind="clone", name="mine", description="", language="en",
                           artifact=artifact)
    got = voices.resolve(org, vid)
    assert got.kind == "clone" and got.artifact.pitch_scale == pytest.approx(1.1)
    assert voices.resolve(org, vid).artifact is got.artifact  # cached after the first load
    with pytest.raises(NotFound):
        voices.resolve(other.org_id, vid)
    with pytest.raises(NotFound):
        voices.resolve(org, "not-a-uuid")
    voices.delete(org, vid)
    with pytest.raises(NotFound):
        voices.resolve(org, vid)


def test_a_voice_whose_row_does_not_commit_leaves_no_blobs(store_env, org, monkeypatch):
    from contextlib import contextmanager

    from voicesmith.engine.voice import VoiceArtifact
    from voicesmith.service import voices
    from voicesmith.store import db
    from voicesmith.store.blobs import get_blob_store

    @contextmanager
    def failing_commit():  # the database refuses the transaction at commit (disk full, lost connection...)
        with db.session_scope() as session:
            yield session
            session.flush()
            raise RuntimeError("commit failed")

    artifact = VoiceArtifact(np.random.default_rng(0).normal(size=(510, 256)).astype(np.float32))
    fields = dict(voice_id="0b0b0b0b-0000-4000-8000-000000000000", org_id=org, kind="clone", name="n",
                  description="d", language="en", artifact=artifact, preview_wav=b"RIFF-preview")
    monkeypatch.setattr(voices, "session_scope", failing_commit)
    with pytest.raises(RuntimeError):
        voices.add_voice(**fields)
    assert get_blob_store().list_keys("voices/") == [] and get_blob_store().list_keys("voice_previews/") == []
    monkeypatch.undo()
    voice = voices.add_voice(**fields)  # the same voice stores cleanly once the database takes it
    assert get_blob_store().exists(voice.artifact_key) and get_blob_store().exists(voice.preview_key)
    assert voices.resolve(org, voice.id).kind == "clone"
