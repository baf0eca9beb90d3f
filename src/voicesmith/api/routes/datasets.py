"""Datasets and dataset files (Cartesia's API), plus the voicesmith quality report."""

from __future__ import annotations

from typing import Optional

from fastapi import Depends, File, Form, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from voicesmith.api.auth import Principal, api_key_principal
from voicesmith.api.errors import ApiError
from voicesmith.api.pagination import envelope, page_params
from voicesmith.api.routing import SlashRouter
from voicesmith.api.schemas import (ConsentChallengeCreate, DatasetCreate, DatasetUpdate, consent_attempt_json,
                                    consent_challenge_json, dataset_file_json, dataset_json, estimate_json, iso)
from voicesmith.api.uploads import UploadDisconnected, parse_streaming
from voicesmith.api.versions import api_version
from voicesmith.config import get_settings
from voicesmith.service import consent, datasets, estimates
from voicesmith.service.pagination import PageRequest
from voicesmith.store.blobs import BlobTooLarge

router = SlashRouter(prefix="/datasets", tags=["datasets"], dependencies=[Depends(api_version)])

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"},
                           "purpose": {"type": "string", "enum": ["fine_tune", "consent"], "default": "fine_tune"}},
        }}},
    }
}


@router.get("", summary="List datasets")
def list_datasets(page: PageRequest = Depends(page_params), principal: Principal = Depends(api_key_principal)) -> dict:
    return envelope(datasets.list_page(principal.org_id, page), dataset_json)


@router.post("", summary="Create a dataset")
def create_dataset(body: DatasetCreate, principal: Principal = Depends(api_key_principal)) -> dict:
    return dataset_json(datasets.create(principal.org_id, body.name, body.description))


@router.get("/{dataset_id}", summary="Get a dataset")
def get_dataset(dataset_id: str, principal: Principal = Depends(api_key_principal)) -> dict:
    return dataset_json(datasets.get(principal.org_id, dataset_id))


@router.patch("/{dataset_id}", status_code=204, response_class=Response, summary="Update a dataset")
def update_dataset(dataset_id: str, body: DatasetUpdate, principal: Principal = Depends(api_key_principal)) -> Response:
    datasets.update_dataset(principal.org_id, dataset_id, body.name, body.description)
    return Response(status_code=204)


@router.delete("/{dataset_id}", status_code=204, response_class=Response, summary="Delete a dataset")
def delete_dataset(dataset_id: str, principal: Principal = Depends(api_key_principal)) -> Response:
    datasets.delete(principal.org_id, dataset_id)
    return Response(status_code=204)


@router.get("/{dataset_id}/files", summary="List a dataset's files")
def list_files(dataset_id: str, page: PageRequest = Depends(page_params),
               principal: Principal = Depends(api_key_principal)) -> dict:
    return envelope(datasets.list_files(principal.org_id, dataset_id, page), dataset_file_json)


@router.post("/{dataset_id}/files", status_code=204, response_class=Response, openapi_extra=_UPLOAD_BODY,
             summary="Upload a file to a dataset (multipart: file, purpose)")
async def upload_file(dataset_id: str, request: Request, principal: Principal = Depends(api_key_principal)) -> Response:
    max_bytes = get_settings().max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + 1024 * 1024:
        raise ApiError(413, "file_too_large", "Payload too large", f"Uploads are limited to {max_bytes:,} bytes.")
    upload = await run_in_threadpool(datasets.begin_upload, principal.org_id, dataset_id)
    try:
        form = await parse_streaming(request, "file", upload.writer)
        if not form.file_found:
            raise ApiError(422, "invalid_request", "Invalid request", "Invalid request: file: field required.")
        if form.fields.get("purpose") == "consent":  # the speaker reading the challenge: verified, never trained on
            await run_in_threadpool(consent.verify_upload, upload, form.filename or "consent",
                                    api_key_id=principal.api_key_id)
        else:
            await run_in_threadpool(datasets.finish_upload, upload, form.filename or "upload",
                                    form.fields.get("purpose"), form.file_content_type)
    except UploadDisconnected:
        upload.abort()
        return Response(status_code=400)  # nobody is listening any more; what matters is leaving nothing behind
    except BlobTooLarge:
        upload.abort()
        raise ApiError(413, "file_too_large", "Payload too large", f"Uploads are limited to {max_bytes:,} bytes.") from None
    except BaseException:
        upload.abort()  # idempotent; finish_upload may already have cleaned up
        raise
    return Response(status_code=204)


@router.delete("/{dataset_id}/files/{file_id}", status_code=204, response_class=Response,
               summary="Delete a file from a dataset")
def delete_file(dataset_id: str, file_id: str, principal: Principal = Depends(api_key_principal)) -> Response:
    datasets.delete_file(principal.org_id, dataset_id, file_id)
    return Response(status_code=204)


@router.get("/{dataset_id}/files/{file_id}/audio", response_class=Response,
            summary="An uploaded file's bytes, to play it back (voicesmith extension)",
            responses={200: {"content": {"audio/*": {}}}})
def file_audio(dataset_id: str, file_id: str, principal: Principal = Depends(api_key_principal)) -> Response:
    audio = datasets.file_audio(principal.org_id, dataset_id, file_id)
    # inline: a browser plays it; the name is only a hint for "save as". private: it is the user's own recording.
    return Response(audio.data, media_type=audio.media_type,
                    headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})


@router.get("/{dataset_id}/report", summary="The dataset's quality report (voicesmith extension)")
def dataset_report(dataset_id: str, principal: Principal = Depends(api_key_principal)) -> dict:
    report = datasets.report(principal.org_id, dataset_id)
    report["updated_at"] = iso(report["updated_at"])
    return report


@router.get("/{dataset_id}/fine-tune-estimate", summary="Expected training time of each budget on this server "
            "(voicesmith extension)")
def fine_tune_estimate(dataset_id: str, principal: Principal = Depends(api_key_principal)) -> dict:
    return estimate_json(dataset_id, estimates.for_dataset(principal.org_id, dataset_id))


# Consent (voicesmith extension, docs/consent.md) --------------------------------------------------

MAX_CONSENT_BYTES = 50 * 1024 * 1024


@router.post("/{dataset_id}/consent-challenge", summary="A statement for the speaker to read (consent check)")
def create_consent_challenge(dataset_id: str, body: Optional[ConsentChallengeCreate] = None,
                             principal: Principal = Depends(api_key_principal)) -> dict:
    challenge = consent.create_challenge(principal.org_id, dataset_id, speaker_name=body.name if body else None,
                                         api_key_id=principal.api_key_id)
    return consent_challenge_json(challenge)


@router.post("/{dataset_id}/consent", summary="Check the speaker's recording of the consent challenge")
async def submit_consent(dataset_id: str, clip: UploadFile = File(..., description="The speaker reading the statement."),
                         challenge_id: Optional[str] = Form(None),
                         principal: Principal = Depends(api_key_principal)) -> dict:
    data = await clip.read(MAX_CONSENT_BYTES + 1)
    if len(data) > MAX_CONSENT_BYTES:
        raise ApiError(413, "file_too_large", "Payload too large",
                       f"The consent clip is larger than {MAX_CONSENT_BYTES // (1024 * 1024)} MB; 5-30 s is enough.")
    attempt = await run_in_threadpool(consent.verify_dataset_clip, principal.org_id, dataset_id, data,
                                      clip.filename or "consent", api_key_id=principal.api_key_id,
                                      challenge_id=challenge_id or None)
    return consent_attempt_json(attempt)


@router.get("/{dataset_id}/consent", summary="The dataset's consent: policy, verdict, challenge, attempts")
def get_consent(dataset_id: str, principal: Principal = Depends(api_key_principal)) -> dict:
    state = consent.status(principal.org_id, dataset_id)
    challenge = state.pop("challenge")
    state["challenge"] = consent_challenge_json(challenge) if challenge is not None else None
    state["attempts"] = [consent_attempt_json(a) for a in state["attempts"]]
    return state
