"""The consent check over HTTP (in process): challenges, consent clips, the policy, traceable voices.

Real speech, real Whisper and speaker encoder. The challenge's code words come from the recording's own
transcript (tests/consent_support.py, "reading substitute"): the phrase generator is injected here.
"""

from __future__ import annotations


import pytest

from tests.consent_support import (ALLISON_CONSENT, LIBRIVOX_CONSENT, Reading, consent_policy, reading,
                                   training_files, wav)

FINE_TUNE = {"name": "ft", "description": "", "language": "en", "model_id": "sonic-2"}


@pytest.fixture
def reads(monkeypatch):
    """Make the next challenges' code words the ones `clip` says (the reading substitute)."""
    from voicesmith.service import consent

    def use(clip: Reading) -> None:
        monkeypatch.setattr(consent, "generate_code", clip.generator())

    return use


def _dataset(api, org: str, speech) -> str:  # noqa: ANN001
    ds = api.client.post("/datasets", json={"name": "allison", "description": ""}, headers=api.h(org)).json()["id"]
    for path in training_files(speech):
        r = api.client.post(f"/datasets/{ds}/files", files={"file": (path.name, path.read_bytes(), "audio/wav")},
                            data={"purpose": "fine_tune"}, headers=api.h(org))
        assert r.status_code == 204, r.text
    return ds


def test_challenge_then_consent_clip_then_fine_tune_under_require(api, speech_data, reads):
    ds = _dataset(api, "consent-a", speech_data)
    h = api.h("consent-a")
    with consent_policy("require"):
        r = api.client.post("/fine-tunes", json=FINE_TUNE | {"dataset": ds}, headers=h)
        assert r.status_code == 403 and r.json()["error_code"] == "consent_required"
        assert f"POST /datasets/{ds}/consent-challenge" in r.json()["message"]

        clip = reading(speech_data, ALLISON_CONSENT)
        reads(clip)
        r = api.client.post(f"/datasets/{ds}/consent-challenge", json={"name": "Allison"}, headers=h)
        assert r.status_code == 200, r.text
        challenge = r.json()
        assert challenge["code"] == "invalid personal identification" and "I, Allison, agree" in challenge["statement"]
        state = api.client.get(f"/datasets/{ds}/consent", headers=h).json()
        assert state["policy"] == "require" and state["consent"] == "unverified"
        assert state["challenge"]["id"] == challenge["id"]

        r = api.client.post(f"/datasets/{ds}/consent", files={"clip": (clip.path.name, clip.bytes(), "audio/wav")},
                            headers=h)
        assert r.status_code == 200, r.text
        attempt = r.json()
        assert attempt["verified"] and attempt["text"]["ok"] and attempt["speaker"]["ok"], attempt
        assert attempt["challenge_id"] == challenge["id"]

        replay = api.client.post(f"/datasets/{ds}/consent", files={"clip": ("again.wav", clip.bytes(), "audio/wav")},
                                 headers=h).json()
        assert not replay["verified"] and replay["reason_code"] == "challenge_used"

        state = api.client.get(f"/datasets/{ds}/consent", headers=h).json()
        assert state["consent"] == "verified" and state["verified_attempt_id"] == attempt["id"]
        assert state["challenge"] is None and len(state["attempts"]) == 2
        r = api.client.post("/fine-tunes", json=FINE_TUNE | {"dataset": ds}, headers=h)
        assert r.status_code == 200, r.text


def test_consent_as_a_dataset_file_and_other_speakers(api, speech_data, reads):
    ds = _dataset(api, "consent-b", speech_data)
    h = api.h("consent-b")
    clip = reading(speech_data, ALLISON_CONSENT)

    # A fresh random code: her old recording does not say it.
    assert api.client.post(f"/datasets/{ds}/consent-challenge", headers=h).status_code == 200
    r = api.client.post(f"/datasets/{ds}/files", files={"file": ("consent.wav", clip.bytes(), "audio/wav")},
                        data={"purpose": "consent"}, headers=h)
    assert r.status_code == 422 and r.json()["error_code"] == "consent_failed", r.text
    assert "code words were not heard" in r.json()["message"]

    # Someone else reading the challenge: his words are right, his voice is not.
    other = reading(speech_data, LIBRIVOX_CONSENT)
    reads(other)
    assert api.client.post(f"/datasets/{ds}/consent-challenge", headers=h).status_code == 200
    r = api.client.post(f"/datasets/{ds}/consent", files={"clip": (other.path.name, other.bytes(), "audio/wav")},
                        headers=h)
    assert r.status_code == 200 and r.json()["reason_code"] == "speaker_mismatch", r.text
    assert r.json()["text"]["ok"] and not r.json()["speaker"]["ok"]

    reads(clip)
    assert api.client.post(f"/datasets/{ds}/consent-challenge", headers=h).status_code == 200
    r = api.client.post(f"/datasets/{ds}/files", files={"file": ("consent.wav", clip.bytes(), "audio/wav")},
                        data={"purpose": "consent"}, headers=h)
    assert r.status_code == 204, r.text
    files = api.client.get(f"/datasets/{ds}/files", headers=h).json()["data"]
    assert "consent.wav" not in {f["filename"] for f in files}  # never training audio
    assert api.client.get(f"/datasets/{ds}/consent", headers=h).json()["consent"] == "verified"

    r = api.client.post(f"/datasets/{ds}/files", files={"file": ("x.wav", clip.bytes(), "audio/wav")},
                        data={"purpose": "training"}, headers=h)
    assert r.status_code == 400 and "'consent'" in r.json()["message"]


def test_attempts_are_limited(api, speech_data):
    ds = _dataset(api, "consent-c", speech_data)
    h = api.h("consent-c")
    clip = reading(speech_data, ALLISON_CONSENT)
    codes = []
    for _ in range(5):  # no challenge asked for: each fails at once, and counts
        r = api.client.post(f"/datasets/{ds}/consent", files={"clip": ("c.wav", clip.bytes(), "audio/wav")}, headers=h)
        codes.append(r.json()["reason_code"])
    assert codes == ["no_challenge"] * 5
    r = api.client.post(f"/datasets/{ds}/consent", files={"clip": ("c.wav", clip.bytes(), "audio/wav")}, headers=h)
    assert r.status_code == 429 and r.json()["error_code"] == "too_many_consent_attempts"


def _clone_form(speech):  # noqa: ANN001, ANN202
    clone_clip = wav(speech, "allison_en", "demo-echotest")  # 22 s of her
    return clone_clip, {"name": "Allison", "language": "en"}, {"clip": (clone_clip.name, clone_clip.read_bytes(),
                                                                        "audio/wav")}


def test_require_refuses_clones_without_consent_or_with_someone_elses(api, speech_data, reads):
    h = api.h("consent-d")
    _, form, files = _clone_form(speech_data)
    with consent_policy("require"):
        r = api.client.post("/voices/clone", files=files, data=form, headers=h)
        assert r.status_code == 403 and r.json()["error_code"] == "consent_required"
        assert "POST /voices/consent-challenge" in r.json()["message"]

        other = reading(speech_data, LIBRIVOX_CONSENT)
        reads(other)
        assert api.client.post("/voices/consent-challenge", headers=h).status_code == 200
        r = api.client.post("/voices/clone", files=files | {"consent": ("c.wav", other.bytes(), "audio/wav")},
                            data=form, headers=h)
        assert r.status_code == 422 and r.json()["error_code"] == "consent_failed"
        assert "does not match" in r.json()["message"]
    assert api.client.get("/voices", params={"is_owner": "true"}, headers=h).json()["data"] == []


@pytest.mark.slow
def test_clones_with_consent_are_verified_and_without_it_unverified(api, speech_data, reads):
    h = api.h("consent-d2")
    clone_clip, form, files = _clone_form(speech_data)
    with consent_policy("require"):
        mine = reading(speech_data, ALLISON_CONSENT)
        reads(mine)
        challenge = api.client.post("/voices/consent-challenge", json={"name": "Allison"}, headers=h).json()
        r = api.client.post("/voices/clone", files=files | {"consent": ("c.wav", mine.bytes(), "audio/wav")},
                            data=form | {"consent_challenge_id": challenge["id"]}, headers=h)
        assert r.status_code == 200, r.text
        voice = api.client.get(f"/voices/{r.json()['id']}", headers=h).json()
        assert voice["consent"] == "verified"
        prov = voice["provenance"]
        assert prov["clip"]["filename"] == clone_clip.name and prov["consent_attempt_id"] and prov["api_key_id"]

        # Deleting the voice deletes its consent recording.
        from sqlalchemy import select

        from voicesmith.store.blobs import get_blob_store
        from voicesmith.store.db import session_scope
        from voicesmith.store.models import ConsentAttempt

        with session_scope() as s:
            key = s.scalar(select(ConsentAttempt.blob_key).where(ConsentAttempt.id == prov["consent_attempt_id"]))
        assert key and get_blob_store().exists(key)
        assert api.client.delete(f"/voices/{voice['id']}", headers=h).status_code == 204
        assert not get_blob_store().exists(key)

    with consent_policy("record"):
        r = api.client.post("/voices/clone", files=files, data=form, headers=h)
        assert r.status_code == 200, r.text
        voice = api.client.get(f"/voices/{r.json()['id']}", headers=h).json()
        assert voice["consent"] == "unverified" and voice["provenance"]["consent_attempt_id"] is None


def test_stock_voices_say_stock(api):
    vid = api.add_voice(None, "Stocky", kind="stock")
    voice = api.client.get(f"/voices/{vid}", headers=api.h("consent-e")).json()
    assert voice["consent"] == "stock"


def test_a_code_this_server_spoke_with_a_cloned_voice_cannot_verify(api, speech_data, reads):
    from tests.tts_support import tts_body

    ds = _dataset(api, "consent-f", speech_data)
    h = api.h("consent-f")
    clip = reading(speech_data, ALLISON_CONSENT)
    wav_format = {"container": "wav", "encoding": "pcm_s16le", "sample_rate": 16000}
    cloned = api.add_voice("consent-f", "someone's clone")  # kind clone: it could be anyone's voice
    stock = api.add_voice(None, "Stock", kind="stock")

    reads(clip)
    assert api.client.post(f"/datasets/{ds}/consent-challenge", headers=h).status_code == 200
    # A stock voice (no real person's) speaking the code words spends nothing.
    r = api.client.post("/tts/bytes", json=tts_body(stock, "Invalid personal identification.", wav_format), headers=h)
    assert r.status_code == 200, r.text
    assert api.client.get(f"/datasets/{ds}/consent", headers=h).json()["challenge"] is not None
    # One code word spoken with a cloned voice, by any organisation, spends the challenge.
    r = api.client.post("/tts/bytes", json=tts_body(cloned, "Personal.", wav_format), headers=api.h("consent-f"))
    assert r.status_code == 200, r.text
    r = api.client.post(f"/datasets/{ds}/consent", files={"clip": (clip.path.name, clip.bytes(), "audio/wav")},
                        headers=h)
    assert r.json()["reason_code"] == "challenge_synthesised" and not r.json()["verified"], r.text
    assert "new one" in r.json()["message"]

    # A fresh challenge is untouched by what was spoken before it.
    assert api.client.post(f"/datasets/{ds}/consent-challenge", headers=h).status_code == 200
    r = api.client.post(f"/datasets/{ds}/consent", files={"clip": (clip.path.name, clip.bytes(), "audio/wav")},
                        headers=h)
    assert r.json()["verified"], r.text
