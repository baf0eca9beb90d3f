from pathlib import Path

import numpy as np
import pytest

from voicesmith.engine import audio, transcribe
from voicesmith.engine.wer import corpus_wer, normalize_words, number_to_words, wer


@pytest.fixture(scope="module")
def transcriber() -> transcribe.Transcriber:
    return transcribe.get_transcriber()


def test_transcribes_real_english_with_word_times(speech_clips, transcriber):
    clip = speech_clips.pick("librivox_en", 1, max_s=15)[0]
    samples, sr = audio.load_audio(clip.path)
    result = transcriber.transcribe(samples, sr)
    assert wer(clip.text, result.text) <= 0.15, (clip.text, result.text)
    assert result.words and [w.word for w in result.words][:2] != ["", ""]
    starts = [w.start for w in result.words]
    assert starts == sorted(starts)
    assert all(0 <= w.start <= w.end <= len(samples) / sr + 0.1 for w in result.words)
    assert transcribe.get_transcriber() is transcriber  # one shared model


def test_packed_transcription_gives_each_clip_its_own_words(speech_clips, transcriber):
    clips = speech_clips.pick("allison_en", 4, min_s=2.5, max_s=6.0)
    audios = [audio.load_audio(c.path, 16000)[0] for c in clips]
    results = transcriber.transcribe_many(audios, 16000, pack_s=25.0)
    assert len(results) == len(clips)
    for i, (samples, result) in enumerate(zip(audios, results)):
        # Each clip's text is its own sentence, not its neighbour's.
        errors = [wer(c.text, result.text) for c in clips]
        assert int(np.argmin(errors)) == i, (clips[i].text, result.text)
        assert all(0 <= w.start <= w.end <= len(samples) / 16000 + 1e-6 for w in result.words)
    assert corpus_wer([(c.text, r.text) for c, r in zip(clips, results)]) <= 0.2


def test_near_empty_audio_gives_empty_text(transcriber):
    assert transcriber.transcribe(np.zeros(800, np.float32), 16000).text == ""


def test_metadata_csv_parsing():
    text = "file|text\nclip_01.wav|Hello there.\nclip_02|Second one|Second one, normalised\n\nbad line\n"
    assert transcribe.parse_metadata_csv(text) == {
        "clip_01.wav": "Hello there.",
        "clip_02": "Second one, normalised",
    }


def test_user_transcripts_txt_wins_over_metadata(tmp_path: Path):
    (tmp_path / "a.txt").write_text("  From the text\nfile. ")
    (tmp_path / "metadata.csv").write_text("a.wav|from metadata\nb|b from metadata\nc.mp3|c text\n")
    uploads = [("a.txt", tmp_path / "a.txt"), ("metadata.csv", tmp_path / "metadata.csv")]
    found = transcribe.user_transcripts(uploads, ["a.wav", "b.flac", "c.mp3", "d.wav"])
    assert found == {"a.wav": "From the text file.", "b.flac": "b from metadata", "c.mp3": "c text"}


def test_transcript_next_to_a_local_file(tmp_path: Path):
    (tmp_path / "x.wav").write_bytes(b"")
    (tmp_path / "y.wav").write_bytes(b"")
    (tmp_path / "x.txt").write_text("Beside it.")
    (tmp_path / "metadata.csv").write_text("y.wav|In the csv.\n")
    assert transcribe.transcript_next_to(tmp_path / "x.wav") == "Beside it."
    assert transcribe.transcript_next_to(tmp_path / "y.wav") == "In the csv."
    assert transcribe.transcript_next_to(tmp_path / "z.wav") is None


def test_wer_normalises_both_sides_alike():
    assert normalize_words("Press 1, or 21st—don't!") == ["press", "one", "or", "twenty", "first", "dont"]
    assert wer("Press one for sales.", "press 1 for sales") == 0.0
    assert wer("It costs 3.5 percent", "it costs three point five %") == 0.0
    assert wer("the cat sat", "the cat sat down") == pytest.approx(1 / 3)
    assert wer("a b c d", "a x c") == pytest.approx(2 / 4)
    assert wer("", "") == 0.0 and wer("", "noise") == 1.0
    assert number_to_words(1_234_005) == "one million two hundred thirty four thousand five"
    assert corpus_wer([("a b", "a"), ("c d", "c d")]) == pytest.approx(0.25)
