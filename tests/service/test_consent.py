"""service/consent.py with real speech, real Whisper (tiny.en) and the real speaker encoder."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.consent_support import (ALLISON_CONSENT, ALLISON_NUMBER, CARLO_CLIP, LIBRIVOX_CONSENT, consent_policy,
                                   reading, training_files)


def make_dataset(org: str, files: list[Path]) -> str:
    from voicesmith.service import datasets

    ds = datasets.create(org, "allison", "")
    for path in files:
        upload = datasets.begin_upload(org, ds.id)
        upload.writer.write(path.read_bytes())
        datasets.finish_upload(upload, path.name, "fine_tune", "audio/wav")
    return ds.id


@pytest.fixture
def allison(org, speech_data) -> str:
    return make_dataset(org, training_files(speech_data))


def test_reading_substitute_passes_once_and_lets_a_fine_tune_through_require(org, allison, speech_data):
    from voicesmith.engine.consent import SPEAKER_THRESHOLD
    from voicesmith.service import consent, fine_tunes

    clip = reading(speech_data, ALLISON_CONSENT)
    challenge = consent.create_challenge(org, allison, speaker_name="Allison", generate=clip.generator())
    assert challenge.code == "invalid personal identification"
    assert challenge.statement.startswith("I, Allison, agree") and challenge.statement.endswith(challenge.code + ".")

    attempt = consent.verify_dataset_clip(org, allison, clip.bytes(), clip.path.name, api_key_id="key-1")
    assert attempt.verified, attempt.message
    assert attempt.code_score == 1.0 and "identification" in attempt.transcript.lower()
    assert attempt.similarity >= SPEAKER_THRESHOLD
    assert attempt.blob_key is not None

    # The same recording again: the challenge is used up.
    again = consent.verify_dataset_clip(org, allison, clip.bytes(), clip.path.name)
    assert not again.verified and again.reason_code == "challenge_used"

    with consent_policy("require"):
        ft = fine_tunes.create(org, name="a", description="", language="en", model_id="sonic-2",
                               dataset_id=allison, api_key_id="key-1")
    assert (ft.consent, ft.consent_attempt_id, ft.api_key_id) == ("verified", attempt.id, "key-1")
    state = consent.status(org, allison)
    assert state["consent"] == "verified" and state["verified_attempt_id"] == attempt.id
    assert [a.reason_code for a in state["attempts"]] == ["challenge_used", None]


def test_code_with_a_number_is_heard_however_whisper_spells_it(org, speech_data):
    from voicesmith.service import consent

    clip = reading(speech_data, ALLISON_NUMBER)
    dataset = make_dataset(org, training_files(speech_data, exclude="conf-usermenu"))
    consent.create_challenge(org, dataset, generate=clip.generator())
    attempt = consent.verify_dataset_clip(org, dataset, clip.bytes(), clip.path.name)
    assert attempt.verified, attempt.message


def test_another_speaker_fails_on_the_speaker_check(org, allison, speech_data):
    from voicesmith.engine.consent import SPEAKER_THRESHOLD
    from voicesmith.service import consent

    clip = reading(speech_data, LIBRIVOX_CONSENT)  # his own words: the text check passes
    consent.create_challenge(org, allison, generate=clip.generator())
    attempt = consent.verify_dataset_clip(org, allison, clip.bytes(), clip.path.name)
    assert not attempt.verified and attempt.reason_code == "speaker_mismatch", attempt.message
    assert attempt.code_score == 1.0
    assert attempt.similarity < SPEAKER_THRESHOLD and "does not match the training speech" in attempt.message

    carlo = reading(speech_data, CARLO_CLIP)  # 8 kHz, Italian: the voice alone fails him too
    consent.create_challenge(org, allison, generate=carlo.generator())
    attempt = consent.verify_dataset_clip(org, allison, carlo.bytes(), carlo.path.name)
    assert not attempt.verified and attempt.similarity < SPEAKER_THRESHOLD


def test_wrong_words_fail_on_the_text_check(org, allison, speech_data):
    from voicesmith.engine.consent import SPEAKER_THRESHOLD
    from voicesmith.service import consent

    # A real fresh code: her recording (a replay of any earlier answer) cannot contain it.
    challenge = consent.create_challenge(org, allison)
    assert len(challenge.code.split()) == 3
    clip = reading(speech_data, ALLISON_CONSENT)
    attempt = consent.verify_dataset_clip(org, allison, clip.bytes(), clip.path.name)
    assert not attempt.verified and attempt.reason_code == "code_mismatch", attempt.message
    assert attempt.code_score < 1.0
    assert attempt.similarity >= SPEAKER_THRESHOLD  # her voice: only the words fail


def test_expired_and_superseded_challenges_fail(org, allison, speech_data):
    from voicesmith.service import consent
    from voicesmith.store.db import session_scope
    from voicesmith.store.models import ConsentChallenge

    clip = reading(speech_data, ALLISON_CONSENT)
    first = consent.create_challenge(org, allison, generate=clip.generator())
    second = consent.create_challenge(org, allison, generate=clip.generator())  # one active per dataset
    attempt = consent.verify_dataset_clip(org, allison, clip.bytes(), clip.path.name, challenge_id=first.id)
    assert not attempt.verified and attempt.reason_code == "challenge_superseded"

    with session_scope() as s:
        row = s.scalar(select(ConsentChallenge).where(ConsentChallenge.id == second.id))
        row.expires_at = row.created_at - timedelta(seconds=1)
    attempt = consent.verify_dataset_clip(org, allison, clip.bytes(), clip.path.name)
    assert not attempt.verified and attempt.reason_code == "challenge_expired"
    assert "new one" in attempt.message


def test_attempts_are_limited_per_dataset(org, allison, speech_data):
    from voicesmith.service import consent

    clip = reading(speech_data, ALLISON_CONSENT)
    other = make_dataset(org, training_files(speech_data)[:1])
    for _ in range(consent.MAX_ATTEMPTS):  # no challenge asked for: each attempt fails, and counts
        attempt = consent.verify_dataset_clip(org, allison, clip.bytes(), clip.path.name)
        assert attempt.reason_code == "no_challenge"
    consent.create_challenge(org, allison, generate=clip.generator())
    with pytest.raises(consent.TooManyAttempts) as info:
        consent.verify_dataset_clip(org, allison, clip.bytes(), clip.path.name)
    assert info.value.status == 429 and "wait" in info.value.message
    # Another dataset has its own budget.
    assert consent.verify_dataset_clip(org, other, clip.bytes(), clip.path.name).reason_code == "no_challenge"


def test_policy_require_blocks_a_fine_tune_and_record_marks_it_unverified(org, allison):
    from voicesmith.service import consent, fine_tunes

    with consent_policy("require"), pytest.raises(consent.ConsentRequired) as info:
        fine_tunes.create(org, name="a", description="", language="en", model_id="sonic-2", dataset_id=allison)
    assert info.value.status == 403 and info.value.error_code == "consent_required"
    assert f"/datasets/{allison}/consent-challenge" in info.value.message
    ft = fine_tunes.create(org, name="a", description="", language="en", model_id="sonic-2", dataset_id=allison)
    assert ft.consent == "unverified" and ft.consent_attempt_id is None


def test_fine_tune_voices_carry_the_consent_and_provenance(org, allison, speech_data):
    import numpy as np

    from voicesmith.engine.voice import VoiceArtifact
    from voicesmith.service import consent, fine_tunes, training
    from voicesmith.store.db import session_scope
    from voicesmith.store.models import Voice

    clip = reading(speech_data, ALLISON_CONSENT)
    consent.create_challenge(org, allison, generate=clip.generator())
    attempt = consent.verify_dataset_clip(org, allison, clip.bytes(), clip.path.name)
    ft = fine_tunes.create(org, name="a", description="", language="en", model_id="sonic-2", dataset_id=allison,
                           api_key_id="key-9")
    claim = training.claim(ft.id, "worker-1")
    assert claim is not None
    artifact = VoiceArtifact(style=np.zeros((510, 256), np.float32))
    assert training.complete(ft.id, "worker-1", [training.NewVoice(name="v", description="", artifact=artifact)], {})
    with session_scope() as s:
        voice = s.scalar(select(Voice).where(Voice.fine_tune_id == ft.id))
        assert (voice.consent, voice.consent_attempt_id, voice.source_dataset_id, voice.created_by_key_id) == (
            "verified", attempt.id, allison, "key-9")


def test_deleting_the_dataset_deletes_the_consent_recording(org, allison, speech_data):
    from voicesmith.service import consent, datasets
    from voicesmith.store.blobs import get_blob_store
    from voicesmith.store.db import session_scope
    from voicesmith.store.models import ConsentAttempt

    clip = reading(speech_data, ALLISON_CONSENT)
    attempt = consent.verify_dataset_clip(org, allison, clip.bytes(), clip.path.name)  # no challenge: stored anyway
    assert get_blob_store().exists(attempt.blob_key)
    datasets.delete(org, allison)
    assert not get_blob_store().exists(attempt.blob_key)
    with session_scope() as s:
        kept = s.scalar(select(ConsentAttempt).where(ConsentAttempt.id == attempt.id))
        assert kept.blob_key is None and kept.reason_code == "no_challenge"  # the record stays, the audio goes


def _wav_bytes(audio, rate: int) -> bytes:  # noqa: ANN001
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, audio, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.mark.slow
def test_speech_synthesised_by_this_server_fails(org, allison, speech_data):
    """Her instant clone made here: reading an earlier statement it lacks the fresh code; asked to read the fresh
    code, it would pass the speaker check (0.86-0.87 measured), so asking this server for the code spends the
    challenge. A stock voice reading the fresh code has the words but not her voice."""
    import numpy as np

    from voicesmith.engine import clone, stock
    from voicesmith.engine.audio import load_audio
    from voicesmith.engine.synthesis import SAMPLE_RATE, get_synthesizer
    from voicesmith.service import consent, synthesis
    from voicesmith.service.voices import ResolvedVoice

    synth = get_synthesizer()
    her = clone.instant_clone(*load_audio(speech_data / "wav" / "allison_en" / "demo-echotest.wav"), synthesizer=synth)
    old = consent.create_challenge(org, allison, speaker_name="Allison", generate=lambda: ["harbor", "violin", "47"])
    fresh = consent.create_challenge(org, allison, speaker_name="Allison", generate=lambda: ["rocket", "glacier", "81"])
    replay = synth.synthesize(old.statement, her).audio
    attempt = consent.verify_dataset_clip(org, allison, _wav_bytes(replay, SAMPLE_RATE), "synthetic.wav")
    assert not attempt.verified and attempt.reason_code == "code_mismatch", attempt.message

    someone = next(v for v in stock.stock_voices() if v.gender == "masculine")
    spoken = synth.synthesize(fresh.statement, someone.artifact).audio
    attempt = consent.verify_dataset_clip(org, allison, _wav_bytes(spoken, SAMPLE_RATE), "stock.wav")
    assert not attempt.verified and attempt.reason_code == "speaker_mismatch", (attempt.message, attempt.transcript)
    assert attempt.code_score == 1.0

    # Her clone asked, through the server's speech path, to read the fresh code.
    plan = synthesis.SpeechPlan(org_id=org, api_key_id=None, engine_model="kokoro", language="en", speed=1.0,
                                volume=1.0, voice=ResolvedVoice(id="v", kind="clone", name="her", language="en",
                                                                engine_model="kokoro", org_id=org, artifact=her))

    async def collect() -> bytes:
        return b"".join([p.data async for p in synthesis.stream_speech(
            plan, fresh.statement, lambda a: (np.clip(a, -1, 1) * 32767).astype("<i2").tobytes())])

    import asyncio

    pcm = np.frombuffer(asyncio.run(collect()), dtype="<i2").astype(np.float32) / 32768
    attempt = consent.verify_dataset_clip(org, allison, _wav_bytes(pcm, SAMPLE_RATE), "clone.wav")
    assert not attempt.verified and attempt.reason_code == "challenge_synthesised", attempt.message
