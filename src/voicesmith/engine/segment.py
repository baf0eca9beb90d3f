"""Voice activity detection (Silero VAD) and cutting speech into 1–15 s utterances at pauses.

We run the packaged sequence-ONNX export of Silero VAD with onnxruntime directly: it gives the same
per-frame probabilities as the streaming model in a few calls per minute of audio, and importing the
`silero_vad` package itself would call torch.set_num_threads(1) process-wide, which would slow down
the training code that shares the process.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicesmith.engine.audio import resample

VAD_RATE = 16000
FRAME_SAMPLES = 512  # 32 ms at 16 kHz: one probability per frame
FRAME_S = FRAME_SAMPLES / VAD_RATE
_CONTEXT = 64
_BLOCK_FRAMES = 512


@dataclass(frozen=True)
class Span:
    """A time span in seconds from the start of the file."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


class _SileroVad:
    def __init__(self) -> None:
        import onnxruntime as ort

        # find_spec locates the package's files without importing it (see the module docstring).
        spec = importlib.util.find_spec("silero_vad")
        assert spec is not None and spec.submodule_search_locations, "silero-vad is a dependency"
        model = Path(list(spec.submodule_search_locations)[0]) / "data" / "silero_vad_16k_sequence.onnx"
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # tiny model: threads cost more than they save
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()

    def probabilities(self, audio16k: np.ndarray) -> np.ndarray:
        audio = np.ascontiguousarray(audio16k, dtype=np.float32)
        n_frames = (len(audio) + FRAME_SAMPLES - 1) // FRAME_SAMPLES
        if n_frames == 0:
            return np.zeros(0, dtype=np.float32)
        padded = np.zeros(n_frames * FRAME_SAMPLES, dtype=np.float32)
        padded[: len(audio)] = audio
        frames = padded.reshape(n_frames, FRAME_SAMPLES)
        # Each frame is fed with the last 64 samples of the previous one, as the streaming model does.
        context = np.zeros((n_frames, _CONTEXT), dtype=np.float32)
        context[1:] = frames[:-1, -_CONTEXT:]
        inputs = np.concatenate([context, frames], axis=1)
        h = np.zeros((1, 1, 128), dtype=np.float32)
        c = np.zeros((1, 1, 128), dtype=np.float32)
        out = []
        with self._lock:
            for first in range(0, n_frames, _BLOCK_FRAMES):
                probs, h, c = self._session.run(
                    ["speech_probs", "hn", "cn"], {"input": inputs[first : first + _BLOCK_FRAMES], "h": h, "c": c}
                )
                out.append(probs.reshape(-1))
        return np.concatenate(out).astype(np.float32)


_vad: _SileroVad | None = None
_vad_lock = threading.Lock()


def _get_vad() -> _SileroVad:
    global _vad
    with _vad_lock:
        if _vad is None:
            _vad = _SileroVad()
        return _vad


def speech_probabilities(audio: np.ndarray, sr: int) -> np.ndarray:
    """Silero speech probability per 32 ms frame (frame i covers [i*0.032, (i+1)*0.032) s)."""
    audio16k = resample(np.asarray(audio, dtype=np.float32), sr, VAD_RATE)
    return _get_vad().probabilities(audio16k)


def speech_regions(
    probs: np.ndarray,
    *,
    threshold: float = 0.5,
    neg_threshold: float = 0.35,
    min_speech_s: float = 0.25,
    min_silence_s: float = 0.1,
    pad_s: float = 0.1,
    total_s: float | None = None,
) -> list[Span]:
    """Speech regions from frame probabilities with hysteresis: speech starts above `threshold`, ends
    after `min_silence_s` below `neg_threshold`; regions shorter than `min_speech_s` are dropped; each
    kept region is padded by `pad_s` on both sides but never past half the gap to its neighbour."""
    total = len(probs) * FRAME_S if total_s is None else total_s
    raw: list[list[float]] = []
    in_speech = False
    start = 0
    below_since: int | None = None
    for i, p in enumerate(probs):
        if not in_speech:
            if p >= threshold:
                in_speech, start, below_since = True, i, None
        elif p < neg_threshold:
            if below_since is None:
                below_since = i
            if (i - below_since + 1) * FRAME_S >= min_silence_s:
                raw.append([start * FRAME_S, below_since * FRAME_S])
                in_speech = False
        elif p >= threshold:
            below_since = None
    if in_speech:
        end = below_since if below_since is not None else len(probs)
        raw.append([start * FRAME_S, end * FRAME_S])
    raw = [r for r in raw if r[1] - r[0] >= min_speech_s]
    regions: list[Span] = []
    for k, (s, e) in enumerate(raw):
        lo = 0.0 if k == 0 else (raw[k - 1][1] + s) / 2
        hi = total if k == len(raw) - 1 else (e + raw[k + 1][0]) / 2
        regions.append(Span(max(lo, s - pad_s), min(hi, e + pad_s)))
    return regions


def speech_mask(regions: list[Span], n_frames: int, frame_s: float = FRAME_S) -> np.ndarray:
    """Boolean per frame: True where the frame's centre lies in a speech region."""
    centres = (np.arange(n_frames) + 0.5) * frame_s
    mask = np.zeros(n_frames, dtype=bool)
    for region in regions:
        mask |= (centres >= region.start) & (centres < region.end)
    return mask


def plan_utterances(
    regions: list[Span],
    probs: np.ndarray | None = None,
    *,
    min_s: float = 1.0,
    max_s: float = 15.0,
    pause_s: float = 0.5,
    max_merge_gap_s: float = 0.8,
    total_s: float | None = None,
) -> list[Span]:
    """Group speech regions into utterances of `min_s`..`max_s` seconds.

    1. Cut at every pause of at least `pause_s` (a breath between phrases or sentences).
    2. A group longer than `max_s` is split at its longest internal pause, recursively; a single
       region longer than `max_s` (no pause at all) is split at its least speech-like frame.
    3. A group shorter than `min_s` is merged with the neighbour across the shorter pause when that
       pause is at most `max_merge_gap_s` and the result stays within `max_s`; otherwise it is
       widened into the silence around it (up to 0.3 s a side, never into other speech or past
       `total_s`) to reach `min_s`, and dropped if even that is too short (a lone "OK.").
    """
    if not regions:
        return []
    groups: list[list[Span]] = [[regions[0]]]
    for region in regions[1:]:
        if region.start - groups[-1][-1].end >= pause_s:
            groups.append([region])
        else:
            groups[-1].append(region)

    spans: list[Span] = []
    for group in groups:
        spans.extend(_split_long(group, probs, min_s, max_s))
    merged = _merge_short(spans, min_s, max_s, max_merge_gap_s)
    return _widen_short(merged, min_s, total_s if total_s is not None else merged[-1].end if merged else 0.0)


def _split_long(group: list[Span], probs: np.ndarray | None, min_s: float, max_s: float) -> list[Span]:
    span = Span(group[0].start, group[-1].end)
    if span.duration <= max_s:
        return [span]
    if len(group) > 1:
        gaps = [group[i + 1].start - group[i].end for i in range(len(group) - 1)]
        cut = int(np.argmax(gaps)) + 1
        return _split_long(group[:cut], probs, min_s, max_s) + _split_long(group[cut:], probs, min_s, max_s)
    # One continuous region: cut where speech is least likely, keeping both sides at least min_s;
    # a small pull towards the middle breaks ties (and avoids slicing off 1 s pieces).
    lo, hi = span.start + min_s, span.end - min_s
    mid = span.start + span.duration / 2
    cut_t = mid
    if probs is not None and hi > lo:
        first, last = int(np.ceil(lo / FRAME_S)), min(len(probs), int(hi / FRAME_S))
        if last > first:
            centres = (np.arange(first, last) + 0.5) * FRAME_S
            score = probs[first:last] + 0.05 * np.abs(centres - mid) / (span.duration / 2)
            cut_t = float(centres[int(np.argmin(score))])
    return _split_long([Span(span.start, cut_t)], probs, min_s, max_s) + _split_long(
        [Span(cut_t, span.end)], probs, min_s, max_s
    )


def _merge_short(spans: list[Span], min_s: float, max_s: float, max_gap: float) -> list[Span]:
    spans = list(spans)
    changed = True
    while changed:
        changed = False
        for i, span in enumerate(spans):
            if span.duration >= min_s:
                continue
            options = []
            if i > 0:
                options.append((span.start - spans[i - 1].end, i - 1))
            if i + 1 < len(spans):
                options.append((spans[i + 1].start - span.end, i + 1))
            for gap, j in sorted(options):
                merged = Span(min(span.start, spans[j].start), max(span.end, spans[j].end))
                if gap <= max_gap and merged.duration <= max_s:
                    spans[min(i, j)] = merged
                    del spans[max(i, j)]
                    changed = True
                    break
            if changed:
                break
    return spans


def _widen_short(spans: list[Span], min_s: float, total_s: float, max_pad_s: float = 0.3) -> list[Span]:
    result: list[Span] = []
    for i, span in enumerate(spans):
        if span.duration < min_s:
            lo = max(0.0, spans[i - 1].end if i > 0 else 0.0, span.start - max_pad_s)
            hi = min(total_s, spans[i + 1].start if i + 1 < len(spans) else total_s, span.end + max_pad_s)
            need = min_s - span.duration
            left_room, right_room = span.start - lo, hi - span.end
            right = min(right_room, max(need / 2, need - left_room))
            left = min(left_room, need - right)
            start, end = span.start - left, span.end + right
            span = Span(start, end)
        if span.duration >= min_s - 1e-9:
            result.append(span)
    return result


@dataclass(frozen=True)
class Segmentation:
    duration_s: float
    probs: np.ndarray  # per 32 ms frame
    regions: list[Span]  # raw speech regions (padded)
    utterances: list[Span]  # 1–15 s groups

    @property
    def speech_s(self) -> float:
        return float(sum(r.duration for r in self.regions))

    @property
    def speech_ratio(self) -> float:
        return self.speech_s / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def usable_s(self) -> float:
        return float(sum(u.duration for u in self.utterances))


def segment(audio: np.ndarray, sr: int, *, min_s: float = 1.0, max_s: float = 15.0) -> Segmentation:
    """VAD and utterance plan for one recording."""
    probs = speech_probabilities(audio, sr)
    duration = len(audio) / sr
    regions = speech_regions(probs, total_s=duration)
    return Segmentation(duration, probs, regions, plan_utterances(regions, probs, min_s=min_s, max_s=max_s, total_s=duration))
