"""POST /voices/localize and GET /accents (in process): a localized voice keeps its source's timbre (speaker
similarity), takes its prosody from the stock voice it names, and speaks the target language's phonemes."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from tests.tts_support import decode_raw, tts_body

RAW = {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 24000}
EN_TEXT = "The weather is lovely today, so we walked along the river."
FR_TEXT = "Nous avons marché près de la rivière."
V0814 = "2026-08-14"


@pytest.fixture(scope="module")
def source(api, speech_data) -> dict:
    """An instant clone of a real Italian speaker (carlo_it), owned by org 'loc'."""
    with open(speech_data / "manifest.tsv", newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["speaker"] == "carlo_it"]
    rows = sorted((r for r in rows if 4.0 <= float(r["seconds"]) <= 12.0), key=lambda r: r["path"])[:2]
    import soundfile as sf

    parts = [sf.read(speech_data / r["path"], dtype="float32")[0] for r in rows]
    rate = int(rows[0]["sample_rate"])
    import io

    buf = io.BytesIO()
    sf.write(buf, np.concatenate(parts), rate, format="WAV")
    r = api.client.post("/voices/clone", files={"clip": ("carlo.wav", buf.getvalue(), "audio/wav")},
                        data={"name": "Carlo", "language": "it"}, headers=api.h("loc"))
    assert r.status_code == 200, r.text
    return r.json()


def _localize(api, body: dict, org="loc", version=None):
    return api.client.post("/voices/localize", json=body, headers=api.h(org, version))


def _speak(api, vid, text=EN_TEXT, language="en", org="loc") -> np.ndarray:
    r = api.client.post("/tts/bytes", json=tts_body(vid, text, RAW, language=language), headers=api.h(org))
    assert r.status_code == 200, r.text
    return decode_raw(r.content, "pcm_s16le")


def test_accents_catalog(api):
    r = api.client.get("/accents", headers=api.h("loc"))
    assert r.status_code == 200, r.text
    accents = r.json()["accents"]
    assert [a["id"] for a in accents] == sorted(a["id"] for a in accents)
    by_language = {a["language"]: a for a in accents}
    assert set(by_language) == {"en", "es", "fr", "it", "pt", "hi"}  # what the engine phonemizes
    assert by_language["fr"] == {"id": "parisian", "name": "Parisian French", "language": "fr", "locale": "fr-FR",
                                 "is_locale_default": True, "is_localizable": True}
    assert by_language["pt"]["locale"] == "pt-BR" and by_language["en"]["id"] == "general-american"
    assert api.client.get("/accents").status_code == 401


def test_localized_voice_keeps_the_timbre_and_takes_stock_prosody(api, source):
    from voicesmith.engine.speaker import cosine, embed_utterance

    r = _localize(api, {"voice_id": source["id"], "name": "Carlo (US)", "accent": "general-american",
                        "original_speaker_gender": "male"}, version=V0814)
    assert r.status_code == 200, r.text
    made = r.json()
    got = api.client.get(f"/voices/{made['id']}", headers=api.h("loc")).json()
    assert (got["language"], got["accent"], got["kind"], got["is_owner"]) == ("en", "general-american", "localized",
                                                                             True)
    assert got["gender"] == "masculine"
    origin = got["provenance"]["clip"]["localized_from"]
    assert origin["voice_id"] == source["id"] and got["provenance"]["clip"]["filename"] == "carlo.wav"
    donor = origin["prosody_voice_id"]
    from voicesmith.engine.stock import stock_voice

    assert stock_voice(donor).gender == "masculine"  # the stock voices are listed under English
    assert got["consent"] == source["consent"]
    from voicesmith.service.voices import resolve

    mine, src = resolve(api.org_id("loc"), made["id"]).artifact, resolve(api.org_id("loc"), source["id"]).artifact
    np.testing.assert_array_equal(mine.style[:, :128], src.style[:, :128])
    np.testing.assert_array_equal(mine.style[:, 128:], stock_voice(donor).artifact.style[:, 128:])
    assert mine.pitch_scale == src.pitch_scale and (mine.timbre is None) == (src.timbre is None)

    original, localized, stock = (_speak(api, v) for v in (source["id"], made["id"], donor))
    # Prosody (durations) is the stock voice's, sample count for sample count; the timbre stays the source's.
    assert len(localized) == len(stock) != len(original)
    e_src, e_loc, e_stock = (embed_utterance(a, 24000) for a in (original, localized, stock))
    assert cosine(e_loc, e_src) > cosine(e_stock, e_src) + 0.1
    from voicesmith.engine.transcribe import get_transcriber
    from voicesmith.engine.wer import wer

    heard = get_transcriber().transcribe(localized, 24000).text
    assert wer(EN_TEXT, heard) <= 0.25, heard


def test_localize_into_a_language_without_stock_voices_keeps_prosody_and_speaks_it(api, source):
    # The 2025 body: language (+ dialect), no accent.
    body = {"voice_id": source["id"], "name": "Carlo FR", "description": "d", "language": "fr", "dialect": "eu",
            "original_speaker_gender": "male"}
    r = _localize(api, body)
    assert r.status_code == 200, r.text
    vid = r.json()["id"]
    got = api.client.get(f"/voices/{vid}", headers=api.h("loc")).json()
    assert (got["language"], got["accent"], got["locales"]) == ("fr", "parisian", [{"locale": "fr-FR",
                                                                                   "is_native": True}])
    assert got["provenance"]["clip"]["localized_from"]["prosody_voice_id"] is None
    from voicesmith.service.voices import resolve

    mine, theirs = resolve(api.org_id("loc"), vid).artifact, resolve(api.org_id("loc"), source["id"]).artifact
    np.testing.assert_array_equal(mine.style, theirs.style)  # nothing to take prosody from: the source's stays
    assert (mine.pitch_scale, mine.speed) == (theirs.pitch_scale, theirs.speed)
    if theirs.timbre is not None:
        np.testing.assert_array_equal(mine.timbre, theirs.timbre)
    # OpenAI's request has no language: the voice's own (French) decides the phonemizer.
    r = api.client.post("/v1/audio/speech", json={"model": "tts-1", "input": FR_TEXT, "voice": vid,
                                                  "response_format": "pcm"}, headers=api.h("loc"))
    assert r.status_code == 200, r.text
    spoken = np.frombuffer(r.content, dtype="<i2")
    french, english = _speak(api, vid, FR_TEXT, "fr"), _speak(api, vid, FR_TEXT, "en")
    assert len(spoken) == len(french) != len(english)


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"language": "ja"}, 400, "unsupported_language"),
    ({"language": "zh"}, 400, "unsupported_language"),
    ({"language": "xx"}, 400, "unsupported_language"),
    ({"accent": "british"}, 400, "unsupported_accent"),
    ({"accent": "parisian", "language": "es"}, 400, "accent_language_mismatch"),
    ({"language": "pt", "dialect": "eu"}, 400, "unsupported_dialect"),
    ({}, 400, "invalid_request"),
    ({"language": "fr", "original_speaker_gender": "robot"}, 400, "invalid_gender"),
])
def test_bad_targets_are_refused(api, source, body, status, code):
    r = _localize(api, {"voice_id": source["id"], "name": "x", **body})
    assert (r.status_code, r.json()["error_code"]) == (status, code), r.text
    if code == "unsupported_language" and body["language"] == "ja":
        assert "no phonemizer" in r.json()["message"]


def test_another_organisations_voice_is_not_found(api, source):
    r = _localize(api, {"voice_id": source["id"], "name": "x", "accent": "parisian"}, org="loc-other")
    assert (r.status_code, r.json()["error_code"]) == (404, "voice_not_found")
