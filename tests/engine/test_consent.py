"""engine/consent.py: the code-word match (pure text) and the narrowband speaker comparison on real speech."""

from __future__ import annotations

import pytest

from voicesmith.engine.consent import match_code


@pytest.mark.parametrize("heard", [
    "I agree. Code: amber river 47.",
    "i agree code amber river forty-seven",
    "Code, Amber, River, forty seven!",
    "amber, um, the river, 47",  # other words between code words are fine
])
def test_code_words_are_found_however_numbers_and_punctuation_are_written(heard):
    m = match_code(["amber", "river", "47"], heard)
    assert m.ok and m.score == 1.0


@pytest.mark.parametrize("heard, matched", [
    ("amber river 46", 3),  # a wrong number: "forty" is heard, "seven" is not
    ("river amber 47", 1),  # out of order: amber is found, then nothing after it but 47... river is missing
    ("amber 47", 1),
    ("", 0),
    ("code: silver lantern 47", 0),
])
def test_missing_wrong_or_reordered_code_words_fail(heard, matched):
    m = match_code(["amber", "river", "47"], heard)
    assert not m.ok and m.matched == matched


def test_one_letter_of_asr_spelling_is_forgiven_only_in_long_words():
    assert match_code(["harbor", "tiger", "30"], "harbour tiger thirty").ok
    assert match_code(["cabin", "tiger", "30"], "cabins tiger thirty").ok
    assert not match_code(["cabin", "tiger", "60"], "cabin tiger sixth").ok  # number words must be exact
    assert not match_code(["wagon", "owl", "30"], "wagon own thirty").ok  # short words must be exact


def test_narrowband_embeddings_tell_her_from_him(speech_data):
    from voicesmith.engine import consent
    from voicesmith.engine.audio import load_audio

    allison = [load_audio(speech_data / "wav" / "allison_en" / f"{s}.wav")
               for s in ("agent-alreadyon", "agent-incorrect", "auth-incorrect", "confbridge-pin")]
    ref, n = consent.reference_from_clips(allison)
    assert n == 4
    her = consent.voice_embedding(*load_audio(speech_data / "wav" / "allison_en" / "confbridge-pin-bad.wav"))
    him = consent.voice_embedding(*load_audio(
        speech_data / "wav" / "librivox_en" / "sense_and_sensibility_01_austen_64kb-0920.wav"))
    assert consent.similarity(her, ref) >= consent.SPEAKER_THRESHOLD > consent.similarity(him, ref)
