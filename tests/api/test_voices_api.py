"""The voice library over HTTP (in process): versioned shapes, filters, update/delete, clone."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

V0610, V1113, V0416, V1104, V0301, V0814 = "2024-06-10", "2024-11-13", "2025-04-16", "2025-11-04", "2026-03-01", "2026-08-14"


@pytest.fixture(scope="module")
def lib(api):
    """Two voices of org 'vo', one of org 'other', one public stock-like voice."""
    return {
        "mine_en": api.add_voice("vo", "Alice Calm", gender="female", language="en", description="warm narrator"),
        "mine_fr": api.add_voice("vo", "Bruno", gender="masculine", language="fr", description="deep"),
        "theirs": api.add_voice("other", "Secret Voice"),
        "stock": api.add_voice(None, "Stock Jane", kind="stock", gender="feminine", language="ja"),
    }


def _get(api, vid, version, org="vo", **params):
    r = api.client.get(f"/voices/{vid}", headers=api.h(org, version), params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_shapes_per_version(api, lib):
    vid = lib["mine_en"]
    v = _get(api, vid, V0610)
    assert set(v) == {"id", "user_id", "is_public", "name", "description", "created_at", "embedding", "language"}
    v = _get(api, vid, V1113)
    assert set(v) == {"id", "is_owner", "name", "description", "created_at", "language"}
    assert set(_get(api, vid, V1113, **{"expand[]": "is_starred"})) >= {"is_starred"}
    v = _get(api, vid, V0416)
    assert set(v) == {"id", "is_owner", "is_public", "name", "description", "gender", "created_at", "language"}
    assert v["gender"] == "feminine" and v["is_owner"] is True and v["is_public"] is False
    for version in (V1104, V0301):
        v = _get(api, vid, version)
        assert {"id", "is_owner", "is_public", "name", "description", "gender", "created_at", "language", "locales",
                "country", "accent"} <= set(v)
        assert "access" not in v and "preview_file_url" not in v
        assert v["locales"] == [{"locale": "en-US", "is_native": True}]
    assert _get(api, vid, V1104, **{"expand[]": "preview_file_url"})["preview_file_url"] is None
    v = _get(api, vid, V0814)
    assert "is_public" not in v
    assert (v["access"], v["visibility"], v["tagline"]) == ("private", "owner", "")
    stock = _get(api, lib["stock"], V0814)
    assert (stock["access"], stock["visibility"], stock["is_owner"]) == ("public", "all", False)
    # No version header: the newest shape.
    r = api.client.get(f"/voices/{vid}", headers={"Authorization": api.h("vo")["Authorization"]})
    assert "access" in r.json()


def test_list_is_bare_array_in_2024_06_10_and_envelope_after(api, lib):
    r = api.client.get("/voices", headers=api.h("vo", V0610))
    assert isinstance(r.json(), list)
    ids = {v["id"] for v in r.json()}
    assert {lib["mine_en"], lib["mine_fr"], lib["stock"]} <= ids and lib["theirs"] not in ids
    r = api.client.get("/voices/", headers=api.h("vo", V1113))
    assert set(r.json()) == {"data", "has_more", "next_page"}


def test_list_filters(api, lib):
    def voices(**params):
        r = api.client.get("/voices", params={"limit": 100, **params}, headers=api.h("vo", V1104))
        assert r.status_code == 200, r.text
        return r.json()["data"]

    def ids(**params):
        # Real stock voices (engine.stock) may also be listed; these checks are about our fixtures.
        return {v["id"] for v in voices(**params)} & set(lib.values())

    assert {v["id"] for v in voices(is_owner="true")} == {lib["mine_en"], lib["mine_fr"]}
    not_mine = {v["id"] for v in voices(is_owner="false")}
    assert lib["stock"] in not_mine and lib["mine_en"] not in not_mine
    assert ids(gender="masculine") == {lib["mine_fr"]}
    assert all(v["gender"] == "feminine" for v in voices(gender="feminine"))
    assert ids(language="fr") == {lib["mine_fr"]}
    assert all(v["language"] == "ja" for v in voices(language="ja"))
    assert ids(language="en-US") == {lib["mine_en"]} and ids(language="en_GB") == set()
    assert ids(q="calm") == {lib["mine_en"]}
    assert ids(q="WARM") == {lib["mine_en"]}
    assert ids(q=lib["mine_fr"][:13]) == {lib["mine_fr"]}
    assert voices(q="secret") == []  # another org's voice never matches
    assert voices(q="100%") == []
    r = api.client.get("/voices", params={"gender": "robot"}, headers=api.h("vo"))
    assert r.status_code == 400 and r.json()["error_code"] == "invalid_gender"


def test_list_pagination_walks_everything_once(api, lib):
    seen, cursor = [], None
    while True:
        params = {"limit": 1} | ({"starting_after": cursor} if cursor else {})
        page = api.client.get("/voices", params=params, headers=api.h("vo")).json()
        if not page["data"]:
            break
        seen += [v["id"] for v in page["data"]]
        cursor = seen[-1]
    assert len(seen) == len(set(seen)) and {lib["mine_en"], lib["mine_fr"], lib["stock"]} <= set(seen)


def test_update_and_delete(api, lib):
    vid = api.add_voice("vo", "Temp", gender="feminine")
    r = api.client.patch(f"/voices/{vid}", json={"name": "Renamed", "description": "new"}, headers=api.h("vo", V1104))
    assert r.status_code == 200 and r.json()["name"] == "Renamed" and r.json()["gender"] == "feminine"
    r = api.client.patch(f"/voices/{vid}", json={"gender": None}, headers=api.h("vo", V1104))
    assert r.json()["gender"] is None and r.json()["name"] == "Renamed"
    r = api.client.patch(f"/voices/{vid}", json={"gender": "attack-helicopter"}, headers=api.h("vo"))
    assert r.status_code == 400
    assert api.client.delete(f"/voices/{vid}", headers=api.h("vo")).status_code == 204
    assert api.client.get(f"/voices/{vid}", headers=api.h("vo")).status_code == 404
    assert not (api.data_dir / "blobs" / "voices" / vid).exists()


def test_stock_voices_are_read_only(api, lib):
    r = api.client.patch(f"/voices/{lib['stock']}", json={"name": "mine now"}, headers=api.h("vo"))
    assert r.status_code == 403 and r.json()["error_code"] == "voice_read_only"
    assert api.client.delete(f"/voices/{lib['stock']}", headers=api.h("vo")).status_code == 403


def test_unknown_and_invalid_ids_are_404(api, lib):
    for vid in ("not-a-uuid", "00000000-0000-0000-0000-000000000000", lib["theirs"]):
        r = api.client.get(f"/voices/{vid}", headers=api.h("vo"))
        assert r.status_code == 404 and r.json()["error_code"] == "voice_not_found"


def _wav(seconds=1.0, sr=16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        t = np.arange(int(seconds * sr)) / sr
        w.writeframes((np.sin(2 * np.pi * 220 * t) * 8000).astype("<i2").tobytes())
    return buf.getvalue()


def test_clone_refuses_what_is_not_speech_and_bad_forms(api, lib):
    before = api.client.get("/voices", headers=api.h("vo", V0416), params={"is_owner": "true"}).json()
    form = {"name": "Me", "language": "en", "description": "d", "enhance": "false", "mode": "similarity"}
    r = api.client.post("/voices/clone", files={"clip": ("me.wav", _wav(6.0), "audio/wav")}, data=form,
                        headers=api.h("vo"))
    assert r.status_code == 400, r.text  # a 220 Hz tone has a pitch, but no speech
    assert r.json()["error_code"] == "unclonable_clip" and "speech" in r.json()["message"]
    r = api.client.post("/voices/clone", files={"clip": ("me.wav", b"RIFF not really a wave file", "audio/wav")},
                        data=form, headers=api.h("vo"))
    assert r.status_code == 400 and r.json()["error_code"] == "invalid_audio", r.text
    r = api.client.post("/voices/clone", files={"clip": ("me.wav", _wav(1.0), "audio/wav")}, data=form,
                        headers=api.h("vo"))
    assert r.status_code == 400 and "too short" in r.json()["message"]
    after = api.client.get("/voices", headers=api.h("vo", V0416), params={"is_owner": "true"}).json()
    assert after == before  # nothing half-created

    r = api.client.post("/voices/clone", files={"clip": ("me.wav", _wav(), "audio/wav")}, data={"language": "en"},
                        headers=api.h("vo"))
    assert r.status_code == 422 and "name" in r.json()["message"]
    r = api.client.post("/voices/clone", data={"name": "x", "language": "en"}, headers=api.h("vo"))
    assert r.status_code == 422 and "clip" in r.json()["message"]
    r = api.client.post("/voices/clone", files={"clip": ("me.wav", _wav(), "audio/wav")},
                        data={"name": "x", "language": "klingon"}, headers=api.h("vo"))
    assert r.status_code == 400 and r.json()["error_code"] == "unsupported_language"
    r = api.client.post("/voices/clone", files={"clip": ("me.wav", _wav(), "audio/wav")},
                        data={"name": "x", "language": "en", "mode": "fastest"}, headers=api.h("vo"))
    assert r.status_code == 422
    r = api.client.post("/voices/clone", files={"clip": ("me.wav", _wav(), "audio/wav")},
                        data={"name": "x", "language": "en", "base_voice_id": lib["theirs"]}, headers=api.h("vo"))
    assert r.status_code == 404


def test_localize_makes_a_voice_and_needs_a_voice_id(api, lib):
    # What a localized voice sounds like: tests/api/test_localization_api.py.
    body = {"voice_id": lib["mine_en"], "name": "x", "description": "y", "language": "fr",
            "original_speaker_gender": "female"}
    r = api.client.post("/voices/localize", json=body, headers=api.h("vo"))
    assert r.status_code == 200 and r.json()["language"] == "fr"
    api.client.delete(f"/voices/{r.json()['id']}", headers=api.h("vo"))
    r = api.client.post("/voices/localize", json={"name": "x"}, headers=api.h("vo"))
    assert r.status_code == 422 and "voice_id" in r.json()["message"]


def test_retired_embedding_endpoints_say_so(api):
    r = api.client.post("/voices/mix", json={"voices": []}, headers=api.h("vo"))
    assert r.status_code == 410 and r.json()["error_code"] == "endpoint_sunset"
