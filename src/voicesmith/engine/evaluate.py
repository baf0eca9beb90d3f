"""The fine-tune report: how close each voice is to the speaker, on utterances it never trained on.

For every voice, on the held-out utterances' transcripts (all at the dataset's source bandwidth):
- similarity: mean Resemblyzer cosine of the voice's clips to the centroid of the held-out *real*
  recordings;
- floor: the best stock voice on the same measure; ceiling: the held-out real recordings against
  the centroid of the training recordings (how similar the speaker is to themself across
  utterances); gap_closed = (similarity - floor) / (ceiling - floor);
- WER of the voice's clips (Whisper tiny.en) against the transcripts, beside the WER of the real
  held-out recordings on the same transcripts (English only: tiny.en knows no other language, and
  its errors on other languages would be noise, so those fields are null with a note);
- median F0 and speaking rate of the voice beside the speaker's;
- likeness by measures the search does not optimise (`engine.likeness`: MFCC statistics, long-term
  spectrum, F0 distribution, predicted quality), each distance with its own floor (the best stock
  voice on it) and ceiling (real held-out recordings vs real training recordings);
- preview clips (wav bytes, returned beside the JSON report): every voice speaks the same held-out
  sentences (`HeldOutSet.sample_indices`), and `HeldOutSet.real_samples` gives the real recordings of
  them, so a listener can compare the speaker and each voice on the same words.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf

from voicesmith.engine import likeness, transcribe
from voicesmith.engine.rendering import Renderer
from voicesmith.engine.voice import VoiceArtifact
from voicesmith.engine.voice_profile import VoiceStats, comparison_rate, measure, to_band

PREVIEW_COUNT = 2


@dataclass
class HeldOutSet:
    """The held-out real utterances, measured once."""

    texts: list[str]
    phonemes: list[str]
    stats: VoiceStats  # of the real recordings, at the comparison rate
    train_centroid: np.ndarray
    source_rate: int
    language: str
    real_wer: float | None  # Whisper on the real recordings vs the transcripts (None: no ASR)
    clips: list[np.ndarray] = field(default_factory=list)  # the real recordings, at clip_rate
    clip_rate: int = 0
    real_features: likeness.Features | None = None  # of the real recordings, for the likeness measures
    # The real speaker against themself on each likeness distance, and how that was measured.
    likeness_ceiling: dict[str, float] = field(default_factory=dict)
    likeness_ceiling_what: str = ""
    train_quality: float | None = None  # DNSMOS OVRL of the training recordings measured for the ceiling

    def sample_indices(self, count: int) -> list[int]:
        """The held-out sentences the previews speak: the shortest real recordings of three words or
        more (a listener gets the gist fast), in held-out order; the same for every voice."""
        if count <= 0:
            return []
        lengths = [len(c) for c in self.clips] if self.clips else [len(t) for t in self.texts]
        order = sorted(range(len(self.texts)), key=lambda i: lengths[i])
        chosen = [i for i in order if len(self.texts[i].split()) >= 3][:count] or order[:count]
        return sorted(chosen)

    def real_samples(self, count: int) -> list[tuple[str, bytes]]:
        """(text, wav bytes) of the real recordings of `sample_indices(count)`."""
        if not self.clips:
            return []
        return [(self.texts[i], wav_bytes(self.clips[i], self.clip_rate)) for i in self.sample_indices(count)]

    @property
    def centroid(self) -> np.ndarray:
        return self.stats.centroid

    @property
    def ceiling(self) -> float:
        return float(np.mean(self.stats.similarities(self.train_centroid)))

    @classmethod
    def from_recordings(
        cls,
        clips: Sequence[np.ndarray],
        sr: int,
        texts: Sequence[str],
        phonemes: Sequence[str],
        train_centroid: np.ndarray,
        source_rate: int,
        language: str,
        embeddings: np.ndarray | None = None,
        train_clips: Sequence[np.ndarray] = (),
    ) -> "HeldOutSet":
        """`train_clips` (at `sr`): some real training recordings, the likeness measures' ceiling."""
        stats = measure(clips, sr, phonemes, source_rate, embeddings=embeddings)
        real_wer = None
        if language in transcribe.ASR_LANGUAGES:
            real_wer = _wer(_transcribe(clips, sr), texts)
        band = [to_band(c, sr, source_rate) for c in clips]
        real = likeness.features(band, stats.rate)
        train_quality = None
        if len(train_clips):
            reference = likeness.features([to_band(c, sr, source_rate) for c in train_clips], stats.rate)
            ceiling, what = likeness.distances(reference, real), "held-out real recordings vs training real recordings"
            train_quality = reference.quality
        elif len(band) >= 2:  # no training recordings given: the speaker's held-out halves against each other
            halves = [likeness.features(h, stats.rate, quality=False) for h in likeness.split_halves(band)]
            ceiling, what = likeness.distances(*halves), "one half of the held-out real recordings vs the other"
        else:  # one held-out recording and nothing to compare it with: no ceiling, no likeness distances
            ceiling, what = {}, "no second real recording to compare with"
        return cls(list(texts), list(phonemes), stats, np.asarray(train_centroid, np.float32), source_rate, language,
                   real_wer, [np.asarray(c, np.float32) for c in clips], int(sr), real, ceiling, what, train_quality)


def _transcribe(clips: Sequence[np.ndarray], sr: int) -> list[str]:
    """Whisper tiny.en, several clips per 30 s window (`transcribe_many`): the same method for the
    real recordings and for every voice, so their WERs compare."""
    return [t.text for t in transcribe.get_transcriber().transcribe_many(list(clips), sr)]


def _wer(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    from voicesmith.engine import wer

    return wer.corpus_wer(list(zip(references, hypotheses)))


def wav_bytes(audio: np.ndarray, sr: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.asarray(audio, dtype=np.float32), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@dataclass
class VoiceEvaluation:
    similarity: float
    similarity_per_utterance: list[float]
    wer: float | None
    f0_median_hz: float
    rate_pps: float
    previews: list[tuple[str, bytes]] = field(default_factory=list)  # (text, wav bytes)
    distances: dict[str, float] = field(default_factory=dict)  # each `likeness.DISTANCES` to the real held-out clips
    quality: float | None = None  # DNSMOS OVRL


def speak_held_out(voice: VoiceArtifact, held: HeldOutSet, renderer: Renderer, should_cancel=None) -> list[np.ndarray]:
    jobs = [(voice.style, p, voice.speed, voice.pitch_scale, voice.adapter) for p in held.phonemes]
    return [voice.filter(c, renderer.sample_rate) for c in renderer.speak_many(jobs, should_cancel=should_cancel)]


def evaluate_voice(
    voice: VoiceArtifact,
    held: HeldOutSet,
    renderer: Renderer,
    *,
    with_wer: bool = True,
    previews: int = 0,
    should_cancel: Callable[[], bool] | None = None,
) -> VoiceEvaluation:
    clips = speak_held_out(voice, held, renderer, should_cancel)
    return evaluate_clips(clips, renderer.sample_rate, held, with_wer=with_wer, previews=previews)


def evaluate_clips(
    clips: Sequence[np.ndarray], sr: int, held: HeldOutSet, *, with_wer: bool = True, previews: int = 0
) -> VoiceEvaluation:
    """Every measure of a voice's clips of the held-out sentences (in `held`'s order), however they were made."""
    stats = measure(clips, sr, held.phonemes, held.source_rate)
    sims = stats.similarities(held.centroid)
    found = likeness.features([to_band(c, sr, held.source_rate) for c in clips], stats.rate)
    distances = likeness.distances(found, held.real_features) if held.real_features is not None else {}
    wer_value = None
    if with_wer and held.real_wer is not None:
        wer_value = _wer(_transcribe(clips, sr), held.texts)
    # Previews: the same held-out sentences for every voice, beside the real recordings of them.
    chosen = held.sample_indices(previews)
    return VoiceEvaluation(
        similarity=float(np.mean(sims)) if len(sims) else 0.0,
        similarity_per_utterance=[float(s) for s in sims],
        wer=wer_value,
        f0_median_hz=stats.f0_median_hz,
        rate_pps=stats.rate_pps,
        previews=[(held.texts[i], wav_bytes(clips[i], sr)) for i in chosen],
        distances=distances,
        quality=found.quality,
    )


def _num(x: float | None, digits: int = 4) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), digits)


def gap_closed(similarity: float, floor: float, ceiling: float) -> float | None:
    if ceiling - floor <= 1e-6:
        return None
    return (similarity - floor) / (ceiling - floor)


def build_report(
    held: HeldOutSet,
    stock: dict[str, VoiceEvaluation],
    start: VoiceEvaluation,
    start_label: str,
    voices: Sequence[tuple[str, str, VoiceEvaluation]],
    reference: tuple[str, str, VoiceEvaluation] | None = None,
) -> dict:
    """JSON-safe report. `voices` are (key, name, evaluation); `reference` is (key, what, evaluation) of a voice
    measured beside them but not among them: `style_search_match` (the search's closest match, which a bespoke
    decoder replaced) or `bespoke_match` (the bespoke closest match the guard did not use)."""
    floor_key = max(stock, key=lambda k: stock[k].similarity)
    floor = stock[floor_key].similarity
    ceiling = held.ceiling
    # Each likeness distance has its own floor: the stock voice closest to the speaker on it.
    measured = [m for m in likeness.DISTANCES if m in held.likeness_ceiling and all(m in ev.distances for ev in stock.values())]
    floors = {m: min(stock, key=lambda k: _finite_or_inf(stock[k].distances[m])) for m in measured}

    def entry(ev: VoiceEvaluation) -> dict:
        found = {
            m: {"value": _num(ev.distances[m], 3),
                "gap_closed": _num(likeness.fraction(ev.distances[m], stock[floors[m]].distances[m],
                                                     held.likeness_ceiling[m]), 3)}
            for m in measured if m in ev.distances
        }
        if ev.quality is not None:
            found[likeness.QUALITY] = {"value": _num(ev.quality, 2)}
        return {
            "similarity": _num(ev.similarity),
            "gap_closed": _num(gap_closed(ev.similarity, floor, ceiling), 3),
            "wer": _num(ev.wer, 3),
            "f0_median_hz": _num(ev.f0_median_hz, 1),
            "rate_phones_per_s": _num(ev.rate_pps, 2),
            "likeness": found,
        }

    stock_quality = [ev.quality for ev in stock.values() if ev.quality is not None]
    real_quality = held.real_features.quality if held.real_features is not None else None

    return {
        "held_out_utterances": len(held.texts),
        "comparison_rate_hz": comparison_rate(held.source_rate),
        "language": held.language,
        "floor": {"voice": floor_key, "similarity": _num(floor)},
        "ceiling": {"similarity": _num(ceiling), "what": "held-out real recordings vs the training recordings' centroid"},
        "stock": {k: _num(v.similarity) for k, v in stock.items()},
        "start_point": {"what": start_label, **entry(start)},
        "speaker": {
            "f0_median_hz": _num(held.stats.f0_median_hz, 1),
            "rate_phones_per_s": _num(held.stats.rate_pps, 2),
            "real_wer": _num(held.real_wer, 3),
        },
        "wer_note": None if held.real_wer is not None else
        f"no speech recogniser for '{held.language}' (Whisper tiny.en is English-only): WER not measured",
        "voices": [{"key": key, "name": name, **entry(ev)} for key, name, ev in voices],
        **({} if reference is None else {reference[0]: {"what": reference[1], **entry(reference[2])}}),
        "similarity_measure": "mean Resemblyzer cosine of each held-out clip to the held-out real recordings' centroid",
        # The search maximises Resemblyzer similarity (`similarity`, `gap_closed`); `likeness` checks it
        # with measures it does not optimise directly (`in_search` says what the search does with each).
        "optimised": "resemblyzer",
        "likeness": {
            **{m: {"what": likeness.WHAT[m], "in_search": likeness.IN_SEARCH[m],
                   "floor": {"voice": floors[m], "value": _num(stock[floors[m]].distances[m], 3)},
                   "ceiling": {"value": _num(held.likeness_ceiling[m], 3), "what": held.likeness_ceiling_what},
                   "stock": {k: _num(ev.distances[m], 3) for k, ev in stock.items()}}
               for m in measured},
            likeness.QUALITY: {"what": likeness.WHAT[likeness.QUALITY], "in_search": likeness.IN_SEARCH[likeness.QUALITY],
                               "stock": {k: _num(ev.quality, 2) for k, ev in stock.items()},
                               "stock_mean": _num(float(np.mean(stock_quality)), 2) if stock_quality else None,
                               "real_held_out": _num(real_quality, 2), "real_training": _num(held.train_quality, 2)},
        },
    }


def _finite_or_inf(x: float) -> float:
    return x if math.isfinite(x) else math.inf
