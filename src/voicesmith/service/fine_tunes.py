"""Fine-tunes as the API sees them: create (reserving credits), read, list, delete (cancel).

The worker side of the lifecycle (claim, progress, complete, fail) is service/training.py.
"""

from __future__ import annotations

from sqlalchemy import select, update

from voicesmith.service import background, consent
from voicesmith.service.datasets import owned as _owned_dataset
from voicesmith.service.datasets import file_count
from voicesmith.service.errors import InvalidRequest, NotFound
from voicesmith.service.ids import new_id
from voicesmith.service.languages import validate_language
from voicesmith.service.models import resolve_model
from voicesmith.service.orgs import fine_tune_price, release_fine_tune_reservation, reserve_credits
from voicesmith.service.pagination import Page, PageRequest, paginate
from voicesmith.service.training import sample_key, samples_prefix
from voicesmith.store.blobs import BlobNotFound, get_blob_store
from voicesmith.store.db import session_scope
from voicesmith.store.models import FineTune, Voice

STATUSES = ("created", "training", "completed", "failed")


def _owned(session, org_id: str, fine_tune_id: str) -> FineTune:  # noqa: ANN001
    ft = session.scalar(select(FineTune).where(FineTune.id == fine_tune_id, FineTune.org_id == org_id,
                                               FineTune.deleted.is_(False)))
    if ft is None:
        raise NotFound(f"No fine-tune {fine_tune_id!r} in your organisation.", error_code="fine_tune_not_found")
    return ft


def _check_dataset_ready(dataset) -> None:  # noqa: ANN001
    # Only a finished analysis can reject; a pending one is re-checked by the worker before training.
    if dataset.report_status == "ready" and isinstance(dataset.report, dict) and dataset.report.get("ok_to_train") is False:
        reasons = dataset.report.get("reasons") or []
        detail = "; ".join(str(r.get("message", r)) if isinstance(r, dict) else str(r) for r in reasons)
        raise InvalidRequest(
            f"Dataset {dataset.id} is not usable for training" + (f": {detail}" if detail else "")
            + f". See GET /datasets/{dataset.id}/report.",
            error_code="dataset_rejected", title="Dataset rejected",
        )


def create(org_id: str, *, name: str, description: str, language: str, model_id: str, dataset_id: str,
           accent: str | None = None, params: dict | None = None, api_key_id: str | None = None) -> FineTune:
    engine_model = resolve_model(model_id)
    validate_language(language)
    cost = fine_tune_price()
    with session_scope() as session:
        dataset = _owned_dataset(session, org_id, dataset_id)
        if file_count(session, dataset.id) == 0:
            raise InvalidRequest(f"Dataset {dataset.id} has no files; upload audio before starting a fine-tune.",
                                 error_code="dataset_empty")
        _check_dataset_ready(dataset)
        verdict, attempt_id = consent.fine_tune_consent(session, org_id, dataset.id)
        reserve_credits(session, org_id, cost, what="A fine-tune")
        ft = FineTune(id=new_id("fine_tune"), org_id=org_id, dataset_id=dataset.id, name=name,
                      description=description, language=language, model_id=model_id, engine_model=engine_model,
                      accent=accent, status="created", progress=0.0, credits_reserved=cost, params=params or {},
                      consent=verdict, consent_attempt_id=attempt_id, api_key_id=api_key_id)
        session.add(ft)
    background.enqueue_fine_tune(ft.id)
    return ft


def get(org_id: str, fine_tune_id: str) -> FineTune:
    with session_scope() as session:
        return _owned(session, org_id, fine_tune_id)


def list_page(org_id: str, page: PageRequest) -> Page[FineTune]:
    with session_scope() as session:
        stmt = select(FineTune).where(FineTune.org_id == org_id, FineTune.deleted.is_(False))
        return paginate(session, stmt, FineTune, page, newest_first=True)


def delete(org_id: str, fine_tune_id: str) -> None:
    """Hide the fine-tune, ask its worker to stop, and give back its credit reservation."""
    with session_scope() as session:
        hidden = session.execute(
            update(FineTune)
            .where(FineTune.id == fine_tune_id, FineTune.org_id == org_id, FineTune.deleted.is_(False))
            .values(deleted=True, cancel_requested=True)
            .execution_options(synchronize_session=False)
        )
        if hidden.rowcount != 1:
            raise NotFound(f"No fine-tune {fine_tune_id!r} in your organisation.", error_code="fine_tune_not_found")
        # A worker may be settling this fine-tune right now (fail/complete); the release is conditional.
        release_fine_tune_reservation(session, fine_tune_id)
    # The voices stay (they are the user's); the held-out samples were only reachable through the fine-tune.
    get_blob_store().delete_prefix(samples_prefix(fine_tune_id))


def list_voices(org_id: str, fine_tune_id: str, page: PageRequest) -> Page[Voice]:
    with session_scope() as session:
        _owned(session, org_id, fine_tune_id)
        stmt = select(Voice).where(Voice.fine_tune_id == fine_tune_id, Voice.org_id == org_id)
        return paginate(session, stmt, Voice, page, newest_first=False)


def samples(report: dict | None) -> list[dict]:
    """The held-out samples a completed fine-tune stored: [{index, text, voice_ids}] (none for older ones)."""
    entries = (report or {}).get("samples") if isinstance(report, dict) else None
    if not isinstance(entries, list):
        return []
    return [{"index": i, "text": str(e.get("text", "")), "voice_ids": list(e.get("voice_ids") or [])}
            for i, e in enumerate(entries) if isinstance(e, dict)]


def sample_audio(org_id: str, fine_tune_id: str, index: int, who: str) -> bytes:
    """WAV of held-out sample `index`: the real recording (who="real") or a voice (who=its id) saying it."""
    with session_scope() as session:
        ft = _owned(session, org_id, fine_tune_id)
        listed = samples(ft.report)
    if not 0 <= index < len(listed) or (who != "real" and who not in listed[index]["voice_ids"]):
        raise NotFound(f"Fine-tune {fine_tune_id} has no held-out sample {index} for {who!r}.",
                       error_code="sample_not_found")
    try:
        return get_blob_store().get_bytes(sample_key(fine_tune_id, index, who))
    except BlobNotFound:
        raise NotFound(f"The audio of held-out sample {index} of fine-tune {fine_tune_id} is no longer stored.",
                       error_code="sample_not_found") from None


def report(org_id: str, fine_tune_id: str) -> dict:
    with session_scope() as session:
        ft = _owned(session, org_id, fine_tune_id)
        return {
            "fine_tune_id": ft.id,
            "status": ft.status,
            "stage": ft.stage,
            "progress": ft.progress,
            "error": ft.error,
            "error_code": ft.error_code,
            "report": ft.report,
        }
