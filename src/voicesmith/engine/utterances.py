"""Turn a dataset's files into training utterances: decode, segment at pauses, transcribe (or take
the user's transcript), loudness-normalise and write 24 kHz wavs, embed, and exclude utterances of
other speakers. Resumable: everything is written under `workdir` as it is produced, and a re-run
reuses every utterance whose sidecar is already there.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from voicesmith.engine import audio as audio_mod
from voicesmith.engine.checkpoints import atomic_write, save_json
from voicesmith.engine import segment as segment_mod
from voicesmith.engine import speaker as speaker_mod
from voicesmith.engine import transcribe as transcribe_mod
from voicesmith.engine.wer import normalize_words

OUTPUT_RATE = 24000  # Kokoro's rate
WORK_RATE = 16000  # VAD, ASR and speaker embeddings run at 16 kHz
_SIDECAR_VERSION = 1

ProgressFn = Callable[[float, str], None]


@dataclass(frozen=True)
class SourceFile:
    path: Path
    filename: str | None = None  # the user's file name (uploads are stored under other names)
    transcript: str | None = None  # the user's text for the whole file, if any

    @property
    def name(self) -> str:
        return self.filename or Path(self.path).name


@dataclass
class Utterance:
    id: str
    source: str  # the user's file name
    start: float  # seconds in the source file
    end: float
    audio_path: Path  # mono 24 kHz 16-bit wav, loudness-normalised to -23 LUFS
    source_sample_rate: int  # the original file's rate: its bandwidth (8000 = telephone)
    text: str | None  # None when there is no user transcript and no ASR for the language
    text_source: str | None  # "user" | "asr" | None
    words: list[transcribe_mod.Word] = field(default_factory=list)  # ASR word times, seconds from `start`
    # 256-d unit-norm speaker embedding, made at the dataset's bandwidth (PreparedUtterances.
    # embedding_rate); None if too short to embed
    embedding: np.ndarray | None = None
    f0_median_hz: float | None = None
    asr_logprob: float | None = None
    speaker_similarity: float | None = None  # cosine to the dataset's main-speaker centroid
    sample_rate: int = OUTPUT_RATE

    @property
    def duration(self) -> float:
        return self.end - self.start

    def load(self) -> np.ndarray:
        """The utterance audio, float32 mono at `sample_rate`."""
        audio, _ = sf.read(str(self.audio_path), dtype="float32")
        return audio

    def to_json(self) -> dict[str, Any]:
        return {
            "version": _SIDECAR_VERSION,
            "id": self.id,
            "source": self.source,
            "start": self.start,
            "end": self.end,
            "audio_file": self.audio_path.name,
            "source_sample_rate": self.source_sample_rate,
            "text": self.text,
            "text_source": self.text_source,
            "words": [[w.word, w.start, w.end, w.probability] for w in self.words],
            "embedding": None if self.embedding is None else [float(x) for x in self.embedding],
            "f0_median_hz": self.f0_median_hz,
            "asr_logprob": self.asr_logprob,
            "sample_rate": self.sample_rate,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], folder: Path) -> Utterance:
        return cls(
            id=data["id"],
            source=data["source"],
            start=data["start"],
            end=data["end"],
            audio_path=folder / data["audio_file"],
            source_sample_rate=data["source_sample_rate"],
            text=data["text"],
            text_source=data["text_source"],
            words=[transcribe_mod.Word(*w) for w in data["words"]],
            embedding=None if data["embedding"] is None else np.asarray(data["embedding"], dtype=np.float32),
            f0_median_hz=data["f0_median_hz"],
            asr_logprob=data["asr_logprob"],
            sample_rate=data["sample_rate"],
        )


@dataclass(frozen=True)
class ExcludedUtterance:
    utterance: Utterance
    reason: str  # "different_speaker"
    message: str


class PreparedUtterances(list):
    """The usable utterances (a plain list of `Utterance`, in file order), plus what was left out:
    `excluded` (utterances of other speakers, with reasons), `skipped_files` ({name: reason}) and
    `embedding_rate`: the bandwidth the embeddings were made at (the lowest source rate, at most
    16 kHz); band-limit synthesis the same way (speaker.narrowband) before comparing with them."""

    def __init__(
        self,
        utterances: list[Utterance],
        excluded: list[ExcludedUtterance],
        skipped_files: dict[str, str],
        embedding_rate: int,
    ) -> None:
        super().__init__(utterances)
        self.excluded = excluded
        self.skipped_files = skipped_files
        self.embedding_rate = embedding_rate


def _file_key(source: SourceFile) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(source.name).stem)[:40] or "audio"
    # Name, size and the first 256 KiB: stable across resumes (even on another worker with another
    # blob path), distinct for two uploads that share a name.
    digest = hashlib.sha256(f"{source.name}|{Path(source.path).stat().st_size}|".encode())
    with open(source.path, "rb") as f:
        digest.update(f.read(256 * 1024))
    return f"{stem}-{digest.hexdigest()[:10]}"


def prepare_utterances(
    files: Sequence[SourceFile | Path | str],
    workdir: Path,
    progress: ProgressFn | None = None,
    *,
    language: str = "en",
    analyses: dict[str, dict[str, Any]] | None = None,
    asr_threads: int | None = None,
) -> PreparedUtterances:
    """Prepare training utterances from the dataset's files into `workdir/utterances/`.

    - Files whose analysis (analyze_file's dict, or the file entry of build_report, keyed by file
      name) is "rejected" or "excluded" are skipped; without analyses, unreadable, silent and
      speechless files are skipped here.
    - Speech is cut into 1–15 s utterances at pauses (segment.plan_utterances).
    - Text: the user's transcript wins. A file with a transcript becomes one utterance if its speech
      spans at most 15 s; a longer one (English) is segmented and the user's words are placed on
      utterances by aligning them to Whisper's word times. Otherwise Whisper tiny.en transcribes
      (English only; other languages without user text get text=None).
    - Each utterance is written as a 24 kHz wav at -23 LUFS, with a JSON sidecar (text, word times,
      embedding, source rate). A re-run reuses existing sidecars.
    - Finally the main speaker is found across all utterances (embedded at the dataset's lowest
      bandwidth); utterances under speaker.same_speaker_threshold(duration) to them are excluded
      (listed in `.excluded`).

    `progress(fraction, message)` is called as work advances; it may raise (e.g. to cancel), in
    which case everything written so far is kept for the next run.
    """
    report = progress or (lambda fraction, message: None)
    out_dir = Path(workdir) / "utterances"
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = [f if isinstance(f, SourceFile) else SourceFile(Path(f)) for f in files]
    bandwidth = _dataset_bandwidth(sources)
    sizes = [max(1, Path(s.path).stat().st_size) if Path(s.path).exists() else 1 for s in sources]
    total_size = float(sum(sizes)) or 1.0

    by_file: dict[int, list[Utterance]] = {}
    skipped: dict[str, str] = {}
    batch: list[tuple[int, _FileJob]] = []
    done_size = 0.0

    flushed_size = 0.0

    def flush() -> None:
        nonlocal flushed_size
        if batch:
            lo, hi = 0.95 * flushed_size / total_size, 0.95 * done_size / total_size
            # Decoding and segmenting are cheap next to transcription and embedding: the batch's
            # share of progress is spent here.
            results = _finish(
                batch, out_dir, language, asr_threads, bandwidth, lambda f, m: report(lo + (hi - lo) * f, m)
            )
            by_file.update(results)
            batch.clear()
        flushed_size = done_size

    for i, (source, size) in enumerate(zip(sources, sizes)):
        analysis = (analyses or {}).get(source.name)
        if analysis is not None and analysis.get("verdict") in ("rejected", "excluded"):
            reasons = analysis.get("reasons") or [{"code": "rejected"}]
            skipped[source.name] = reasons[0]["code"]
        else:
            report(0.95 * flushed_size / total_size, f"decoding and segmenting {source.name}")
            try:
                job = _plan_file(source, out_dir)
                batch.append((i, job))
            except _SkipFile as skip:
                skipped[source.name] = skip.code
        done_size += size
        # Transcription is batched across files (short files share Whisper windows) but bounded, so
        # memory holds a few minutes of cut utterances, never the whole dataset.
        if sum(j.pending_seconds for _, j in batch) >= _BATCH_SECONDS:
            flush()
    flush()

    utterances = [u for i in sorted(by_file) for u in by_file[i]]
    report(0.96, "checking that every utterance is the same speaker")
    kept, excluded = _exclude_other_speakers(utterances)
    report(1.0, f"{len(kept)} utterances ready ({sum(u.duration for u in kept) / 60:.1f} min)")
    return PreparedUtterances(kept, excluded, skipped, bandwidth)


_BATCH_SECONDS = 180.0


class _SkipFile(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _dataset_bandwidth(sources: list[SourceFile]) -> int:
    """The lowest native sample rate among the files (capped at 16 kHz, the embedding rate)."""
    rates = []
    for source in sources:
        try:
            rates.append(audio_mod.probe_audio(source.path).sample_rate)
        except (audio_mod.AudioDecodeError, OSError):
            continue
    return min([WORK_RATE, *rates])


@dataclass
class _FileJob:
    """One file, segmented, with the cut audio of the utterances still to be written."""

    source: SourceFile
    native_rate: int
    spans: list[segment_mod.Span]
    ids: list[str]
    cached: dict[int, Utterance]  # index -> utterance already written by an earlier run
    todo: list[int]
    clips16: dict[int, np.ndarray]  # for ASR (all spans when a long user transcript must be aligned)
    clips24: dict[int, np.ndarray]
    user_text: str | None
    whole_file_text: bool  # the user's transcript covers the single utterance

    @property
    def pending_seconds(self) -> float:
        return sum(len(c) for c in self.clips16.values()) / WORK_RATE


def _plan_file(source: SourceFile, out_dir: Path) -> _FileJob:
    try:
        decoded = audio_mod.decode(source.path, [WORK_RATE, OUTPUT_RATE])
    except audio_mod.AudioDecodeError:
        raise _SkipFile("unreadable") from None
    work, out = decoded.signals[WORK_RATE], decoded.signals[OUTPUT_RATE]
    if len(work) == 0 or audio_mod.peak_dbfs(work) < -60:
        raise _SkipFile("silent")
    seg = segment_mod.segment(work, WORK_RATE)
    if seg.speech_s < 0.5:
        raise _SkipFile("no_speech")

    user_text = (source.transcript or "").strip() or None
    spans = seg.utterances
    whole_file_text = False
    if user_text and seg.regions:
        whole = segment_mod.Span(seg.regions[0].start, seg.regions[-1].end)
        if whole.duration <= 15.0:
            spans, whole_file_text = [whole], True
    if not spans:
        raise _SkipFile("too_short")

    key = _file_key(source)
    ids = [f"{key}-{int(round(s.start * 1000)):08d}" for s in spans]
    cached = {k: u for k, uid in enumerate(ids) if (u := _load_sidecar(out_dir, uid)) is not None}
    todo = [k for k in range(len(spans)) if k not in cached]
    need16 = set(todo) | (set(range(len(spans))) if todo and user_text and not whole_file_text else set())
    return _FileJob(
        source=source,
        native_rate=decoded.native_rate,
        spans=spans,
        ids=ids,
        cached=cached,
        todo=todo,
        clips16={k: _cut(work, WORK_RATE, spans[k]) for k in sorted(need16)},
        clips24={k: _cut(out, OUTPUT_RATE, spans[k]) for k in todo},
        user_text=user_text,
        whole_file_text=whole_file_text,
    )


_Text = tuple[str | None, str | None, list[transcribe_mod.Word], float | None]  # text, source, words, logprob


def _finish(
    batch: list[tuple[int, _FileJob]],
    out_dir: Path,
    language: str,
    asr_threads: int | None,
    bandwidth: int,
    progress: ProgressFn,
) -> dict[int, list[Utterance]]:
    """Transcribe what needs it across the batch's files in one packed pass, then write utterances.
    `progress` gets the fraction of this batch done (transcription ~70%, writing and embedding ~30%)."""
    requests: list[tuple[int, int]] = []  # (position in batch, utterance index)
    if language in transcribe_mod.ASR_LANGUAGES:
        for b, (_, job) in enumerate(batch):
            if job.todo and not job.whole_file_text:
                requests += [(b, k) for k in sorted(job.clips16)]
    asr: dict[tuple[int, int], transcribe_mod.Transcript] = {}
    if requests:
        progress(0.0, f"transcribing {len(requests)} utterances")
        transcripts = transcribe_mod.get_transcriber(asr_threads).transcribe_many(
            [batch[b][1].clips16[k] for b, k in requests],
            WORK_RATE,
            progress=lambda f: progress(0.7 * f, f"transcribing {len(requests)} utterances"),
        )
        asr = dict(zip(requests, transcripts))
    to_write = sum(len(job.todo) for _, job in batch)
    written = 0

    results: dict[int, list[Utterance]] = {}
    for b, (position, job) in enumerate(batch):
        texts: dict[int, _Text] = {}
        mine = {k: asr[(b, k)] for k in range(len(job.spans)) if (b, k) in asr}
        if job.whole_file_text:
            texts[0] = (job.user_text, "user", [], None)
        elif job.user_text and mine:
            placed = _place_user_words(job.user_text, job.spans, mine)
            for k in job.todo:
                texts[k] = (placed[k] or None, "user" if placed[k] else None, mine[k].words, mine[k].avg_logprob)
        else:
            for k in job.todo:
                t = mine.get(k)
                if t is not None:
                    texts[k] = (t.text or None, "asr" if t.text else None, t.words, t.avg_logprob)
        # Without ASR for the language and without user text, text stays None.
        utterances = []
        for k in range(len(job.spans)):
            if k in job.cached:
                utterances.append(job.cached[k])
                continue
            progress(0.7 + 0.3 * written / max(1, to_write), f"writing utterances of {job.source.name}")
            utterances.append(_write(job, k, texts.get(k, (None, None, [], None)), out_dir, bandwidth))
            written += 1
        results[position] = utterances
    return results


def _write(job: _FileJob, k: int, text: _Text, out_dir: Path, bandwidth: int) -> Utterance:
    span, uid = job.spans[k], job.ids[k]
    clip_work = job.clips16[k]
    try:
        # At the dataset's bandwidth, so that phone and studio takes of one voice compare alike.
        embedding = speaker_mod.embed_utterance(speaker_mod.narrowband(clip_work, WORK_RATE, bandwidth), WORK_RATE)
    except ValueError:
        embedding = None
    f0_median, _ = audio_mod.f0_stats(clip_work, WORK_RATE)
    utt = Utterance(
        id=uid,
        source=job.source.name,
        start=round(span.start, 3),
        end=round(span.end, 3),
        audio_path=out_dir / f"{uid}.wav",
        source_sample_rate=job.native_rate,
        text=text[0],
        text_source=text[1],
        words=list(text[2]),
        embedding=embedding,
        f0_median_hz=None if math.isnan(f0_median) else round(f0_median, 1),
        asr_logprob=text[3],
    )
    _write_utterance(utt, audio_mod.normalize_loudness(job.clips24[k], OUTPUT_RATE), out_dir)
    return utt


def _cut(audio: np.ndarray, rate: int, span: segment_mod.Span) -> np.ndarray:
    return audio[int(span.start * rate) : int(math.ceil(span.end * rate))]


def _place_user_words(
    user_text: str, spans: list[segment_mod.Span], asr: dict[int, transcribe_mod.Transcript]
) -> dict[int, str]:
    """Distribute the user's transcript of a long file over its utterances.

    The user's words are matched to Whisper's (normalised, difflib alignment); each matched word
    takes its Whisper word's utterance, unmatched words the utterance of the nearest matched word
    before them. The user's own spelling and punctuation are kept.
    """
    user_words = user_text.split()
    user_norm = [" ".join(normalize_words(w)) for w in user_words]
    asr_norm: list[str] = []
    asr_owner: list[int] = []
    for k in sorted(asr):
        for w in asr[k].words:
            asr_norm.append(" ".join(normalize_words(w.word)))
            asr_owner.append(k)
    owner = [-1] * len(user_words)
    matcher = difflib.SequenceMatcher(a=user_norm, b=asr_norm, autojunk=False)
    for block in matcher.get_matching_blocks():
        for d in range(block.size):
            owner[block.a + d] = asr_owner[block.b + d]
    placed: dict[int, list[str]] = {k: [] for k in range(len(spans))}
    current = next((o for o in owner if o >= 0), 0)
    for word, o in zip(user_words, owner):
        if o >= 0:
            current = max(current, o)  # never move a word back in time
        placed[current].append(word)
    return {k: " ".join(words) for k, words in placed.items()}


def _load_sidecar(folder: Path, uid: str) -> Utterance | None:
    sidecar = folder / f"{uid}.json"
    if not sidecar.is_file() or not (folder / f"{uid}.wav").is_file():
        return None
    try:
        data = json.loads(sidecar.read_text())
        if data.get("version") != _SIDECAR_VERSION:
            return None
        return Utterance.from_json(data, folder)
    except (ValueError, KeyError, TypeError):
        return None  # a torn or foreign file: redo this utterance


def _write_utterance(utt: Utterance, audio: np.ndarray, folder: Path) -> None:
    """Wav first, then the sidecar, each atomically: a sidecar's presence means the pair is complete."""
    atomic_write(utt.audio_path, lambda tmp: sf.write(str(tmp), audio, utt.sample_rate, subtype="PCM_16", format="WAV"))
    save_json(folder / f"{utt.id}.json", utt.to_json())


def _exclude_other_speakers(utterances: list[Utterance]) -> tuple[list[Utterance], list[ExcludedUtterance]]:
    embedded = [u for u in utterances if u.embedding is not None]
    if len(embedded) < 3:
        return utterances, []
    check = speaker_mod.check_speakers(np.stack([u.embedding for u in embedded]), np.array([u.duration for u in embedded]))
    for u, sim in zip(embedded, check.similarity):
        u.speaker_similarity = None if not np.isfinite(sim) else round(float(sim), 4)
    outlier_ids = {embedded[i].id for i in check.outliers}
    kept = [u for u in utterances if u.id not in outlier_ids]
    excluded = [
        ExcludedUtterance(
            u,
            "different_speaker",
            f"{u.source} {u.start:.1f}-{u.end:.1f} s sounds like a different speaker "
            f"(similarity {u.speaker_similarity:.2f} to the main voice)",
        )
        for u in utterances
        if u.id in outlier_ids
    ]
    return kept, excluded
