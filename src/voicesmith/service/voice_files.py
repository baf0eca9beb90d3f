"""Portable voices (docs/api.md, "Portable voices"): a voice exported as one self-contained file, imported into
another voicesmith or organisation, or exported as a Kokoro voice pack for kokoro-onnx.

A voice file is a ZIP archive with two members (and a third, `preview.wav`, when the voice has a stored preview):
- `voice.json`: {"format": "voicesmith-voice", "format_version", "exported_at", "voice": its metadata and
  provenance, "fine_tune_report": the fine-tune's report or null, "artifact_sha256"};
- `artifact.npz`: the engine's voice artifact (engine.voice.VoiceArtifact: style, pitch scale, speed, timbre
  filter, meta), byte for byte what this server speaks with, so the imported voice speaks identically.

The file is not signed: its consent (verified | unverified | stock) is only what the exporting server recorded.
The imported voice (kind `imported`) is `unverified` here, with the file's claim and provenance under
provenance.clip.import; under VOICESMITH_CONSENT=require imports are refused (403 consent_required).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from sqlalchemy import select

from voicesmith.engine.voice import VoiceArtifact
from voicesmith.service import voices
from voicesmith.service.consent import ConsentRequired
from voicesmith.service.consent import policy as consent_policy
from voicesmith.service.errors import InvalidRequest
from voicesmith.service.ids import new_uuid
from voicesmith.service.languages import validate_language
from voicesmith.store.db import session_scope
from voicesmith.store.models import FineTune, Voice

FORMAT = "voicesmith-voice"
FORMAT_VERSION = 1
MANIFEST, ARTIFACT, PREVIEW = "voice.json", "artifact.npz", "preview.wav"
MAX_FILE_BYTES = 16 * 1024 * 1024
# A real artifact is ~0.5 MB uncompressed (510 x 256 float32 and a small header); anything far larger is not one.
_MAX_MEMBER_BYTES = {MANIFEST: 4 * 1024 * 1024, ARTIFACT: 8 * 1024 * 1024, PREVIEW: 8 * 1024 * 1024}
IMPORTED_KIND = "imported"
# Bounds on an imported artifact's scalars and filter: wide around what fine-tunes make (the filter is bounded to
# +-12 dB before normalisation), narrow enough that a forged file cannot ask for inaudible or clipping speech.
MIN_SCALE, MAX_SCALE = 0.25, 4.0
MAX_FILTER_DB = 48.0
EXPORTABLE_CONSENT = ("verified", "unverified", "stock")


@dataclass(frozen=True)
class ExportedFile:
    filename: str
    media_type: str
    data: bytes


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:80] or "voice"


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return (dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt).isoformat()


def _fine_tune_report(session, voice: Voice) -> dict | None:  # noqa: ANN001 (Session)
    if voice.fine_tune_id:
        ft = session.scalar(select(FineTune).where(FineTune.id == voice.fine_tune_id, FineTune.org_id == voice.org_id))
        return ft.report if ft is not None else None
    # An imported fine-tuned voice carries the report it came with.
    return ((voice.source_clip or {}).get("import") or {}).get("fine_tune_report")


def export_voice(org_id: str, voice_id: str) -> ExportedFile:
    """The voice (own or stock) as a voicesmith voice file."""
    with session_scope() as session:
        voice = voices.find_visible(session, org_id, voice_id)
        report = _fine_tune_report(session, voice)
        manifest_voice = {
            "id": voice.id, "name": voice.name, "description": voice.description, "language": voice.language,
            "gender": voice.gender, "accent": voice.accent, "country": voice.country, "kind": voice.kind,
            "created_at": _iso(voice.created_at), "consent": voice.consent,
            "provenance": {"dataset_id": voice.source_dataset_id, "clip": voice.source_clip,
                           "fine_tune_id": voice.fine_tune_id, "consent_attempt_id": voice.consent_attempt_id},
        }
        artifact_key, preview_key = voice.artifact_key, voice.preview_key
    artifact = voices.artifact_bytes(artifact_key)
    preview = voices.stored_preview(preview_key)
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "exported_at": datetime.now(timezone.utc).isoformat(), "voice": manifest_voice,
                "fine_tune_report": report, "artifact_sha256": hashlib.sha256(artifact).hexdigest()}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, json.dumps(manifest, indent=2))
        zf.writestr(ARTIFACT, artifact)  # already compressed (npz), stored deflated anyway: it is small
        if preview is not None:
            zf.writestr(PREVIEW, preview)
    return ExportedFile(f"{_slug(manifest_voice['name'])}.voice.zip", "application/zip", buf.getvalue())


def export_kokoro(org_id: str, voice_id: str) -> ExportedFile:
    """The voice's style as a Kokoro voice pack: a (510, 1, 256) float32 .npy, what kokoro-onnx loads."""
    with session_scope() as session:
        voice = voices.find_visible(session, org_id, voice_id)
        name, artifact_key = voice.name, voice.artifact_key
    artifact = VoiceArtifact.from_bytes(voices.artifact_bytes(artifact_key))
    buf = io.BytesIO()
    np.save(buf, artifact.kokoro_pack(), allow_pickle=False)
    return ExportedFile(f"{_slug(name)}.npy", "application/octet-stream", buf.getvalue())


def _bad(reason: str) -> InvalidRequest:
    return InvalidRequest(f"This is not a voicesmith voice file: {reason}. Export one with GET /voices/{{id}}/export.",
                          error_code="invalid_voice_file", title="Invalid voice file")


@dataclass(frozen=True)
class _ParsedFile:
    manifest: dict
    voice: dict
    artifact: VoiceArtifact
    preview_wav: bytes | None


def _read_member(zf: zipfile.ZipFile, name: str) -> bytes:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise _bad(f"it has no {name}") from None
    if info.file_size > _MAX_MEMBER_BYTES[name]:
        raise _bad(f"its {name} is too large")
    try:
        with zf.open(info) as member:
            data = member.read(_MAX_MEMBER_BYTES[name] + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError, EOFError):
        raise _bad(f"its {name} cannot be read") from None
    if len(data) > _MAX_MEMBER_BYTES[name]:
        raise _bad(f"its {name} is too large")
    return data


def _text(voice: dict, key: str, limit: int, *, required: bool = False) -> str | None:
    value = voice.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise _bad(f"voice.{key} must be {'a non-empty' if required else 'a'} string of at most {limit} characters")
    return value


def parse_voice_file(data: bytes) -> _ParsedFile:
    """The manifest and artifact of a voice file; InvalidRequest (invalid_voice_file) for anything else."""
    if not data:
        raise _bad("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise _bad(f"it is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise _bad("it is not a ZIP archive") from None
    with zf:
        raw_manifest = _read_member(zf, MANIFEST)
        artifact_data = _read_member(zf, ARTIFACT)
        preview = _read_member(zf, PREVIEW) if PREVIEW in zf.namelist() else None
    if preview is not None and not (preview[:4] == b"RIFF" and preview[8:12] == b"WAVE"):
        raise _bad(f"its {PREVIEW} is not a WAV file")
    try:
        manifest = json.loads(raw_manifest.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _bad(f"its {MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _bad(f"its {MANIFEST} does not say format {FORMAT!r}")
    version = manifest.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise _bad(f"format_version {version!r} is not one this server reads (1 to {FORMAT_VERSION})")
    voice = manifest.get("voice")
    if not isinstance(voice, dict):
        raise _bad("it has no voice metadata")
    if manifest.get("artifact_sha256") != hashlib.sha256(artifact_data).hexdigest():
        raise _bad("its artifact does not match the checksum in the manifest (damaged or edited)")
    try:
        artifact = VoiceArtifact.from_bytes(artifact_data)
    except Exception:  # noqa: BLE001 (numpy/zip/json raise many kinds on a damaged artifact; all mean the same)
        raise _bad("its artifact cannot be read") from None
    _check_artifact(artifact)
    return _ParsedFile(manifest, voice, artifact, preview)


def _check_artifact(artifact: VoiceArtifact) -> None:
    """Values this server produces; a hand-edited file with others could make unusable audio."""
    for label, value in (("pitch_scale", artifact.pitch_scale), ("speed", artifact.speed)):
        if not MIN_SCALE <= value <= MAX_SCALE:  # also false for NaN
            raise _bad(f"its artifact's {label} {value} is outside {MIN_SCALE}-{MAX_SCALE}")
    if artifact.timbre is not None:
        centres, gains = artifact.timbre
        if not (np.all(centres > 0) and np.all(np.diff(centres) > 0) and np.all(np.abs(gains) <= MAX_FILTER_DB)):
            raise _bad(f"its artifact's timbre filter needs increasing band centres and gains within "
                       f"+-{MAX_FILTER_DB:g} dB")


def import_voice(org_id: str, data: bytes, filename: str, *, name: str | None = None,
                 api_key_id: str | None = None) -> Voice:
    """A voice file loaded as a new voice of the organisation (kind `imported`), speaking exactly as exported."""
    parsed = parse_voice_file(data)
    v = parsed.voice
    new_name = name if name and name.strip() else _text(v, "name", 500, required=True)
    description = _text(v, "description", 10_000) or ""
    language = _text(v, "language", 16, required=True)
    try:
        validate_language(language)
        gender = voices.normalise_gender(_text(v, "gender", 32))
    except InvalidRequest as exc:
        raise _bad(exc.message) from None
    accent = _text(v, "accent", 100)
    consent = v.get("consent")
    if consent not in EXPORTABLE_CONSENT:
        raise _bad(f"voice.consent must be one of {', '.join(EXPORTABLE_CONSENT)}")
    provenance = v.get("provenance") if isinstance(v.get("provenance"), dict) else {}
    report = parsed.manifest.get("fine_tune_report")
    imported = {"voice_id": v.get("id"), "kind": v.get("kind"), "consent": consent,
                "exported_at": parsed.manifest.get("exported_at"), "provenance": provenance,
                "fine_tune_report": report if isinstance(report, dict) else None}
    if consent_policy() == "require":
        raise ConsentRequired("This server requires consent it has checked itself, and a voice file's consent is "
                              "only what another server recorded (the file is not signed): clone or fine-tune the "
                              "voice here, with the speaker's spoken consent (docs/consent.md).")
    # The file's consent is a claim this server cannot check: the voice is unverified here, the claim kept under
    # provenance.clip.import.consent.
    return voices.add_voice(
        voice_id=new_uuid(), org_id=org_id, kind=IMPORTED_KIND, name=new_name, description=description,
        language=language, artifact=parsed.artifact, gender=gender, accent=accent, consent="unverified",
        created_by_key_id=api_key_id, preview_wav=parsed.preview_wav,
        source_clip={"filename": filename[:500], "sha256": hashlib.sha256(data).hexdigest(), "import": imported},
    )
