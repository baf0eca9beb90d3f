import numpy as np
import pytest

from tests.engine.ingest_signals import concat, harmonic_tone, music, pink_noise, white_noise
from voicesmith.engine import audio, segment
from voicesmith.engine.segment import Span, plan_utterances


def test_plan_cuts_at_pauses_and_keeps_short_gaps():
    regions = [Span(0.0, 2.0), Span(2.2, 4.0), Span(5.0, 8.0)]  # 0.2 s gap inside a phrase, 1 s pause
    assert plan_utterances(regions, total_s=9) == [Span(0.0, 4.0), Span(5.0, 8.0)]


def test_plan_splits_long_groups_at_their_longest_pause():
    regions = [Span(0, 5), Span(5.2, 9), Span(9.45, 14), Span(14.2, 20)]  # all pauses < 0.5 s
    spans = plan_utterances(regions, total_s=21)
    assert spans == [Span(0, 9), Span(9.45, 20)]
    assert all(1.0 <= s.duration <= 15.0 for s in spans)


def test_plan_splits_unbroken_speech_where_speech_is_least_likely():
    probs = np.full(int(40 / segment.FRAME_S), 0.95, dtype=np.float32)
    dip = int(12.0 / segment.FRAME_S)
    probs[dip] = 0.4
    spans = plan_utterances([Span(0, 40)], probs, total_s=40)
    assert all(s.duration <= 15.0 for s in spans)
    assert any(abs(s.end - (dip + 0.5) * segment.FRAME_S) < 1e-6 for s in spans)
    assert spans[0].start == 0 and spans[-1].end == 40


def test_plan_merges_or_widens_short_pieces_and_drops_what_cannot_reach_a_second():
    # A short word 0.6 s from the next phrase is merged into it.
    assert plan_utterances([Span(0, 0.5), Span(1.1, 4.0)], total_s=5) == [Span(0, 4.0)]
    # A lone short word with silence around it is widened to 1 s.
    (widened,) = plan_utterances([Span(2.0, 2.8)], total_s=5)
    assert widened.duration == pytest.approx(1.0) and widened.start < 2.0 and widened.end > 2.8
    # A 0.5 s word in a 0.6 s file cannot become 1 s: dropped.
    assert plan_utterances([Span(0.0, 0.5)], total_s=0.6) == []


def test_real_clips_separated_by_pauses_become_one_utterance_each(speech_clips):
    clips = speech_clips.pick("allison_en", 5, min_s=2.0, max_s=6.0)
    parts = [audio.load_audio(c.path, 16000)[0] for c in clips]
    joined = concat(parts, 1.0, 16000)
    seg = segment.segment(joined, 16000)
    assert len(seg.utterances) == 5
    starts = np.cumsum([1.0] + [len(p) / 16000 + 1.0 for p in parts[:-1]])
    for utt, start, part in zip(seg.utterances, starts, parts):
        assert abs(utt.start - start) < 0.35
        assert abs(utt.end - (start + len(part) / 16000)) < 0.35
    assert 0.5 < seg.speech_ratio < 0.95


def test_long_speech_is_cut_into_utterances_of_at_most_15_s(speech_clips):
    clips = speech_clips.pick("carlo_it", 10, min_s=3.0, max_s=8.0)
    joined = concat([audio.load_audio(c.path, 16000)[0] for c in clips], 0.15, 16000)  # barely any pause
    seg = segment.segment(joined, 16000)
    assert len(joined) / 16000 > 35
    assert seg.utterances and all(1.0 <= u.duration <= 15.0 for u in seg.utterances)
    assert seg.usable_s > 0.8 * seg.speech_s


@pytest.mark.parametrize(
    "signal",
    [
        np.zeros(16000 * 5, dtype=np.float32),
        white_noise(5),
        pink_noise(5),
        harmonic_tone(440, 5),
        music(10),
    ],
    ids=["silence", "white", "pink", "tone", "music"],
)
def test_non_speech_has_no_speech_regions(signal):
    seg = segment.segment(signal, 16000)
    assert seg.speech_s < 0.5 and seg.utterances == []


def test_vad_works_on_8_khz_input(speech_clips):
    clip = speech_clips.pick("june_fr", 1, min_s=3.0)[0]
    samples, sr = audio.load_audio(clip.path)
    assert sr == 8000
    seg = segment.segment(samples, sr)
    assert seg.speech_ratio > 0.6 and len(seg.utterances) >= 1
