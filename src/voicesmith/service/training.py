"""A fine-tune's life on the worker side: claim, heartbeat, progress, complete or fail.

The database, not the broker, is the truth about a job. Every transition here is one conditional
UPDATE, so two workers that both received the same job (a re-dispatch, a broker redelivery) cannot
both run it: whoever's claim matches the row runs it; the other sees no row and drops the message.
A claim writes a `worker_id` unique to that attempt, and every later write by the worker is
conditioned on it, so a worker that lost its job (it stalled past the heartbeat timeout and the job
went to someone else) can no longer touch the row and stops.

Credits: a fine-tune reserves its cost at creation (service/fine_tunes.py). Completion charges exactly
the reserved amount; failure and cancellation release it. Both move `fine_tunes.credits_reserved` to
zero with a conditional UPDATE, so a release by the API (delete) and by the worker (cancelled) can
race without releasing twice.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select, update

from voicesmith.config import get_settings
from voicesmith.engine.voice import VoiceArtifact
from voicesmith.service import orgs, usage
from voicesmith.service import voices as voices_service
from voicesmith.service.ids import new_uuid
from voicesmith.service.orgs import release_fine_tune_reservation
from voicesmith.store.blobs import get_blob_store
from voicesmith.store.db import session_scope
from voicesmith.store.models import FineTune, Voice, as_utc, utcnow

ACTIVE = ("created", "training")


@dataclass(frozen=True)
class Claim:
    """What a worker needs to run a fine-tune it has claimed."""

    fine_tune_id: str
    worker_id: str
    attempt: int
    org_id: str
    dataset_id: str
    name: str
    language: str
    engine_model: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Pulse:
    """The answer to a heartbeat: does this worker still own the job, and should it stop?"""

    owned: bool
    stop_requested: bool

    @property
    def should_stop(self) -> bool:
        return self.stop_requested or not self.owned


@dataclass(frozen=True)
class NewVoice:
    name: str
    description: str
    artifact: VoiceArtifact
    preview_wav: bytes | None = None  # a short sample of the voice, served as its preview
    samples: tuple[bytes, ...] = ()  # wav of the voice saying each held-out sample's text, in order


@dataclass(frozen=True)
class HeldOutSample:
    """A held-out sentence the voices never trained on: its text and the speaker's real recording."""

    text: str
    real_wav: bytes


def sample_key(fine_tune_id: str, index: int, who: str) -> str:
    """Blob of a held-out sample: `who` is "real" (the recording) or a voice id (that voice saying it)."""
    return f"{samples_prefix(fine_tune_id)}/{index}/{who}.wav"


def samples_prefix(fine_tune_id: str) -> str:
    return f"fine_tunes/{fine_tune_id}/samples"


def new_worker_id(node: str) -> str:
    """Unique per claim attempt: `node/pid/nonce`. The node names the worker process (so a supervisor
    can release its jobs when it dies), the nonce fences writes by a worker that lost the job."""
    return f"{node}/{os.getpid()}/{uuid.uuid4().hex[:12]}"


def _claimable(now: datetime) -> list:
    settings = get_settings()
    stale = now - timedelta(seconds=settings.heartbeat_timeout_s)
    return [
        FineTune.deleted.is_(False),
        FineTune.cancel_requested.is_(False),
        FineTune.attempts < settings.max_job_attempts,
        or_(
            FineTune.status == "created",
            and_(
                FineTune.status == "training",
                or_(FineTune.heartbeat_at.is_(None), FineTune.heartbeat_at < stale),
            ),
        ),
    ]


def claim(fine_tune_id: str, worker_id: str) -> Claim | None:
    """Take the job if nobody is running it (never started, or its worker's heartbeat went stale).

    None means another worker holds it (its heartbeat is fresh), it ended, or it was cancelled:
    the caller drops the message.
    """
    now = utcnow()
    with session_scope() as s:
        result = s.execute(
            update(FineTune)
            .where(FineTune.id == fine_tune_id, *_claimable(now))
            .values(
                status="training",
                attempts=FineTune.attempts + 1,
                worker_id=worker_id,
                heartbeat_at=now,
                # The first attempt's start time is kept across re-dispatches.
                started_at=func.coalesce(FineTune.started_at, now),
                eta_seconds=None,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return None
        ft = s.execute(select(FineTune).where(FineTune.id == fine_tune_id)).scalar_one()
        return Claim(
            fine_tune_id=ft.id,
            worker_id=worker_id,
            attempt=ft.attempts,
            org_id=ft.org_id,
            dataset_id=ft.dataset_id,
            name=ft.name,
            language=ft.language,
            engine_model=ft.engine_model,
            params=dict(ft.params or {}),
        )


def _owned(fine_tune_id: str, worker_id: str) -> list:
    return [FineTune.id == fine_tune_id, FineTune.worker_id == worker_id, FineTune.status == "training"]


def heartbeat(fine_tune_id: str, worker_id: str) -> Pulse:
    """Prove this worker is alive, and learn whether the user asked it to stop."""
    with session_scope() as s:
        result = s.execute(
            update(FineTune)
            .where(*_owned(fine_tune_id, worker_id))
            # A heartbeat is bookkeeping, not a change the user should see in updated_at.
            .values(heartbeat_at=utcnow(), updated_at=FineTune.updated_at)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return Pulse(owned=False, stop_requested=True)
        row = s.execute(
            select(FineTune.cancel_requested, FineTune.deleted).where(FineTune.id == fine_tune_id)
        ).one()
        return Pulse(owned=True, stop_requested=bool(row.cancel_requested or row.deleted))


def record_progress(
    fine_tune_id: str, worker_id: str, *, stage: str | None, progress: float, eta_seconds: float | None
) -> bool:
    """Store where training is; False if this worker no longer owns the job."""
    values: dict = {
        "progress": min(1.0, max(0.0, float(progress))),
        "eta_seconds": None if eta_seconds is None else max(0.0, float(eta_seconds)),
        "heartbeat_at": utcnow(),
    }
    if stage:
        values["stage"] = stage
    with session_scope() as s:
        result = s.execute(
            update(FineTune)
            .where(*_owned(fine_tune_id, worker_id))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def fail(
    fine_tune_id: str,
    error_code: str,
    message: str,
    *,
    worker_id: str | None = None,
    report: dict | None = None,
) -> bool:
    """End the job as failed and release its credits. With worker_id, only if that worker owns it.

    Returns False if the job had already ended (or belongs to another worker): nothing changes then.
    """
    now = utcnow()
    conditions = [FineTune.id == fine_tune_id, FineTune.status.in_(ACTIVE)]
    if worker_id is not None:
        conditions += [FineTune.worker_id == worker_id, FineTune.status == "training"]
    values: dict = {
        "status": "failed",
        "error": message,
        "error_code": error_code,
        "eta_seconds": None,
        "finished_at": now,
    }
    if report is not None:
        values["report"] = report
    with session_scope() as s:
        result = s.execute(
            update(FineTune).where(*conditions).values(**values).execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return False
        release_fine_tune_reservation(s, fine_tune_id)
        return True


def _store_samples(fine_tune_id: str, samples: Sequence[HeldOutSample], voices: Sequence[NewVoice],
                   voice_ids: Sequence[str]) -> list[dict]:
    """Write the held-out samples' audio; returns the report's `samples` entries."""
    store = get_blob_store()
    entries = []
    for i, sample in enumerate(samples):
        store.put_bytes(sample_key(fine_tune_id, i, "real"), sample.real_wav)
        spoken = []
        for voice, voice_id in zip(voices, voice_ids):
            if i < len(voice.samples) and voice.samples[i]:
                store.put_bytes(sample_key(fine_tune_id, i, voice_id), voice.samples[i])
                spoken.append(voice_id)
        entries.append({"text": sample.text, "voice_ids": spoken})
    return entries


def complete(fine_tune_id: str, worker_id: str, voices: Sequence[NewVoice], report: dict,
             samples: Sequence[HeldOutSample] = ()) -> bool:
    """Store the voices and the report, charge the reserved credits, mark the job completed.

    `samples` (with each voice's `samples`) are stored as blobs and listed in the report's `samples`;
    the report's `voices` entries (in the order of `voices`) gain their `voice_id`.

    Returns False (and stores nothing) if the worker lost the job or the user cancelled or deleted
    it meanwhile: a cancelled fine-tune is never charged, even if training had just finished.
    """
    if not voices:
        raise ValueError("a completed fine-tune has voices")
    stored: list[Voice] = []
    committed = False
    voice_ids = [new_uuid() for _ in voices]
    report = dict(report)
    entries = report.get("voices")
    if isinstance(entries, list) and len(entries) == len(voices):
        report["voices"] = [{**entry, "voice_id": voice_id} for entry, voice_id in zip(entries, voice_ids)]
    try:
        if samples:
            report["samples"] = _store_samples(fine_tune_id, samples, voices, voice_ids)
        with session_scope() as s:
            now = utcnow()
            result = s.execute(
                update(FineTune)
                .where(*_owned(fine_tune_id, worker_id), FineTune.cancel_requested.is_(False),
                       FineTune.deleted.is_(False))
                .values(status="completed", progress=1.0, eta_seconds=None, report=report,
                        finished_at=now, error=None, error_code=None)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                return False
            ft = s.execute(select(FineTune).where(FineTune.id == fine_tune_id)).scalar_one()
            org_id, language, accent = ft.org_id, ft.language, ft.accent
            cost = orgs.charge_fine_tune_reservation(s, fine_tune_id)
            usage.record(s, org_id=org_id, kind="fine_tune", quantity=1, credits=cost, ref_id=fine_tune_id)
            for voice, voice_id in zip(voices, voice_ids):
                stored.append(voices_service.store_voice(
                    s, voice_id=voice_id, org_id=org_id, kind="fine_tune", name=voice.name,
                    description=voice.description, language=language, accent=accent, artifact=voice.artifact,
                    fine_tune_id=fine_tune_id, preview_wav=voice.preview_wav, created_at=now,
                    consent=ft.consent, consent_attempt_id=ft.consent_attempt_id, source_dataset_id=ft.dataset_id,
                    created_by_key_id=ft.api_key_id,
                ))
        committed = True
        return True
    finally:
        if not committed:
            # No row points at these blobs: the transaction that would have added the rows did not commit.
            for voice in stored:
                voices_service.delete_blobs(voice)
            get_blob_store().delete_prefix(samples_prefix(fine_tune_id))


def release_worker_jobs(worker_node: str, *, refund_attempt: bool) -> int:
    """Mark the jobs of a worker process known to be gone as immediately re-dispatchable.

    Called by the process that supervised the worker, once the worker and all its pool processes
    have exited: their heartbeats have stopped for sure, so there is no need to wait for the timeout.
    `refund_attempt` when we stopped the worker ourselves (shutdown): that interruption is not the
    job's fault and must not count towards max_job_attempts.
    """
    # No heartbeat and no dispatch time: the sweep sends such a job at once (see sweep()).
    values: dict = {"heartbeat_at": None, "dispatched_at": None, "updated_at": FineTune.updated_at}
    if refund_attempt:
        values["attempts"] = case((FineTune.attempts > 0, FineTune.attempts - 1), else_=0)
    with session_scope() as s:
        result = s.execute(
            update(FineTune)
            .where(FineTune.status == "training", FineTune.worker_id.startswith(f"{worker_node}/", autoescape=True))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount


@dataclass(frozen=True)
class SweepResult:
    dispatch: list[str]  # fine-tunes this sweeper won the right to send to the broker again
    failed: list[str]  # fine-tunes ended here: cancelled while nobody ran them, or out of attempts


def sweep(now: datetime | None = None) -> SweepResult:
    """Find fine-tunes that nobody is running and decide what to do with each.

    - cancelled or deleted, and no live worker on it: end it (failed, cancelled) and release credits;
    - training with a stale heartbeat after max_job_attempts claims: fail it (the job kills its workers);
    - created but never picked up, or training with a stale heartbeat: dispatch it again.

    Re-dispatch is a compare-and-set on dispatched_at, so of several sweepers (the server and every
    worker run one) exactly one sends the message. The wait before sending again doubles with the
    time the job has been waiting, so a job queued behind a long one is not re-sent every sweep.
    """
    settings = get_settings()
    now = now or utcnow()
    timeout = timedelta(seconds=settings.heartbeat_timeout_s)
    stale_before = now - timeout
    with session_scope() as s:
        rows = s.execute(
            select(
                FineTune.id, FineTune.status, FineTune.heartbeat_at, FineTune.dispatched_at, FineTune.created_at,
                FineTune.attempts, FineTune.cancel_requested, FineTune.deleted,
            ).where(FineTune.status.in_(ACTIVE))
        ).all()

    dispatch: list[str] = []
    failed: list[str] = []
    for row in rows:
        heartbeat_at = as_utc(row.heartbeat_at)
        unattended = row.status == "created" or heartbeat_at is None or heartbeat_at < stale_before
        if not unattended:
            continue  # a live worker owns it; it polls cancel_requested itself
        if row.cancel_requested or row.deleted:
            message = "The fine-tune was cancelled before it finished."
            if _fail_if_unattended(row.id, row.status, stale_before, "cancelled", message):
                failed.append(row.id)
            continue
        if row.status == "training" and row.attempts >= settings.max_job_attempts:
            message = (
                f"The worker running this fine-tune stopped responding {row.attempts} times "
                "(killed, out of memory, or the machine went down); it was not retried again."
            )
            if _fail_if_unattended(row.id, "training", stale_before, "worker_lost", message):
                failed.append(row.id)
            continue
        released = row.status == "training" and heartbeat_at is None and row.dispatched_at is None
        last_sign = heartbeat_at if row.status == "training" and heartbeat_at else as_utc(row.created_at)
        wait = max(timeout, (now - last_sign) / 2)
        if _mark_dispatched(row.id, row.status, now, now - wait, stale_before, released=released):
            dispatch.append(row.id)
    return SweepResult(dispatch=dispatch, failed=failed)


def _unattended(status: str, stale_before: datetime) -> list:
    if status == "created":
        return [FineTune.status == "created"]
    return [
        FineTune.status == "training",
        or_(FineTune.heartbeat_at.is_(None), FineTune.heartbeat_at < stale_before),
    ]


def _mark_dispatched(
    fine_tune_id: str, status: str, now: datetime, sent_before: datetime, stale_before: datetime, *, released: bool
) -> bool:
    if released:
        # Released by the supervisor of its dead worker (release_worker_jobs): send it at once.
        not_sent_recently = FineTune.dispatched_at.is_(None)
    else:
        # A job never dispatched counts as dispatched when it was created: the API sends it right
        # after the commit, and a sweeper should not race that first send.
        not_sent_recently = func.coalesce(FineTune.dispatched_at, FineTune.created_at) < sent_before
    with session_scope() as s:
        result = s.execute(
            update(FineTune)
            .where(
                FineTune.id == fine_tune_id,
                *_unattended(status, stale_before),
                FineTune.cancel_requested.is_(False),
                FineTune.deleted.is_(False),
                not_sent_recently,
            )
            .values(dispatched_at=now, updated_at=FineTune.updated_at)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def _fail_if_unattended(
    fine_tune_id: str, status: str, stale_before: datetime, error_code: str, message: str
) -> bool:
    with session_scope() as s:
        result = s.execute(
            update(FineTune)
            .where(FineTune.id == fine_tune_id, *_unattended(status, stale_before))
            .values(status="failed", error=message, error_code=error_code, eta_seconds=None,
                    finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return False
        release_fine_tune_reservation(s, fine_tune_id)
        return True


def mark_dispatched(fine_tune_id: str) -> None:
    """Record that a message for this job was just sent (the first dispatch, by the API's enqueue)."""
    with session_scope() as s:
        s.execute(
            update(FineTune)
            .where(FineTune.id == fine_tune_id)
            .values(dispatched_at=utcnow(), updated_at=FineTune.updated_at)
            .execution_options(synchronize_session=False)
        )
