"""Datasets and their files: the audio a fine-tune learns from."""

from __future__ import annotations

import logging
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from voicesmith.config import get_settings
from voicesmith.engine.audio import AudioDecodeError, check_audio
from voicesmith.service import background
from voicesmith.service.dataset_analysis import MAX_TEXT_BYTES, is_transcript_file
from voicesmith.service.errors import Conflict, InvalidRequest, NotFound
from voicesmith.service.ids import new_id
from voicesmith.service.pagination import Page, PageRequest, paginate
from voicesmith.store.blobs import BlobNotFound, BlobWriter, get_blob_store
from voicesmith.store.db import session_scope
from voicesmith.store.models import ConsentAttempt, Dataset, DatasetFile, FineTune

log = logging.getLogger(__name__)

FILE_PURPOSES = ("fine_tune",)  # purpose=consent uploads go to service/consent.py, never into training
AUDIO_FORMATS = "wav, flac, mp3, ogg, opus, m4a or webm"
ACTIVE_FINE_TUNE_STATES = ("created", "training")


def owned(session: Session, org_id: str, dataset_id: str) -> Dataset:
    ds = session.scalar(select(Dataset).where(Dataset.id == dataset_id, Dataset.org_id == org_id))
    if ds is None:
        raise NotFound(f"No dataset {dataset_id!r} in your organisation.", error_code="dataset_not_found")
    return ds


def _blob_prefix(dataset_id: str) -> str:
    return f"datasets/{dataset_id}"


def create(org_id: str, name: str, description: str) -> Dataset:
    with session_scope() as session:
        ds = Dataset(id=new_id("dataset"), org_id=org_id, name=name, description=description or "",
                     report_status="pending")
        session.add(ds)
    return ds


def get(org_id: str, dataset_id: str) -> Dataset:
    with session_scope() as session:
        return owned(session, org_id, dataset_id)


def list_page(org_id: str, page: PageRequest) -> Page[Dataset]:
    with session_scope() as session:
        return paginate(session, select(Dataset).where(Dataset.org_id == org_id), Dataset, page, newest_first=True)


def update_dataset(org_id: str, dataset_id: str, name: str, description: str) -> Dataset:
    with session_scope() as session:
        ds = owned(session, org_id, dataset_id)
        ds.name = name
        ds.description = description
        return ds


def delete(org_id: str, dataset_id: str) -> None:
    with session_scope() as session:
        owned(session, org_id, dataset_id)
        busy = session.scalar(select(FineTune.id).where(
            FineTune.dataset_id == dataset_id, FineTune.deleted.is_(False),
            FineTune.status.in_(ACTIVE_FINE_TUNE_STATES)).limit(1))
        if busy is not None:
            raise Conflict(f"Dataset {dataset_id} is being used by fine-tune {busy}; delete the fine-tune first "
                           "or wait for it to finish.", error_code="dataset_in_use")
        session.execute(DatasetFile.__table__.delete().where(DatasetFile.dataset_id == dataset_id))
        # Consent recordings live under the dataset's prefix and go with it; their scores stay as the record.
        session.execute(update(ConsentAttempt).where(ConsentAttempt.dataset_id == dataset_id)
                        .values(blob_key=None).execution_options(synchronize_session=False))
        session.execute(Dataset.__table__.delete().where(Dataset.id == dataset_id))
    # After the commit: a crash here leaves orphan bytes, never rows pointing at missing bytes.
    get_blob_store().delete_prefix(_blob_prefix(dataset_id))


# Files -----------------------------------------------------------------------------------------

@dataclass
class PendingUpload:
    """An upload being streamed into the blob store, not yet visible in the dataset."""

    org_id: str
    dataset_id: str
    file_id: str
    writer: BlobWriter

    def abort(self) -> None:
        self.writer.abort()


def begin_upload(org_id: str, dataset_id: str) -> PendingUpload:
    """Check the dataset before any byte is read, and open a temp blob for the body."""
    get(org_id, dataset_id)
    file_id = new_id("file")
    writer = get_blob_store().writer(f"{_blob_prefix(dataset_id)}/{file_id}", max_bytes=get_settings().max_upload_bytes)
    return PendingUpload(org_id, dataset_id, file_id, writer)


def validate_purpose(purpose: str | None) -> str:
    if purpose is None or purpose == "":
        return "fine_tune"
    if purpose not in FILE_PURPOSES:
        raise InvalidRequest(f"Unsupported purpose {purpose!r}; use 'fine_tune' (training audio) or 'consent' (the "
                             "speaker reading a consent challenge, docs/consent.md).", error_code="invalid_purpose")
    return purpose


def _shown(filename: str) -> str:
    return repr(filename if len(filename) <= 80 else filename[:77] + "...")


def check_content(path: Path, filename: str) -> None:
    """Refuse, before anything is stored, an upload the dataset could never use: audio must decode
    (its header and first seconds are read), a transcript (`.txt`, metadata.csv) must be UTF-8 text."""
    if is_transcript_file(filename):
        _check_text(path, filename)
        return
    check_audio_content(path, filename, also="or transcripts as .txt files or a metadata.csv")


def check_audio_content(path: Path, filename: str, *, also: str = "") -> None:
    """Refuse (400 invalid_audio) a file that does not decode as audio; `also` names what else is welcome."""
    try:
        check_audio(path)
    except AudioDecodeError as exc:
        welcome = f"Upload {AUDIO_FORMATS} files" + (f", {also}" if also else "")
        raise InvalidRequest(f"{_shown(filename)} is not audio this server can read: {exc}. {welcome}.",
                             error_code="invalid_audio", title="Invalid audio") from None


def _check_text(path: Path, filename: str) -> None:
    size = path.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise InvalidRequest(f"The transcript file {_shown(filename)} is {size:,} bytes; transcripts are limited to "
                             f"{MAX_TEXT_BYTES:,} bytes.", error_code="invalid_transcript", title="Invalid transcript")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        raise InvalidRequest(f"The transcript file {_shown(filename)} is not UTF-8 text. Transcripts are plain text "
                             "(a .txt beside each audio file, or a metadata.csv of file|text lines).",
                             error_code="invalid_transcript", title="Invalid transcript")


def finish_upload(upload: PendingUpload, filename: str, purpose: str | None, content_type: str | None) -> DatasetFile:
    """Make the streamed bytes durable and list the file; the temp blob is removed on any failure."""
    purpose = validate_purpose(purpose)
    if upload.writer.size == 0:
        upload.abort()
        raise InvalidRequest("The uploaded file is empty.", error_code="empty_file")
    try:
        check_content(upload.writer.staged_path(), filename)
    except BaseException:
        upload.abort()
        raise
    info = upload.writer.commit()
    try:
        with session_scope() as session:
            ds = owned(session, upload.org_id, upload.dataset_id)
            row = DatasetFile(id=upload.file_id, dataset_id=ds.id, filename=filename, purpose=purpose,
                              size=info.size, sha256=info.sha256, blob_key=info.key, content_type=content_type)
            session.add(row)
            ds.report_status = "pending"
    except BaseException:
        get_blob_store().delete(info.key)
        raise
    background.enqueue_dataset_analysis(upload.dataset_id)
    return row


def list_files(org_id: str, dataset_id: str, page: PageRequest) -> Page[DatasetFile]:
    with session_scope() as session:
        owned(session, org_id, dataset_id)
        stmt = select(DatasetFile).where(DatasetFile.dataset_id == dataset_id)
        return paginate(session, stmt, DatasetFile, page, newest_first=False)


def _owned_file(session: Session, org_id: str, dataset_id: str, file_id: str) -> tuple[Dataset, DatasetFile]:
    """The organisation's dataset and one of its files; NotFound for either."""
    ds = owned(session, org_id, dataset_id)
    row = session.scalar(select(DatasetFile).where(DatasetFile.id == file_id, DatasetFile.dataset_id == ds.id))
    if row is None:
        raise NotFound(f"No file {file_id!r} in dataset {dataset_id}.", error_code="file_not_found")
    return ds, row


def delete_file(org_id: str, dataset_id: str, file_id: str) -> None:
    with session_scope() as session:
        ds, row = _owned_file(session, org_id, dataset_id, file_id)
        key = row.blob_key
        session.delete(row)
        ds.report_status = "pending"
    get_blob_store().delete(key)
    background.enqueue_dataset_analysis(dataset_id)


@dataclass(frozen=True)
class FileAudio:
    """An uploaded file's bytes as the user sent them, to be played back."""

    filename: str
    media_type: str
    data: bytes


def _media_type(filename: str, declared: str | None) -> str:
    guessed, _ = mimetypes.guess_type(filename)
    if guessed and (guessed.startswith("audio/") or guessed.startswith("video/")):
        return "audio/wav" if guessed in ("audio/x-wav", "audio/wave") else guessed
    if declared and declared.startswith("audio/"):
        return declared
    return "application/octet-stream"


def file_audio(org_id: str, dataset_id: str, file_id: str) -> FileAudio:
    """The stored bytes of one uploaded file of the organisation's dataset."""
    with session_scope() as session:
        _, row = _owned_file(session, org_id, dataset_id, file_id)
        filename, declared, key = row.filename, row.content_type, row.blob_key
    try:
        data = get_blob_store().get_bytes(key)
    except BlobNotFound:
        raise NotFound(f"The bytes of file {file_id} are no longer stored.", error_code="file_not_found") from None
    return FileAudio(filename, _media_type(filename, declared), data)


def file_count(session: Session, dataset_id: str) -> int:
    return session.scalar(select(func.count()).select_from(DatasetFile).where(DatasetFile.dataset_id == dataset_id)) or 0


def report(org_id: str, dataset_id: str) -> dict:
    """The dataset's quality report as the API shows it (status pending|ready|failed)."""
    with session_scope() as session:
        ds = owned(session, org_id, dataset_id)
        files = session.scalars(select(DatasetFile).where(DatasetFile.dataset_id == ds.id)
                                .order_by(DatasetFile.seq)).all()
        return {
            "dataset_id": ds.id,
            "status": ds.report_status,
            "updated_at": ds.report_updated_at,
            "report": ds.report,
            "files": [{"id": f.id, "filename": f.filename, "size": f.size, "sha256": f.sha256,
                       "analysis": f.analysis} for f in files],
        }

