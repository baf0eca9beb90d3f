"""Portable voices over HTTP (in process): GET /voices/{id}/export (voicesmith file, Kokoro .npy) and
POST /voices/import; an exported voice imported by another organisation speaks identically."""

from __future__ import annotations

import hashlib
import io
import json
import wave
import zipfile

import numpy as np
import pytest

from tests.tts_support import decode_raw, tts_body

RAW = {"container": "raw", "encoding": "pcm_f32le", "sample_rate": 24000}


@pytest.fixture(scope="module")
def source_voice(api) -> str:
    """A voice of org 'exporter' with everything an artifact can hold: a real stock style, pitch, speed, a filter."""
    from voicesmith.engine.stock import stock_voices
    from voicesmith.engine.voice import VoiceArtifact
    from voicesmith.service.ids import new_uuid
    from voicesmith.service.voices import store_voice
    from voicesmith.store.db import session_scope

    style = stock_voices()[0].artifact.style
    timbre = np.array([[250.0, 1000.0, 4000.0], [3.0, -2.0, 4.0]], dtype=np.float32)
    artifact = VoiceArtifact(style=style, pitch_scale=1.08, speed=0.92, timbre=timbre, meta={"source": "test"})
    vid = new_uuid()
    with session_scope() as s:
        store_voice(s, voice_id=vid, org_id=api.org_id("exporter"), kind="clone", name="Ex Voice: 1/2",
                    description="exported", language="fr", artifact=artifact, gender="feminine", accent="parisian",
                    consent="verified", source_clip={"filename": "a.wav", "sha256": "0" * 64, "seconds": 9.0},
                    preview_wav=_wav())
    return vid


def _wav() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(24000)
        w.writeframes(np.arange(2400, dtype="<i2").tobytes())
    return buf.getvalue()


def _export(api, vid, org="exporter", **params):
    return api.client.get(f"/voices/{vid}/export", params=params, headers=api.h(org))


def _import(api, data: bytes, org="importer", **form):
    return api.client.post("/voices/import", files={"file": ("voice.voice.zip", data, "application/zip")},
                           data=form, headers=api.h(org))


def _speak(api, vid, org) -> np.ndarray:
    r = api.client.post("/tts/bytes", json=tts_body(vid, "Bonjour, comment allez-vous?", RAW, language="fr"),
                        headers=api.h(org))
    assert r.status_code == 200, r.text
    return decode_raw(r.content, "pcm_f32le")


def test_export_import_round_trip_speaks_identically(api, source_voice):
    r = _export(api, source_voice)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert 'filename="Ex-Voice-1-2.voice.zip"' in r.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        manifest = json.loads(zf.read("voice.json"))
        assert manifest["artifact_sha256"] == hashlib.sha256(zf.read("artifact.npz")).hexdigest()
    assert manifest["voice"]["consent"] == "verified" and manifest["voice"]["language"] == "fr"

    imported = _import(api, r.content)
    assert imported.status_code == 200, imported.text
    new = imported.json()
    assert new["id"] != source_voice and new["name"] == "Ex Voice: 1/2" and new["language"] == "fr"
    # The file's "verified" is another server's word: unverified here, the claim kept with where it came from.
    assert new["consent"] == "unverified"
    got = api.client.get(f"/voices/{new['id']}", headers=api.h("importer")).json()
    assert (got["kind"], got["is_owner"], got["gender"], got["accent"]) == ("imported", True, "feminine", "parisian")
    origin = got["provenance"]["clip"]["import"]
    assert origin["voice_id"] == source_voice and origin["provenance"]["clip"]["filename"] == "a.wav"
    assert origin["consent"] == "verified"
    assert got["provenance"]["clip"]["sha256"] == hashlib.sha256(r.content).hexdigest()

    preview = api.client.get(f"/voices/{new['id']}/preview", headers=api.h("importer"))
    assert preview.status_code == 200 and preview.content == _wav()
    original, copy = _speak(api, source_voice, "exporter"), _speak(api, new["id"], "importer")
    assert len(original) > 24000 * 0.5
    np.testing.assert_array_equal(original, copy)
    # The importer cannot reach the original, nor the exporter the copy.
    assert _export(api, source_voice, org="importer").status_code == 404
    assert _export(api, new["id"], org="exporter").status_code == 404


def test_import_can_rename_and_re_export_keeps_the_chain(api, source_voice):
    first = _import(api, _export(api, source_voice).content, name="Renamed").json()
    assert first["name"] == "Renamed"
    again = _import(api, _export(api, first["id"], org="importer").content, org="third").json()
    got = api.client.get(f"/voices/{again['id']}", headers=api.h("third")).json()
    assert got["provenance"]["clip"]["import"]["kind"] == "imported"
    assert got["provenance"]["clip"]["import"]["provenance"]["clip"]["import"]["voice_id"] == source_voice


def test_kokoro_pack_is_the_style(api, source_voice):
    from voicesmith.engine.stock import stock_voices

    r = _export(api, source_voice, format="kokoro")
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"].endswith('.npy"')
    pack = np.load(io.BytesIO(r.content), allow_pickle=False)
    assert pack.shape == (510, 1, 256) and pack.dtype == np.float32
    np.testing.assert_array_equal(pack[:, 0, :], stock_voices()[0].artifact.style)


def test_stock_voices_export_too(api):
    stock = api.client.get("/voices", params={"limit": 100}, headers=api.h("importer")).json()["data"]
    vid = next(v["id"] for v in stock if v["kind"] == "stock")
    r = _export(api, vid, org="importer")
    assert r.status_code == 200
    imported = _import(api, r.content).json()
    assert imported["consent"] == "unverified" and imported["provenance"]["clip"]["import"]["consent"] == "stock"


def test_imports_are_refused_when_the_server_requires_consent(api):
    from tests.consent_support import consent_policy

    stock = api.client.get("/voices", params={"limit": 100}, headers=api.h("importer")).json()["data"]
    r = _export(api, next(v["id"] for v in stock if v["kind"] == "stock"), org="importer")
    before = api.client.get("/voices", params={"limit": 100}, headers=api.h("importer")).json()["data"]
    with consent_policy("require"):
        refused = _import(api, r.content)
    assert refused.status_code == 403 and refused.json()["error_code"] == "consent_required", refused.text
    assert "not signed" in refused.json()["message"]
    assert api.client.get("/voices", params={"limit": 100}, headers=api.h("importer")).json()["data"] == before


def _voice_file(manifest_changes: dict | None = None, artifact: bytes | None = None, voice_changes: dict | None = None,
                drop: str | None = None, preview: bytes | None = None) -> bytes:
    from voicesmith.engine.voice import VoiceArtifact

    art = artifact if artifact is not None else VoiceArtifact(style=np.zeros((510, 256), np.float32)).to_bytes()
    voice = {"id": "x", "name": "Forged", "description": "", "language": "en", "consent": "unverified",
             **(voice_changes or {})}
    manifest = {"format": "voicesmith-voice", "format_version": 1, "voice": voice,
                "artifact_sha256": hashlib.sha256(art).hexdigest(), **(manifest_changes or {})}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        if drop != "voice.json":
            zf.writestr("voice.json", json.dumps(manifest))
        if drop != "artifact.npz":
            zf.writestr("artifact.npz", art)
        if preview is not None:
            zf.writestr("preview.wav", preview)
    return buf.getvalue()


def _artifact(**kw) -> bytes:
    from voicesmith.engine.voice import VoiceArtifact

    return VoiceArtifact(style=np.zeros((510, 256), np.float32), **kw).to_bytes()


@pytest.mark.parametrize(("data", "says"), [
    (b"", "empty"),
    (b"not a zip at all", "not a ZIP"),
    (_voice_file(drop="voice.json"), "no voice.json"),
    (_voice_file(drop="artifact.npz"), "no artifact.npz"),
    (_voice_file({"format": "something-else"}), "format"),
    (_voice_file({"format_version": 99}), "format_version"),
    (_voice_file({"artifact_sha256": "0" * 64}), "checksum"),
    (_voice_file(artifact=b"garbage"), "artifact cannot be read"),
    (_voice_file(voice_changes={"consent": "approved-by-me"}), "consent"),
    (_voice_file(voice_changes={"language": "xx"}), "language"),
    (_voice_file(voice_changes={"name": ""}), "name"),
    (_voice_file(voice_changes={"gender": "robot"}), "gender"),
    (_voice_file(artifact=_artifact(speed=50.0)), "speed"),
    (_voice_file(preview=b"<html>not audio</html>"), "preview.wav is not a WAV"),
    (_voice_file(artifact=_artifact(timbre=np.array([[100.0, 50.0], [0.0, 0.0]]))), "timbre"),
])
def test_bad_files_are_refused(api, data, says):
    r = _import(api, data)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error_code"] == "invalid_voice_file" and says in body["message"]


def test_unknown_voice_and_bad_format_are_refused(api):
    assert _export(api, "00000000-0000-4000-8000-000000000000").status_code == 404
    assert _export(api, "not-a-uuid").status_code == 404
    r = api.client.get("/voices/00000000-0000-4000-8000-000000000000/export", params={"format": "mp3"},
                       headers=api.h("exporter"))
    assert r.status_code == 422
